//! `ci-secrets plan` and `ci-secrets doctor` for AWS Secrets Manager.
//!
//! A resolution logs in once per distinct (region, role, session name,
//! token), then makes one `BatchGetSecretValue` per 20 ids read without a
//! version (from two such ids) and one `GetSecretValue` per other secret.
//! The doctor logs in the same way and calls `DescribeSecret` for each secret, which returns
//! the secret's metadata, never its value.

use std::collections::HashMap;

use ci_secrets_provider_api::diagnostics::{Check, Identity, PlannedCall, SecretPlan};
use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext, SecretRequest};
use futures::future::join_all;
use url::Url;

use crate::access::{Access, Credentials};
use crate::deadline::within_deadline;
use crate::failure::Failure;
use crate::fetch::BATCH;
use crate::login::{credential_texts, login};
use crate::reference::SecretReference;
use crate::request::AwsRequest;
use crate::transport::{Endpoints, Transport};

/// The Secrets Manager endpoint of `region` (see
/// [`Endpoints::secrets_manager_url`]).
fn secrets_manager_endpoint(endpoints: &Endpoints, region: &str) -> Option<Url> {
    Url::parse(&endpoints.secrets_manager_url(region)?).ok()
}

/// What `plan` shows of a login; public parts only.
fn identity(access: &Access, endpoints: &Endpoints) -> Identity {
    let mut shown = match &access.credentials {
        Credentials::WebIdentity {
            role_arn,
            session_name,
            token_source,
            ..
        } => {
            let session = session_name
                .clone()
                .unwrap_or_else(|| "(the login time in Unix nanoseconds)".to_string());
            Identity::new(format!(
                "aws {} role {role_arn} session {session}",
                access.region
            ))
            .with_field("region", access.region.clone())
            .with_field("role", role_arn.clone())
            .with_field("session name", session)
            .with_field("web identity token", token_source.to_string())
            .with_login("POST sts:AssumeRoleWithWebIdentity")
        }
        Credentials::Default => Identity::new(format!("aws {} default credentials", access.region))
            .with_field("region", access.region.clone())
            .with_field(
                "role",
                "none: the default AWS credentials (job variables, profiles, web identity file, ECS, EC2 metadata)",
            ),
    };
    if let Some(endpoint) = secrets_manager_endpoint(endpoints, &access.region) {
        shown = shown
            .with_field("Secrets Manager endpoint", endpoint.as_str())
            .with_endpoint(endpoint);
    }
    shown
}

