//! The secret value type: bytes that never print and are wiped on drop.

use std::fmt;

use zeroize::Zeroizing;

/// A resolved secret: text or raw bytes.
///
/// Its `Debug` output never shows the content, it has no `Display`, and its
/// memory is zeroed when it is dropped. The only ways to read the content are
/// the explicitly named [`SecretValue::expose_bytes`] and
/// [`SecretValue::expose_str`], so every read is visible in review.
///
/// ```
/// use ci_secrets_provider_api::SecretValue;
///
/// let value = SecretValue::text("hunter2");
/// assert_eq!(value.expose_str(), Some("hunter2"));
/// assert!(!format!("{value:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    bytes: Zeroizing<Vec<u8>>,
}

impl SecretValue {
    /// A UTF-8 text value.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretValue;
    /// assert_eq!(SecretValue::text(String::from("abc")).len(), 3);
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            bytes: Zeroizing::new(text.into().into_bytes()),
        }
    }

    /// A binary value, which may or may not be UTF-8.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretValue;
    /// let value = SecretValue::bytes(vec![0xff, 0x00]);
    /// assert_eq!(value.expose_str(), None);
    /// ```
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: Zeroizing::new(bytes.into()),
        }
    }

    /// The raw content.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretValue;
    /// assert_eq!(SecretValue::text("x").expose_bytes(), b"x");
    /// ```
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The content as text, or `None` when it is not valid UTF-8.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretValue;
    /// assert_eq!(SecretValue::text("x").expose_str(), Some("x"));
    /// ```
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }

    /// The length in bytes.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretValue;
    /// assert_eq!(SecretValue::text("héllo").len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the value is empty.
    ///
    /// ```
    /// # use ci_secrets_provider_api::SecretValue;
    /// assert!(SecretValue::text("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl From<secrecy::SecretString> for SecretValue {
    fn from(secret: secrecy::SecretString) -> Self {
        use secrecy::ExposeSecret;
        Self::text(secret.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_content() {
        let value = SecretValue::bytes(b"canary-4711".to_vec());
        let shown = format!("{value:?} {value:#?}");
        assert!(!shown.contains("canary"), "{shown}");
    }
}
