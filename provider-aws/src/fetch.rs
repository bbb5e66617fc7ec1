//! `GetSecretValue` for one secret, and what its errors mean.

use aws_sdk_secretsmanager::Client;
use ci_secrets_provider_api::{ErrorKind, ProviderError};
use tracing::Instrument as _;

use crate::failure::Failure;
use crate::reference::SecretReference;

/// A secret's value as Secrets Manager stores it, wiped on drop.
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

/// What a failed read means for the job.
fn read_error(reference: &SecretReference, region: &str, failure: &Failure) -> ProviderError {
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
