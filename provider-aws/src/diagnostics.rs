//! `ci-secrets plan` for AWS Secrets Manager: one login per distinct
//! (region, role, session name, token), then one `GetSecretValue` per
//! secret. `doctor` checks DNS, TCP and TLS to the Secrets Manager
//! endpoint of each identity (the core does that from the plan); the STS
//! login and `DescribeSecret` checks are not implemented yet.

use ci_secrets_provider_api::diagnostics::{Identity, PlannedCall, SecretPlan};
use ci_secrets_provider_api::{ErrorKind, ProviderError, ResolveContext, SecretRequest};
use url::Url;

use crate::access::{Access, Credentials};
use crate::reference::SecretReference;
use crate::transport::Endpoints;

/// The Secrets Manager endpoint of `region`, unless overridden.
fn secrets_manager_endpoint(endpoints: &Endpoints, region: &str) -> Option<Url> {
    let url = endpoints
        .secrets_manager
        .clone()
        .unwrap_or_else(|| format!("https://secretsmanager.{region}.amazonaws.com"));
    Url::parse(&url).ok()
}

/// What `plan` shows of the `ordinal`-th distinct login; public parts only.
fn identity(access: &Access, endpoints: &Endpoints, ordinal: usize) -> Identity {
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
    if ordinal > 1 {
        shown.label = format!("{} #{ordinal}", shown.label);
    }
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
    let mut logins: Vec<(Access, Identity)> = Vec::new();
    requests
        .iter()
        .map(|request| {
            let parsed = SecretReference::parse(&request.block)
                .map_err(|err| ProviderError::new(ErrorKind::Config, err.to_string()))
                .and_then(|reference| {
                    Access::select(ctx, request, &reference).map(|access| (reference, access))
                });
            let (reference, access) = match parsed {
                Ok(parsed) => parsed,
                Err(err) => return SecretPlan::invalid(&err),
            };
            let position = logins
                .iter()
                .position(|(known, _)| known.same_login(&access))
                .unwrap_or_else(|| {
                    let shown = identity(&access, &endpoints, logins.len() + 1);
                    logins.push((access.clone(), shown));
                    logins.len() - 1
                });
            let mut plan = SecretPlan::new()
                .with_identity(logins[position].1.clone())
                .with_item(reference.to_string())
                .with_call(PlannedCall::own("POST secretsmanager:GetSecretValue"));
            if matches!(access.credentials, Credentials::Default) {
                plan = plan.with_note(
                    "the default credentials may come from a metadata service, which makes calls of its own",
                );
            }
            plan
        })
        .collect()
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
