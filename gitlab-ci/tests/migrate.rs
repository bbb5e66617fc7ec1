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
                let expected_warnings = std::fs::read_to_string(case.join("warnings.txt")).unwrap_or_default();
                let warnings: Vec<&str> = expected_warnings.lines().collect();
                if migration.warnings != warnings {
                    failures.push(format!("{}: warnings {:?}, expected {warnings:?}", show(case), migration.warnings));
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

#[test]
#[ignore = "debugging aid: prints the edited texts of CASE"]
fn show_case() {
    let case = cases().join(std::env::var("CASE").unwrap());
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&case.join("before"), dir.path());
    let ci_file = dir.path().join(".gitlab-ci.yml");
    let load = LoadOptions {
        project_dir: Some(dir.path().to_owned()),
        ..LoadOptions::default()
    };
    let pipeline = load_pipeline_with(&ci_file, &load).unwrap();
    let migration = migrate::plan(&pipeline, dir.path(), &options_of(&case)).unwrap();
    for file in &migration.edited {
        println!("--- {}\n{}", file.relative.display(), file.new);
    }
}
