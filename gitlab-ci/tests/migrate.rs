//! Golden tests of `migrate`: each folder of `tests/fixtures/migrate` holds a
//! project `before/`, and either the project `after/` (every file, edited or
//! not, and the secrets files) or `error.txt`, the refusal expected. An
//! `options` file may set `style=shell`, `shell=bash` or
//! `providers=akeyless,vault`; `warnings.txt` holds the warnings expected
//! (none when it is missing). `UPDATE_GOLDEN=1` rewrites the expectations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ci_secrets_gitlab::migrate::{self, MigrateOptions, ScriptShell, Style};
use ci_secrets_gitlab::pipeline::{LoadOptions, load_pipeline_with};

fn cases() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/migrate")
}

fn files_under(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let relative = entry.path().strip_prefix(root).unwrap().to_owned();
            files.insert(relative, std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    files
}

fn copy_tree(from: &Path, to: &Path) {
    for (relative, text) in files_under(from) {
        let path = to.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn options_of(case: &Path) -> MigrateOptions {
    let mut options = MigrateOptions::default();
    let Ok(text) = std::fs::read_to_string(case.join("options")) else {
        return options;
    };
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let (key, value) = line.split_once('=').unwrap();
        match key.trim() {
            "style" if value.trim() == "shell" => options.style = Style::Shell,
            "shell" if value.trim() == "bash" => options.shell = ScriptShell::Bash,
            "providers" => {
                options.providers = value.split(',').map(|p| p.trim().to_owned()).collect();
            }
            other => panic!("unknown option {other}"),
        }
    }
    options
}

/// Runs migrate over a copy of `before/`: the project after, or the error.
fn run(case: &Path) -> Result<(BTreeMap<PathBuf, String>, migrate::Migration), String> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", dir.path().display());
    run_in(case, dir.path()).map_err(|error| error.replace(&prefix, ""))
}

fn run_in(
    case: &Path,
    dir: &Path,
) -> Result<(BTreeMap<PathBuf, String>, migrate::Migration), String> {
    copy_tree(&case.join("before"), dir);
    let ci_file = dir.join(".gitlab-ci.yml");
    let load = LoadOptions {
        project_dir: Some(dir.to_owned()),
        ..LoadOptions::default()
    };
    let pipeline = load_pipeline_with(&ci_file, &load).map_err(|err| err.to_string())?;
    let migration =
        migrate::plan(&pipeline, dir, &options_of(case)).map_err(|err| err.to_string())?;
    migrate::verify(&pipeline, &migration, &ci_file, &load, &[]).map_err(|err| err.to_string())?;
    migrate::write(&migration).map_err(|err| err.to_string())?;
    // What `--check` would find after: nothing.
    let again = load_pipeline_with(&ci_file, &load).unwrap();
    let second = migrate::plan(&again, dir, &options_of(case)).unwrap();
    assert!(
        second.is_empty(),
        "a second run still finds work: {:?}",
        second.jobs
    );
    Ok((files_under(dir), migration))
}

fn show(root: &Path) -> String {
    root.display()
        .to_string()
        .replace(&*cases().display().to_string(), "tests/fixtures/migrate")
}

#[test]
fn golden_cases() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<PathBuf> = std::fs::read_dir(cases())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    let mut failures = Vec::new();
    for case in &names {
        let outcome = run(case);
        let error_file = case.join("error.txt");
        let after_dir = case.join("after");
        match outcome {
            Err(error) if update && !after_dir.exists() => {
                std::fs::write(&error_file, format!("{error}\n")).unwrap();
            }
            Err(error) => match std::fs::read_to_string(&error_file) {
                Ok(expected) if error.contains(expected.trim()) => {}
                Ok(expected) => failures.push(format!(
                    "{}: error\n{error}\nexpected\n{expected}",
                    show(case)
                )),
                Err(_) => failures.push(format!("{}: unexpected error {error}", show(case))),
            },
            Ok((files, migration)) if update => {
                let warnings_file = case.join("warnings.txt");
                let _ = std::fs::remove_file(&warnings_file);
                if !migration.warnings.is_empty() {
                    std::fs::write(&warnings_file, migration.warnings.join("\n") + "\n").unwrap();
                }
                let _ = std::fs::remove_dir_all(&after_dir);
                for (relative, text) in files {
                    let path = after_dir.join(relative);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, text).unwrap();
                }
            }
            Ok((files, migration)) => {
                if error_file.exists() {
                    failures.push(format!("{}: migrated, expected an error", show(case)));
                    continue;
                }
                let expected_warnings =
                    std::fs::read_to_string(case.join("warnings.txt")).unwrap_or_default();
                let warnings: Vec<&str> = expected_warnings.lines().collect();
                if migration.warnings != warnings {
                    failures.push(format!(
                        "{}: warnings {:?}, expected {warnings:?}",
                        show(case),
                        migration.warnings
                    ));
                }
                let expected = files_under(&after_dir);
                if files != expected {
                    let mut report = format!("{}: the project after differs\n", show(case));
                    for (path, text) in &files {
                        if expected.get(path) != Some(text) {
                            report.push_str(&format!("--- {}\n{text}\n", path.display()));
                        }
                    }
                    for path in expected.keys().filter(|path| !files.contains_key(*path)) {
                        report.push_str(&format!("missing {}\n", path.display()));
                    }
                    failures.push(report);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The plain case's pipeline, loaded, and its migration.
fn planned(
    dir: &Path,
) -> (
    ci_secrets_gitlab::pipeline::Pipeline,
    migrate::Migration,
    LoadOptions,
) {
    copy_tree(&cases().join("plain/before"), dir);
    let load = LoadOptions {
        project_dir: Some(dir.to_owned()),
        ..LoadOptions::default()
    };
    let pipeline = load_pipeline_with(&dir.join(".gitlab-ci.yml"), &load).unwrap();
    let migration = migrate::plan(&pipeline, dir, &MigrateOptions::default()).unwrap();
    (pipeline, migration, load)
}

#[test]
fn the_proof_catches_a_wrong_secrets_file_a_lost_script_line_and_a_kept_provider() {
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, migration, load) = planned(dir.path());
    let ci_file = dir.path().join(".gitlab-ci.yml");
    let verify = |migration: &migrate::Migration| {
        migrate::verify(&pipeline, migration, &ci_file, &load, &[]).map_err(|err| err.to_string())
    };
    verify(&migration).unwrap();

    let mut wrong_file = migration.clone();
    wrong_file.secrets_files[0].text = wrong_file.secrets_files[0]
        .text
        .replace("/prod/db/password", "/prod/db/other");
    let error = verify(&wrong_file).unwrap_err();
    assert!(
        error.contains("job `deploy`")
            && error.contains("does not hold exactly the secrets that moved"),
        "{error}"
    );

    let mut lost_line = migration.clone();
    lost_line.edited[0].new = lost_line.edited[0]
        .new
        .replace("      echo \"deploying", "      echo \"DEPLOYING");
    let error = verify(&lost_line).unwrap_err();
    assert!(
        error.contains("does not run the old script lines"),
        "{error}"
    );

    let mut kept = migration.clone();
    kept.edited[0].new = kept.edited[0].old.clone();
    let error = verify(&kept).unwrap_err();
    assert!(
        error.contains("still holds akeyless secrets (DB_PASSWORD)"),
        "{error}"
    );

    let mut broken = migration.clone();
    broken.edited[0].new.push_str("test: [\n");
    let error = verify(&broken).unwrap_err();
    assert!(
        error.contains("the migrated pipeline does not load"),
        "{error}"
    );
    // None of it wrote anything.
    assert_eq!(
        std::fs::read_to_string(&ci_file).unwrap(),
        std::fs::read_to_string(cases().join("plain/before/.gitlab-ci.yml")).unwrap()
    );
    assert!(!dir.path().join("ci").exists());
}

#[test]
fn an_existing_secrets_file_with_other_content_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (_, migration, _) = planned(dir.path());
    let before = std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap();
    std::fs::create_dir_all(dir.path().join("ci/secrets")).unwrap();
    std::fs::write(dir.path().join("ci/secrets/deploy.yml"), "secrets: {}\n").unwrap();
    let error = migrate::write(&migration).unwrap_err().to_string();
    assert!(
        error.contains("deploy.yml: exists with other content"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitlab-ci.yml")).unwrap(),
        before
    );
    // The same content is no conflict: a rerun after an interrupted write finishes it.
    std::fs::write(
        dir.path().join("ci/secrets/deploy.yml"),
        &migration.secrets_files[0].text,
    )
    .unwrap();
    assert_eq!(migrate::write(&migration).unwrap().len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("ci/secrets"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["deploy.yml"]);
}
