//! `resolve --format dotenv` read back by the readers it promises to serve:
//! python-dotenv (`dotenv_values`, interpolation on), Node's `dotenv`
//! (`parse`), and `set -a; . file` in sh, bash and dash. Every hostile
//! value either reads back byte-exact in each of them, or is refused with
//! an error that names its variable (and never shows the value). Also
//! `--format shell` under `eval` in the same shells, for every value.
//!
//! python-dotenv comes from `scripts/requirements-test.txt` (the `.venv`
//! that `scripts/test.sh` makes), Node's dotenv from `tests/node`
//! (`npm ci --prefix tests/node`, also run by `scripts/test.sh`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Project, code, stderr, stdout};

/// Values a dotenv file is easy to get wrong with.
const HOSTILE: &[&str] = &[
    "plain",
    "it's",
    "say \"hi\"",
    "'single quoted'",
    "\"double quoted\"",
    "$HOME",
    "${HOME}",
    "${UNSET:-default}",
    "pre${HOME}post",
    "$(touch pwned-by-dollar-paren)",
    "`touch pwned-by-backtick`",
    "it's `touch pwned-by-backtick-dq`",
    "\\$HOME",
    "back\\slash",
    "two\\\\backslashes",
    "trailing backslash\\",
    "literal \\n and \\r",
    "# starts like a comment",
    "a #b",
    "a#b",
    "multi\nline\nvalue",
    "trailing newline\n",
    "\nleading newline",
    "line1\nB=injected",
    "line1\nexport C='injected'",
    "crlf\r\nline",
    "lone\rcarriage return",
    "tab\tin the middle",
    "\ttab around\t",
    "  leading and trailing spaces  ",
    "unicode é ✓ 🎉 日本",
    "line\u{2028}separator\u{2029}paragraph",
    "vertical\u{b}tab form\u{c}feed",
    "a=b=c",
    "=",
    "",
    "it's $5",
    "it's \"both\"",
    "'",
    "\"",
    "\\",
    "password with spaces and 'quotes' and \"more\"",
];

const MARKERS: &[&str] = &[
    "pwned-by-dollar-paren",
    "pwned-by-backtick",
    "pwned-by-backtick-dq",
];

fn variable(index: usize) -> String {
    format!("V{index:02}")
}

/// A job with one plain (not file) secret per value, as `V00`, `V01`...
fn project_with(values: &[(String, &str)]) -> Project {
    let project = Project::new();
    let mut pipeline = String::from("job:\n  script: [x]\n  secrets:\n");
    let mut store = serde_json::Map::new();
    for (name, value) in values {
        pipeline.push_str(&format!(
            "    {name}:\n      testkv: {{key: {name}}}\n      file: false\n"
        ));
        store.insert(name.clone(), (*value).into());
    }
    project.write(".gitlab-ci.yml", &pipeline);
    let store = project.write("store.json", &serde_json::Value::Object(store).to_string());
    project.use_store(&store);
    project
}

fn resolve(project: &Project, format: &str) -> std::process::Output {
    project
        .cli()
        .args(["resolve", "--job", "job", "--quiet", "--format", format])
        .output()
        .unwrap()
}

/// Splits the corpus into what the dotenv format prints and what it
/// refuses; a refusal must name the variable and not show the value.
fn carried_by_dotenv() -> Vec<(String, &'static str)> {
    let mut carried = Vec::new();
    for (index, value) in HOSTILE.iter().enumerate() {
        let name = variable(index);
        let project = project_with(&[(name.clone(), value)]);
        let output = resolve(&project, "dotenv");
        match code(&output) {
            0 => carried.push((name, *value)),
            3 => {
                let err = stderr(&output);
                assert!(err.contains(&name), "{value:?}: {err}");
                assert!(err.contains("dotenv"), "{value:?}: {err}");
                if value.len() > 3 {
                    assert!(!err.contains(value), "{value:?}: {err}");
                }
                assert!(stdout(&output).is_empty(), "{value:?}");
            }
            other => panic!("{value:?}: exit {other}: {}", stderr(&output)),
        }
    }
    carried
}

/// Reads a NUL-terminated list of values printed by a reader.
fn nul_separated(bytes: &[u8]) -> Vec<String> {
    let mut fields: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|field| String::from_utf8(field.to_vec()).unwrap())
        .collect();
    assert_eq!(fields.pop().as_deref(), Some(""), "not NUL-terminated");
    fields
}

fn python_with_dotenv() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let candidates = [venv, PathBuf::from("python3")];
    candidates
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import dotenv"])
                .output()
                .is_ok_and(|output| output.status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "python-dotenv is missing: run scripts/test.sh (it installs \
                 scripts/requirements-test.txt into .venv), or pip install python-dotenv"
            )
        })
}

