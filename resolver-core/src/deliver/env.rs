//! Environment delivery: a value must be text without NUL to live in an
//! environment variable or a printed line.

use crate::dispatch::ResolvedSecret;

/// Why a value cannot be delivered as an environment value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvValueError {
    /// Not UTF-8.
    #[error(
        "{variable} ({provider}) holds binary data, which cannot be delivered as an environment value; set file: true to deliver it as a file"
    )]
    Binary {
        /// The variable.
        variable: String,
        /// The provider.
        provider: String,
    },
    /// Holds a NUL byte.
    #[error(
        "{variable} ({provider}) contains a NUL byte, which an environment variable cannot hold; set file: true to deliver it as a file"
    )]
    Nul {
        /// The variable.
        variable: String,
        /// The provider.
        provider: String,
    },
}

/// The value as environment text.
pub fn env_text(secret: &ResolvedSecret) -> Result<&str, EnvValueError> {
    let text = secret
        .value
        .expose_str()
        .ok_or_else(|| EnvValueError::Binary {
            variable: secret.variable.clone(),
            provider: secret.provider.clone(),
        })?;
    if text.contains('\0') {
        return Err(EnvValueError::Nul {
            variable: secret.variable.clone(),
            provider: secret.provider.clone(),
        });
    }
    Ok(text)
}
