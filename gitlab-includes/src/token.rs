//! The credential sent to the GitLab instance for `project:` and
//! `component:` includes.

use std::fmt;

use zeroize::Zeroizing;

/// A GitLab credential. Debug and Display never show the value; the value
/// is zeroed on drop.
#[derive(Clone)]
pub enum GitLabToken {
    /// A personal, project or group access token (`GITLAB_TOKEN`), sent as
    /// `PRIVATE-TOKEN`. It needs the `read_api` or `read_repository` scope.
    Private(Zeroizing<String>),
    /// The job's `CI_JOB_TOKEN`, sent as `JOB-TOKEN`. GitLab accepts it for
    /// the repository files API only where the job token's fine-grained
    /// permissions allow it; elsewhere the instance answers 404.
    Job(Zeroizing<String>),
}

impl GitLabToken {
    /// The header the token travels in.
    pub(crate) fn header(&self) -> (&'static str, &str) {
        match self {
            Self::Private(value) => ("PRIVATE-TOKEN", value.as_str()),
            Self::Job(value) => ("JOB-TOKEN", value.as_str()),
        }
    }

    /// What the token is, for messages (never its value).
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Private(_) => "the GITLAB_TOKEN access token",
            Self::Job(_) => "the job's CI_JOB_TOKEN",
        }
    }
}

impl fmt::Debug for GitLabToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::GitLabToken;

    #[test]
    fn debug_never_shows_the_value() {
        let token = GitLabToken::Private("glpat-secret-value".to_owned().into());
        assert_eq!(format!("{token:?}"), "the GITLAB_TOKEN access token");
        assert_eq!(token.header(), ("PRIVATE-TOKEN", "glpat-secret-value"));
    }
}
