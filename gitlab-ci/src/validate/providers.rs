//! One function per provider entry of GitLab's `Entry::Secret` (Akeyless era, GitLab 17.4 to
//! 18.2), each mirroring the validations of its entry class under
//! `ee/lib/gitlab/ci/config/entry/`.

use serde_json::Value;

use super::ValidationContext;
use super::rails::{
    Messages, allowed_keys, attribute, config_is_hash, presence, required_keys, string_type,
};

/// The providers GitLab accepts, in the order of its `SUPPORTED_PROVIDERS` (and of its
/// "exactly one of these keys" message).
pub const PROVIDERS: [&str; 6] = [
    "vault",
    "azure_key_vault",
    "gcp_secret_manager",
    "akeyless",
    "gitlab_secrets_manager",
    "aws_secrets_manager",
];

/// The 15 keys of an `akeyless:` block (`Entry::Akeyless::Secret::ALLOWED_KEYS`).
pub const AKEYLESS_KEYS: [&str; 15] = [
    "name",
    "data_key",
    "cert_user_name",
    "public_key_data",
    "csr_data",
    "akeyless_api_url",
    "akeyless_access_type",
    "akeyless_token",
    "uid_token",
    "gcp_audience",
    "azure_object_id",
    "k8s_service_account_token",
    "k8s_auth_config_name",
    "akeyless_access_key",
    "gateway_ca_certificate",
];

const AWS_KEYS: [&str; 7] = [
    "secret_id",
    "region",
    "version_id",
    "version_stage",
    "role_arn",
    "role_session_name",
    "field",
];

/// Validates the (non-null) value of `provider` at `location` (`...:<VAR>:<provider>`).
pub(crate) fn validate_provider(
    messages: &mut Messages,
    context: &ValidationContext,
    provider: &str,
    location: &str,
    config: &Value,
) {
    match provider {
        "vault" => vault(messages, location, config),
        "azure_key_vault" => azure_key_vault(messages, location, config),
        "gcp_secret_manager" => gcp_secret_manager(messages, location, config),
        "akeyless" => akeyless(messages, location, config),
        "gitlab_secrets_manager" => gitlab_secrets_manager(messages, context, location, config),
        "aws_secrets_manager" => aws_secrets_manager(messages, location, config),
        // The caller only passes keys of `PROVIDERS`.
        _ => {}
    }
}

/// `Vault::Secret` (Simplifiable): a string `path/field@engine`, or a hash; anything else gets
/// the `UnknownStrategy` message, which GitLab does not lower-case.
fn vault(messages: &mut Messages, location: &str, config: &Value) {
    match config {
        Value::String(_) => presence_of_config(messages, location, config),
        Value::Object(_) => {
            let before = messages.len();
            allowed_keys(messages, location, config, &["engine", "path", "field"]);
            presence(messages, location, config, "path");
            string_type(messages, location, config, "path", false);
            presence(messages, location, config, "field");
            string_type(messages, location, config, "field", false);
            // `Configurable#compose!` builds the children only when the hash itself is valid.
            if messages.len() == before
                && let Some(engine) = attribute(config, "engine")
            {
                vault_engine(messages, &format!("{location}:engine"), engine);
            }
        }
        _ => messages.add_verbatim(format!("{location} should be a hash or a string")),
    }
}

/// `Vault::Engine`: a hash with exactly the string keys `name` and `path`.
fn vault_engine(messages: &mut Messages, location: &str, config: &Value) {
    config_is_hash(messages, location, config);
    allowed_keys(messages, location, config, &["name", "path"]);
    required_keys(messages, location, config, &["name", "path"]);
    for key in ["name", "path"] {
        presence(messages, location, config, key);
        string_type(messages, location, config, key, false);
    }
}

/// `validates :config, presence: true` of a string strategy: `config can't be blank`.
fn presence_of_config(messages: &mut Messages, location: &str, config: &Value) {
    if !super::rails::is_present(Some(config)) {
        messages.add(location, "config can't be blank");
    }
}

/// `AzureKeyVault::Secret`: `name` (string, required), `version` (string, optional).
fn azure_key_vault(messages: &mut Messages, location: &str, config: &Value) {
    config_is_hash(messages, location, config);
    allowed_keys(messages, location, config, &["name", "version"]);
    presence(messages, location, config, "name");
    string_type(messages, location, config, "name", false);
    string_type(messages, location, config, "version", true);
}

