//! The non-local includes of a `.gitlab-ci.yml`, fetched the way a user
//! outside GitLab can fetch them, for the loader of `ci-secrets-gitlab`.
//!
//! [`IncludeFetcher`] is an [`IncludeSource`]: the loader asks it for each
//! file, and when some are missing it fetches them all at once (one round
//! per level of nesting) and the loader tries again. Which API each include
//! kind uses, and with which credential:
//!
//! | include | request | credential |
//! |---|---|---|
//! | `remote:` | `GET` the URL | none (GitLab requires a public URL) |
//! | `template:` | `GET /api/v4/templates/gitlab_ci_ymls/:name` | none (a public API) |
//! | `project:` | `GET /api/v4/projects/:path/repository/files/:file/raw?ref=` | `GITLAB_TOKEN` (`PRIVATE-TOKEN`, scope `read_api` or `read_repository`), else `CI_JOB_TOKEN` (`JOB-TOKEN`), else none (public projects) |
//! | `component:` | `GET /api/v4/projects/:path/releases` for `~latest` and partial versions, then the raw file `templates/:name.yml` or `templates/:name/template.yml` | as `project:` |
//!
//! The credential is only ever sent to the instance's own origin, never to
//! a `remote:` URL, and never kept with a fetched file. Each file is fetched
//! once per run, however many times it is included.

mod component;
mod token;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ci_secrets_gitlab::pipeline::{ExternalFile, FetchedFile, IncludeSource, Lookup};
use ci_secrets_http::{
    HttpClient, HttpFactory, HttpResponse, HttpSettings, RetryMode, block_on_own_runtime,
};
use ci_secrets_provider_api::{ErrorKind, ResolveContext};
use indexmap::IndexMap;
use url::Url;

pub use token::GitLabToken;

/// Where includes come from. The instance and the credential given here
/// win; each one not given comes from the CI/CD variables the loader passes
/// (in a job: `CI_SERVER_URL`, and `GITLAB_TOKEN` or `CI_JOB_TOKEN`). With
/// no instance either way, `template:`, `project:` and `component:`
/// includes are skipped. To fetch nothing at all, use
/// [`OfflineSource`](ci_secrets_gitlab::pipeline::OfflineSource) instead.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// The GitLab instance (`--gitlab-url`).
    pub gitlab_url: Option<Url>,
    /// The credential for `project:` and `component:` includes.
    pub token: Option<GitLabToken>,
    /// Time allowed for each round of fetches.
    pub timeout: Duration,
    /// The HTTP settings (extra CA roots, user agent, body cap).
    pub http: HttpSettings,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            gitlab_url: None,
            token: None,
            timeout: Duration::from_secs(30),
            http: HttpSettings::default(),
        }
    }
}

/// Fetches included files and remembers them for the run.
#[derive(Debug)]
pub struct IncludeFetcher {
    settings: FetchSettings,
    fetched: Mutex<HashMap<ExternalFile, Lookup>>,
}

impl IncludeFetcher {
    /// A fetcher with `settings`; nothing is fetched until the loader asks.
    pub fn new(settings: FetchSettings) -> Self {
        Self {
            settings,
            fetched: Mutex::default(),
        }
    }

    /// The settings with the instance and credential each taken from the
    /// CI/CD variables when not given.
    fn settings_for(&self, variables: &IndexMap<String, String>) -> FetchSettings {
        let set = |name: &str| variables.get(name).filter(|value| !value.is_empty());
        FetchSettings {
            gitlab_url: self.instance(variables),
            token: self.settings.token.clone().or_else(|| {
                match (set("GITLAB_TOKEN"), set("CI_JOB_TOKEN")) {
                    (Some(token), _) => Some(GitLabToken::Private(token.clone().into())),
                    (None, Some(token)) => Some(GitLabToken::Job(token.clone().into())),
                    (None, None) => None,
                }
            }),
            ..self.settings.clone()
        }
    }

    /// The instance: the one given, else the job's `CI_SERVER_URL`.
    fn instance(&self, variables: &IndexMap<String, String>) -> Option<Url> {
        self.settings.gitlab_url.clone().or_else(|| {
            variables
                .get("CI_SERVER_URL")
                .and_then(|url| url.parse().ok())
        })
    }

