//! `exec` copies every byte of the command's output, masked, however slowly
//! it is read; keeps lines whole when stdout and stderr are merged; shows a
//! prompt without waiting for its line end; and does not hang on a pipe
//! that a background process keeps open.

use crate::support;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use support::{Project, code, wait_for_file};

const PASSWORD: &str = "hunter2-canary-output";

fn project() -> Project {
    let project = Project::new();
    project.write(
        ".gitlab-ci.yml",
        "job:\n  script: [x]\n  secrets:\n    PASSWORD:\n      testkv: {key: pw}\n      file: false\n",
    );
    let store = project.store(&[("pw", PASSWORD)]);
    project.use_store(&store);
    project
}

#[test]
fn a_reader_that_starts_after_the_command_exited_gets_every_byte() {
    let project = project();
    let exited = project.path().join("command-exited");
    // 100 000 bytes fit in the two pipes and our copy's buffer, so the
    // command can finish writing and exit while nobody reads our stdout.
    let script =
        r#"head -c 100000 /dev/zero | tr '\0' x; printf '\npw=%s\n' "$PASSWORD"; : > "$1""#;
    let mut run = project
        .cli()
        .args(["exec", "--job", "job", "--", "sh", "-c", script, "sh"])
        .arg(&exited)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&exited);
    // Longer than the copy used to be given after the command exited (2 s);
    // the assertion below is on the bytes, not on any time.
    std::thread::sleep(Duration::from_millis(2500));
    let mut out = Vec::new();
    run.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let mut err = String::new();
    run.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let expected = format!("{}\npw=[MASKED]\n", "x".repeat(100_000));
    assert_eq!(out.len(), expected.len(), "{err}");
    assert!(out == expected.as_bytes(), "output differs; stderr: {err}");
    assert!(!err.contains("stopped copying"), "{err}");
}

#[test]
fn merged_stdout_and_stderr_keep_their_lines_whole() {
    let project = project();
    // Each line is longer than the secret, so the masker holds back part of
    // it; the other stream writes right after it.
    let script = r#"
        i=0
        while [ $i -lt 200 ]; do
            printf 'out %03d aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa %s end\n' $i "$PASSWORD"
            printf 'err %03d bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n' $i >&2
            i=$((i + 1))
        done
    "#;
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut run = project
        .cli()
        .args(["--quiet", "exec", "--job", "job", "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    // Our copies of the write end are gone (moved into the command above
    // and dropped with it), so reading ends when the run ends.
    let mut merged = String::new();
    reader.read_to_string(&mut merged).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{merged}");
    let mut outs = 0;
    let mut errs = 0;
    for line in merged.lines() {
        let number = line.get(4..7).unwrap_or_default();
        if line == format!("out {number} aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa [MASKED] end") {
            outs += 1;
        } else if line
            == format!("err {number} bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
        {
            errs += 1;
        } else {
            panic!("spliced line {line:?} in:\n{merged}");
        }
    }
    assert_eq!((outs, errs), (200, 200), "{merged}");
    assert!(!merged.contains(PASSWORD));
}

#[test]
fn a_prompt_without_a_line_end_shows_before_the_command_reads() {
    let project = project();
    let script =
        r#"printf 'Continue? '; read answer; printf 'answer=%s pw=%s\n' "$answer" "$PASSWORD""#;
    let mut run = project
        .cli()
        .args(["--quiet", "exec", "--job", "job", "--", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = run.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    // The command waits for its answer, so the prompt can only have come
    // out through the pause flush.
    while !seen.ends_with(b"Continue? ") {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "{seen:?}");
        seen.push(byte[0]);
    }
    run.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert_eq!(rest, "answer=yes pw=[MASKED]\n");
}

#[test]
fn a_background_process_holding_the_pipe_ends_the_copy_with_a_notice() {
    let project = project();
    // Were the copy to wait for the end of the pipe, it would end when the
    // sleep does, without the notice.
    let output = project
        .cli()
        .args(["exec", "--job", "job", "--", "sh", "-c"])
        .arg("sleep 8 & printf 'pw=%s\\n' \"$PASSWORD\"; exit 4")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&output), 4);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "pw=[MASKED]\n");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("a process it started still holds its stdout open; stopped copying it"),
        "{err}"
    );
}

#[test]
fn megabytes_written_faster_than_they_are_copied_come_out_exact() {
    let project = project();
    // 8 MiB of lines, far more than a pipe holds, with the secret (and a
    // cut-off start of it) at positions that fall on every offset of the
    // pipe's and our reads' chunks.
    let mut text = Vec::new();
    let mut expected = Vec::new();
    let mut line = 0usize;
    while text.len() < 8 << 20 {
        let filler = "y".repeat(line % 97);
        let plain = format!("{line} {filler} hunter2-canary\n");
        text.extend_from_slice(plain.as_bytes());
        expected.extend_from_slice(plain.as_bytes());
        let secret = format!("{line} {filler} {PASSWORD}x\n");
        text.extend_from_slice(secret.as_bytes());
        expected.extend_from_slice(format!("{line} {filler} [MASKED]x\n").as_bytes());
        line += 1;
    }
    let input = project.path().join("output.txt");
    std::fs::write(&input, &text).unwrap();
    let output = project
        .cli()
        .args(["exec", "--job", "job", "--", "cat"])
        .arg(&input)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout.len(), expected.len());
    assert!(output.stdout == expected, "the masked output differs");
}
