//! A test GitLab instance: the REST endpoints ci-secrets fetches includes
//! from, with GitLab's status codes and token checks, plus plain files for
//! `remote:` includes.

use std::collections::HashMap;
use std::sync::Arc;

use percent_encoding::percent_decode_str;

use crate::{Received, RecordingServer, Reply};

/// What the test instance serves.
#[derive(Debug, Clone, Default)]
pub struct GitLabContent {
    /// Repository files: (project path, ref, file path without a leading `/`) → text.
    pub files: HashMap<(String, String, String), String>,
    /// Each project's default branch (what `ref=HEAD` reads); `main` when absent.
    pub default_branch: HashMap<String, String>,
    /// Projects only readable with one of these (header, token) pairs.
    pub private: HashMap<String, Vec<(String, String)>>,
    /// CI/CD templates by key (name without `.gitlab-ci.yml`).
    pub templates: HashMap<String, String>,
    /// Release tags by project.
    pub releases: HashMap<String, Vec<String>>,
    /// Files served at `/remote/<path>` for `remote:` includes.
    pub remote: HashMap<String, String>,
}

impl GitLabContent {
    /// Adds a repository file.
    pub fn file(mut self, project: &str, reference: &str, path: &str, text: &str) -> Self {
        self.files.insert(
            (project.to_owned(), reference.to_owned(), path.to_owned()),
            text.to_owned(),
        );
        self
    }
}

/// A [`RecordingServer`] that answers as a GitLab instance.
#[derive(Debug)]
pub struct FakeGitLab {
    /// The server (its URL is the instance URL; its requests are recorded).
    pub server: RecordingServer,
}

impl FakeGitLab {
    /// Starts the instance.
    pub async fn start(content: GitLabContent) -> Self {
        let content = Arc::new(content);
        let server = RecordingServer::start(move |request| answer(&content, request)).await;
        Self { server }
    }

    /// The instance URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The paths requested so far, decoded, with their query.
    pub fn requested(&self) -> Vec<String> {
        self.server
            .received()
            .iter()
            .map(|request| {
                let path = decode(&request.path);
                if request.query.is_empty() {
                    path
                } else {
                    format!("{path}?{}", request.query)
                }
            })
            .collect()
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn not_found(what: &str) -> Reply {
    (
        404,
        "application/json",
        format!(r#"{{"message":"404 {what} Not Found"}}"#),
    )
}

fn answer(content: &GitLabContent, request: &Received) -> Reply {
    if request.method != "GET" {
        return (405, "text/plain", String::new());
    }
    if let Some(path) = request.path.strip_prefix("/remote/") {
        return match content.remote.get(&decode(path)) {
            Some(text) => (200, "text/plain", text.clone()),
            None => (404, "text/plain", "not found".to_owned()),
        };
    }
    // Segments stay encoded until split, as GitLab routes `group%2Fproject` as one.
    let segments: Vec<String> = request.path.split('/').skip(1).map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["api", "v4", "templates", "gitlab_ci_ymls", key] => match content.templates.get(*key) {
            Some(text) => (
                200,
                "application/json",
                serde_json::json!({"name": key, "content": text}).to_string(),
            ),
            None => not_found("Template"),
        },
        ["api", "v4", "projects", project, rest @ ..] => {
            if let Some(allowed) = content.private.get(*project) {
                let authorized = allowed
                    .iter()
                    .any(|(header, token)| request.header(header) == Some(token.as_str()));
                if !authorized {
                    // GitLab hides private projects from those who cannot read them.
                    return not_found("Project");
                }
            }
            let known = content.files.keys().any(|(name, _, _)| name == project)
                || content.releases.contains_key(*project);
            if !known {
                return not_found("Project");
            }
            match rest {
                ["repository", "files", file, "raw"] => {
                    let wanted = request
                        .query_value("ref")
                        .unwrap_or_else(|| "HEAD".to_owned());
                    let reference = if wanted == "HEAD" {
                        content
                            .default_branch
                            .get(*project)
                            .cloned()
                            .unwrap_or_else(|| "main".to_owned())
                    } else {
                        wanted
                    };
                    let key = ((*project).to_owned(), reference, (*file).to_owned());
                    match content.files.get(&key) {
                        Some(text) => (200, "text/plain", text.clone()),
                        None => not_found("File"),
                    }
                }
                ["releases"] => {
                    let releases: Vec<serde_json::Value> = content
                        .releases
                        .get(*project)
                        .into_iter()
                        .flatten()
                        .map(|tag| serde_json::json!({"tag_name": tag}))
                        .collect();
                    (
                        200,
                        "application/json",
                        serde_json::Value::from(releases).to_string(),
                    )
                }
                _ => not_found("Endpoint"),
            }
        }
        _ => not_found("Endpoint"),
    }
}
