//! What `exec` masks in the command's output, through the binary: the
//! encodings a script is likely to print (issue 13, item 3), the warnings
//! about short values, and a large value that must not make `exec` slow or
//! huge before the command starts (item 4).

use crate::support;

use base64::Engine as _;
use support::{Project, code, stderr, stdout};

/// 23 bytes (not a multiple of 3), with `"`, `\`, `/`, `:`, `+`, a space,
/// and base64 with `+` and `/` at every alignment.
const SECRET: &str = "hunter2/\"q\"\\ +~>>?>>?x";

/// A key long enough that `base64` wraps it at 76 columns several times.
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\nNMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ\n-----END PRIVATE KEY-----\n";

fn project(entries: &[(&str, &str)]) -> Project {
    project_with(entries, false)
}

fn project_with(entries: &[(&str, &str)], file: bool) -> Project {
    let project = Project::new();
    let mut yaml = String::from("job:\n  script: [x]\n  secrets:\n");
    for (name, _) in entries {
        yaml.push_str(&format!(
            "    {name}:\n      testkv: {{key: {name}}}\n      file: {file}\n"
        ));
    }
    project.write(".gitlab-ci.yml", &yaml);
    let store = project.store(entries);
    project.use_store(&store);
    project
}

/// Runs `script` under `exec` with the secret, and passes `args` to it as
/// `$1`, `$2`, ... (forms the test computes itself).
fn exec(project: &Project, script: &str, args: &[String]) -> std::process::Output {
    project
        .cli()
        .args(["exec", "--job", "job", "--", "sh", "-c", script, "sh"])
        .args(args)
        .output()
        .unwrap()
}

fn percent_encode(value: &str, keep: &[u8], lower: bool) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || keep.contains(&b) {
                (b as char).to_string()
            } else if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every line `label=...` of the output, and what it shows.
fn lines(out: &str) -> Vec<(&str, &str)> {
    out.lines()
        .filter_map(|line| line.split_once('='))
        .collect()
}

#[test]
fn the_usual_encodings_of_a_secret_are_masked() {
    let project = project(&[("S", SECRET)]);
    // urllib.parse.quote keeps `/` and `_.-~`; encodeURIComponent keeps
    // `!'()*` too; forms write spaces as `+`.
    let python_quote = percent_encode(SECRET, b"_.-~/", false);
    let lower_hex = percent_encode(SECRET, b"_.-~", true);
    let js_component = percent_encode(SECRET, b"_.-~!'()*", false);
    let form = percent_encode(SECRET, b"_.-~ ", false).replace(' ', "+");
    let json = serde_json::to_string(SECRET).unwrap();
    let json_slash = json.replace('/', "\\/");
    let script = r#"
        printf 'raw=%s\n' "$S"
        printf 'echo_b64=%s\n' "$(echo "$S" | base64 -w0)"
        printf 'unpadded=%s\n' "$(printf '%s' "$S" | base64 -w0 | tr -d =)"
        printf 'basic=%s\n' "$(printf 'user:%s' "$S" | base64 -w0)"
        printf 'basic_one=%s\n' "$(printf 'u:%s@h' "$S" | base64 -w0)"
        printf 'url=%s\n' "$(printf 'x%s' "$S" | base64 -w0 | tr '+/' '-_' | tr -d =)"
        printf 'quote=%s\n' "$1"
        printf 'lower=%s\n' "$2"
        printf 'component=%s\n' "$3"
        printf 'form=%s\n' "$4"
        printf 'json={"password":%s}\n' "$5"
        printf 'json_slash=%s\n' "$6"
        printf 'err_b64=%s\n' "$(printf '%s' "$S" | base64 -w0)" >&2
    "#;
    let output = exec(
        &project,
        script,
        &[
            python_quote,
            lower_hex,
            js_component,
            form,
            json,
            json_slash,
        ],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let out = stdout(&output);
    let shown = lines(&out);
    assert_eq!(shown.len(), 12, "{out}");
    for (label, text) in shown {
        // What may be left: the few characters that depend on the
        // neighbours (`user:`, the newline, padding) and the JSON quotes.
        assert!(text.contains("[MASKED]"), "{label} not masked: {text}");
        let rest = text
            .replace("[MASKED]", "")
            .replace("{\"password\":\"\"}", "");
        assert!(rest.len() <= 12, "{label} left too much: {text}");
    }
    for form in [SECRET, "aHVudGVyMi8i", "dW50ZXIyLyJx", "h1bnRlcjIvInEi"] {
        assert!(!out.contains(form), "{form} in {out}");
    }
    let err = stderr(&output);
    assert!(err.contains("err_b64=[MASKED]"), "{err}");
}

#[test]
fn base64_of_a_key_wrapped_at_76_columns_is_masked_across_the_line_breaks() {
    let project = project(&[("KEY", PEM)]);
    let script = r#"
        printf '%s' "$KEY" > key.pem
        echo begin
        base64 < key.pem
        echo middle
        base64 < key.pem | sed 's/$/\r/'
        echo end
    "#;
    let output = exec(&project, script, &[]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let out = stdout(&output);
    let encoded = base64::engine::general_purpose::STANDARD.encode(PEM);
    // Every wrapped line of the encoding is gone, not just the first.
    for line in encoded.as_bytes().chunks(76) {
        let line = std::str::from_utf8(&line[..line.len().min(60)]).unwrap();
        assert!(!out.contains(line), "{line} in {out}");
    }
    assert!(out.starts_with("begin\n[MASKED]"), "{out}");
    assert!(out.contains("middle\n[MASKED]"), "{out}");
    assert!(out.ends_with("end\n"), "{out}");
}

#[test]
fn short_values_warn_by_name_without_the_value() {
    let project = project(&[
        ("FLAG", "true"),
        ("PIN", "123"),
        ("TOKEN", "long-enough-token"),
    ]);
    let output = exec(
        &project,
        r#"printf '%s %s %s\n' "$FLAG" "$PIN" "$TOKEN""#,
        &[],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "[MASKED] 123 [MASKED]\n");
    let err = stderr(&output);
    assert!(
        err.contains("FLAG is shorter than 8 bytes (GitLab's minimum for masked variables)"),
        "{err}"
    );
    assert!(err.contains("PIN is shorter than 4 bytes"), "{err}");
    assert!(!err.contains("TOKEN"), "{err}");
    assert!(!err.contains("true") && !err.contains("123"), "{err}");
}

/// Issue 13 item 4: a 1 MiB value took 809 MB (4 MiB: 3.15 GB) before the
/// command started. Peak RSS of the binary and its command (the largest
/// child this test process has waited for) must stay far below that; no
/// timing. The value is a file secret: no environment string holds 1 MiB.
#[test]
fn a_one_mib_secret_is_masked_within_bounded_memory() {
    let value: String = (0..1u32 << 20)
        .map(|i| {
            let x = i.wrapping_mul(2_654_435_761) >> 7;
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                    [(x % 64) as usize],
            )
        })
        .collect();
    let project = project_with(&[("BIG", &value)], true);
    let script = r#"
        printf 'head '
        cat "$BIG"
        printf ' tail\n'
        base64 "$BIG"
    "#;
    let (output, peak_rss) = crate::support::output_with_peak_rss(
        project
            .cli()
            .args(["exec", "--job", "job", "--", "sh", "-c", script, "sh"]),
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(out, "head [MASKED] tail\n[MASKED]\n");
    let peak_mib = peak_rss >> 20;
    assert!(peak_mib < 128, "peak RSS {peak_mib} MiB");
    eprintln!("peak RSS {peak_mib} MiB");
}
