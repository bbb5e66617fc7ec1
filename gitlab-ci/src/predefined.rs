//! GitLab's predefined variables, outside a job. In a GitLab job the runner
//! sets them and they reach ci-secrets through the environment, which wins.
//! Outside one (a laptop, another CI system) a secret path like
//! `tokens/${CI_PROJECT_NAME}/deploy` would otherwise expand with an empty
//! name, so the ones a pipeline can reasonably need are derived from the
//! repository the way GitLab defines them: the project from the `origin`
//! remote (else the folder's name), the commit, branch or tag from `HEAD`.
//! A variable that cannot be derived stays unset (and a secret that refers
//! to it is warned about); `--var` overrides any of them.

use std::path::Path;

use indexmap::IndexMap;

/// The predefined variables of `job` (its name and `stage:`) in the
/// repository at `project_dir`, as far as git can tell them. Runs `git` a
/// few times; when git or the repository is missing, only the folder-based
/// ones are set.
pub fn predefined_variables(
    project_dir: &Path,
    job: Option<(&str, Option<&str>)>,
) -> IndexMap<String, String> {
    let mut variables = IndexMap::new();
    let mut set = |name: &str, value: String| {
        variables.insert(name.to_owned(), value);
    };
    let absolute = std::path::absolute(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
    set("CI_PROJECT_DIR", absolute.display().to_string());
    let remote = git(project_dir, &["config", "--get", "remote.origin.url"])
        .and_then(|url| parse_remote(&url));
    match &remote {
        Some(remote) => {
            let (namespace, name) = remote
                .path
                .rsplit_once('/')
                .unwrap_or(("", remote.path.as_str()));
            set("CI_PROJECT_PATH", remote.path.clone());
            set("CI_PROJECT_NAMESPACE", namespace.to_owned());
            set("CI_PROJECT_NAME", name.to_owned());
            set(
                "CI_PROJECT_ROOT_NAMESPACE",
                remote.path.split('/').next().unwrap_or_default().to_owned(),
            );
            set("CI_PROJECT_PATH_SLUG", ref_slug(&remote.path));
            set(
                "CI_PROJECT_URL",
                format!("https://{}/{}", remote.host, remote.path),
            );
            // The web URL is what a remote of any form (SSH or HTTPS) names;
            // GitLab's default protocol and port for it.
            set("CI_SERVER_FQDN", remote.host.clone());
            set("CI_SERVER_HOST", remote.host.clone());
            set("CI_SERVER_PROTOCOL", "https".to_owned());
            set("CI_SERVER_PORT", "443".to_owned());
            set("CI_SERVER_URL", format!("https://{}", remote.host));
        }
        None => {
            if let Some(name) = absolute.file_name() {
                set("CI_PROJECT_NAME", name.to_string_lossy().into_owned());
            }
        }
    }
    if let Some(sha) = git(project_dir, &["rev-parse", "--verify", "HEAD"]) {
        set("CI_COMMIT_SHORT_SHA", sha.chars().take(8).collect());
        set("CI_COMMIT_SHA", sha);
    }
    let branch = git(project_dir, &["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let tag = match branch {
        Some(_) => None,
        None => git(
            project_dir,
            &["describe", "--tags", "--exact-match", "HEAD"],
        ),
    };
    if let Some(reference) = branch.as_ref().or(tag.as_ref()) {
        set("CI_COMMIT_REF_NAME", reference.clone());
        set("CI_COMMIT_REF_SLUG", ref_slug(reference));
    }
    if let Some(branch) = branch {
        set("CI_COMMIT_BRANCH", branch);
    }
    if let Some(tag) = tag {
        set("CI_COMMIT_TAG", tag);
    }
    if let Some(default) = git(
        project_dir,
        &[
            "symbolic-ref",
            "--quiet",
            "--short",
            "refs/remotes/origin/HEAD",
        ],
    ) {
        let default = default.strip_prefix("origin/").unwrap_or(&default);
        set("CI_DEFAULT_BRANCH", default.to_owned());
    }
    // A run from a working copy stands for a pipeline of its commit: GitLab's
    // `push` source (`--var CI_PIPELINE_SOURCE=merge_request_event` for others).
    set("CI_PIPELINE_SOURCE", "push".to_owned());
    if let Some((name, stage)) = job {
        set("CI_JOB_NAME", name.to_owned());
        // GitLab's default stage.
        set("CI_JOB_STAGE", stage.unwrap_or("test").to_owned());
    }
    variables
}

/// GitLab's `CI_COMMIT_REF_SLUG`: lower case, every character other than
/// `a-z` and `0-9` replaced by `-`, at most 63 bytes, no `-` at either end.
///
/// ```
/// use ci_secrets_gitlab::predefined::ref_slug;
/// assert_eq!(ref_slug("feature/Add_Login"), "feature-add-login");
/// ```
pub fn ref_slug(reference: &str) -> String {
    let slug: String = reference
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    slug.trim_matches('-').to_owned()
}

/// The host and project path of a git remote URL.
#[derive(Debug, PartialEq, Eq)]
struct Remote {
    host: String,
    path: String,
}

/// `https://host[:port]/group/project(.git)`, `ssh://git@host[:port]/group/project.git`
/// or `git@host:group/project.git`.
fn parse_remote(url: &str) -> Option<Remote> {
    let url = url.trim();
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let rest = rest
            .rsplit_once('@')
            .map_or(rest, |(_, host_and_path)| host_and_path);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next()?.to_owned(), path)
    } else {
        let (user_host, path) = url.split_once(':')?;
        let host = user_host
            .rsplit_once('@')
            .map_or(user_host, |(_, host)| host);
        (host.to_owned(), path)
    };
    let path = path.trim_matches('/').trim_end_matches(".git").to_owned();
    (!host.is_empty() && !path.is_empty()).then_some(Remote { host, path })
}

/// `git -C dir args`, its trimmed output when it succeeds and is not empty.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let text = String::from_utf8(crate::git::output(dir, args)?).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{Remote, parse_remote, ref_slug};

    #[test]
    fn slugs_follow_gitlab() {
        assert_eq!(ref_slug("main"), "main");
        assert_eq!(ref_slug("Feature/ABC_1.2"), "feature-abc-1-2");
        assert_eq!(ref_slug("-x-"), "x");
        assert_eq!(ref_slug(&"a".repeat(70)).len(), 63);
    }

    #[test]
    fn remotes_of_every_usual_form() {
        let expected = Some(Remote {
            host: "gitlab.example.com".into(),
            path: "group/sub/project".into(),
        });
        for url in [
            "https://gitlab.example.com/group/sub/project.git",
            "https://user:token@gitlab.example.com/group/sub/project",
            "ssh://git@gitlab.example.com:2222/group/sub/project.git",
            "git@gitlab.example.com:group/sub/project.git",
        ] {
            assert_eq!(parse_remote(url), expected, "{url}");
        }
        assert_eq!(parse_remote("/local/path"), None);
    }
}