/// `GcpSecretManager::Secret`: `name` (string, required), `version` (alphanumeric, optional).
fn gcp_secret_manager(messages: &mut Messages, location: &str, config: &Value) {
    config_is_hash(messages, location, config);
    allowed_keys(messages, location, config, &["name", "version"]);
    presence(messages, location, config, "name");
    string_type(messages, location, config, "name", false);
    // `AlphanumericValidator`: a String, Symbol or Integer.
    match attribute(config, "version") {
        None | Some(Value::String(_)) => {}
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {}
        Some(_) => messages.add(location, "version must be an alphanumeric string"),
    }
}

/// `Akeyless::Secret`: a hash of 15 optional string keys, no key required.
fn akeyless(messages: &mut Messages, location: &str, config: &Value) {
    config_is_hash(messages, location, config);
    allowed_keys(messages, location, config, &AKEYLESS_KEYS);
    for key in AKEYLESS_KEYS {
        string_type(messages, location, config, key, true);
    }
}

/// `GitlabSecretsManager::Secret`: `name` (string, required) and `source` (`project` or
/// `group/<full path>`, optional).
fn gitlab_secrets_manager(
    messages: &mut Messages,
    context: &ValidationContext,
    location: &str,
    config: &Value,
) {
    config_is_hash(messages, location, config);
    allowed_keys(messages, location, config, &["name", "source"]);
    presence(messages, location, config, "name");
    string_type(messages, location, config, "name", false);
    string_type(messages, location, config, "source", true);
    let Some(Value::String(source)) = attribute(config, "source") else {
        return;
    };
    if !is_valid_source(source) {
        messages.add(
            location,
            "source must follow the format group/group_full_path or 'project'",
        );
        return;
    }
    // GitLab only lets a project read the secrets of the groups above it. Outside GitLab the
    // project is known only when the caller says so (`ValidationContext::project_path`).
    if let (Some(group), Some(project)) = (source.strip_prefix("group/"), &context.project_path)
        && !is_ancestor_group(group, project)
    {
        messages.add(
            location,
            format!("source group with path '{group}' not found"),
        );
    }
}

/// `project`, or `group/` followed by a GitLab full path (segments of letters, digits, `_`, `.`,
/// `-`, separated by `/`).
fn is_valid_source(source: &str) -> bool {
    if source == "project" {
        return true;
    }
    let Some(path) = source.strip_prefix("group/") else {
        return false;
    };
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        })
}

/// Whether `group` is one of the groups that contain the project `project_path`.
fn is_ancestor_group(group: &str, project_path: &str) -> bool {
    project_path
        .strip_prefix(group)
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// `AwsSecretsManager::Secret` (Simplifiable): a string `secret_id[#field]`, or a hash that needs
/// `secret_id`.
fn aws_secrets_manager(messages: &mut Messages, location: &str, config: &Value) {
    match config {
        Value::String(text) => {
            if text.matches('#').count() > 1 {
                messages.add(location, "config must contain at most one '#'");
            }
        }
        Value::Object(_) => {
            allowed_keys(messages, location, config, &AWS_KEYS);
            presence(messages, location, config, "secret_id");
            string_type(messages, location, config, "secret_id", false);
            for key in &AWS_KEYS[1..] {
                string_type(messages, location, config, key, true);
            }
        }
        // Same `UnknownStrategy` shape as vault's (assumed: no vector covers it).
        _ => messages.add_verbatim(format!("{location} should be a hash or a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_ancestor_group, is_valid_source};

    #[test]
    fn sources() {
        assert!(is_valid_source("project"));
        assert!(is_valid_source("group/a.b/c-d_e"));
        assert!(!is_valid_source("group/"));
        assert!(!is_valid_source("group/a//b"));
        assert!(!is_valid_source("group/abc def"));
        assert!(!is_valid_source("groups/a"));
    }

    #[test]
    fn ancestors() {
        assert!(is_ancestor_group("root", "root/child/project"));
        assert!(is_ancestor_group("root/child", "root/child/project"));
        assert!(!is_ancestor_group("roo", "root/child/project"));
        assert!(!is_ancestor_group("other", "root/child/project"));
    }
}
