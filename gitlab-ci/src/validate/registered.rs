//! Providers that GitLab does not know but the caller has registered
//! (a third-party `mystore:`). Each is checked against the schema it
//! registers, with messages in GitLab's style, so a pipeline that uses only
//! GitLab's providers gets exactly GitLab's messages.

use ci_secrets_provider_api::{KeyType, ProviderRegistration};
use serde_json::Value;

use super::providers::PROVIDERS;
use super::rails::{self, Messages};

/// The given providers whose key is not one of GitLab's, sorted by key (so
/// messages that list them do not depend on the order the caller collected
/// them in).
pub(crate) fn extra_providers(
    providers: &[&'static ProviderRegistration],
) -> Vec<&'static ProviderRegistration> {
    let mut extra: Vec<_> = providers
        .iter()
        .copied()
        .filter(|registration| !PROVIDERS.contains(&registration.key))
        .collect();
    extra.sort_by_key(|registration| registration.key);
    extra
}

/// GitLab's providers, in GitLab's order, then the extra ones.
pub(crate) fn all_provider_keys(extra: &[&'static ProviderRegistration]) -> Vec<&'static str> {
    PROVIDERS
        .iter()
        .copied()
        .chain(extra.iter().map(|registration| registration.key))
        .collect()
}

/// Validates `block` (non-null) against `registration` at `location`
/// (`jobs:<job>:secrets:<var>:<key>`).
pub(crate) fn validate_block(
    messages: &mut Messages,
    registration: &ProviderRegistration,
    location: &str,
    block: &Value,
) {
    let forms = registration.forms;
    match block {
        Value::String(_) if forms.string => {}
        Value::Object(_) if forms.map => {
            let allowed: Vec<&str> = registration.keys.iter().map(|key| key.name).collect();
            rails::allowed_keys(messages, location, block, &allowed);
            for key in registration.keys {
                let Some(value) = rails::attribute(block, key.name) else {
                    continue;
                };
                let expected = match key.key_type {
                    KeyType::String if !value.is_string() => Some("a string"),
                    KeyType::Boolean if !value.is_boolean() => Some("a boolean value"),
                    KeyType::Map if !value.is_object() => Some("a hash"),
                    _ => None,
                };
                if let Some(expected) = expected {
                    messages.add(
                        location,
                        format!("{} should be {expected}", rails::humanize(key.name)),
                    );
                }
            }
        }
        _ if forms.string && forms.map => messages.add(location, "should be a hash or a string"),
        _ if forms.string => messages.add(location, "should be a string"),
        _ => messages.add(location, "config should be a hash"),
    }
}
