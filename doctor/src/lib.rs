//! `ci-secrets plan` and `ci-secrets doctor`: how a job's secrets would be
//! resolved, and whether each identity can resolve them, without any value.
//!
//! - [`plan`] loads, validates and plans the job as a resolution does, then
//!   asks each provider for its [`SecretPlan`]s. It makes no network call.
//! - [`doctor`] takes the distinct identities of that plan and checks each
//!   once: DNS, TCP and TLS to its endpoint (same roots as the HTTP layer),
//!   then the provider's own checks ([`Provider::diagnose`]: a login and
//!   the permission to describe each item). No value is fetched.

mod network;
mod proxy;
mod report;
mod tls;

use std::collections::HashMap;
use std::sync::Arc;

use ci_secrets_provider_api::diagnostics::{Check, Identity, SecretPlan};
use ci_secrets_provider_api::{
    HttpSettings, Metrics, Provider, ProviderConfig, ProviderRegistration, ResolveContext,
    SecretRequest,
};
use futures::future::join_all;
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use ci_secrets_core::config::LoadedConfig;
use ci_secrets_core::engine::{JobSource, PlannedJob, plan_job};
use ci_secrets_core::error::CoreError;
use ci_secrets_core::plan::find_registration;
use ci_secrets_gitlab::variables::VariableSources;

pub use report::{
    CallReport, CheckReport, Delivery, DoctorOutcome, DoctorReport, IdentityDiagnosis,
    IdentityReport, PlanReport, PlanTotals, SecretReport,
};

/// What to do when a provider's checks before any call fail.
const PREFLIGHT_HINT: &str =
    "Fix the job's variables or the secret's block; `ci-secrets plan` shows what each secret needs";

/// One provider of the job, built, with its context and requests.
struct Prepared {
    key: String,
    provider: Box<dyn Provider>,
    ctx: ResolveContext,
    /// The job's secrets this provider serves, as indexes into the plan.
    indexes: Vec<usize>,
    requests: Vec<SecretRequest>,
}

