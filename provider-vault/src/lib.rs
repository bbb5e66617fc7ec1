//! The HashiCorp Vault and OpenBao provider of ci-secrets.
