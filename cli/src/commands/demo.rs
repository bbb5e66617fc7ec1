//! `ci-secrets demo`: resolve the example pipeline against an in-process
//! Akeyless emulator, through the real HTTP path, and show what came back
//! without showing it.

use std::process::ExitCode;
use std::time::Duration;

use akeyless_emulator::demo::DEMO_JWT_AUDIENCE;
use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Emulator, Seed};
use ci_secrets_core::config::{ConfigSources, LoadedConfig};
use ci_secrets_core::engine::JobSource;
use ci_secrets_gitlab::variables::VariableSources;
use ci_secrets_provider_api::Registry;
use tokio_util::sync::CancellationToken;

use super::fail;
use crate::args::GlobalArgs;

/// The example pipeline, compiled in so the demo works from any directory.
const PIPELINE: &str = include_str!("../../../examples/demo/.gitlab-ci.yml");
const JOB: &str = "demo";

pub async fn run(global: &GlobalArgs, registry: &Registry) -> ExitCode {
    if registry.get("akeyless").is_none() {
        eprintln!(
            "ci-secrets: demo resolves Akeyless secrets, and this binary was built without the akeyless provider (cargo feature `akeyless`)"
        );
        return ExitCode::from(ci_secrets_core::error::EXIT_USAGE);
    }
    let seed = Seed::demo();
    let emulator = match Emulator::builder()
        .seed(seed.clone())
        .listen(([127, 0, 0, 1], 0).into())
        .start()
        .await
    {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("ci-secrets demo: cannot start the emulator: {err}");
            return ExitCode::from(ci_secrets_core::error::EXIT_RESOLUTION);
        }
    };
    let workdir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("ci-secrets demo: cannot create a working directory: {err}");
            return ExitCode::from(ci_secrets_core::error::EXIT_RESOLUTION);
        }
    };
    let pipeline = workdir.path().join(".gitlab-ci.yml");
    if let Err(err) = std::fs::write(&pipeline, PIPELINE) {
        eprintln!(
            "ci-secrets demo: cannot write {}: {err}",
            pipeline.display()
        );
        return ExitCode::from(ci_secrets_core::error::EXIT_RESOLUTION);
    }
    // What GitLab would provide: the ID token from `id_tokens:` and the URL.
    let jwt = TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(600));
    let variables = VariableSources {
        cli: vec![
            ("AKEYLESS_EMULATOR_URL".into(), emulator.url()),
            ("AKEYLESS_JWT".into(), jwt),
        ],
        env_file: None,
        process_env: false,
        ..VariableSources::default()
    };
    let config = match LoadedConfig::load(&ConfigSources {
        explicit: global.config.clone(),
        skip_system: true,
        working_dir: Some(workdir.path().to_path_buf()),
        env: Some(Vec::new()),
        ..ConfigSources::default()
    }) {
        Ok(config) => config,
        Err(err) => return fail(&err.into()),
    };
    // The demo's pipeline is written on its own, not in a repository.
    let project_dir = pipeline.parent().map(std::path::Path::to_path_buf);
    let source = JobSource::CiFile {
        path: pipeline,
        job: JOB.into(),
        project_dir,
        // The demo's pipeline has no include.
        includes: None,
        inputs: Default::default(),
        changes_base: None,
    };
    println!("Akeyless emulator listening on {}", emulator.url());
    println!("Resolving job {JOB:?} of examples/demo/.gitlab-ci.yml\n");
    let resolution = match ci_secrets_core::resolve(
        registry.as_slice(),
        &source,
        &variables,
        &config,
        CancellationToken::new(),
    )
    .await
    {
        Ok(resolution) => resolution,
        Err(err) => return fail(&err),
    };
    let item_types = item_types(registry, &source, &variables, &seed);
    println!(
        "{:<24} {:<10} {:<18} PREVIEW",
        "VARIABLE", "PROVIDER", "ITEM TYPE"
    );
    for secret in &resolution.secrets {
        let item_type = item_types
            .iter()
            .find(|(variable, _)| *variable == secret.variable)
            .map(|(_, item_type)| item_type.as_str())
            .unwrap_or("-");
        println!(
            "{:<24} {:<10} {:<18} {}",
            secret.variable,
            secret.provider,
            item_type,
            preview(secret.value.expose_bytes())
        );
    }
    println!("\n{}", resolution.summary());
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// The item type of each secret, from the plan and the seed (no value involved).
fn item_types(
    registry: &Registry,
    source: &JobSource,
    variables: &VariableSources,
    seed: &Seed,
) -> Vec<(String, String)> {
    let Ok(planned) = ci_secrets_core::engine::plan_job(registry.as_slice(), source, variables)
    else {
        return Vec::new();
    };
    planned
        .plan
        .secrets
        .iter()
        .map(|secret| {
            let item_type = match secret
                .request
                .str_field("name")
                .filter(|name| !name.is_empty())
            {
                Some(name) => seed
                    .item(name)
                    .map(|item| item.item_type().to_string())
                    .unwrap_or_else(|| "-".into()),
                None => "(token reuse)".into(),
            };
            (secret.variable.clone(), item_type)
        })
        .collect()
}

/// The first few characters and the size: enough to see that something
/// plausible came back, not enough to use it.
fn preview(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let first_line = text.lines().next().unwrap_or_default();
    let shown: String = first_line.chars().take(4).collect();
    let lines = text.lines().count();
    let shape = if lines > 1 {
        format!(", {lines} lines")
    } else {
        String::new()
    };
    format!("{shown}**** ({} bytes{shape})", value.len())
}
