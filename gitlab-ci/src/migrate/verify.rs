//! The proof that a migration is right, before anything is written.

use std::path::Path;

use serde_json::Value;

use super::error::MigrateError;
use super::plan::{Migration, holds_provider};
use super::render::{self, Style};
use crate::pipeline::{LoadOptions, Pipeline, load_pipeline_with, load_secrets_file};
use ci_secrets_provider_api::ProviderRegistration;

/// Proves `migration` of `old` (loaded from `ci_file` with `options`): the
/// edited files and the secrets files, over a copy of the pipeline's files in
/// a temporary folder, load with the same loader; the same jobs exist; no
/// job (templates included) holds a provider that moved; every job keeps its
/// variables and ID tokens; a job that did not move keeps its secrets and
/// script; a migrated job keeps the secrets that stayed, its secrets file
/// holds exactly the ones that moved, and its script, read back from the
/// rewritten line, is the old one. GitLab's validation (with `providers`'
/// schemas) finds nothing new.
///
/// Equal definitions and equal variables give equal expansions: in GitLab
/// the job's variables are the environment `ci-secrets exec` expands the
/// secrets file with.
pub fn verify(
    old: &Pipeline,
    migration: &Migration,
    ci_file: &Path,
    options: &LoadOptions,
    providers: &[&'static ProviderRegistration],
) -> Result<(), MigrateError> {
    if migration.is_empty() {
        return Ok(());
    }
    let dir = tempfile::tempdir().map_err(|source| MigrateError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let root = dir.path();
    let write = |relative: &Path, text: &str| -> Result<(), MigrateError> {
        let path = root.join(relative);
        let io = |source| MigrateError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)
    };
    let project_dir = &migration.project_dir;
    let canonical_project = project_dir
        .canonicalize()
        .map_err(|source| MigrateError::Io {
            path: project_dir.clone(),
            source,
        })?;
    for path in &old.local_files {
        let canonical = path.canonicalize().map_err(|source| MigrateError::Io {
            path: path.clone(),
            source,
        })?;
        let Ok(relative) = canonical.strip_prefix(&canonical_project) else {
            return Err(MigrateError::Outside {
                file: path.clone(),
                project_dir: project_dir.clone(),
            });
        };
        let text = match migration
            .edited
            .iter()
            .find(|file| file.relative == relative)
        {
            Some(file) => file.new.clone(),
            None => std::fs::read_to_string(path).map_err(|source| MigrateError::Io {
                path: path.clone(),
                source,
            })?,
        };
        write(relative, &text)?;
    }
    for file in &migration.secrets_files {
        write(&file.relative, &file.text)?;
    }
    let canonical_ci = ci_file.canonicalize().map_err(|source| MigrateError::Io {
        path: ci_file.to_owned(),
        source,
    })?;
    let ci_relative =
        canonical_ci
            .strip_prefix(&canonical_project)
            .map_err(|_| MigrateError::Outside {
                file: ci_file.to_owned(),
                project_dir: project_dir.clone(),
            })?;
    let mut new_options = options.clone();
    new_options.project_dir = Some(root.to_owned());
    let new = load_pipeline_with(&root.join(ci_relative), &new_options)
        .map_err(MigrateError::NewPipeline)?;
    compare(old, &new, migration, root)?;
    let before = crate::validate::validate_pipeline(providers, old);
    let after = crate::validate::validate_pipeline(providers, &new);
    if let Some(error) = after.iter().find(|error| !before.contains(error)) {
        return Err(MigrateError::proof(
            "",
            format!("GitLab's validation of the migrated pipeline fails: {error}"),
        ));
    }
    Ok(())
}

fn compare(
    old: &Pipeline,
    new: &Pipeline,
    migration: &Migration,
    root: &Path,
) -> Result<(), MigrateError> {
    let providers = &migration.options.providers;
    let names = |pipeline: &Pipeline| pipeline.jobs.keys().cloned().collect::<Vec<_>>();
    if names(old) != names(new) {
        return Err(MigrateError::proof(
            "",
            format!(
                "the jobs differ: before {:?}, after {:?}",
                names(old),
                names(new)
            ),
        ));
    }
    for job in new.jobs.values() {
        let moved: Vec<&String> = job
            .secrets
            .as_ref()
            .and_then(Value::as_object)
            .map(|secrets| {
                secrets
                    .iter()
                    .filter(|(_, value)| holds_provider(value, providers))
                    .map(|(name, _)| name)
                    .collect()
            })
            .unwrap_or_default();
        if !moved.is_empty() {
            return Err(MigrateError::proof(
                &job.name,
                format!(
                    "still holds {} secrets ({}): they come from a place migrate cannot edit (a non-local include, or an anchor outside `secrets:`)",
                    providers.join("/"),
                    moved
                        .iter()
                        .map(|name| name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for (name, before) in old.jobs.iter().filter(|(_, job)| !job.hidden) {
        let Some(after) = new.jobs.get(name) else {
            return Err(MigrateError::proof(name, "is gone"));
        };
        if before.variables != after.variables
            || old.global_variables_for(before) != new.global_variables_for(after)
        {
            return Err(MigrateError::proof(name, "its variables changed"));
        }
        if before.id_tokens != after.id_tokens
            || before.id_token_audiences != after.id_token_audiences
        {
            return Err(MigrateError::proof(name, "its `id_tokens:` changed"));
        }
        let Some(migrated) = migration.jobs.iter().find(|job| &job.job == name) else {
            if before.secrets != after.secrets {
                return Err(MigrateError::proof(
                    name,
                    "moves nothing, yet its `secrets:` changed",
                ));
            }
            if before.script != after.script {
                return Err(MigrateError::proof(
                    name,
                    "moves nothing, yet its `script:` changes (a `!reference` to a `script:` migrate \
                     rewrites?): give it its own `script:`, then migrate",
                ));
            }
            continue;
        };
        let old_secrets = before
            .secrets
            .as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let kept: serde_json::Map<String, Value> = old_secrets
            .iter()
            .filter(|(_, value)| !holds_provider(value, providers))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let new_secrets = after.secrets.as_ref().and_then(Value::as_object).cloned();
        let same_kept = match new_secrets {
            None => kept.is_empty(),
            Some(secrets) => secrets == kept,
        };
        if !same_kept {
            return Err(MigrateError::proof(
                name,
                "the secrets left in the pipeline are not the ones that do not move",
            ));
        }
        let moved: serde_json::Map<String, Value> = old_secrets
            .into_iter()
            .filter(|(_, value)| holds_provider(value, providers))
            .collect();
        let file = load_secrets_file(&root.join(&migrated.secrets_file))
            .map_err(MigrateError::NewPipeline)?;
        let in_file = file.secrets.as_ref().and_then(Value::as_object);
        if in_file != Some(&moved) {
            return Err(MigrateError::proof(
                name,
                format!(
                    "{} does not hold exactly the secrets that moved",
                    migrated.secrets_file.display()
                ),
            ));
        }
        for token in &file.id_tokens {
            if !after.id_tokens.contains(token)
                || file.id_token_audiences.get(token) != after.id_token_audiences.get(token)
            {
                return Err(MigrateError::proof(
                    name,
                    format!(
                        "{} declares ID token {token}, which the job does not",
                        migrated.secrets_file.display()
                    ),
                ));
            }
        }
        let old_script = before.script.as_ref().and_then(render::flatten_script);
        let new_script = after.script.as_ref().and_then(render::flatten_script);
        let (Some(old_script), Some(new_script)) = (old_script, new_script) else {
            return Err(MigrateError::proof(
                name,
                "has no `script:` after the migration",
            ));
        };
        let file_text = migrated.secrets_file.to_string_lossy();
        let options = &migration.options;
        let same = match options.style {
            Style::Exec => match new_script.as_slice() {
                [line] => {
                    render::exec_line_script(line, &options.command, &file_text, options.shell)
                        == Some(old_script.join("\n"))
                }
                _ => false,
            },
            Style::Shell => match new_script.split_first() {
                Some((first, rest)) => {
                    *first == render::shell_line(&options.command, &file_text) && rest == old_script
                }
                None => false,
            },
        };
        if !same {
            return Err(MigrateError::proof(
                name,
                "its rewritten `script:` does not run the old script lines under ci-secrets",
            ));
        }
    }
    Ok(())
}
