//! What `plan` and `doctor` report: plain data, serializable as JSON, with
//! no value and no credential in it.

use ci_secrets_provider_api::diagnostics::{Check, Identity};
use serde::Serialize;

/// How a secret reaches the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// A file; the variable holds its path (`file: true`, GitLab's default).
    File,
    /// The variable holds the value (`file: false`).
    Env,
}

impl Delivery {
    /// `file` or `env`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::File => "file",
            Delivery::Env => "env",
        }
    }
}

/// An identity as reported: its label, public fields and login call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    /// Tells identities of one provider apart.
    pub label: String,
    /// Public fields in the provider's order (`access type`, `API URL`, ...).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The login call; `None` when no login is needed.
    pub login: Option<String>,
}

impl From<&Identity> for IdentityReport {
    fn from(identity: &Identity) -> Self {
        Self {
            label: identity.label.clone(),
            fields: identity
                .fields
                .iter()
                .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
                .collect(),
            login: identity.login.clone(),
        }
    }
}

/// One expected call of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallReport {
    /// `POST /describe-item`, `GET /v1/kv/data/db`, ...
    pub operation: String,
    /// How many secrets of the job share this one call (1: its own).
    pub shared_by: usize,
}

/// One secret of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretReport {
    /// The variable that receives it.
    pub variable: String,
    /// The provider key.
    pub provider: String,
    /// File or environment value.
    pub delivery: Delivery,
    /// Who it is read as; `None` when the provider does not say.
    pub identity: Option<IdentityReport>,
    /// The item read.
    pub item: Option<String>,
    /// The calls made for it besides its identity's login.
    pub calls: Vec<CallReport>,
    /// Assumptions and problems.
    pub notes: Vec<String>,
}

/// The totals of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanTotals {
    /// Secrets of the job.
    pub secrets: usize,
    /// Providers involved.
    pub providers: usize,
    /// Distinct identities (one per provider and label).
    pub identities: usize,
    /// Identities that log in.
    pub logins: usize,
    /// Expected API calls: the logins plus every distinct data call.
    pub api_calls: usize,
}

/// `ci-secrets plan`: how the job's secrets would be resolved, found
/// without any network call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanReport {
    /// The job.
    pub job: String,
    /// Every secret, in file order.
    pub secrets: Vec<SecretReport>,
    /// Totals.
    pub totals: PlanTotals,
    /// Problems a resolution would stop at before any call (a provider's
    /// config or preflight), one line each.
    pub problems: Vec<String>,
    /// What a resolution would go on with but probably not as meant (a
    /// variable a secret refers to that is not set), one line each.
    pub warnings: Vec<String>,
    /// The job's `rules:` rule that matched (`rules[1]: if: ...`); `null` when the job has
    /// no `rules:` or none matched.
    pub rule: Option<String>,
    /// The `workflow: rules:` rule that matched; `null` when there are none or none matched.
    pub workflow_rule: Option<String>,
    /// The `id_tokens:` variables a CI system's OIDC source would mint, with
    /// the source and the audience (outside GitLab).
    pub id_tokens: Vec<ci_secrets_core::plan::IdTokenPlan>,
}

/// One check as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found, or why it failed.
    pub detail: String,
    /// What to do about a failure.
    pub hint: Option<String>,
}

impl From<Check> for CheckReport {
    fn from(check: Check) -> Self {
        Self {
            name: check.name,
            passed: check.passed,
            detail: check.detail,
            hint: check.hint,
        }
    }
}

/// The checks of one identity (or of a provider that could not be set up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityDiagnosis {
    /// The provider key.
    pub provider: String,
    /// The identity; `None` for the provider's own setup checks, or when
    /// the provider does not describe identities.
    pub identity: Option<IdentityReport>,
    /// The variables of the secrets read as this identity.
    pub variables: Vec<String>,
    /// Every check, in the order run.
    pub checks: Vec<CheckReport>,
    /// Why some checks did not run, if any did not.
    pub skipped: Option<String>,
}

impl IdentityDiagnosis {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }
}

/// `ci-secrets doctor`: the checks of each distinct identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// The job.
    pub job: String,
    /// One entry per distinct identity, in the order of first use.
    pub identities: Vec<IdentityDiagnosis>,
}

/// What a doctor run established, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoctorOutcome {
    /// At least one check ran, and every check passed.
    Passed,
    /// At least one check failed.
    Failed {
        /// How many checks failed.
        failures: usize,
    },
    /// No check ran at all (a job without secrets, or only providers that
    /// describe no identity and have no checks of their own): nothing was
    /// verified, so this is not a pass.
    NothingChecked,
}

impl DoctorReport {
    /// How many checks ran, passed or failed.
    pub fn checked(&self) -> usize {
        self.identities
            .iter()
            .map(|identity| identity.checks.len())
            .sum()
    }

    /// Whether at least one check ran and every check passed. A report
    /// without any check is not a pass: nothing was verified.
    pub fn passed(&self) -> bool {
        self.outcome() == DoctorOutcome::Passed
    }

    /// Passed, failed, or nothing checked.
    pub fn outcome(&self) -> DoctorOutcome {
        match (self.checked(), self.failures()) {
            (0, _) => DoctorOutcome::NothingChecked,
            (_, 0) => DoctorOutcome::Passed,
            (_, failures) => DoctorOutcome::Failed { failures },
        }
    }

    /// How many checks failed.
    pub fn failures(&self) -> usize {
        self.identities
            .iter()
            .flat_map(|identity| &identity.checks)
            .filter(|check| !check.passed)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(checks: &[bool]) -> IdentityDiagnosis {
        IdentityDiagnosis {
            provider: "testkv".to_string(),
            identity: None,
            variables: vec!["A".to_string()],
            checks: checks
                .iter()
                .map(|&passed| CheckReport {
                    name: "login".to_string(),
                    passed,
                    detail: String::new(),
                    hint: None,
                })
                .collect(),
            skipped: None,
        }
    }

    fn report(identities: Vec<IdentityDiagnosis>) -> DoctorReport {
        DoctorReport {
            job: "deploy".to_string(),
            identities,
        }
    }

    #[test]
    fn a_report_without_any_check_is_not_a_pass() {
        for empty in [report(vec![]), report(vec![identity(&[]), identity(&[])])] {
            assert_eq!(empty.checked(), 0);
            assert_eq!(empty.outcome(), DoctorOutcome::NothingChecked);
            assert!(!empty.passed());
        }
    }

    #[test]
    fn checks_that_ran_decide_pass_or_failure() {
        let passed = report(vec![identity(&[true, true]), identity(&[])]);
        assert_eq!(passed.checked(), 2);
        assert_eq!(passed.outcome(), DoctorOutcome::Passed);
        assert!(passed.passed());

        let failed = report(vec![identity(&[true, false]), identity(&[false])]);
        assert_eq!(failed.outcome(), DoctorOutcome::Failed { failures: 2 });
        assert!(!failed.passed());
    }
}
