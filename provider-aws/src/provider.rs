//! The AWS Secrets Manager provider: plans every secret of a job, logs in
//! once per distinct (region, role, session name, token), then reads the
//! secrets concurrently, within the run's deadline.

use ci_secrets_provider_api::diagnostics::{Check, SecretPlan as PlanReport};
use ci_secrets_provider_api::{
    ErrorKind, Provider, ProviderConfig, ProviderError, ResolveContext, SecretRequest,
    SecretResult, SecretValue, async_trait, grouping,
};
use futures::future::join_all;
use std::collections::{HashMap, HashSet};
use tokio::sync::Semaphore;

use crate::access::Access;
use crate::deadline::within_deadline;
use crate::failure::Failure;
use crate::fetch::{BATCH, Batch, Payload, batch_get_secret_values, get_secret_value, read_error};
use crate::field;
use crate::login::{credential_texts, login};
use crate::reference::SecretReference;
use crate::request::AwsRequest;
use crate::transport::Transport;

/// Resolves `aws_secrets_manager:` secrets.
#[derive(Debug, Default)]
pub struct AwsSecretsManagerProvider {
    _private: (),
}

impl AwsSecretsManagerProvider {
    /// Builds the provider. It has no settings of its own: everything comes
    /// from the job (blocks and CI/CD variables) and the run's HTTP settings,
    /// so a `[providers.aws_secrets_manager]` section with any key is refused.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ProviderError> {
        match config.section() {
            serde_json::Value::Null => {}
            serde_json::Value::Object(keys) if keys.is_empty() => {}
            serde_json::Value::Object(keys) => {
                let names: Vec<&str> = keys.keys().map(String::as_str).collect();
                return Err(ProviderError::new(
                    ErrorKind::Config,
                    format!(
                        "[providers.aws_secrets_manager] in {}: unknown keys {}; the provider has no \
                         settings (it reads AWS_REGION, AWS_ROLE_ARN, ... from the job's variables)",
                        config.origin(),
                        names.join(", ")
                    ),
                ));
            }
            _ => {
                return Err(ProviderError::new(
                    ErrorKind::Config,
                    format!(
                        "[providers.aws_secrets_manager] in {} should be a table",
                        config.origin()
                    ),
                ));
            }
        }
        Ok(Self { _private: () })
    }
}

#[async_trait]
impl Provider for AwsSecretsManagerProvider {
    /// Checks every block, region, role and token, and the endpoint
    /// variables, before any request.
    fn preflight(
        &self,
        ctx: &ResolveContext,
        requests: &[SecretRequest],
    ) -> Result<(), ProviderError> {
        if requests.is_empty() {
            return Ok(());
        }
        crate::transport::Endpoints::from_variables(ctx.variables())?;
        grouping::check_each(requests, |request| AwsRequest::parse(ctx, request))
    }

    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        if requests.is_empty() {
            return Vec::new();
        }
        // Building the SDK clients costs TLS set-up: not for a run already over.
        if let Err(err) = ctx.check_deadline() {
            return requests.iter().map(|_| Err(err.replicate())).collect();
        }
        let transport = match Transport::new(ctx) {
            Ok(transport) => transport,
            Err(err) => {
                return requests.iter().map(|_| Err(err.replicate())).collect();
            }
        };

