//! The small part of GitLab's `Gitlab::Config::Entry` validation machinery that `secrets:` uses.
//!
//! GitLab builds each message as `"#{location} #{error}".downcase` (`lib/gitlab/config/entry/
//! validator.rb`), where `location` is the chain of keys joined with `:` and `error` is the
//! ActiveModel full message (the humanized attribute, then the text). The helpers here encode the
//! validators GitLab declares (`type`, `presence`, `allowed_keys`, `only_one_of_keys`,
//! `required_keys`) with exactly those texts, so the provider rules read like GitLab's entry
//! classes.

use serde_json::{Map, Value};

/// Messages collected for one `secrets:` block, in GitLab's order.
#[derive(Debug, Default)]
pub(crate) struct Messages(Vec<String>);

impl Messages {
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// A GitLab validator message: `"<location> <error>"`, lower-cased as a whole.
    pub(crate) fn add(&mut self, location: &str, error: impl AsRef<str>) {
        self.0
            .push(format!("{location} {}", error.as_ref()).to_lowercase());
    }

    /// A message GitLab emits without lower-casing (`UnknownStrategy#errors`).
    pub(crate) fn add_verbatim(&mut self, message: String) {
        self.0.push(message);
    }
}

/// ActiveSupport `humanize` as GitLab's attribute names need it: a trailing `_id` is dropped and
/// underscores become spaces (the capital letter it adds disappears in the lower-cased message).
pub(crate) fn humanize(attribute: &str) -> String {
    attribute
        .strip_suffix("_id")
        .unwrap_or(attribute)
        .replace('_', " ")
}

/// Rails `present?`: not nil, not false, not an empty or whitespace-only string, not an empty
/// collection.
pub(crate) fn is_present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(text)) => !text.trim().is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::Bool(true)) | Some(Value::Number(_)) => true,
    }
}

/// The attribute `key` of an entry's config (`Attributable`: nil unless the config is a hash).
pub(crate) fn attribute<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
    config
        .as_object()
        .and_then(|map| entry(map, key))
        .filter(|value| !value.is_null())
}

/// Maps this small are searched by comparing keys rather than by hash.
const SMALL_MAP: usize = 8;

/// `map.get(key)`. A secret or a provider block holds a handful of keys and is asked about each
/// key GitLab knows: hashing the key (SipHash) cost several times more than comparing it with
/// every entry, and was a large part of validating a job of many secrets.
pub(crate) fn entry<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= SMALL_MAP {
        map.iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    } else {
        map.get(key)
    }
}

/// `validates :config, type: Hash` (from `Configurable`): `config should be a hash`.
pub(crate) fn config_is_hash<'a>(
    messages: &mut Messages,
    location: &str,
    config: &'a Value,
) -> Option<&'a Map<String, Value>> {
    let map = config.as_object();
    if map.is_none() {
        messages.add(location, "config should be a hash");
    }
    map
}

/// `validates :config, allowed_keys: [...]`: `config contains unknown keys: a, b` (config order).
pub(crate) fn allowed_keys(
    messages: &mut Messages,
    location: &str,
    config: &Value,
    allowed: &[&str],
) {
    let Some(map) = config.as_object() else {
        return;
    };
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| !allowed.contains(key))
        .collect();
    if !unknown.is_empty() {
        messages.add(
            location,
            format!("config contains unknown keys: {}", unknown.join(", ")),
        );
    }
}

/// `validates :config, required_keys: [...]`: `config missing required keys: a, b`.
pub(crate) fn required_keys(
    messages: &mut Messages,
    location: &str,
    config: &Value,
    required: &[&str],
) {
    let Some(map) = config.as_object() else {
        return;
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|key| entry(map, key).is_none())
        .collect();
    if !missing.is_empty() {
        messages.add(
            location,
            format!("config missing required keys: {}", missing.join(", ")),
        );
    }
}

/// `validates :<attr>, presence: true`: `<attr> can't be blank`.
pub(crate) fn presence(messages: &mut Messages, location: &str, config: &Value, key: &str) {
    if !is_present(attribute(config, key)) {
        messages.add(location, format!("{} can't be blank", humanize(key)));
    }
}

/// `validates :<attr>, type: String` (`allow_nil` as given): `<attr> should be a string`.
pub(crate) fn string_type(
    messages: &mut Messages,
    location: &str,
    config: &Value,
    key: &str,
    allow_nil: bool,
) {
    match attribute(config, key) {
        Some(Value::String(_)) => {}
        None if allow_nil => {}
        _ => messages.add(location, format!("{} should be a string", humanize(key))),
    }
}

#[cfg(test)]
mod tests {
    use super::{SMALL_MAP, entry, humanize};
    use serde_json::{Map, Value, json};

    #[test]
    fn entry_is_get_for_small_and_large_maps() {
        for size in [0, 1, SMALL_MAP - 1, SMALL_MAP, SMALL_MAP + 1, 40] {
            let map: Map<String, Value> =
                (0..size).map(|i| (format!("key_{i}"), json!(i))).collect();
            for i in 0..=size {
                let key = format!("key_{i}");
                assert_eq!(entry(&map, &key), map.get(&key), "{size} {key}");
            }
            assert_eq!(entry(&map, ""), None);
        }
    }

    #[test]
    fn humanize_drops_trailing_id_only() {
        assert_eq!(humanize("azure_object_id"), "azure object");
        assert_eq!(humanize("secret_id"), "secret");
        assert_eq!(humanize("uid_token"), "uid token");
        assert_eq!(humanize("akeyless_api_url"), "akeyless api url");
    }
}
