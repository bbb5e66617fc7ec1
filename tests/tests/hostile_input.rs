//! Hostile input through the binary: each case gets a clear error that
//! names what is wrong and where, quickly, with bounded memory: every run's
//! peak RSS (from `wait4`, after it exits) stays under [`PEAK_RSS`], and the
//! binary runs under `prlimit --as`, so a blow-up fails the run instead of
//! the machine. Also replays the committed fuzz corpus (`fuzz/corpus/`)
//! through the same checks the fuzz targets run.

use crate::hardening_support;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hardening_support::Run;
use support::Project;

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code, clippy::all)]
mod fuzz_checks;

/// Address space allowed to the binary: far above what any of these inputs
/// needs when handled well, far below what an alias bomb or a 50 MB
/// document tree would take.
const ADDRESS_SPACE: u64 = 1 << 30;

/// Peak resident memory allowed to the binary on any of these inputs.
const PEAK_RSS: u64 = 256 << 20;

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

/// Runs `command` to completion; asserts that its peak RSS stayed under
/// [`PEAK_RSS`].
fn run(command: &mut Command) -> Run {
    let started = Instant::now();
    let (output, peak_rss) = support::output_with_peak_rss(command.stdin(Stdio::null()));
    let elapsed = started.elapsed();
    assert!(
        peak_rss < PEAK_RSS,
        "peak RSS {} MiB (limit {} MiB), exit {:?}, stderr:\n{}",
        peak_rss >> 20,
        PEAK_RSS >> 20,
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    Run { output, elapsed }
}

/// Resolves job `job` of the project's pipeline; returns the run.
fn resolve(project: &Project, job: &str, extra: &[&str]) -> Run {
    run(limited(project)
        .args(["resolve", "--job", job, "--format", "json"])
        .args(extra))
}

/// Runs the binary with `args` in the project; returns the run.
fn cli(project: &Project, args: &[&str]) -> Run {
    run(limited(project).args(args))
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

// ------------------------------------------------------------ amplification
//
// A small pipeline can describe a huge one: an alias, an `extends:`, a
// `!reference`, an inherited `default:` or an `include:` copies a whole
// value. Each copy counts against one budget of the whole load (nodes and
// bytes of text), so each of these stops with an error naming the file and
// the job where it can, inside the memory bound; and loading one job
// expands only what that job needs.

const MIB: usize = 1 << 20;

/// A job that resolves one `testkv` secret, with `extra` (flow-style keys)
/// in its hash.
fn small_job(name: &str, extra: &str) -> String {
    format!("{name}: {{{extra}script: [x], secrets: {{A: {{testkv: {{key: k}}, file: false}}}}}}\n")
}

/// `count` jobs `job_0`.. made by `small_job` with `extra`.
fn many_jobs(count: usize, extra: &str) -> String {
    (0..count)
        .map(|index| small_job(&format!("job_{index}"), extra))
        .collect()
}

/// Asserts that a run of one job resolved its secret.
fn assert_resolved(run: &Run) {
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let secrets: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(secrets["A"], "value", "{}", run.stdout());
}

/// Resolves job `job` of a project whose store holds `k = value`.
fn resolve_one(project: &Project, job: &str) -> Run {
    let store = project.store(&[("k", "value")]);
    resolve(
        project,
        job,
        &["--var", &format!("TESTKV_STORE={}", store.display())],
    )
}

fn validate(project: &Project) -> Run {
    cli(project, &["validate"])
}

/// Asserts that `validate` of the whole pipeline is refused for making the
/// expanded pipeline too large, naming the file and every one of `needles`.
fn assert_validate_refuses_expansion(project: &Project, needles: &[&str]) -> String {
    let run = validate(project);
    let text = format!("{}{}", run.stdout(), run.stderr());
    assert_eq!(run.code(), 1, "{text}");
    assert!(run.elapsed < QUICK, "took {:?}: {text}", run.elapsed);
    for needle in [".gitlab-ci.yml", "makes the expanded pipeline larger than"]
        .iter()
        .chain(needles)
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert!(!text.contains("panicked"), "{text}");
    text
}

#[test]
fn aliases_of_a_big_string_are_refused_naming_the_file() {
    let mut yaml = format!(
        ".big: &big \"{}\"\njob:\n  script: [x]\n  variables:\n",
        "x".repeat(MIB)
    );
    for index in 0..1_000 {
        yaml.push_str(&format!("    V{index}: *big\n"));
    }
    let project = project_with(yaml.as_bytes());
    let stderr = assert_refused(
        &resolve(&project, "job", &[]),
        1,
        &[".gitlab-ci.yml", "64 MiB of text", "alias", "line "],
    );
    assert!(
        stderr.contains("makes the expanded pipeline larger"),
        "{stderr}"
    );
}

/// Billion laughs in hashes: many small nodes, each a hash entry.
#[test]
fn an_alias_bomb_of_small_hashes_is_refused_within_the_memory_bound() {
    let mut yaml = String::from(".l0: &l0 {a: x, b: x, c: x, d: x, e: x, f: x, g: x, h: x}\n");
    for level in 1..8 {
        let previous = level - 1;
        let entries: Vec<String> = "abcdefgh"
            .chars()
            .map(|key| format!("{key}: *l{previous}"))
            .collect();
        yaml.push_str(&format!(
            ".l{level}: &l{level} {{{}}}\n",
            entries.join(", ")
        ));
    }
    yaml.push_str(&small_job("job", "variables: {X: '1'}, bomb: *l7, "));
    let project = project_with(yaml.as_bytes());
    assert_refused(
        &resolve(&project, "job", &[]),
        1,
        &[".gitlab-ci.yml", "alias"],
    );
}

/// 2 000 jobs that extend a job holding a 1 MiB variable: 2 GiB once
/// expanded. `validate` of the whole pipeline is refused at the job that
/// goes over; one job resolves, plans and runs, expanding only itself.
#[test]
fn extends_fan_out_of_a_big_job_is_bounded_and_one_job_expands_alone() {
    let mut yaml = format!(".big:\n  variables:\n    BIG: \"{}\"\n", "x".repeat(MIB));
    yaml.push_str(&many_jobs(2_000, "extends: .big, "));
    let project = project_with(yaml.as_bytes());
    let text = assert_validate_refuses_expansion(&project, &["`extends: .big`", "job_"]);
    assert!(!text.contains(&"x".repeat(64)), "the value is not printed");

    assert_resolved(&resolve_one(&project, "job_1999"));
    let store = project.store(&[("k", "value")]);
    let store_var = format!("TESTKV_STORE={}", store.display());
    let plan = cli(&project, &["plan", "--job", "job_7", "--var", &store_var]);
    assert_eq!(plan.code(), 0, "{}", plan.stderr());
    let exec = cli(
        &project,
        &[
            "exec",
            "--job",
            "job_3",
            "--var",
            &store_var,
            "--",
            "sh",
            "-c",
            "test \"$A\" = value",
        ],
    );
    assert_eq!(exec.code(), 0, "{}", exec.stderr());
    let one = cli(&project, &["validate", "--job", "job_0"]);
    assert_eq!(one.code(), 0, "{}{}", one.stdout(), one.stderr());
}

#[test]
fn reference_fan_out_of_a_big_value_is_bounded_and_one_job_expands_alone() {
    let mut yaml = format!(".big:\n  variables:\n    BIG: \"{}\"\n", "x".repeat(MIB));
    yaml.push_str(&many_jobs(
        2_000,
        "variables: !reference [.big, variables], ",
    ));
    let project = project_with(yaml.as_bytes());
    assert_validate_refuses_expansion(
        &project,
        &["`!reference [\".big\", \"variables\"]`", "job_"],
    );
    assert_resolved(&resolve_one(&project, "job_1500"));
}

/// `default:` is inherited by every job: its `id_tokens:` names are copied
/// into each (and charged), its other keywords are not copied at all.
#[test]
fn a_big_default_over_many_jobs_is_bounded() {
    let mut yaml = String::from("default:\n  id_tokens:\n");
    for index in 0..40_000 {
        yaml.push_str(&format!("    TOKEN_{index:05}: {{aud: x}}\n"));
    }
    yaml.push_str(&many_jobs(2_000, ""));
    let project = project_with(yaml.as_bytes());
    assert_validate_refuses_expansion(&project, &["inheriting `default: id_tokens:`", "job_"]);

    let mut yaml = format!("default:\n  before_script: [\"{}\"]\n", "x".repeat(MIB));
    yaml.push_str(&many_jobs(2_000, ""));
    let project = project_with(yaml.as_bytes());
    let run = validate(&project);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
}

/// Every included file counts: a chain of files whose aliases each expand.
#[test]
fn includes_count_every_time_and_are_bounded() {
    // 150 files of 100 kB, each an alias expanding to 2 MB under its own key.
    let project = Project::new();
    for index in 0..150 {
        let next = if index + 1 < 150 {
            format!("include: part{}.yml\n", index + 1)
        } else {
            String::new()
        };
        let aliases = vec!["*a"; 20].join(", ");
        project.write(
            &format!("part{index}.yml"),
            &format!(
                "{next}.a{index}: &a \"{}\"\n.b{index}: [{aliases}]\n",
                "y".repeat(100_000)
            ),
        );
    }
    project.write(
        ".gitlab-ci.yml",
        &format!("include: part0.yml\n{}", small_job("job", "")),
    );
    assert_refused(
        &resolve(&project, "job", &[]),
        1,
        &["part", ".yml", "64 MiB of text"],
    );
}

/// A big global `variables:` block copied into every job, by an alias or by
/// `!reference [variables]`.
#[test]
fn a_big_variables_block_referenced_everywhere_is_bounded() {
    let mut variables = String::from("variables: &vars\n");
    for index in 0..100 {
        variables.push_str(&format!("  V{index}: \"{}\"\n", "v".repeat(10_000)));
    }
    let project =
        project_with(format!("{variables}{}", many_jobs(2_000, "variables: *vars, ")).as_bytes());
    assert_refused(
        &resolve(&project, "job_0", &[]),
        1,
        &[".gitlab-ci.yml", "alias", "64 MiB of text"],
    );

    let project = project_with(
        format!(
            "{variables}{}",
            many_jobs(2_000, "variables: !reference [variables], ")
        )
        .as_bytes(),
    );
    assert_validate_refuses_expansion(&project, &["`!reference [\"variables\"]`", "job_"]);
    assert_resolved(&resolve_one(&project, "job_42"));
}

/// The budget itself fits the memory bound: a pipeline just under both
/// limits (nodes and bytes) after `extends:` loads and validates in full.
#[test]
fn a_pipeline_just_under_the_budget_validates_within_the_memory_bound() {
    let mut yaml = format!(
        ".big:\n  variables:\n    BIG: \"{}\"\n  secrets:\n",
        "x".repeat(MIB)
    );
    for index in 0..4_000 {
        yaml.push_str(&format!("    S{index}: {{testkv: {{key: k}}}}\n"));
    }
    yaml.push_str(&many_jobs(19, "extends: .big, "));
    let project = project_with(yaml.as_bytes());
    let run = validate(&project);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
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
    replay("rules", fuzz_checks::rules);
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
