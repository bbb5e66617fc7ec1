//! `jwt`: the secret's expanded `token:`, normally `$AKEYLESS_JWT` from
//! `id_tokens:`, sent as is.

use secrecy::{ExposeSecret, SecretString};

use crate::api::AuthRequest;
use crate::error::Failure;

/// The JWT, which must not be empty: GitLab Runner sent `""` and let the
/// server refuse it, which hid the usual cause (a missing `token:`).
pub(super) fn credential(token: Option<&SecretString>) -> Result<SecretString, Failure> {
    token
        .filter(|token| !token.expose_secret().trim().is_empty())
        .cloned()
        .ok_or_else(|| {
            Failure::MissingCredential(
                "access type jwt needs the secret's `token:`, and it is missing or empty \
                 (declare an id_tokens entry, for example AKEYLESS_JWT, and set `token: $AKEYLESS_JWT`)"
                    .to_string(),
            )
        })
}

pub(super) fn fill(request: &mut AuthRequest, token: &SecretString) {
    request.jwt = Some(token.expose_secret().to_string());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_token_names_the_fix() {
        let err = credential(Some(&SecretString::from(" "))).unwrap_err();
        assert!(err.to_string().contains("token: $AKEYLESS_JWT"), "{err}");
        assert!(credential(None).is_err());
        let mut request = AuthRequest::default();
        fill(
            &mut request,
            &credential(Some(&SecretString::from("h.p.s"))).unwrap(),
        );
        assert_eq!(request.jwt.as_deref(), Some("h.p.s"));
    }
}
