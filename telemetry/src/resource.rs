//! The resource every exported span carries: who emitted it, and which
//! GitLab job it belongs to.
//!
//! Precedence, lowest first: our defaults (`service.name=ci-secrets`,
//! `service.version`), the GitLab job attributes below, the SDK's
//! `telemetry.sdk.*`, `OTEL_RESOURCE_ATTRIBUTES`, and `OTEL_SERVICE_NAME`
//! (which the specification puts above `OTEL_RESOURCE_ATTRIBUTES`).
//!
//! GitLab's predefined variables map to the OpenTelemetry CI/CD and VCS
//! semantic conventions where one exists, else to a `gitlab.*` key:
//!
//! | variable          | attribute                          |
//! |-------------------|------------------------------------|
//! | `CI_JOB_ID`       | `cicd.pipeline.task.run.id`        |
//! | `CI_JOB_NAME`     | `cicd.pipeline.task.name`          |
//! | `CI_JOB_URL`      | `cicd.pipeline.task.run.url.full`  |
//! | `CI_PIPELINE_ID`  | `cicd.pipeline.run.id`             |
//! | `CI_PROJECT_PATH` | `gitlab.project.path`              |
//! | `CI_PROJECT_URL`  | `vcs.repository.url.full`          |
//!
//! None of these is a secret: GitLab prints them in every job log.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{
    EnvResourceDetector, ResourceDetector as _, TelemetryResourceDetector,
};

use super::settings::Env;

/// `service.name` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` say otherwise.
pub const DEFAULT_SERVICE_NAME: &str = "ci-secrets";

/// GitLab's predefined job variables and the attribute each becomes.
pub const GITLAB_ATTRIBUTES: &[(&str, &str)] = &[
    ("CI_JOB_ID", "cicd.pipeline.task.run.id"),
    ("CI_JOB_NAME", "cicd.pipeline.task.name"),
    ("CI_JOB_URL", "cicd.pipeline.task.run.url.full"),
    ("CI_PIPELINE_ID", "cicd.pipeline.run.id"),
    ("CI_PROJECT_PATH", "gitlab.project.path"),
    ("CI_PROJECT_URL", "vcs.repository.url.full"),
];

/// The resource for this process.
pub(crate) fn resource(env: Env<'_>) -> Resource {
    // The SDK's detector reads OTEL_RESOURCE_ATTRIBUTES with the
    // specification's escaping rules.
    layered(env, &EnvResourceDetector::new().detect())
}

/// Our defaults, the GitLab attributes, the SDK's own, then `declared`
/// (from `OTEL_RESOURCE_ATTRIBUTES`) and `OTEL_SERVICE_NAME`, each over the
/// ones before.
fn layered(env: Env<'_>, declared: &Resource) -> Resource {
    let mut builder = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", DEFAULT_SERVICE_NAME),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ])
        .with_attributes(gitlab_attributes(env))
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            declared
                .iter()
                .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
        );
    if let Some(name) = env("OTEL_SERVICE_NAME") {
        builder = builder.with_service_name(name);
    }
    builder.build()
}

/// The GitLab job attributes present in `env`.
fn gitlab_attributes(env: Env<'_>) -> Vec<KeyValue> {
    GITLAB_ATTRIBUTES
        .iter()
        .filter_map(|&(variable, key)| env(variable).map(|value| KeyValue::new(key, value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::{Key, Value};

    use super::*;

    fn with_env(vars: &[(&str, &str)]) -> Resource {
        with_declared(vars, Resource::builder_empty().build())
    }

    fn with_declared(vars: &[(&str, &str)], declared: Resource) -> Resource {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        layered(
            &|name: &str| map.get(name).map(|value| value.to_string()),
            &declared,
        )
    }

    fn get(resource: &Resource, key: &'static str) -> Option<String> {
        resource
            .get(&Key::from_static_str(key))
            .map(|value: Value| value.to_string())
    }

    #[test]
    fn defaults_name_the_service_and_its_version() {
        let resource = with_env(&[]);
        assert_eq!(
            get(&resource, "service.name").as_deref(),
            Some("ci-secrets")
        );
        assert_eq!(
            get(&resource, "service.version").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(get(&resource, "cicd.pipeline.run.id"), None);
    }

    #[test]
    fn gitlab_job_variables_become_ci_cd_attributes() {
        let resource = with_env(&[
            ("CI_JOB_ID", "4242"),
            ("CI_PIPELINE_ID", "77"),
            ("CI_PROJECT_PATH", "group/app"),
        ]);
        assert_eq!(
            get(&resource, "cicd.pipeline.task.run.id").as_deref(),
            Some("4242")
        );
        assert_eq!(
            get(&resource, "cicd.pipeline.run.id").as_deref(),
            Some("77")
        );
        assert_eq!(
            get(&resource, "gitlab.project.path").as_deref(),
            Some("group/app")
        );
    }

    #[test]
    fn declared_attributes_override_gitlab_ones_and_the_default_name() {
        let declared = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "declared"),
                KeyValue::new("cicd.pipeline.run.id", "override"),
            ])
            .build();
        let resource = with_declared(&[("CI_PIPELINE_ID", "77")], declared);
        assert_eq!(get(&resource, "service.name").as_deref(), Some("declared"));
        assert_eq!(
            get(&resource, "cicd.pipeline.run.id").as_deref(),
            Some("override")
        );
        let named = with_declared(
            &[("OTEL_SERVICE_NAME", "named")],
            Resource::builder_empty()
                .with_service_name("declared")
                .build(),
        );
        assert_eq!(get(&named, "service.name").as_deref(), Some("named"));
    }

    #[test]
    fn otel_service_name_overrides_the_default() {
        let resource = with_env(&[("OTEL_SERVICE_NAME", "deploy-secrets")]);
        assert_eq!(
            get(&resource, "service.name").as_deref(),
            Some("deploy-secrets")
        );
    }
}
