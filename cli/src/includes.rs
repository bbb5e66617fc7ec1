//! Where a run's non-local includes come from: the GitLab instance and
//! credential from the command line and the CI/CD variables, or nowhere
//! (`--offline`).

use std::sync::Arc;

use ci_secrets_gitlab::pipeline::{IncludeSource, OfflineSource, SkippedInclude};
use ci_secrets_gitlab_includes::{FetchSettings, GitLabToken, IncludeFetcher};
use ci_secrets_provider_api::HttpSettings;
use indexmap::IndexMap;

use crate::args::IncludeArgs;

/// The include source for `args`, with the instance and token taken from the
/// CI/CD variables (`CI_SERVER_URL`, `GITLAB_TOKEN`, `CI_JOB_TOKEN`) when the
/// command line does not give them.
pub fn include_source(
    args: &IncludeArgs,
    ci_cd: &IndexMap<String, String>,
    http: HttpSettings,
) -> Arc<dyn IncludeSource> {
    if args.offline {
        return Arc::new(OfflineSource {
            reason: "--offline".to_owned(),
        });
    }
    let set = |name: &str| ci_cd.get(name).filter(|value| !value.is_empty());
    let gitlab_url = args
        .gitlab_url
        .clone()
        .or_else(|| set("CI_SERVER_URL").and_then(|url| url.parse().ok()));
    let token = match (set("GITLAB_TOKEN"), set("CI_JOB_TOKEN")) {
        (Some(token), _) => Some(GitLabToken::Private(token.clone().into())),
        (None, Some(token)) => Some(GitLabToken::Job(token.clone().into())),
        (None, None) => None,
    };
    Arc::new(IncludeFetcher::new(FetchSettings {
        gitlab_url,
        token,
        http,
        ..FetchSettings::default()
    }))
}

/// Prints the skipped includes as warnings, each reason once.
pub fn warn_skipped(skipped: &[SkippedInclude]) {
    let mut reasons: Vec<&str> = Vec::new();
    for skip in skipped {
        if !reasons.contains(&skip.reason.as_str()) {
            reasons.push(&skip.reason);
        }
    }
    for reason in reasons {
        eprintln!("ci-secrets: warning: includes skipped ({reason}):");
        for skip in skipped.iter().filter(|skip| skip.reason == reason) {
            let line = skip.line.map(|line| format!(":{line}")).unwrap_or_default();
            eprintln!("  {}{line}: {}", skip.file.display(), skip.entry);
        }
    }
}
