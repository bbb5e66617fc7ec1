//! The Akeyless provider of ci-secrets.
