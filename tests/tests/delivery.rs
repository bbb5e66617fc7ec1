//! Delivery through the binary: secret files (many of them, under a small
//! open-file limit; into a user's directory that must survive a failure; a
//! directory path that is a symbolic link or not UTF-8), the `--env-file`
//! size cap, and the warning for secret names that change how programs run.

use crate::support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Project, code, stderr, stdout};

/// A job `job` whose secrets are `(variable, store key, file)`, and a store
/// holding `values` (`{"base64": ...}` entries for bytes).
fn project_with(secrets: &[(&str, &str, bool)], values: serde_json::Value) -> Project {
    let project = Project::new();
    let mut pipeline = String::from("job:\n  script: [x]\n  secrets:\n");
    for (variable, key, file) in secrets {
        pipeline.push_str(&format!(
            "    {variable}:\n      testkv: {{key: {key}}}\n      file: {file}\n"
        ));
    }
    project.write(".gitlab-ci.yml", &pipeline);
    let store = project.write("store.json", &values.to_string());
    project.use_store(&store);
    project
}

fn private_dir(path: &Path) {
    std::fs::create_dir(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// `resolve --job job --format <format> --files-dir <dir>`, run through
/// `sh` with `ulimit -n <open_files>` when given.
fn resolve(project: &Project, format: &str, files_dir: &Path, open_files: Option<u32>) -> Output {
    let binary = env!("CARGO_BIN_EXE_ci-secrets-e2e");
    let mut command = match open_files {
        Some(limit) => {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(binary);
            support::isolate(&mut command);
            command
        }
        None => support::e2e_bin(),
    };
    command
        .current_dir(project.path())
        .args(["resolve", "--job", "job", "--format", format, "--files-dir"])
        .arg(files_dir)
        .output()
        .unwrap()
}

const MANY: usize = 400;

fn many_file_secrets() -> Project {
    let names: Vec<String> = (0..MANY).map(|i| format!("S{i}")).collect();
    let secrets: Vec<(&str, &str, bool)> = names
        .iter()
        .map(|n| (n.as_str(), n.as_str(), true))
        .collect();
    let values: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| (n.clone(), format!("value of {n}\n").into()))
        .collect();
    project_with(&secrets, serde_json::Value::Object(values))
}

#[test]
fn more_file_secrets_than_open_files_allowed_are_all_written() {
    let project = many_file_secrets();
    let files = project.path().join("files");
    // Far fewer descriptors than secrets: one file open at a time must do.
    let output = resolve(&project, "shell", &files, Some(64));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), MANY);
    for i in 0..MANY {
        let content = std::fs::read_to_string(files.join(format!("S{i}"))).unwrap();
        assert_eq!(content, format!("value of S{i}\n"));
    }
    assert_eq!(
        std::fs::read_dir(&files).unwrap().count(),
        MANY,
        "stray files"
    );
}

#[test]
fn exec_delivers_more_file_secrets_than_open_files_allowed() {
    let project = many_file_secrets();
    let binary = env!("CARGO_BIN_EXE_ci-secrets-e2e");
    let mut command = Command::new("sh");
    support::isolate(&mut command);
    let output = command
        .current_dir(project.path())
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(binary)
        .args(["exec", "--job", "job", "--no-mask", "--", "sh", "-c"])
        .arg(format!("cat \"$S0\" \"$S{}\"", MANY - 1))
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("value of S0\nvalue of S{}\n", MANY - 1)
    );
}

/// A file secret and a plain secret that holds bytes, which no environment
/// value can carry: the run fails after the file is written.
fn failing_after_the_files() -> Project {
    project_with(
        &[("KEY", "key", true), ("BIN", "bin", false)],
        serde_json::json!({"key": "file content", "bin": {"base64": "AP8="}}),
    )
}