fn node_dotenv() -> PathBuf {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("node/node_modules/dotenv");
    assert!(
        module.is_dir(),
        "Node's dotenv is missing: run scripts/test.sh, or npm ci --prefix tests/node"
    );
    module
}

/// Each reader's view of `file`, as the values of `names` in order.
fn read_back(reader: &str, file: &Path, names: &[String], dir: &Path) -> Vec<String> {
    let names_json = serde_json::to_string(names).unwrap();
    let output = match reader {
        "python-dotenv" => Command::new(python_with_dotenv())
            .args([
                "-c",
                "import sys, json, dotenv\n\
                 values = dotenv.dotenv_values(sys.argv[1])\n\
                 for name in json.loads(sys.argv[2]):\n\
                 \x20   sys.stdout.buffer.write(values[name].encode() + b'\\0')\n",
            ])
            .arg(file)
            .arg(&names_json)
            .output()
            .unwrap(),
        "node-dotenv" => Command::new("node")
            .args([
                "-e",
                "const dotenv = require(process.argv[1]);\n\
                 const values = dotenv.parse(require('fs').readFileSync(process.argv[2]));\n\
                 for (const name of JSON.parse(process.argv[3])) {\n\
                 \x20 process.stdout.write(values[name] + '\\0');\n\
                 }\n",
            ])
            .arg(node_dotenv())
            .arg(file)
            .arg(&names_json)
            .output()
            .unwrap(),
        shell => {
            let printed: Vec<String> = names.iter().map(|n| format!("\"${n}\"")).collect();
            let script = format!(
                "set -a; . \"$0\"; set +a; printf '%s\\0' {}",
                printed.join(" ")
            );
            Command::new(shell)
                .arg("-c")
                .arg(script)
                .arg(file)
                .current_dir(dir)
                .env_remove("HOME")
                .output()
                .unwrap()
        }
    };
    assert!(
        output.status.success(),
        "{reader}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    nul_separated(&output.stdout)
}

#[test]
fn every_dotenv_reader_reads_every_printed_value_exactly() {
    let carried = carried_by_dotenv();
    // The dialect refuses only what a reader would damage: most of the
    // corpus, and every value of plain text, goes through.
    assert!(carried.len() * 3 >= HOSTILE.len() * 2, "{carried:?}");
    for must in [
        "it's",
        "$HOME",
        "`touch pwned-by-backtick`",
        "multi\nline\nvalue",
        "",
    ] {
        assert!(carried.iter().any(|(_, v)| *v == must), "{must:?} refused");
    }

    let project = project_with(&carried);
    let output = resolve(&project, "dotenv");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let file = project.write("out.env", &stdout(&output));
    let names: Vec<String> = carried.iter().map(|(name, _)| name.clone()).collect();
    let expected: Vec<&str> = carried.iter().map(|(_, value)| *value).collect();
    for reader in ["python-dotenv", "node-dotenv", "sh", "bash", "dash"] {
        let values = read_back(reader, &file, &names, project.path());
        for ((name, value), read) in carried.iter().zip(&values) {
            assert_eq!(read, value, "{reader} read {name} wrong");
        }
        assert_eq!(values.len(), expected.len(), "{reader}");
    }
    for marker in MARKERS {
        assert!(!project.path().join(marker).exists(), "{marker}: code ran");
    }
}

#[test]
fn shell_format_evaluates_every_value_exactly_and_runs_nothing() {
    let values: Vec<(String, &str)> = HOSTILE
        .iter()
        .enumerate()
        .map(|(index, value)| (variable(index), *value))
        .collect();
    let project = project_with(&values);
    let output = resolve(&project, "shell");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let printed: Vec<String> = values.iter().map(|(n, _)| format!("\"${n}\"")).collect();
    let script = format!(
        "eval \"$(cat \"$0\")\"; printf '%s\\0' {}",
        printed.join(" ")
    );
    let file = project.write("out.sh", &stdout(&output));
    for shell in ["sh", "bash", "dash"] {
        let evaluated = Command::new(shell)
            .arg("-c")
            .arg(&script)
            .arg(&file)
            .current_dir(project.path())
            .output()
            .unwrap();
        assert!(evaluated.status.success(), "{shell}");
        let read = nul_separated(&evaluated.stdout);
        assert_eq!(read.len(), values.len(), "{shell}");
        for ((name, value), read) in values.iter().zip(&read) {
            assert_eq!(read, value, "{shell} read {name} wrong");
        }
    }
    for marker in MARKERS {
        assert!(!project.path().join(marker).exists(), "{marker}: code ran");
    }
}