/// The plan of every request (`Provider::plan`).
pub(crate) fn plan(ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretPlan> {
    let endpoints = match Endpoints::from_variables(ctx.variables()) {
        Ok(endpoints) => endpoints,
        Err(err) => return requests.iter().map(|_| SecretPlan::invalid(&err)).collect(),
    };
    let parsed: Vec<_> = requests
        .iter()
        .map(|request| AwsRequest::parse(ctx, request))
        .collect();
    // The distinct ids each identity reads without a version: from two of
    // them, the provider batches them (`BATCH` a call, in first-seen order).
    let mut current: Vec<(&Access, Vec<&str>)> = Vec::new();
    for AwsRequest { reference, access } in parsed.iter().flatten() {
        if !reference.reads_current() {
            continue;
        }
        let at = match current.iter().position(|(known, _)| *known == access) {
            Some(at) => at,
            None => {
                current.push((access, Vec::new()));
                current.len() - 1
            }
        };
        let ids = &mut current[at].1;
        if !ids.contains(&reference.secret_id.as_str()) {
            ids.push(reference.secret_id.as_str());
        }
    }
    let batch_of = |access: &Access, reference: &SecretReference| -> Option<(usize, usize)> {
        if !reference.reads_current() {
            return None;
        }
        let group = current.iter().position(|(known, _)| *known == access)?;
        let ids = &current[group].1;
        let index = ids.iter().position(|id| *id == reference.secret_id)?;
        (ids.len() >= 2).then_some((group, index / BATCH))
    };
    let mut logins: Vec<(Access, Identity)> = Vec::new();
    let mut labels: HashMap<String, usize> = HashMap::new();
    parsed
        .iter()
        .map(|parsed| {
            let AwsRequest { reference, access } = match parsed {
                Ok(parsed) => parsed,
                Err(err) => return SecretPlan::invalid(err),
            };
            let position = logins
                .iter()
                .position(|(known, _)| known == access)
                .unwrap_or_else(|| {
                    let mut shown = identity(access, &endpoints);
                    // Logins whose public parts are equal differ by their token.
                    let same_label = labels.entry(shown.label.clone()).or_default();
                    *same_label += 1;
                    if *same_label > 1 {
                        shown.label = format!("{} #{same_label}", shown.label);
                    }
                    logins.push((access.clone(), shown));
                    logins.len() - 1
                });
            let call = match batch_of(access, reference) {
                Some((group, batch)) => PlannedCall::shared(
                    "POST secretsmanager:BatchGetSecretValue",
                    format!("identity {group} batch {batch}"),
                ),
                None => PlannedCall::own("POST secretsmanager:GetSecretValue"),
            };
            let mut plan = SecretPlan::new()
                .with_identity(logins[position].1.clone())
                .with_item(reference.to_string())
                .with_call(call);
            if matches!(access.credentials, Credentials::Default) {
                plan = plan.with_note(
                    "the default credentials may come from a metadata service, which makes calls of its own",
                );
            }
            plan
        })
        .collect()
}

/// The checks of one identity (`Provider::diagnose`): the login, then
/// `DescribeSecret` for each distinct secret. No value is read.
pub(crate) async fn diagnose(ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut parsed = Vec::new();
    for request in requests {
        match AwsRequest::parse(ctx, request) {
            Ok(AwsRequest { reference, access }) => parsed.push((reference, access)),
            Err(err) => checks.push(
                Check::fail(
                    format!("configuration of {}", request.variable),
                    err.message(),
                )
                .with_hint("Fix the secret's aws_secrets_manager: block or the AWS_* variables"),
            ),
        }
    }
    let Some((_, access)) = parsed.first() else {
        return checks;
    };
    let transport = match Transport::new(ctx) {
        Ok(transport) => transport,
        Err(err) => {
            checks.push(Check::fail("configuration", err.message()));
            return checks;
        }
    };
    let credentials = match within_deadline(ctx, "AWS login", login(ctx, &transport, access)).await
    {
        Ok(credentials) => {
            let how = match &access.credentials {
                Credentials::WebIdentity { role_arn, .. } => {
                    format!(
                        "STS AssumeRoleWithWebIdentity for role {role_arn} returned credentials"
                    )
                }
                Credentials::Default => "the default AWS credentials were found".to_string(),
            };
            checks.push(Check::pass("login", how));
            credentials
        }
        Err(err) => {
            let hint = match (&access.credentials, err.kind()) {
                (_, ErrorKind::Tls) => "Set [http] ca_file to the CA of the STS endpoint",
                (Credentials::WebIdentity { .. }, _) => {
                    "Check the role's trust policy: it must trust the ID token's issuer and audience (aud)"
                }
                (Credentials::Default, _) => {
                    "Set role_arn: (or AWS_ROLE_ARN) and an ID token, or provide AWS credentials"
                }
            };
            checks.push(Check::fail("login", err.message()).with_hint(hint));
            return checks;
        }
    };
    let scrub = credential_texts(access, &credentials);
    let client = transport.secrets_manager(&access.region, credentials.clone());
    let mut secret_ids: Vec<&str> = Vec::new();
    for (reference, _) in &parsed {
        if !secret_ids.contains(&reference.secret_id.as_str()) {
            secret_ids.push(&reference.secret_id);
        }
    }
    let describes = secret_ids.iter().map(|secret_id| {
        let (client, scrub) = (&client, &scrub);
        async move {
            let name = format!("describe {secret_id}");
            let outcome = within_deadline(ctx, &name, async {
                client
                    .describe_secret()
                    .secret_id(*secret_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        let failure = Failure::from_sdk(&err, scrub);
                        ProviderError::new(describe_kind(&failure), failure.describe())
                    })
            })
            .await;
            match outcome {
                Ok(()) => Check::pass(
                    name,
                    format!("the secret exists in {} and may be described", access.region),
                ),
                Err(err) => {
                    let hint = match err.kind() {
                        ErrorKind::Denied => format!(
                            "Allow secretsmanager:DescribeSecret and secretsmanager:GetSecretValue on {secret_id} for this identity"
                        ),
                        ErrorKind::NotFound => format!(
                            "Check the secret id {secret_id} and the region {}",
                            access.region
                        ),
                        _ => "Check the Secrets Manager endpoint and the network".to_string(),
                    };
                    Check::fail(name, err.message()).with_hint(hint)
                }
            }
        }
    });
    checks.extend(join_all(describes).await);
    checks
}