#[test]
fn a_users_empty_files_dir_survives_a_failed_run() {
    let project = failing_after_the_files();
    let files = project.path().join("mine");
    private_dir(&files);
    let output = resolve(&project, "dotenv", &files, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("BIN"), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    assert!(files.is_dir(), "the user's directory was removed");
    assert_eq!(std::fs::read_dir(&files).unwrap().count(), 0, "files left");
}

#[test]
fn a_files_dir_made_by_a_failed_run_is_removed_with_its_files() {
    let project = failing_after_the_files();
    let files = project.path().join("new");
    let output = resolve(&project, "dotenv", &files, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(!files.exists(), "the directory this run made is left");
}

#[test]
fn a_files_dir_that_is_a_symbolic_link_is_refused() {
    let project = project_with(&[("KEY", "key", true)], serde_json::json!({"key": "x"}));
    let real = project.path().join("real");
    private_dir(&real);
    let link = project.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let output = resolve(&project, "shell", &link, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("symbolic link") && err.contains(&link.display().to_string()),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
}

#[test]
fn a_files_dir_writable_by_others_is_refused_and_left_untouched() {
    let project = project_with(&[("KEY", "key", true)], serde_json::json!({"key": "x"}));
    let shared = project.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = resolve(&project, "shell", &shared, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("writable by group or others"));
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

fn not_utf8_dir(project: &Project) -> PathBuf {
    project
        .path()
        .join(OsStr::from_bytes(b"files-\xff\xfe-\xc3"))
}

#[test]
fn a_files_dir_that_is_not_utf8_is_printed_exactly_for_the_shell() {
    let project = project_with(
        &[("KEY", "key", true), ("PLAIN", "plain", false)],
        serde_json::json!({"key": "file content", "plain": "p"}),
    );
    let files = not_utf8_dir(&project);
    let output = resolve(&project, "shell", &files, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let mut script = output.stdout.clone();
    script.extend_from_slice(b"cat \"$KEY\"; printf '|%s' \"$PLAIN\"");
    for shell in ["sh", "bash", "dash"] {
        let evaluated = Command::new(shell)
            .arg("-c")
            .arg(OsStr::from_bytes(&script))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&evaluated.stdout),
            "file content|p",
            "{shell}: {}",
            String::from_utf8_lossy(&evaluated.stderr)
        );
    }
    assert_eq!(std::fs::read(files.join("KEY")).unwrap(), b"file content");
}

#[test]
fn a_files_dir_that_is_not_utf8_is_refused_for_dotenv_by_name() {
    let project = project_with(&[("KEY", "key", true)], serde_json::json!({"key": "x"}));
    let files = not_utf8_dir(&project);
    let output = resolve(&project, "dotenv", &files, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("KEY") && err.contains("not UTF-8"), "{err}");
    assert!(stdout(&output).is_empty());
    assert!(!files.exists(), "the directory this run made is left");
}

#[test]
fn an_env_file_past_the_size_cap_is_refused_naming_the_file() {
    let project = project_with(&[("KEY", "key", false)], serde_json::json!({"key": "x"}));
    let line = "A=0123456789012345678901234567890123456789\n";
    let big = project.write("big.env", &line.repeat((1 << 20) / line.len() + 1));
    for env_file in [big.as_path(), Path::new("/dev/zero")] {
        let output = project
            .cli()
            .args(["resolve", "--job", "job", "--format", "json", "--env-file"])
            .arg(env_file)
            .output()
            .unwrap();
        assert_eq!(code(&output), 2, "{}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&env_file.display().to_string()) && err.contains("larger than"),
            "{err}"
        );
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn secret_names_that_change_how_programs_run_are_warned_about_by_name() {
    let project = project_with(
        &[
            ("BASH_ENV", "a", false),
            ("LD_PRELOAD", "b", false),
            ("PROMPT_COMMAND", "c", false),
            ("DB_PASSWORD", "d", false),
        ],
        serde_json::json!({
            // Empty: a preload of a missing library would add the loader's
            // own complaint to exec's output.
            "a": "value-a-not-shown", "b": "",
            "c": "value-c-not-shown", "d": "value-d-not-shown",
        }),
    );
    let resolved = project
        .cli()
        .args(["resolve", "--job", "job", "--format", "json", "--quiet"])
        .output()
        .unwrap();
    let executed = project
        .cli()
        .args(["exec", "--job", "job", "--", "true"])
        .output()
        .unwrap();
    for output in [resolved, executed] {
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        let err = stderr(&output);
        for name in ["BASH_ENV", "LD_PRELOAD", "PROMPT_COMMAND"] {
            let warning = format!("warning: the secret {name} is delivered under a name that");
            assert!(err.contains(&warning), "{name}: {err}");
        }
        assert!(!err.contains("DB_PASSWORD"), "{err}");
        assert!(!err.contains("not-shown"), "{err}");
    }
}
