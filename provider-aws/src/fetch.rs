//! `GetSecretValue` for one secret, `BatchGetSecretValue` for several, and
//! what their errors mean.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::SecretValueEntry;
use ci_secrets_provider_api::{ErrorKind, ProviderError};
use tracing::Instrument as _;

use crate::failure::Failure;
use crate::reference::SecretReference;

/// A secret's value as Secrets Manager stores it, wiped on drop.
#[derive(Clone)]
pub(crate) enum Payload {
    /// `SecretString`.
    Text(zeroize::Zeroizing<String>),
    /// `SecretBinary`, decoded from the API's base64.
    Binary(zeroize::Zeroizing<Vec<u8>>),
}

/// Names the variant only: `Zeroizing`'s own `Debug` would show the value.
impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payload::Text(_) => f.write_str("Payload::Text(<redacted>)"),
            Payload::Binary(_) => f.write_str("Payload::Binary(<redacted>)"),
        }
    }
}

/// Reads the secret's version: `version_id`, `version_stage`, or the
/// current one. `scrub` lists what must never appear in a message.
pub(crate) async fn get_secret_value(
    client: &Client,
    reference: &SecretReference,
    region: &str,
    scrub: &[&str],
) -> Result<Payload, ProviderError> {
    let span = tracing::info_span!("aws.fetch", secret_id = %reference.secret_id, region);
    let output = client
        .get_secret_value()
        .secret_id(&reference.secret_id)
        .set_version_id(reference.version_id.clone())
        .set_version_stage(reference.version_stage.clone())
        .send()
        .instrument(span)
        .await
        .map_err(|err| read_error(reference, region, &Failure::from_sdk(&err, scrub)))?;
    if let Some(text) = output.secret_string {
        return Ok(Payload::Text(zeroize::Zeroizing::new(text)));
    }
    if let Some(binary) = output.secret_binary {
        return Ok(Payload::Binary(zeroize::Zeroizing::new(
            binary.into_inner(),
        )));
    }
    // The runner's words.
    Err(ProviderError::new(
        ErrorKind::NotFound,
        format!("{reference} in region {region}: secret contains no value"),
    ))
}

/// Secret ids per `BatchGetSecretValue` call: the API's limit.
pub(crate) const BATCH: usize = 20;

/// What one `BatchGetSecretValue` call gave.
pub(crate) enum Batch {
    /// The current values of the ids it answered, by requested id. An id it
    /// did not answer (listed in `Errors`, or not recognised in the answer)
    /// is absent: the caller reads it alone, for the runner's exact error.
    Values(HashMap<String, Payload>),
    /// The identity may not batch (`AccessDenied`, typically a policy that
    /// grants `GetSecretValue` but not `BatchGetSecretValue`): the caller
    /// reads each secret alone with `GetSecretValue`.
    Denied,
}

/// Reads the current version of each of `ids` (distinct, at most
/// [`BATCH`]) in one call.
pub(crate) async fn batch_get_secret_values(
    client: &Client,
    ids: &[&str],
    region: &str,
    scrub: &[&str],
) -> Result<Batch, Failure> {
    let span = tracing::info_span!("aws.fetch_batch", count = ids.len(), region);
    let output = match client
        .batch_get_secret_value()
        .set_secret_id_list(Some(ids.iter().map(|id| (*id).to_string()).collect()))
        .send()
        .instrument(span)
        .await
    {
        Ok(output) => output,
        Err(err) => {
            let failure = Failure::from_sdk(&err, scrub);
            return match &failure {
                Failure::Service { code, .. } if is_access_denied(code) => {
                    tracing::debug!(
                        count = ids.len(),
                        "BatchGetSecretValue denied; reading each secret alone"
                    );
                    Ok(Batch::Denied)
                }
                _ => Err(failure),
            };
        }
    };
    let mut values = HashMap::new();
    for entry in output.secret_values.unwrap_or_default() {
        let Some(id) = ids.iter().find(|id| answers(id, &entry)) else {
            continue;
        };
        let SecretValueEntry {
            secret_string,
            secret_binary,
            ..
        } = entry;
        let payload = match (secret_string, secret_binary) {
            (Some(text), _) => Payload::Text(zeroize::Zeroizing::new(text)),
            (None, Some(binary)) => Payload::Binary(zeroize::Zeroizing::new(binary.into_inner())),
            // No value: read alone, for the runner's message.
            (None, None) => continue,
        };
        values.insert((*id).to_string(), payload);
    }
    Ok(Batch::Values(values))
}

fn is_access_denied(code: &str) -> bool {
    matches!(code, "AccessDeniedException" | "AccessDenied")
}

