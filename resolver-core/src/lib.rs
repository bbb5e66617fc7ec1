//! The ci-secrets engine: .gitlab-ci.yml loading and validation, variables, planning, dispatch, delivery and config.