    /// Why a file of this kind is skipped without being fetched, if it is.
    fn skip_reason(file: &ExternalFile, instance_known: bool) -> Option<String> {
        let needs_instance = !matches!(file, ExternalFile::Remote { .. });
        (needs_instance && !instance_known).then(|| {
            "no GitLab instance is known (give --gitlab-url, or run in a job, where CI_SERVER_URL is set)"
                .to_owned()
        })
    }

    /// Fetches `files` concurrently on a runtime of its own: the loader is
    /// synchronous and may run inside or outside an async runtime.
    fn fetch_round(
        files: &[ExternalFile],
        settings: &FetchSettings,
    ) -> Vec<(ExternalFile, Lookup)> {
        // A client per round: its connections belong to this round's runtime.
        let outcome = HttpFactory::new(settings.http.clone())
            .client(None)
            .map_err(|err| err.to_string())
            .and_then(|client| {
                block_on_own_runtime(|| async move {
                    let ctx = ResolveContext::builder("include")
                        .timeout(settings.timeout)
                        .build();
                    let api = Api {
                        client: &client,
                        ctx: &ctx,
                        settings,
                    };
                    futures::future::join_all(
                        files
                            .iter()
                            .map(|file| async { (file.clone(), api.fetch(file).await) }),
                    )
                    .await
                })
            });
        match outcome {
            Ok(results) => results,
            Err(message) => files
                .iter()
                .map(|file| {
                    (
                        file.clone(),
                        Lookup::Failed {
                            message: message.clone(),
                        },
                    )
                })
                .collect(),
        }
    }
}

impl IncludeSource for IncludeFetcher {
    fn lookup(&self, file: &ExternalFile, variables: &IndexMap<String, String>) -> Lookup {
        if let Some(reason) = Self::skip_reason(file, self.instance(variables).is_some()) {
            return Lookup::Skipped { reason };
        }
        self.fetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&same_file(file))
            .cloned()
            .unwrap_or(Lookup::Pending)
    }

    fn fetch(&self, files: &[ExternalFile], variables: &IndexMap<String, String>) -> bool {
        let settings = self.settings_for(variables);
        let wanted: Vec<ExternalFile> = {
            let fetched = self.fetched.lock().unwrap_or_else(PoisonError::into_inner);
            let mut wanted: Vec<ExternalFile> = files
                .iter()
                .map(same_file)
                .filter(|file| {
                    !fetched.contains_key(file)
                        && Self::skip_reason(file, settings.gitlab_url.is_some()).is_none()
                })
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
        };
        if wanted.is_empty() {
            return false;
        }
        tracing::debug!(files = wanted.len(), "fetching included files");
        let results = Self::fetch_round(&wanted, &settings);
        self.fetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(results);
        true
    }
}

/// One key for the spellings of one file (`file: /a.yml` and `file: a.yml`),
/// so it is fetched once.
fn same_file(file: &ExternalFile) -> ExternalFile {
    match file {
        ExternalFile::Project {
            project,
            reference,
            file,
        } => ExternalFile::Project {
            project: project.clone(),
            reference: reference.clone(),
            file: file.trim_start_matches('/').to_owned(),
        },
        other => other.clone(),
    }
}

/// One round's requests.
struct Api<'a> {
    client: &'a HttpClient,
    ctx: &'a ResolveContext,
    settings: &'a FetchSettings,
}

/// What a request gave.
enum Answer {
    Ok(HttpResponse),
    Status(HttpResponse),
    Transport(String),
}