/// Whether `entry` is the answer for the requested `id`: its name, its ARN,
/// or its ARN without the six random characters Secrets Manager appends
/// (a partial ARN).
fn answers(id: &str, entry: &SecretValueEntry) -> bool {
    if entry.name() == Some(id) || entry.arn() == Some(id) {
        return true;
    }
    entry.arn().is_some_and(|arn| {
        arn.strip_prefix(id)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|suffix| suffix.len() == 6 && id.starts_with("arn:"))
    })
}

/// What a failed read means for the job.
pub(crate) fn read_error(
    reference: &SecretReference,
    region: &str,
    failure: &Failure,
) -> ProviderError {
    let Failure::Service { code, status, .. } = failure else {
        let kind = match failure {
            Failure::NoAnswer { kind, .. } => *kind,
            Failure::Service { .. } => ErrorKind::Protocol,
        };
        return ProviderError::new(
            kind,
            format!(
                "reading {reference} from AWS Secrets Manager in region {region} failed: {}",
                failure.describe()
            ),
        );
    };
    let (kind, message) = match code.as_str() {
        "ResourceNotFoundException" => (
            ErrorKind::NotFound,
            format!(
                "{reference} not found in AWS Secrets Manager in region {region} ({})",
                failure.describe()
            ),
        ),
        "AccessDeniedException" | "AccessDenied" => (
            ErrorKind::Denied,
            format!(
                "reading {reference} in region {region} was denied: {}",
                failure.describe()
            ),
        ),
        // The secret's KMS key refused to decrypt it for this role.
        "DecryptionFailure" => (
            ErrorKind::Denied,
            format!(
                "{reference} in region {region} could not be decrypted: {}",
                failure.describe()
            ),
        ),
        // The credentials themselves were refused.
        "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => (
            ErrorKind::Auth,
            format!(
                "AWS Secrets Manager in region {region} refused the credentials while reading \
                 {reference}: {}",
                failure.describe()
            ),
        ),
        code => (
            match code {
                "InternalServiceError" => ErrorKind::Transient,
                code => Failure::default_kind(code, *status),
            },
            format!(
                "reading {reference} from AWS Secrets Manager in region {region} failed: {}",
                failure.describe()
            ),
        ),
    };
    ProviderError::new(kind, message).with_status(*status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, status: u16) -> Failure {
        Failure::Service {
            code: code.into(),
            message: "m".into(),
            status,
        }
    }

    fn entry(name: &str, arn: &str) -> SecretValueEntry {
        SecretValueEntry::builder().name(name).arn(arn).build()
    }

    #[test]
    fn batch_answers_match_names_arns_and_partial_arns() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf";
        let db = entry("app/db", arn);
        assert!(answers("app/db", &db));
        assert!(answers(arn, &db));
        assert!(answers(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db",
            &db
        ));
        assert!(!answers("app/d", &db));
        assert!(!answers("app", &db));
        assert!(!answers(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app",
            &db
        ));
        assert!(is_access_denied("AccessDeniedException"));
        assert!(!is_access_denied("ResourceNotFoundException"));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let text = Payload::Text(zeroize::Zeroizing::new("canary-text".to_string()));
        let binary = Payload::Binary(zeroize::Zeroizing::new(b"canary-bytes".to_vec()));
        let shown = format!("{text:?} {binary:?}");
        assert!(!shown.contains("canary"), "{shown}");
    }

    #[test]
    fn codes_map_to_kinds() {
        let reference = SecretReference {
            secret_id: "db".into(),
            version_stage: Some("AWSPREVIOUS".into()),
            ..SecretReference::default()
        };
        let not_found = read_error(
            &reference,
            "us-east-1",
            &service("ResourceNotFoundException", 400),
        );
        assert_eq!(not_found.kind(), ErrorKind::NotFound);
        assert!(
            not_found.message().starts_with(
                "secret 'db' (version stage AWSPREVIOUS) not found in AWS Secrets Manager in region us-east-1"
            ),
            "{not_found}"
        );
        for (code, status, kind) in [
            ("AccessDeniedException", 400, ErrorKind::Denied),
            ("DecryptionFailure", 400, ErrorKind::Denied),
            ("UnrecognizedClientException", 400, ErrorKind::Auth),
            ("InvalidRequestException", 400, ErrorKind::Config),
            ("InternalServiceError", 500, ErrorKind::Transient),
            ("ThrottlingException", 400, ErrorKind::RateLimited),
        ] {
            assert_eq!(
                read_error(&reference, "r", &service(code, status)).kind(),
                kind,
                "{code}"
            );
        }
    }
}