/// Builds every provider of the job; a provider that cannot be built is
/// returned as its key and a one-line reason.
fn prepare(
    providers: &[&'static ProviderRegistration],
    planned: &PlannedJob,
    config: &LoadedConfig,
    http: &HttpSettings,
    cancel: &CancellationToken,
) -> Vec<Result<Prepared, (String, String)>> {
    let metrics = Arc::new(Metrics::default());
    planned
        .plan
        .by_provider()
        .into_iter()
        .map(|(key, indexes)| {
            let (section, origin) = config.provider_section(key);
            let registration = find_registration(providers, key)
                .ok_or_else(|| (key.to_string(), "not built into this binary".to_string()))?;
            let provider =
                (registration.build)(&ProviderConfig::new(section.clone(), origin.clone()))
                    .map_err(|err| (key.to_string(), format!("{err} (config from {origin})")))?;
            let ctx = ResolveContext::builder(planned.plan.job.clone())
                .variables(planned.variables.clone())
                .id_token_names(planned.id_tokens.clone())
                .timeout(config.deadline())
                .cancellation(cancel.clone())
                .config(section)
                .http(http.clone())
                .metrics(metrics.clone())
                .build();
            let requests = indexes
                .iter()
                .map(|&index| planned.plan.secrets[index].request.clone())
                .collect();
            Ok(Prepared {
                key: key.to_string(),
                provider,
                ctx,
                indexes,
                requests,
            })
        })
        .collect()
}

fn variables_of(planned: &PlannedJob, indexes: &[usize]) -> Vec<String> {
    indexes
        .iter()
        .map(|&index| planned.plan.secrets[index].variable.clone())
        .collect()
}

/// How the job's secrets would be resolved with `providers` (those linked
/// into the binary). Makes no network call.
pub fn plan(
    providers: &[&'static ProviderRegistration],
    source: &JobSource,
    sources: &VariableSources,
    config: &LoadedConfig,
) -> Result<PlanReport, CoreError> {
    let planned = plan_job(providers, source, sources)?;
    let http = config.http_settings()?;
    let mut plans: Vec<SecretPlan> = planned
        .plan
        .secrets
        .iter()
        .map(|_| SecretPlan::new())
        .collect();
    // A `token:` gap stops a resolution; the plan still shows the job.
    let mut problems: Vec<String> = planned
        .plan
        .token_problems
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut warnings: Vec<String> = planned
        .skipped_includes
        .iter()
        .map(ToString::to_string)
        .collect();
    let rules = &planned.plan.rules;
    // `--strict` makes it a problem, as a resolution would stop at it.
    if config.config.strict {
        problems.extend(
            rules
                .not_created_error(&planned.plan.job)
                .map(|error| error.to_string()),
        );
    } else {
        warnings.extend(rules.not_created_warning(&planned.plan.job));
    }
    warnings.extend(rules.warnings.iter().cloned());
    for unset in planned.plan.unset_variables() {
        let line = format!("job {}, {unset}", planned.plan.job);
        // `--strict` makes it a problem, as a resolution would stop at it.
        if config.config.strict {
            problems.push(line);
        } else {
            warnings.push(line);
        }
    }
    for prepared in prepare(
        providers,
        &planned,
        config,
        &http,
        &CancellationToken::new(),
    ) {
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err((key, reason)) => {
                let problem = format!("provider {key}: {reason}");
                for (secret, secret_plan) in planned.plan.secrets.iter().zip(plans.iter_mut()) {
                    if secret.provider == key {
                        *secret_plan = SecretPlan::invalid(&problem);
                    }
                }
                problems.push(problem);
                continue;
            }
        };
        if let Err(err) = prepared
            .provider
            .preflight(&prepared.ctx, &prepared.requests)
        {
            let variables = variables_of(&planned, &prepared.indexes).join(", ");
            problems.push(format!("{variables} ({}): {err}", prepared.key));
        }
        let provided = prepared.provider.plan(&prepared.ctx, &prepared.requests);
        if provided.len() != prepared.requests.len() {
            problems.push(format!(
                "provider {} planned {} secrets of {}",
                prepared.key,
                provided.len(),
                prepared.requests.len()
            ));
            continue;
        }
        for (&index, secret_plan) in prepared.indexes.iter().zip(provided) {
            plans[index] = secret_plan;
        }
    }
    let mut report = report_plan(&planned, plans, problems);
    report.warnings = warnings;
    Ok(report)
}

/// Turns the providers' plans into the report, counting shared calls once.
fn report_plan(planned: &PlannedJob, plans: Vec<SecretPlan>, problems: Vec<String>) -> PlanReport {
    let secrets = &planned.plan.secrets;
    // How many secrets share each call: key (provider, shared key).
    let mut sharing: HashMap<(&str, &str), usize> = HashMap::new();
    for (secret, secret_plan) in secrets.iter().zip(&plans) {
        for call in &secret_plan.calls {
            if let Some(key) = &call.shared {
                *sharing
                    .entry((secret.provider.as_str(), key.as_str()))
                    .or_default() += 1;
            }
        }
    }
    let mut identities: IndexMap<(&str, &str), bool> = IndexMap::new();
    let mut own_calls = 0;
    for (secret, secret_plan) in secrets.iter().zip(&plans) {
        if let Some(identity) = &secret_plan.identity {
            identities.insert(
                (secret.provider.as_str(), identity.label.as_str()),
                identity.login.is_some(),
            );
        }
        own_calls += secret_plan
            .calls
            .iter()
            .filter(|call| call.shared.is_none())
            .count();
    }
    let logins = identities.values().filter(|logs_in| **logs_in).count();
    let totals = PlanTotals {
        secrets: secrets.len(),
        providers: planned.plan.by_provider().len(),
        identities: identities.len(),
        logins,
        api_calls: logins + own_calls + sharing.len(),
    };
    let reports = secrets
        .iter()
        .zip(&plans)
        .map(|(secret, secret_plan)| SecretReport {
            variable: secret.variable.clone(),
            provider: secret.provider.clone(),
            delivery: if secret.file {
                Delivery::File
            } else {
                Delivery::Env
            },
            identity: secret_plan.identity.as_ref().map(IdentityReport::from),
            item: secret_plan.item.clone(),
            calls: secret_plan
                .calls
                .iter()
                .map(|call| CallReport {
                    operation: call.operation.clone(),
                    shared_by: call
                        .shared
                        .as_ref()
                        .and_then(|key| sharing.get(&(secret.provider.as_str(), key.as_str())))
                        .copied()
                        .unwrap_or(1),
                })
                .collect(),
            notes: secret_plan.notes.clone(),
        })
        .collect();
    PlanReport {
        job: planned.plan.job.clone(),
        secrets: reports,
        totals,
        problems,
        warnings: Vec::new(),
        rule: planned.plan.rules.rule.clone(),
        workflow_rule: planned.plan.rules.workflow_rule.clone(),
        id_tokens: planned.plan.id_token_sources.clone(),
    }
}

/// Checks each distinct identity of the job: DNS, TCP, TLS, then the
/// provider's login and permission checks, with `providers` (those linked
/// into the binary). Fetches no value.
pub async fn doctor(
    providers: &[&'static ProviderRegistration],
    source: &JobSource,
    sources: &VariableSources,
    config: &LoadedConfig,
    cancel: CancellationToken,
) -> Result<DoctorReport, CoreError> {
    let planned = plan_job(providers, source, sources)?;
    planned.plan.ready()?;
    let settings = config.http_settings()?;
    let timeout = settings.connect_timeout;
    let trust = tls::Trust::system(&settings.extra_ca_pem);
    let proxies = proxy::Proxies::from_env();
    let prepared = prepare(providers, &planned, config, &settings, &cancel);

    let mut entries: Vec<IdentityDiagnosis> = Vec::new();
    let mut work = Vec::new();
    for prepared in &prepared {
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err((key, reason)) => {
                let variables = planned
                    .plan
                    .secrets
                    .iter()
                    .filter(|secret| &secret.provider == key)
                    .map(|secret| secret.variable.clone())
                    .collect();
                entries.push(setup_failure(
                    key,
                    variables,
                    reason,
                    "Fix the provider's section of the configuration",
                ));
                continue;
            }
        };
        let variables = variables_of(&planned, &prepared.indexes);
        if let Err(err) = prepared
            .provider
            .preflight(&prepared.ctx, &prepared.requests)
        {
            entries.push(setup_failure(
                &prepared.key,
                variables,
                err.message(),
                PREFLIGHT_HINT,
            ));
            continue;
        }
        let plans = prepared.provider.plan(&prepared.ctx, &prepared.requests);
        for (identity, members) in group_by_identity(&plans, prepared.requests.len()) {
            let requests: Vec<SecretRequest> = members
                .iter()
                .map(|&member| prepared.requests[member].clone())
                .collect();
            let variables = members
                .iter()
                .map(|&member| variables[member].clone())
                .collect();
            work.push(diagnose_identity(
                prepared,
                identity,
                requests,
                variables,
                trust.as_ref(),
                &proxies,
                timeout,
            ));
        }
    }
    entries.extend(join_all(work).await);
    Ok(DoctorReport {
        job: planned.plan.job.clone(),
        identities: entries,
    })
}

fn setup_failure(
    provider: &str,
    variables: Vec<String>,
    cause: &str,
    hint: &str,
) -> IdentityDiagnosis {
    IdentityDiagnosis {
        provider: provider.to_string(),
        identity: None,
        variables,
        checks: vec![Check::fail("configuration", cause).with_hint(hint).into()],
        skipped: Some("no identity was checked".to_string()),
    }
}

/// Requests grouped by the identity their plan names, in first-seen order;
/// requests whose plan names none form one group of their own.
fn group_by_identity(plans: &[SecretPlan], requests: usize) -> Vec<(Option<Identity>, Vec<usize>)> {
    let mut groups: IndexMap<Option<String>, (Option<Identity>, Vec<usize>)> = IndexMap::new();
    for member in 0..requests {
        let identity = plans.get(member).and_then(|plan| plan.identity.clone());
        let key = identity.as_ref().map(|identity| identity.label.clone());
        groups
            .entry(key)
            .or_insert_with(|| (identity, Vec::new()))
            .1
            .push(member);
    }
    groups.into_values().collect()
}

async fn diagnose_identity(
    prepared: &Prepared,
    identity: Option<Identity>,
    requests: Vec<SecretRequest>,
    variables: Vec<String>,
    trust: Result<&tls::Trust, &String>,
    proxies: &proxy::Proxies,
    timeout: std::time::Duration,
) -> IdentityDiagnosis {
    let mut checks: Vec<Check> = Vec::new();
    let endpoint = identity
        .as_ref()
        .and_then(|identity| identity.endpoint.clone().map(|url| (identity, url)));
    if let Some((identity, endpoint)) = endpoint {
        match trust {
            Ok(trust) => checks.extend(
                network::endpoint_checks(identity, &endpoint, trust, proxies, timeout).await,
            ),
            Err(err) => checks.push(
                Check::fail("TLS", err.clone())
                    .with_hint("Set [http] ca_file to a PEM certificate file"),
            ),
        }
    }
    let skipped = match checks.iter().find(|check| !check.passed) {
        Some(failed) => Some(format!(
            "login and permission checks skipped: the {} check failed",
            failed.name
        )),
        None => {
            let own = prepared.provider.diagnose(&prepared.ctx, &requests).await;
            let skipped = match (own.is_empty(), checks.is_empty()) {
                (false, _) => None,
                (true, false) => Some(format!(
                    "{} has no login or permission checks: only the network was checked",
                    prepared.key
                )),
                (true, true) => Some(format!(
                    "{} describes no identity and has no checks of its own: nothing was checked",
                    prepared.key
                )),
            };
            checks.extend(own);
            skipped
        }
    };
    IdentityDiagnosis {
        provider: prepared.key.clone(),
        identity: identity.as_ref().map(IdentityReport::from),
        variables,
        checks: checks.into_iter().map(CheckReport::from).collect(),
        skipped,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ci_secrets_provider_api::diagnostics::PlannedCall;
    use ci_secrets_provider_api::{JobVariables, SecretRequest};

    use super::*;
    use ci_secrets_core::plan::{Plan, PlannedSecret};

    fn job(secrets: &[(&str, &str, bool)]) -> PlannedJob {
        PlannedJob {
            plan: Plan {
                job: "deploy".into(),
                secrets: secrets
                    .iter()
                    .map(|(variable, provider, file)| PlannedSecret {
                        variable: (*variable).into(),
                        provider: (*provider).into(),
                        file: *file,
                        request: SecretRequest::new(*variable, serde_json::Value::Null),
                        unset_variables: Vec::new(),
                    })
                    .collect(),
                token_problems: Vec::new(),
                rules: Default::default(),
                id_token_sources: Vec::new(),
            },
            variables: JobVariables::default(),
            id_tokens: Vec::new(),
            skipped_includes: Vec::new(),
        }
    }

    #[test]
    fn shared_calls_count_once_per_provider_and_logins_once_per_identity() {
        let planned = job(&[
            ("A", "p", true),
            ("B", "p", false),
            ("C", "q", false),
            ("D", "r", true),
        ]);
        let login = Identity::new("one").with_login("POST /login");
        let given = Identity::new("given");
        let plans = vec![
            SecretPlan::new()
                .with_identity(login.clone())
                .with_call(PlannedCall::shared("POST /batch", "b"))
                .with_call(PlannedCall::own("GET /a")),
            SecretPlan::new()
                .with_identity(login)
                .with_call(PlannedCall::shared("POST /batch", "b")),
            // Same shared key, other provider: another call.
            SecretPlan::new()
                .with_identity(given)
                .with_call(PlannedCall::shared("POST /batch", "b")),
            SecretPlan::unknown(),
        ];
        let report = report_plan(&planned, plans, Vec::new());
        assert_eq!(
            report.totals,
            PlanTotals {
                secrets: 4,
                providers: 3,
                identities: 2,
                logins: 1,
                // 1 login + GET /a + one batch of p + one batch of q.
                api_calls: 4,
            }
        );
        assert_eq!(report.secrets[0].delivery, Delivery::File);
        assert_eq!(report.secrets[1].delivery, Delivery::Env);
        assert_eq!(report.secrets[0].calls[0].shared_by, 2);
        assert_eq!(report.secrets[0].calls[1].shared_by, 1);
        assert_eq!(report.secrets[2].calls[0].shared_by, 1);
        assert!(report.secrets[3].identity.is_none());
    }

    #[test]
    fn requests_are_grouped_by_identity_label_in_first_seen_order() {
        let plans = vec![
            SecretPlan::new().with_identity(Identity::new("b")),
            SecretPlan::unknown(),
            SecretPlan::new().with_identity(Identity::new("a")),
            SecretPlan::new().with_identity(Identity::new("b")),
        ];
        let groups: Vec<(Option<String>, Vec<usize>)> = group_by_identity(&plans, 4)
            .into_iter()
            .map(|(identity, members)| (identity.map(|identity| identity.label), members))
            .collect();
        assert_eq!(
            groups,
            [
                (Some("b".to_string()), vec![0, 3]),
                (None, vec![1]),
                (Some("a".to_string()), vec![2]),
            ]
        );
    }
}
