//! What a run of the suite found.

use std::fmt;

/// The outcome of [`run`](crate::run): every check, passed, failed (with
/// why) or skipped (with what the backend did not describe).
#[derive(Debug, Clone, Default)]
pub struct Report {
    backend: String,
    passed: Vec<&'static str>,
    failed: Vec<(&'static str, String)>,
    skipped: Vec<(&'static str, String)>,
}

/// Why a check did not pass.
#[derive(Debug)]
pub(crate) enum Verdict {
    Failed(String),
    Skipped(&'static str),
}

impl From<String> for Verdict {
    fn from(why: String) -> Self {
        Self::Failed(why)
    }
}

impl Report {
    pub(crate) fn new(backend: &str) -> Self {
        Self {
            backend: backend.to_owned(),
            ..Self::default()
        }
    }

    pub(crate) fn record(&mut self, check: &'static str, outcome: Result<(), Verdict>) {
        match outcome {
            Ok(()) => self.passed.push(check),
            Err(Verdict::Failed(why)) => self.failed.push((check, why)),
            Err(Verdict::Skipped(why)) => self.skipped.push((check, why.to_owned())),
        }
    }

    /// The checks that passed.
    ///
    /// ```
    /// # use ci_secrets_provider_conformance::Report;
    /// assert!(Report::default().passed().is_empty());
    /// ```
    pub fn passed(&self) -> &[&'static str] {
        &self.passed
    }

    /// The checks that failed, each with what went wrong.
    ///
    /// ```
    /// # use ci_secrets_provider_conformance::Report;
    /// assert!(Report::default().failed().is_empty());
    /// ```
    pub fn failed(&self) -> &[(&'static str, String)] {
        &self.failed
    }

    /// The checks that did not run, each with what the backend did not
    /// describe.
    ///
    /// ```
    /// # use ci_secrets_provider_conformance::Report;
    /// assert!(Report::default().skipped().is_empty());
    /// ```
    pub fn skipped(&self) -> &[(&'static str, String)] {
        &self.skipped
    }

    /// Panics with the whole report when a check failed: the way a test
    /// fails. Passes quietly otherwise.
    ///
    /// ```
    /// # use ci_secrets_provider_conformance::Report;
    /// Report::default().assert_passed();
    /// ```
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.failed.is_empty(), "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "provider conformance for {}: {} passed, {} failed, {} skipped",
            self.backend,
            self.passed.len(),
            self.failed.len(),
            self.skipped.len()
        )?;
        for (check, why) in &self.failed {
            writeln!(f, "  FAILED  {check}: {why}")?;
        }
        for (check, why) in &self.skipped {
            writeln!(f, "  skipped {check}: {why}")?;
        }
        Ok(())
    }
}
