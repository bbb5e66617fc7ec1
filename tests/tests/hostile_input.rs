//! Hostile input through the binary: each case gets a clear error that
//! names what is wrong and where, quickly, with bounded memory (the binary
//! runs under `prlimit --as`, so a blow-up fails the run instead of the
//! machine). Also replays the committed fuzz corpus (`fuzz/corpus/`)
//! through the same checks the fuzz targets run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod hardening_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hardening_support::{Run, run};
use support::Project;

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code, clippy::all)]
mod fuzz_checks;

/// Address space allowed to the binary: far above what any of these inputs
/// needs when handled well, far below what an alias bomb or a 50 MB
/// document tree would take.
const ADDRESS_SPACE: u64 = 1 << 30;

/// Each error must come this fast.
const QUICK: Duration = Duration::from_secs(5);

/// The e2e binary in `project`, under `prlimit --as` when the tool exists.
fn limited(project: &Project) -> Command {
    let binary = env!("CARGO_BIN_EXE_ci-secrets-e2e");
    let mut command = if Path::new("/usr/bin/prlimit").exists() {
        let mut command = Command::new("/usr/bin/prlimit");
        command
            .arg(format!("--as={ADDRESS_SPACE}"))
            .arg("--")
            .arg(binary);
        command
    } else {
        Command::new(binary)
    };
    support::isolate(&mut command);
    command.current_dir(project.path());
    command
}

/// Resolves job `job` of the project's pipeline; returns the run.
fn resolve(project: &Project, job: &str, extra: &[&str]) -> Run {
    run(limited(project)
        .args(["resolve", "--job", job, "--format", "json"])
        .args(extra))
}

/// Asserts a clean, quick failure with `code` whose stderr holds every
/// one of `needles`; returns stderr.
fn assert_refused(run: &Run, code: i32, needles: &[&str]) -> String {
    let stderr = run.stderr();
    assert_eq!(run.code(), code, "{stderr}");
    assert!(run.output.stdout.is_empty(), "{}", run.stdout());
    assert!(run.elapsed < QUICK, "took {:?}: {stderr}", run.elapsed);
    for needle in needles {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("memory allocation"), "{stderr}");
    stderr
}

fn project_with(pipeline: &[u8]) -> Project {
    let project = Project::new();
    std::fs::write(project.path().join(".gitlab-ci.yml"), pipeline).unwrap();
    project
}

#[test]
fn a_yaml_alias_bomb_is_refused() {
    let mut yaml = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for (index, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let previous = if index == 0 {
            "a".to_string()
        } else {
            ["b", "c", "d", "e", "f", "g", "h"][index - 1].to_string()
        };
        yaml.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
    }
    yaml.push_str(
        "job:\n  script: [x]\n  variables: {BOMB: *i}\n  secrets: {A: {testkv: {key: x}}}\n",
    );
    let project = project_with(yaml.as_bytes());
    let stderr = assert_refused(&resolve(&project, "job", &[]), 1, &[".gitlab-ci.yml"]);
    assert!(
        stderr.contains("alias") || stderr.contains("nodes"),
        "{stderr}"
    );
}

#[test]
fn a_50_mb_pipeline_is_refused_at_the_size_cap() {
    let project = Project::new();
    let path = project.path().join(".gitlab-ci.yml");
    let mut text = String::with_capacity(50 << 20);
    let mut index = 0;
    while text.len() < 50 << 20 {
        text.push_str(&format!("job_{index}:\n  script: [\"echo {index}\"]\n  secrets: {{A: {{testkv: {{key: k{index}}}}}}}\n"));
        index += 1;
    }
    std::fs::write(&path, &text).unwrap();
    drop(text);
    let stderr = assert_refused(&resolve(&project, "job_1", &[]), 1, &[".gitlab-ci.yml"]);
    assert!(
        stderr.contains("2097152") || stderr.contains("2 MiB") || stderr.contains("too large"),
        "{stderr}"
    );
}

fn assert_too_deep(project: &Project, shape: &str) {
    let stderr = assert_refused(&resolve(project, "job", &[]), 1, &[".gitlab-ci.yml"]);
    assert!(
        stderr.contains("nesting deeper than 100 levels"),
        "{shape}: {stderr}"
    );
}

fn flow_nesting(depth: usize) -> Project {
    project_with(
        format!(
            "job:\n  script: [x]\n  variables: {{A: {}{}}}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .as_bytes(),
    )
}

#[test]
fn deeply_nested_block_mappings_are_refused() {
    let mut text = String::from("job:\n  script: [x]\n  deep:\n");
    for depth in 0..1_500 {
        text.push_str(&" ".repeat(4 + depth));
        text.push_str("k:\n");
    }
    assert_too_deep(&project_with(text.as_bytes()), "block mappings");
}

#[test]
fn deeply_nested_flow_collections_are_refused() {
    assert_too_deep(&flow_nesting(1_000), "flow sequences");
}

/// 100 000 `[` fit in 200 kB, far under the 2 MiB size cap, yet the YAML
/// scanner's work grows with the square of the flow depth (0.2 s at 2 000,
/// 1.6 s at 8 000, about 150 s here; a 2 MiB file would take hours) before
/// the depth check ever sees a node.
#[test]
fn very_deep_flow_nesting_is_refused_quickly() {
    assert_too_deep(&flow_nesting(100_000), "100 000 flow sequences");
}

#[test]
fn an_include_loop_is_refused_naming_the_files() {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "include: [{local: a.yml}]\njob:\n  script: [x]\n",
    );
    project.write("a.yml", "include: [{local: b.yml}]\n");
    project.write("b.yml", "include: [{local: a.yml}]\n");
    let stderr = assert_refused(&resolve(&project, "job", &[]), 1, &["a.yml"]);
    assert!(
        stderr.contains("b.yml")
            || stderr.contains("included more than once")
            || stderr.contains("loop"),
        "{stderr}"
    );
}