impl Api<'_> {
    async fn fetch(&self, file: &ExternalFile) -> Lookup {
        let outcome = match file {
            ExternalFile::Remote { url } => self.remote(url).await,
            ExternalFile::Template { name } => self.template(name).await,
            ExternalFile::Project {
                project,
                reference,
                file,
            } => self.project(project, reference.as_deref(), file).await,
            ExternalFile::Component { location } => self.component(location).await,
        };
        match outcome {
            Ok(fetched) => Lookup::Found(fetched),
            Err(message) => Lookup::Failed { message },
        }
    }

    async fn get(&self, url: Url, authenticated: bool) -> Answer {
        let token = authenticated
            .then_some(self.settings.token.as_ref())
            .flatten();
        let what = format!("GET {}", url.path());
        let sent = self
            .client
            .send(self.ctx, &what, RetryMode::Idempotent, |client| {
                let request = client.get(url.clone());
                match token {
                    Some(token) => {
                        let (header, value) = token.header();
                        request.header(header, value)
                    }
                    None => request,
                }
            })
            .await;
        match sent {
            Ok(response) if response.is_success() => Answer::Ok(response),
            Ok(response) => Answer::Status(response),
            Err(err) if err.kind() == ErrorKind::Deadline => {
                Answer::Transport("a timeout error".to_owned())
            }
            Err(err) => Answer::Transport(err.to_string()),
        }
    }

    async fn remote(&self, location: &str) -> Result<FetchedFile, String> {
        let url = Url::parse(location)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            // GitLab's message.
            .ok_or_else(|| format!("Remote file `{location}` does not have a valid address!"))?;
        match self.get(url, false).await {
            Answer::Ok(response) => Ok(FetchedFile {
                name: PathBuf::from(location),
                bytes: response.body.as_slice().into(),
                project: None,
            }),
            // GitLab's messages.
            Answer::Status(response) => Err(format!(
                "Remote file `{location}` could not be fetched because of HTTP code `{}` error!",
                response.status
            )),
            Answer::Transport(why) => Err(format!(
                "Remote file `{location}` could not be fetched because of {why}!"
            )),
        }
    }

    /// The instance's API URL for `segments` (each percent-encoded as one
    /// path segment, so `group/project` becomes `group%2Fproject`).
    fn api_url(&self, segments: &[&str]) -> Result<Url, String> {
        let base = self
            .settings
            .gitlab_url
            .as_ref()
            .ok_or("no GitLab instance is known")?;
        let mut url = base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| format!("`{base}` cannot be a GitLab instance URL"))?;
            path.pop_if_empty().extend(["api", "v4"]).extend(segments);
        }
        Ok(url)
    }

    async fn template(&self, name: &str) -> Result<FetchedFile, String> {
        // GitLab's message.
        let key = name
            .strip_suffix(".gitlab-ci.yml")
            .ok_or_else(|| format!("Template file `{name}` is not a valid location!"))?;
        let url = self.api_url(&["templates", "gitlab_ci_ymls", key])?;
        #[derive(serde::Deserialize)]
        struct Template {
            content: String,
        }
        match self.get(url, false).await {
            Answer::Ok(response) => {
                let template: Template = response
                    .json("the template")
                    .map_err(|err| format!("template `{name}`: {err}"))?;
                Ok(FetchedFile {
                    name: PathBuf::from(format!("template:{name}")),
                    bytes: template.content.into_bytes().into(),
                    project: None,
                })
            }
            // GitLab's message.
            Answer::Status(response) if response.status == 404 => Err(format!(
                "Included file `{name}` is empty or does not exist!"
            )),
            Answer::Status(response) => Err(format!(
                "template `{name}`: the instance answered HTTP {}",
                response.status
            )),
            Answer::Transport(why) => Err(format!("template `{name}`: {why}")),
        }
    }

    async fn project(
        &self,
        project: &str,
        reference: Option<&str>,
        file: &str,
    ) -> Result<FetchedFile, String> {
        let reference = reference.unwrap_or("HEAD");
        let (bytes, status) = self.raw_file(project, reference, file).await?;
        match (bytes, status) {
            (Some(bytes), _) => Ok(FetchedFile {
                name: PathBuf::from(format!(
                    "{project}@{reference}:/{}",
                    file.trim_start_matches('/')
                )),
                bytes,
                project: Some((project.to_owned(), reference.to_owned())),
            }),
            (None, missing) => Err(self.project_error(project, file, missing)),
        }
    }

    /// The raw file, or the reason it is missing.
    async fn raw_file(
        &self,
        project: &str,
        reference: &str,
        file: &str,
    ) -> Result<(Option<Arc<[u8]>>, Missing), String> {
        let mut url = self.api_url(&[
            "projects",
            project,
            "repository",
            "files",
            file.trim_start_matches('/'),
            "raw",
        ])?;
        url.query_pairs_mut().append_pair("ref", reference);
        match self.get(url, true).await {
            Answer::Ok(response) => Ok((Some(response.body.as_slice().into()), Missing::File)),
            Answer::Status(response) => {
                let body = String::from_utf8_lossy(&response.body);
                let missing = match response.status {
                    404 if body.contains("Project Not Found") => Missing::Project,
                    404 => Missing::File,
                    401 | 403 => Missing::Project,
                    status => {
                        return Err(format!(
                            "project `{project}`: the instance answered HTTP {status}"
                        ));
                    }
                };
                Ok((None, missing))
            }
            Answer::Transport(why) => Err(format!("project `{project}`: {why}")),
        }
    }

    fn project_error(&self, project: &str, file: &str, missing: Missing) -> String {
        match missing {
            // GitLab's messages, and which credential was tried (never its value).
            Missing::Project => format!(
                "Project `{project}` not found or access denied! Make sure any includes in the pipeline configuration are correctly defined. ({})",
                match &self.settings.token {
                    Some(token) => format!("tried with {}", token.describe()),
                    None => "no credential was sent: set GITLAB_TOKEN to an access token with the read_api scope".to_owned(),
                }
            ),
            Missing::File => format!("Project `{project}` file `{file}` does not exist!"),
        }
    }

    async fn component(&self, location: &str) -> Result<FetchedFile, String> {
        let parsed = component::parse(location)?;
        if let Some(base) = &self.settings.gitlab_url {
            let instance_host = match (base.host_str(), base.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => String::new(),
            };
            if parsed.host != instance_host {
                return Err(format!(
                    "component `{location}`: its host `{}` is not the GitLab instance's (`{instance_host}`)",
                    parsed.host
                ));
            }
        }
        let reference = match &parsed.version {
            component::VersionRequest::Exact(reference) => reference.clone(),
            request => self.release_for(location, &parsed.project, request).await?,
        };
        for path in [
            format!("templates/{}.yml", parsed.name),
            format!("templates/{}/template.yml", parsed.name),
        ] {
            match self.raw_file(&parsed.project, &reference, &path).await? {
                (Some(bytes), _) => {
                    return Ok(FetchedFile {
                        name: PathBuf::from(format!(
                            "{location} ({}@{reference}:/{path})",
                            parsed.project
                        )),
                        bytes,
                        project: Some((parsed.project.clone(), reference.clone())),
                    });
                }
                (None, Missing::Project) => {
                    return Err(self.project_error(&parsed.project, &path, Missing::Project));
                }
                (None, Missing::File) => {}
            }
        }
        Err(format!(
            "component `{location}`: neither `templates/{name}.yml` nor `templates/{name}/template.yml` exists in `{}` at `{reference}`",
            parsed.project,
            name = parsed.name
        ))
    }

    /// The release tag that `~latest` or a partial version picks.
    async fn release_for(
        &self,
        location: &str,
        project: &str,
        request: &component::VersionRequest,
    ) -> Result<String, String> {
        let mut url = self.api_url(&["projects", project, "releases"])?;
        url.query_pairs_mut().append_pair("per_page", "100");
        #[derive(serde::Deserialize)]
        struct Release {
            tag_name: String,
        }
        let releases: Vec<Release> = match self.get(url, true).await {
            Answer::Ok(response) => response
                .json("the releases")
                .map_err(|err| format!("component `{location}`: {err}"))?,
            Answer::Status(response) if matches!(response.status, 401 | 403 | 404) => {
                return Err(self.project_error(project, "releases", Missing::Project));
            }
            Answer::Status(response) => {
                return Err(format!(
                    "component `{location}`: the instance answered HTTP {} for the releases",
                    response.status
                ));
            }
            Answer::Transport(why) => return Err(format!("component `{location}`: {why}")),
        };
        let tags: Vec<String> = releases
            .into_iter()
            .map(|release| release.tag_name)
            .collect();
        component::pick(request, &tags)
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "component `{location}`: no released version matches (releases: {})",
                    if tags.is_empty() {
                        "none".to_owned()
                    } else {
                        tags.join(", ")
                    }
                )
            })
    }
}

/// What a 404 (or 401/403) on a raw file means.
#[derive(Debug, Clone, Copy)]
enum Missing {
    Project,
    File,
}
