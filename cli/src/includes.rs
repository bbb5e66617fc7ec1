//! Where a run's non-local includes come from: the GitLab instance from the
//! command line, else (like the credential) from the CI/CD variables the
//! loader passes, or nowhere (`--offline`).

use std::sync::Arc;

use ci_secrets_gitlab::pipeline::{IncludeSource, OfflineSource, SkippedInclude};
use ci_secrets_gitlab_includes::{FetchSettings, IncludeFetcher};
use ci_secrets_provider_api::HttpSettings;

use crate::args::IncludeArgs;

/// The include source for `args`. Without `--gitlab-url`, the instance is
/// the CI/CD variable `CI_SERVER_URL`; the credential is `GITLAB_TOKEN`, else
/// `CI_JOB_TOKEN` (see [`FetchSettings`]).
pub fn include_source(args: &IncludeArgs, http: HttpSettings) -> Arc<dyn IncludeSource> {
    if args.offline {
        return Arc::new(OfflineSource {
            reason: "--offline".to_owned(),
        });
    }
    Arc::new(IncludeFetcher::new(FetchSettings {
        gitlab_url: args.gitlab_url.clone(),
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