#[test]
fn an_extends_loop_is_refused_naming_the_jobs() {
    let project = project_with(
        b".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n  script: [x]\n",
    );
    let stderr = assert_refused(
        &resolve(&project, "job", &[]),
        1,
        &[".gitlab-ci.yml", ".a", ".b"],
    );
    assert!(
        stderr.contains("circular") || stderr.contains("loop") || stderr.contains("nest"),
        "{stderr}"
    );
}

#[test]
fn invalid_utf8_is_refused_naming_the_file() {
    let project = project_with(b"job:\n  script: [x]\n  variables: {A: \"\xff\xfe\"}\n");
    let stderr = assert_refused(&resolve(&project, "job", &[]), 1, &[".gitlab-ci.yml"]);
    assert!(stderr.contains("UTF-8"), "{stderr}");
}

const NUL_JOB: &str =
    "job:\n  script: [x]\n  secrets:\n    A:\n      testkv: {key: $KEY}\n      file: false\n";

#[test]
fn a_nul_byte_in_the_pipeline_file_is_refused_naming_line_and_offset() {
    let project = project_with(format!("variables:\n  KEY: \"x\0y\"\n{NUL_JOB}").as_bytes());
    assert_refused(
        &resolve(&project, "job", &[]),
        1,
        &[".gitlab-ci.yml", "NUL byte", "line 2"],
    );
}

/// YAML's `"\0"` escape puts a NUL in a value without a NUL byte in the
/// file; it must be refused like one from `--env-file`.
#[test]
fn a_nul_escape_in_a_pipeline_variable_is_refused_naming_the_variable() {
    let project = project_with(format!("variables:\n  KEY: \"x\\0y\"\n{NUL_JOB}").as_bytes());
    let store = project.store(&[("x\0y", "value")]);
    let run = resolve(
        &project,
        "job",
        &["--var", &format!("TESTKV_STORE={}", store.display())],
    );
    assert_refused(&run, 1, &["KEY", "NUL"]);
}

#[test]
fn a_nul_in_an_env_file_is_refused_naming_the_variable_and_file() {
    let project = project_with(NUL_JOB.as_bytes());
    std::fs::write(project.path().join("vars.env"), b"KEY=x\0y\n").unwrap();
    assert_refused(
        &resolve(&project, "job", &["--env-file", "vars.env"]),
        2,
        &["vars.env", "KEY", "NUL byte"],
    );
}

#[test]
fn a_var_without_equals_is_a_usage_error_naming_it() {
    let project = project_with(NUL_JOB.as_bytes());
    assert_refused(
        &resolve(&project, "job", &["--var", "NO_EQUALS_SIGN"]),
        2,
        &["--var", "NO_EQUALS_SIGN", "="],
    );
}

// ------------------------------------------------------------ fuzz corpus

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// Runs `check` on every corpus file of `target`, naming the file that fails.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for path in corpus(target) {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        assert!(outcome.is_ok(), "fuzz corpus file {} fails", path.display());
    }
}

#[test]
fn the_fuzz_corpus_replays_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    replay("pipeline_loader", |data| {
        fuzz_checks::pipeline_loader(data, dir.path())
    });
    replay("validator", fuzz_checks::validator);
    replay("expansion", fuzz_checks::expansion);
    replay("masker", fuzz_checks::masker);
}

/// Found by the `masker_pauses` fuzz target: when one value is a prefix of
/// another and the child pauses right after the shorter one, the pause
/// flush masks the shorter one and the rest of the longer value goes out in
/// clear.
#[test]
fn a_pause_after_a_value_that_prefixes_another_leaks_nothing() {
    use ci_secrets_core::mask::MaskSet;
    let (set, _) = MaskSet::new([
        ("SHORT", &b"abcd1234"[..]),
        ("LONG", &b"abcd1234-tail-of-long"[..]),
    ]);
    let mut masker = set.stream();
    let mut out = masker.feed(b"token=abcd1234");
    out.extend(masker.flush_pause());
    out.extend(masker.feed(b"-tail-of-long\n"));
    out.extend(masker.finish());
    assert_eq!(String::from_utf8_lossy(&out), "token=[MASKED]\n");
}

#[test]
fn the_masker_pauses_corpus_replays_cleanly() {
    replay("masker_pauses", fuzz_checks::masker_pauses_change_nothing);
}
