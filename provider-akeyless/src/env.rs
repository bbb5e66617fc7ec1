//! Where the cloud identities read their environment (`AWS_*`, `AZURE_*`,
//! `GOOGLE_APPLICATION_CREDENTIALS`, `GCE_METADATA_HOST`, ...).
//!
//! The job's variables come first, then the process environment. So a value
//! set as a CI/CD variable or with `--var` works like an exported one, and
//! tests, which run in parallel threads, inject values without touching the
//! process environment. A name defined as a job variable hides the process
//! value even when empty, which lets a test (or a job) switch a source off.

use ci_secrets_provider_api::JobVariables;

/// The environment of one resolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    variables: &'a JobVariables,
}

impl<'a> Env<'a> {
    pub(crate) fn new(variables: &'a JobVariables) -> Self {
        Self { variables }
    }

    /// The value of `name`, `None` when unset or empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let value = match self.variables.get(name) {
            Some(value) => value.to_string(),
            None => std::env::var(name).ok()?,
        };
        (!value.trim().is_empty()).then_some(value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn job_variables_win_and_empty_means_unset() {
        let variables = JobVariables::from_iter([("CI_SECRETS_TEST_A", "a"), ("PATH", "")]);
        let env = Env::new(&variables);
        assert_eq!(env.get("CI_SECRETS_TEST_A").as_deref(), Some("a"));
        // Defined but empty as a job variable: the process value is hidden.
        assert_eq!(env.get("PATH"), None);
        assert_eq!(env.get("CI_SECRETS_TEST_SURELY_UNSET"), None);
    }
}