fn describe_kind(failure: &Failure) -> ErrorKind {
    match failure {
        Failure::Service { code, status, .. } => match code.as_str() {
            "ResourceNotFoundException" => ErrorKind::NotFound,
            "AccessDeniedException" => ErrorKind::Denied,
            code => Failure::default_kind(code, *status),
        },
        Failure::NoAnswer { kind, .. } => *kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_secrets_provider_api::JobVariables;

    #[test]
    fn one_identity_per_login_and_one_read_per_secret() {
        let ctx = ResolveContext::builder("deploy")
            .variables(JobVariables::from_iter([
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci"),
                ("AWS_ROLE_SESSION_NAME", "ci"),
                ("AWS_ID_TOKEN", "eyJ.canary.jwt"),
            ]))
            .build();
        let requests = [
            SecretRequest::new("A", serde_json::json!("db#password")),
            SecretRequest::new(
                "B",
                serde_json::json!({"secret_id": "api", "region": "us-east-1"}),
            ),
            SecretRequest::new("C", serde_json::json!("db#user")),
        ];
        let plans = plan(&ctx, &requests);
        let labels: Vec<&str> = plans
            .iter()
            .map(|plan| plan.identity.as_ref().unwrap().label.as_str())
            .collect();
        assert_eq!(
            labels,
            [
                "aws eu-west-1 role arn:aws:iam::123456789012:role/ci session ci",
                "aws us-east-1 role arn:aws:iam::123456789012:role/ci session ci",
                "aws eu-west-1 role arn:aws:iam::123456789012:role/ci session ci",
            ]
        );
        let identity = plans[0].identity.as_ref().unwrap();
        assert_eq!(
            identity.field("web identity token"),
            Some("the ID token AWS_ID_TOKEN")
        );
        assert_eq!(
            identity.endpoint.as_ref().unwrap().as_str(),
            "https://secretsmanager.eu-west-1.amazonaws.com/"
        );
        assert_eq!(plans[0].item.as_deref(), Some("secret 'db'"));
        assert_eq!(
            plans[0].calls,
            [PlannedCall::own("POST secretsmanager:GetSecretValue")]
        );
        assert!(!format!("{plans:?}").contains("canary"));
    }

    #[test]
    fn ids_read_without_a_version_share_a_batch() {
        let ctx = ResolveContext::builder("deploy")
            .variables(ci_secrets_provider_api::JobVariables::from_iter([(
                "AWS_REGION",
                "us-east-1",
            )]))
            .build();
        let mut requests: Vec<SecretRequest> = (0..21)
            .map(|n| SecretRequest::new(format!("S{n}"), serde_json::json!(format!("s{n}"))))
            .collect();
        requests.push(SecretRequest::new("AGAIN", serde_json::json!("s0#field")));
        requests.push(SecretRequest::new(
            "OLD",
            serde_json::json!({"secret_id": "s1", "version_stage": "AWSPREVIOUS"}),
        ));
        let plans = plan(&ctx, &requests);
        let batch = |key: &str| {
            [PlannedCall::shared(
                "POST secretsmanager:BatchGetSecretValue",
                key,
            )]
        };
        assert_eq!(plans[0].calls, batch("identity 0 batch 0"), "{plans:?}");
        assert_eq!(plans[19].calls, batch("identity 0 batch 0"));
        assert_eq!(plans[20].calls, batch("identity 0 batch 1"));
        assert_eq!(plans[21].calls, batch("identity 0 batch 0"));
        assert_eq!(
            plans[22].calls,
            [PlannedCall::own("POST secretsmanager:GetSecretValue")]
        );
    }

    #[test]
    fn a_missing_region_is_reported_per_secret() {
        let ctx = ResolveContext::builder("deploy").build();
        let plans = plan(&ctx, &[SecretRequest::new("A", serde_json::json!("db"))]);
        assert!(plans[0].identity.is_none());
        assert!(
            plans[0].notes[0].starts_with("cannot be resolved: no AWS region"),
            "{plans:?}"
        );
    }
}
