//! The `access-type` values of `/auth` that the emulator verifies.

/// An `/auth` access type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessType {
    /// `access_key` (alias `api_key`, which GitLab Runner sends).
    AccessKey,
    /// `jwt`.
    Jwt,
    /// `universal_identity`.
    UniversalIdentity,
    /// `k8s`.
    K8s,
    /// `aws_iam`.
    AwsIam,
    /// `azure_ad`.
    AzureAd,
    /// `gcp`.
    Gcp,
}

impl AccessType {
    /// The names the seed and `/auth` accept (aliases excluded).
    pub const ALL_NAMES: [&'static str; 7] = [
        "access_key",
        "jwt",
        "universal_identity",
        "k8s",
        "aws_iam",
        "azure_ad",
        "gcp",
    ];

    /// Parses an `access-type`, accepting the `api_key` alias.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "access_key" | "api_key" => Self::AccessKey,
            "jwt" => Self::Jwt,
            "universal_identity" => Self::UniversalIdentity,
            "k8s" => Self::K8s,
            "aws_iam" => Self::AwsIam,
            "azure_ad" => Self::AzureAd,
            "gcp" => Self::Gcp,
            _ => return None,
        })
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessKey => "access_key",
            Self::Jwt => "jwt",
            Self::UniversalIdentity => "universal_identity",
            Self::K8s => "k8s",
            Self::AwsIam => "aws_iam",
            Self::AzureAd => "azure_ad",
            Self::Gcp => "gcp",
        }
    }

    /// Whether the method carries a JWT whose audience the seed may pin.
    pub fn has_audience(self) -> bool {
        matches!(self, Self::Jwt | Self::K8s | Self::AzureAd | Self::Gcp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_api_key_is_an_alias() {
        for name in AccessType::ALL_NAMES {
            assert_eq!(AccessType::parse(name).map(AccessType::as_str), Some(name));
        }
        assert_eq!(AccessType::parse("api_key"), Some(AccessType::AccessKey));
        assert_eq!(AccessType::parse("password"), None);
    }
}