        // One limit for the whole run, as the shared HTTP layer has per client.
        let in_flight = Semaphore::new(ctx.http_settings().max_concurrency.max(1));
        grouping::resolve_by_identity(
            requests,
            |request| {
                AwsRequest::parse(ctx, request).map(|parsed| (parsed.access, parsed.reference))
            },
            |access, references| resolve_group(ctx, &transport, &in_flight, access, references),
        )
        .await
    }

    /// One login per distinct (region, role, session, token), one
    /// `GetSecretValue` per secret (see `diagnostics`).
    fn plan(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<PlanReport> {
        crate::diagnostics::plan(ctx, requests)
    }

    /// The login, then `DescribeSecret` per secret; no value is read.
    async fn diagnose(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<Check> {
        crate::diagnostics::diagnose(ctx, requests).await
    }
}

/// Logs in once for the group, then reads its secrets concurrently; a failed
/// login is every member's error.
async fn resolve_group(
    ctx: &ResolveContext,
    transport: &Transport,
    in_flight: &Semaphore,
    access: Access,
    references: Vec<SecretReference>,
) -> Result<Vec<SecretResult>, ProviderError> {
    let batched_ids = batched_ids(&references);
    // The reads' connections open while the login is in flight.
    transport
        .preconnect_secrets_manager(&access.region, first_wave(&batched_ids, &references))
        .await;
    let credentials = within_deadline(ctx, "AWS login", login(ctx, transport, &access)).await?;
    let scrub = credential_texts(&access, &credentials);
    let client = transport.secrets_manager(&access.region, credentials.clone());
    let batched = within_deadline(
        ctx,
        "reading secrets in batches",
        read_batches(&client, in_flight, &access.region, &scrub, &batched_ids),
    )
    .await;
    let batched = match batched {
        Ok(batched) => batched,
        // The deadline: every secret's error.
        Err(err) => return Ok(references.iter().map(|_| Err(err.replicate())).collect()),
    };
    let reads = references.iter().map(|reference| {
        let (client, scrub, access, batched) = (&client, &scrub, &access, &batched);
        async move {
            match batched.get(&reference.secret_id) {
                Some(Ok(payload)) if reference.reads_current() => {
                    return deliver(payload.clone(), reference);
                }
                Some(Err(failure)) if reference.reads_current() => {
                    return Err(read_error(reference, &access.region, failure));
                }
                _ => {}
            }
            let read = async {
                // The semaphore is never closed, so `acquire` cannot fail.
                let _permit = in_flight.acquire().await.map_err(|_| {
                    ProviderError::new(ErrorKind::Protocol, "the request limiter was closed")
                })?;
                let payload = get_secret_value(client, reference, &access.region, scrub).await?;
                deliver(payload, reference)
            };
            within_deadline(ctx, &format!("reading {reference}"), read).await
        }
    });
    Ok(join_all(reads).await)
}

/// The current values of `ids` (see [`batched_ids`]), with
/// `BatchGetSecretValue` ([`BATCH`] ids a call, concurrently): 20 secrets
/// take one call instead of 20.
/// An id a batch did not answer, and every id of a batch the identity may
/// not make (`AccessDenied`), is absent, so it is read alone with
/// `GetSecretValue`, whose errors are the runner's. Another failure of a
/// batch is the error of each of its secrets.
async fn read_batches(
    client: &aws_sdk_secretsmanager::Client,
    in_flight: &Semaphore,
    region: &str,
    scrub: &[&str],
    ids: &[&str],
) -> Result<HashMap<String, Result<Payload, Failure>>, ProviderError> {
    let calls = ids.chunks(BATCH).map(|chunk| async move {
        // The semaphore is never closed, so `acquire` cannot fail.
        let _permit = in_flight.acquire().await.map_err(|_| {
            ProviderError::new(ErrorKind::Protocol, "the request limiter was closed")
        })?;
        Ok::<_, ProviderError>((
            chunk,
            batch_get_secret_values(client, chunk, region, scrub).await,
        ))
    });
    let mut values = HashMap::new();
    for outcome in join_all(calls).await {
        let (chunk, batch) = outcome?;
        match batch {
            Ok(Batch::Values(answered)) => {
                values.extend(answered.into_iter().map(|(id, payload)| (id, Ok(payload))));
            }
            Ok(Batch::Denied) => {}
            Err(failure) => values.extend(
                chunk
                    .iter()
                    .map(|id| ((*id).to_string(), Err(failure.clone()))),
            ),
        }
    }
    Ok(values)
}

/// The ids whose current values are read in batches: the group's secrets
/// read without a version, distinct, in first-seen order; none unless
/// there are at least two.
fn batched_ids(references: &[SecretReference]) -> Vec<&str> {
    let mut seen = HashSet::new();
    let ids: Vec<&str> = references
        .iter()
        .filter(|reference| reference.reads_current())
        .map(|reference| reference.secret_id.as_str())
        .filter(|id| seen.insert(*id))
        .collect();
    if ids.len() < 2 { Vec::new() } else { ids }
}

/// How many requests go out at once after the login: the batches of
/// `batched_ids`, or every read when there is nothing to batch.
fn first_wave(batched_ids: &[&str], references: &[SecretReference]) -> usize {
    match batched_ids.len() {
        0 => references.len(),
        batched => batched.div_ceil(BATCH),
    }
}

/// The value to deliver: the whole secret, or its `field`.
fn deliver(payload: Payload, reference: &SecretReference) -> SecretResult {
    match (payload, &reference.field) {
        (Payload::Text(mut text), None) => Ok(SecretValue::text(std::mem::take(&mut *text))),
        (Payload::Binary(mut bytes), None) => Ok(SecretValue::bytes(std::mem::take(&mut *bytes))),
        (Payload::Text(text), Some(field)) => field::extract(&text, field, &reference.secret_id)
            .map(SecretValue::text)
            .map_err(|err| {
                let kind = match err {
                    field::FieldError::NotScalar { .. } => ErrorKind::Unsupported,
                    field::FieldError::NotAnObject { .. } | field::FieldError::Missing { .. } => {
                        ErrorKind::NotFound
                    }
                };
                ProviderError::new(kind, err.to_string())
            }),
        (Payload::Binary(_), Some(field)) => Err(ProviderError::new(
            ErrorKind::NotFound,
            format!(
                "{reference} holds a binary value (SecretBinary), so field '{field}' cannot be read; \
                 field: applies to a JSON SecretString"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Credentials;

    fn reference(field: Option<&str>) -> SecretReference {
        SecretReference {
            secret_id: "db".into(),
            field: field.map(str::to_string),
            ..SecretReference::default()
        }
    }

    #[test]
    fn config_sections_with_keys_are_refused_by_name() {
        let ok = ProviderConfig::new(serde_json::json!({}), "ci-secrets.toml");
        assert!(AwsSecretsManagerProvider::from_config(&ok).is_ok());
        let bad = ProviderConfig::new(serde_json::json!({"region": "x"}), "ci-secrets.toml");
        let err = AwsSecretsManagerProvider::from_config(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message().starts_with(
                "[providers.aws_secrets_manager] in ci-secrets.toml: unknown keys region"
            ),
            "{err}"
        );
    }

    #[test]
    fn deliver_whole_values_fields_and_their_errors() {
        let text = |value: &str| Payload::Text(zeroize::Zeroizing::new(value.to_string()));
        let whole = deliver(text("plain"), &reference(None)).unwrap();
        assert_eq!(whole.expose_str(), Some("plain"));
        let field = deliver(text(r#"{"k":"v"}"#), &reference(Some("k"))).unwrap();
        assert_eq!(field.expose_str(), Some("v"));
        let object = deliver(text(r#"{"k":{}}"#), &reference(Some("k"))).unwrap_err();
        assert_eq!(object.kind(), ErrorKind::Unsupported);
        let missing = deliver(text(r#"{"k":"v"}"#), &reference(Some("x"))).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        let binary = Payload::Binary(zeroize::Zeroizing::new(vec![0xff]));
        assert_eq!(
            deliver(binary, &reference(None)).unwrap().expose_bytes(),
            [0xff]
        );
    }

    #[tokio::test]
    async fn logins_are_grouped_in_first_seen_order() {
        let regions = ["us-east-1", "eu-west-1", "us-east-1"];
        // Each request's variable is its index; its login is its region's.
        let requests: Vec<_> = (0..regions.len())
            .map(|index| SecretRequest::new(index.to_string(), serde_json::Value::Null))
            .collect();
        let parse = |request: &SecretRequest| {
            let index: usize = request.variable.parse().unwrap();
            let access = Access {
                region: regions[index].into(),
                credentials: Credentials::Default,
            };
            Ok((access, index))
        };
        let groups = std::sync::Mutex::new(Vec::new());
        let results = grouping::resolve_by_identity(&requests, parse, |_, members: Vec<usize>| {
            let answers = members.iter().map(|_| Ok(SecretValue::text("v"))).collect();
            groups.lock().unwrap().push(members);
            async move { Ok(answers) }
        })
        .await;
        assert_eq!(results.len(), 3);
        let members: Vec<Vec<usize>> = groups.into_inner().unwrap();
        assert_eq!(members, [vec![0, 2], vec![1]]);
    }
}
