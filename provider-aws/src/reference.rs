//! Which secret a block names: GitLab's `aws_secrets_manager:` string form
//! (`secret_id` or `secret_id#field`) or hash form.

use std::fmt;

/// Why a block cannot be read. The core has already validated the block
/// against GitLab's rules, so these guard only against a core that did not.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ReferenceError {
    #[error("aws_secrets_manager: secret_id is empty")]
    EmptySecretId,
    #[error("aws_secrets_manager: `{0}` should be a string")]
    NotAString(&'static str),
    #[error("aws_secrets_manager: the block should be a string or a hash, not {0}")]
    BadForm(&'static str),
}

/// One secret's block, with GitLab's rule that an empty string means "not set".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SecretReference {
    /// The secret's name or ARN.
    pub(crate) secret_id: String,
    /// The key to extract from a JSON `SecretString`.
    pub(crate) field: Option<String>,
    pub(crate) version_id: Option<String>,
    pub(crate) version_stage: Option<String>,
    /// Overrides the CI/CD variable `AWS_REGION`.
    pub(crate) region: Option<String>,
    /// Overrides the CI/CD variable `AWS_ROLE_ARN`.
    pub(crate) role_arn: Option<String>,
    /// Overrides the CI/CD variable `AWS_ROLE_SESSION_NAME`.
    pub(crate) role_session_name: Option<String>,
}

impl SecretReference {
    /// Whether the block reads the current version (no `version_id` or
    /// `version_stage`), which `BatchGetSecretValue` returns.
    pub(crate) fn reads_current(&self) -> bool {
        self.version_id.is_none() && self.version_stage.is_none()
    }

    /// Reads a validated, variable-expanded block.
    pub(crate) fn parse(block: &serde_json::Value) -> Result<Self, ReferenceError> {
        let reference = match block {
            serde_json::Value::String(text) => Self::parse_string(text),
            serde_json::Value::Object(map) => {
                let get = |key: &'static str| match map.get(key) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(text)) => Ok(non_empty(text)),
                    Some(_) => Err(ReferenceError::NotAString(key)),
                };
                Self {
                    secret_id: get("secret_id")?.unwrap_or_default(),
                    field: get("field")?,
                    version_id: get("version_id")?,
                    version_stage: get("version_stage")?,
                    region: get("region")?,
                    role_arn: get("role_arn")?,
                    role_session_name: get("role_session_name")?,
                }
            }
            serde_json::Value::Null => return Err(ReferenceError::BadForm("empty")),
            serde_json::Value::Bool(_) => return Err(ReferenceError::BadForm("a boolean")),
            serde_json::Value::Number(_) => return Err(ReferenceError::BadForm("a number")),
            serde_json::Value::Array(_) => return Err(ReferenceError::BadForm("a list")),
        };
        if reference.secret_id.is_empty() {
            return Err(ReferenceError::EmptySecretId);
        }
        Ok(reference)
    }

    /// `secret_id#field`: GitLab allows at most one `#`, and an empty field
    /// (`secret_id#`) means the whole value, as the runner treats `""`.
    fn parse_string(text: &str) -> Self {
        let (secret_id, field) = match text.split_once('#') {
            Some((secret_id, field)) => (secret_id, non_empty(field)),
            None => (text, None),
        };
        Self {
            secret_id: secret_id.to_string(),
            field,
            ..Self::default()
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// `secret 'prod/db' (version stage AWSPREVIOUS)`: how messages name a secret.
impl fmt::Display for SecretReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret '{}'", self.secret_id)?;
        match (&self.version_id, &self.version_stage) {
            (Some(id), Some(stage)) => write!(f, " (version id {id}, version stage {stage})"),
            (Some(id), None) => write!(f, " (version id {id})"),
            (None, Some(stage)) => write!(f, " (version stage {stage})"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_form_with_and_without_field() {
        let plain = SecretReference::parse(&json!("prod/db")).unwrap();
        assert_eq!(plain.secret_id, "prod/db");
        assert_eq!(plain.field, None);

        let with_field = SecretReference::parse(&json!("prod/db#password")).unwrap();
        assert_eq!(with_field.secret_id, "prod/db");
        assert_eq!(with_field.field.as_deref(), Some("password"));

        let empty_field = SecretReference::parse(&json!("prod/db#")).unwrap();
        assert_eq!(empty_field.field, None);
    }

    #[test]
    fn hash_form_reads_every_key_and_treats_empty_as_unset() {
        let reference = SecretReference::parse(&json!({
            "secret_id": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db",
            "region": "eu-west-1",
            "version_id": "",
            "version_stage": "AWSPREVIOUS",
            "role_arn": "arn:aws:iam::123456789012:role/ci",
            "role_session_name": null,
            "field": "user",
        }))
        .unwrap();
        assert_eq!(reference.region.as_deref(), Some("eu-west-1"));
        assert_eq!(reference.version_id, None);
        assert_eq!(reference.version_stage.as_deref(), Some("AWSPREVIOUS"));
        assert_eq!(
            reference.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/ci")
        );
        assert_eq!(reference.role_session_name, None);
        assert_eq!(reference.field.as_deref(), Some("user"));
    }

    #[test]
    fn empty_secret_id_and_bad_types_are_refused() {
        assert_eq!(
            SecretReference::parse(&json!("#field")),
            Err(ReferenceError::EmptySecretId)
        );
        assert_eq!(
            SecretReference::parse(&json!({"field": "x"})),
            Err(ReferenceError::EmptySecretId)
        );
        assert_eq!(
            SecretReference::parse(&json!({"secret_id": 5})),
            Err(ReferenceError::NotAString("secret_id"))
        );
        assert_eq!(
            SecretReference::parse(&json!(null)),
            Err(ReferenceError::BadForm("empty"))
        );
    }

    #[test]
    fn display_names_the_version() {
        let mut reference = SecretReference::parse(&json!("db")).unwrap();
        assert_eq!(reference.to_string(), "secret 'db'");
        reference.version_stage = Some("AWSPENDING".into());
        assert_eq!(
            reference.to_string(),
            "secret 'db' (version stage AWSPENDING)"
        );
        reference.version_id = Some("v1".into());
        assert_eq!(
            reference.to_string(),
            "secret 'db' (version id v1, version stage AWSPENDING)"
        );
    }
}
