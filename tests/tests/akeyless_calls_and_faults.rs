//! Call counts and fault handling of the Akeyless provider, end to end
//! through the shipped `ci-secrets` binary: the emulator's `stats()` count
//! what reached the API, its `faults()` inject 429, 503, resets, malformed
//! and oversized bodies. Every failing run is checked for leaked secrets.

use crate::akeyless_support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use akeyless_emulator::demo::DEMO_ACCESS_KEY;
use akeyless_emulator::{Access, Emulator, Fault, Item, Operation, RandomFailures, Seed};
use akeyless_support::{Harness, Project, Run, demo_jwt, job_file};

const PASSWORD: &str = "demo-password-v2";

/// Short backoffs, so that retries cost milliseconds.
const FAST_RETRIES: &str = "[http]\ninitial_backoff_ms = 10\nmax_backoff_ms = 50\n";

/// Fast retries with no attempt limit worth the name: only the deadline stops them.
const RETRY_UNTIL_THE_DEADLINE: &str =
    "[http]\ninitial_backoff_ms = 10\nmax_backoff_ms = 50\nmax_attempts = 1000\n";

/// A project whose `ci-secrets.toml` retries fast.
fn fast_project() -> Project {
    let project = Project::new();
    project.write("ci-secrets.toml", FAST_RETRIES);
    project
}

/// `api-key.yml` (one access-key identity, two secrets, one of them a file).
fn resolve_api_key_job(harness: &Harness, project: &Project, files_dir: &Path) -> Run {
    Run::of(
        project
            .resolve(&job_file("api-key.yml"), "dotenv")
            .arg("--files-dir")
            .arg(files_dir)
            .arg("--var")
            .arg(harness.url_var()),
    )
}

/// Asserts a clean resolution failure: exit 3, nothing on stdout, no file
/// left in `files_dir`, no secret in either stream.
fn assert_clean_failure(run: &Run, files_dir: &Path) {
    assert_eq!(run.code(), 3, "stderr: {}", run.stderr());
    assert!(run.stdout().is_empty(), "stdout: {}", run.stdout());
    let left = std::fs::read_dir(files_dir)
        .map(Iterator::count)
        .unwrap_or(0);
    assert_eq!(left, 0, "files left in {}", files_dir.display());
    run.assert_no_leak(&[]);
}

#[test]
fn fifty_static_secrets_of_one_identity_take_one_login_and_at_most_two_reads() {
    let mut seed = Seed::new()
        .with_access(Access::access_key("p-bulk0000001", "bulk-access-key").allow("/ci/*"));
    let mut job = String::from(
        "deploy:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-bulk0000001\n  secrets:\n",
    );
    for i in 0..50 {
        seed = seed.with_item(
            format!("/ci/secret-{i:02}"),
            Item::static_text(format!("bulk-value-{i:02}")),
        );
        write!(
            job,
            "    SECRET_{i:02}:\n      file: false\n      akeyless:\n        name: /ci/secret-{i:02}\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL\n        akeyless_access_type: api_key\n        akeyless_access_key: bulk-access-key\n"
        )
        .unwrap();
    }
    let harness = Harness::with(Emulator::builder().seed(seed));
    let project = Project::new();
    let file = project.write(".gitlab-ci.yml", &job);
    let run = Run::of(
        project
            .resolve(&file, "json")
            .arg("--var")
            .arg(harness.url_var()),
    );
    let values = run.json();
    for i in 0..50 {
        assert_eq!(
            values[format!("SECRET_{i:02}")],
            format!("bulk-value-{i:02}")
        );
    }
    let stats = harness.stats();
    assert_eq!(stats.requests(Operation::Auth), 1);
    assert_eq!(stats.logins, 1);
    assert!(stats.requests(Operation::GetSecretValue) <= 2, "{stats:?}");
    // Item types come from `/describe-item` or `/list-items`, never twice
    // per name; here the batched read answers every name, so the one
    // listing sent with it is dropped (it reached the server or not).
    let lookups = stats.requests(Operation::DescribeItem) + stats.requests(Operation::ListItems);
    assert!(lookups <= 1, "{stats:?}");

    let summary = run.summary();
    assert_eq!(
        (
            summary.secrets,
            summary.providers,
            summary.logins,
            summary.retries
        ),
        (50, 1, 1, 0)
    );
    // Calls made: the login, the read, and the listing if it was started
    // before the read answered (it reached the server or not).
    assert!(
        (2..=3).contains(&summary.api_calls) && summary.api_calls >= stats.total_requests(),
        "{stats:?} {}",
        run.stderr()
    );
    let line = run
        .stderr()
        .lines()
        .find(|l| l.starts_with("50 secrets from 1 provider in "))
        .map(str::to_string);
    let expected_tail = format!(" ms (1 login, {} API calls, 0 retries)", summary.api_calls);
    assert!(
        line.as_deref().is_some_and(|l| l.ends_with(&expected_tail)),
        "{}",
        run.stderr()
    );
}

/// Over TLS the client and the emulator agree on HTTP/2 (ALPN), and a job
/// whose login, lookups and reads go out in waves of many requests shares
/// one connection: on a real network each new connection would cost a TCP
/// and a TLS handshake.
#[test]
fn over_tls_a_job_speaks_http2_on_one_connection() {
    let mut seed = Seed::demo();
    let mut job = String::from(
        "deploy:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-demoaccess01\n  secrets:\n",
    );
    let block = |name: &str| {
        format!(
            "      file: false\n      akeyless:\n        name: {name}\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL\n        akeyless_access_type: api_key\n        akeyless_access_key: {DEMO_ACCESS_KEY}\n"
        )
    };
    for i in 0..40 {
        seed = seed.with_item(
            format!("/demo/bulk/secret-{i:02}"),
            Item::static_text(format!("bulk-value-{i:02}")),
        );
        write!(
            job,
            "    SECRET_{i:02}:\n{}",
            block(&format!("/demo/bulk/secret-{i:02}"))
        )
        .unwrap();
    }
    // Dynamic items: the optimistic read fails and a third wave issues them.
    write!(job, "    DYNAMIC_DB:\n{}", block("/demo/dynamic/db")).unwrap();
    write!(job, "    DYNAMIC_AWS:\n{}", block("/demo/dynamic/aws")).unwrap();
    let harness = Harness::with(Emulator::builder().seed(seed).tls(true));
    let project = Project::new();
    let ca = project.write("emulator-ca.pem", &harness.emulator.ca_pem().unwrap());
    project.write(
        "ci-secrets.toml",
        &format!("[http]\nca_file = {:?}\n", ca.display().to_string()),
    );
    let file = project.write(".gitlab-ci.yml", &job);
    let run = Run::of(
        project
            .resolve(&file, "json")
            .arg("--var")
            .arg(harness.url_var()),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let values = run.json();
    assert_eq!(values["SECRET_39"], "bulk-value-39");
    assert!(values["DYNAMIC_DB"].as_str().unwrap().contains("tmp-"));
    let stats = harness.stats();
    assert_eq!(
        (stats.connections, stats.h2_connections),
        (1, 1),
        "{stats:?}"
    );
}

/// Runs `resolve` of `job` and watches the emulator until it has seen
/// `connections` connections or `too_late` (the phase they should open in
/// is over), whichever comes first: returns the connections then and
/// whether it was too late, with the run's output once it succeeded.
fn connections_before(
    harness: &Harness,
    job: &str,
    connections: u64,
    too_late: impl Fn(&akeyless_emulator::Stats) -> bool,
) -> ((u64, bool), std::process::Output) {
    let project = Project::new();
    let file = project.write(".gitlab-ci.yml", job);
    let child = project
        .resolve(&file, "json")
        .arg("--var")
        .arg(harness.url_var())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let seen = loop {
        let stats = harness.stats();
        let late = too_late(&stats);
        if stats.connections >= connections || late || started.elapsed().as_secs() >= 10 {
            break (stats.connections, late);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (seen, output)
}

/// Over plain HTTP/1.1 each request of the wave after the login needs a
/// connection of its own. They are opened while the login is in flight (here
/// held for seconds), and the wave uses exactly those: no request waits for
/// a handshake, and no connection is opened for nothing.
#[test]
fn over_plain_http_the_next_wave_connects_while_the_login_is_in_flight() {
    let mut seed = Seed::new()
        .with_access(Access::access_key("p-bulk0000001", "bulk-access-key").allow("/ci/*"));
    let mut job = String::from(
        "deploy:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-bulk0000001\n  secrets:\n",
    );
    // 150 names in one folder: two batched reads and one listing, at once.
    for i in 0..150 {
        seed = seed.with_item(
            format!("/ci/secret-{i:03}"),
            Item::static_text(format!("bulk-value-{i:03}")),
        );
        write!(
            job,
            "    SECRET_{i:03}:\n      file: false\n      akeyless:\n        name: /ci/secret-{i:03}\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL\n        akeyless_access_type: api_key\n        akeyless_access_key: bulk-access-key\n"
        )
        .unwrap();
    }
    let harness = Harness::with(Emulator::builder().seed(seed));
    harness
        .faults()
        .fail_next(Operation::Auth, 1, Fault::Delay(Duration::from_secs(3)))
        .unwrap();
    // While the login is held, the connections of the wave appear.
    let wave = 3;
    let (during_login, output) = connections_before(&harness, &job, wave, |stats| {
        stats.requests(Operation::GetSecretValue) > 0
    });
    assert_eq!(
        during_login,
        (wave, false),
        "connections while the login was held"
    );
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(values["SECRET_149"], "bulk-value-149");
    let stats = harness.stats();
    assert_eq!(stats.requests(Operation::GetSecretValue), 2, "{stats:?}");
    assert_eq!(stats.connections, wave, "{stats:?}");
}

#[test]
fn over_plain_http_the_typed_reads_connect_as_soon_as_the_types_are_known() {
    // 8 rotated secrets and 2 static ones in one folder: after the login,
    // one optimistic batched read (it fails: rotated items are not static)
    // and one listing. The listing answers while the read is held; the
    // typed wave (8 rotated reads and 1 static batch) opens its connections
    // then, not after the held read.
    let mut seed = Seed::new()
        .with_access(Access::access_key("p-typed000001", "typed-access-key").allow("/ci/*"));
    let mut job = String::from(
        "deploy:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-typed000001\n  secrets:\n",
    );
    let names = (0..8)
        .map(|i| {
            (
                format!("/ci/rotated-{i}"),
                Item::rotated(json!({"password": format!("rotated-value-{i}")})),
            )
        })
        .chain((0..2).map(|i| {
            (
                format!("/ci/static-{i}"),
                Item::static_text(format!("static-value-{i}")),
            )
        }));
    for (i, (name, item)) in names.enumerate() {
        seed = seed.with_item(name.clone(), item);
        write!(
            job,
            "    SECRET_{i}:\n      file: false\n      akeyless:\n        name: {name}\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL\n        akeyless_access_type: api_key\n        akeyless_access_key: typed-access-key\n"
        )
        .unwrap();
    }
    let harness = Harness::with(Emulator::builder().seed(seed));
    harness
        .faults()
        .fail_next(
            Operation::GetSecretValue,
            1,
            Fault::Delay(Duration::from_secs(3)),
        )
        .unwrap();
    let typed_wave = 9;
    let (while_held, output) = connections_before(&harness, &job, typed_wave, |stats| {
        stats.requests(Operation::GetRotatedSecretValue) > 0
    });
    assert_eq!(
        while_held,
        (typed_wave, false),
        "connections while the optimistic read was held"
    );
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(values["SECRET_9"], "static-value-1");
    let stats = harness.stats();
    assert_eq!(
        stats.requests(Operation::GetRotatedSecretValue),
        8,
        "{stats:?}"
    );
    assert_eq!(stats.requests(Operation::ListItems), 1, "{stats:?}");
    assert_eq!(stats.connections, typed_wave, "{stats:?}");
}

#[test]
fn two_identities_in_one_job_take_exactly_two_logins() {
    // One job has one AKEYLESS_ACCESS_ID, so its identities differ by API URL,
    // access type or credential. Here: the same server reached at its root
    // and at its `/api/v2` prefix, three secrets each.
    let harness = Harness::demo();
    let project = Project::new();
    let mut job = String::from(
        "deploy:\n  script: [x]\n  variables:\n    AKEYLESS_ACCESS_ID: p-demoaccess01\n  secrets:\n",
    );
    let items = [
        ("/demo/static/password", ""),
        ("/demo/static/db", "password"),
        ("/demo/rotated/admin", "password"),
    ];
    for (prefix, suffix) in [("ROOT", ""), ("API_V2", "/api/v2")] {
        for (i, (name, data_key)) in items.iter().enumerate() {
            write!(
                job,
                "    {prefix}_{i}:\n      file: false\n      akeyless:\n        name: {name}\n        akeyless_api_url: $AKEYLESS_EMULATOR_URL{suffix}\n        akeyless_access_type: api_key\n        akeyless_access_key: {DEMO_ACCESS_KEY}\n"
            )
            .unwrap();
            if !data_key.is_empty() {
                writeln!(job, "        data_key: {data_key}").unwrap();
            }
        }
    }
    let file = project.write(".gitlab-ci.yml", &job);
    let run = Run::of(
        project
            .resolve(&file, "json")
            .arg("--var")
            .arg(harness.url_var()),
    );
    let values = run.json();
    for prefix in ["ROOT", "API_V2"] {
        assert_eq!(values[format!("{prefix}_0")], PASSWORD);
        assert_eq!(values[format!("{prefix}_1")], "demo-db-password");
        assert_eq!(values[format!("{prefix}_2")], "demo-rotated-password");
    }
    let stats = harness.stats();
    assert_eq!(stats.requests(Operation::Auth), 2, "{stats:?}");
    assert_eq!(stats.logins, 2);
    let summary = run.summary();
    assert_eq!(
        (summary.secrets, summary.logins, summary.retries),
        (6, 2, 0)
    );
    assert_eq!(summary.api_calls, stats.total_requests());
}

#[test]
fn two_429s_then_success_resolves_and_the_summary_counts_the_retries() {
    let harness = Harness::demo();
    // `Retry-After: 0`: honoured, and the test does not wait.
    harness
        .faults()
        .fail_next(
            Operation::GetSecretValue,
            2,
            Fault::too_many_requests(Duration::ZERO),
        )
        .unwrap();
    let project = fast_project();
    let files = project.path().join("files");
    let run = resolve_api_key_job(&harness, &project, &files);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stdout()
            .contains(&format!("DATABASE_PASSWORD_2='{PASSWORD}'")),
        "{}",
        run.stdout()
    );
    assert_eq!(
        std::fs::read_to_string(files.join("DATABASE_PASSWORD")).unwrap(),
        PASSWORD
    );
    let stats = harness.stats();
    assert_eq!(stats.faults_injected, 2);
    assert_eq!(stats.requests(Operation::GetSecretValue), 3);
    let summary = run.summary();
    assert_eq!(
        (summary.logins, summary.retries),
        (1, 2),
        "{}",
        run.stderr()
    );
    assert_eq!(summary.api_calls, stats.total_requests());
}

#[test]
fn endless_503s_end_in_a_clean_exit_3_within_the_deadline() {
    let harness = Harness::demo();
    harness
        .faults()
        .set_random_failures(Some(RandomFailures::new(1.0, 503).unwrap()));
    let project = Project::new();
    project.write("ci-secrets.toml", RETRY_UNTIL_THE_DEADLINE);
    let files = project.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let run = Run::of(
        project
            .resolve(&job_file("api-key.yml"), "dotenv")
            .args(["--deadline", "2", "--files-dir"])
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var()),
    );
    assert_clean_failure(&run, &files);
    // 1000 attempts of at most 50 ms cannot run out first: the deadline ended
    // it, and promptly (slack for process start and a last request).
    assert!(
        run.elapsed >= Duration::from_millis(1500),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.elapsed < Duration::from_secs(6),
        "took {:?}",
        run.elapsed
    );
    let stderr = run.stderr();
    assert!(
        stderr.contains("503") || stderr.contains("deadline"),
        "{stderr}"
    );
    assert!(stderr.contains("DATABASE_PASSWORD"), "{stderr}");
    // It did retry, and stopped: only logins were attempted.
    let stats = harness.stats();
    assert!(stats.requests(Operation::Auth) >= 2, "{stats:?}");
    assert_eq!(stats.logins, 0);
}

#[test]
fn a_connection_reset_on_a_read_is_retried() {
    let harness = Harness::demo();
    harness
        .faults()
        .fail_next(Operation::GetSecretValue, 1, Fault::ResetConnection)
        .unwrap();
    let project = fast_project();
    let files = project.path().join("files");
    let run = resolve_api_key_job(&harness, &project, &files);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(
        std::fs::read_to_string(files.join("DATABASE_PASSWORD")).unwrap(),
        PASSWORD
    );
    assert_eq!(harness.stats().requests(Operation::GetSecretValue), 2);
    assert_eq!(run.summary().retries, 1);
}

#[test]
fn a_connection_reset_on_an_issuance_is_not_retried() {
    let harness = Harness::demo();
    harness
        .faults()
        .fail_next(Operation::GetSshCertificate, 1, Fault::ResetConnection)
        .unwrap();
    let project = fast_project();
    let files = project.path().join("files");
    let jwt = demo_jwt();
    let run = Run::of(
        project
            .resolve(&job_file("ssh-certificate.yml"), "dotenv")
            .arg("--files-dir")
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={jwt}"))
            .arg("--var")
            .arg("SSH_PUBLIC_KEY=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPU0/GU1X/Lh1BMUk9ODu9gfmOEg0Oya/H/4EBrM7VD test"),
    );
    assert_clean_failure(&run, &files);
    run.assert_no_leak(&[&jwt]);
    let stderr = run.stderr();
    assert!(
        stderr.contains("SSH_CERT") && stderr.contains("get-ssh-certificate"),
        "{stderr}"
    );
    // The request may have been acted on: a second certificate is not asked for.
    assert_eq!(harness.stats().requests(Operation::GetSshCertificate), 1);
}

#[test]
fn a_malformed_json_body_fails_clearly() {
    let harness = Harness::demo();
    harness
        .faults()
        .fail_next(Operation::GetSecretValue, 1, Fault::MalformedJson)
        .unwrap();
    let project = fast_project();
    let files = project.path().join("files");
    let run = resolve_api_key_job(&harness, &project, &files);
    assert_clean_failure(&run, &files);
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "POST /get-secret-value answered HTTP 200 with a body that is not the expected JSON"
        ),
        "{stderr}"
    );
}

#[test]
fn a_ten_megabyte_body_is_refused_with_a_clear_error() {
    let harness = Harness::demo();
    harness
        .faults()
        .fail_next(
            Operation::GetSecretValue,
            1,
            Fault::OversizedBody {
                bytes: 10 * 1024 * 1024 + 1,
            },
        )
        .unwrap();
    let project = fast_project();
    let files = project.path().join("files");
    let run = resolve_api_key_job(&harness, &project, &files);
    assert_clean_failure(&run, &files);
    let stderr = run.stderr();
    assert!(
        stderr.contains("larger than the 10485760-byte limit"),
        "{stderr}"
    );
    assert!(stderr.contains("get-secret-value"), "{stderr}");
    // Refused, not retried.
    assert_eq!(harness.stats().requests(Operation::GetSecretValue), 1);
}

#[test]
fn a_rejected_access_key_fails_without_showing_it() {
    let harness = Harness::demo();
    let project = Project::new();
    let wrong_key = "wrong-access-key-that-must-not-leak";
    let files = project.path().join("files");
    let run = Run::of(
        project
            .resolve(&job_file("api-key.yml"), "dotenv")
            .arg("--files-dir")
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_ACCESS_KEY={wrong_key}")),
    );
    assert_clean_failure(&run, &files);
    run.assert_no_leak(&[wrong_key]);
    let stderr = run.stderr();
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("p-demoaccess01"),
        "{stderr}"
    );
    assert_eq!(
        harness.stats().failed_logins,
        1,
        "a rejected login is not retried"
    );
}

#[test]
fn a_denied_item_fails_without_showing_the_jwt_or_any_value() {
    let harness = Harness::demo();
    let project = Project::new();
    let jwt = demo_jwt();
    let job = project.write(
        ".gitlab-ci.yml",
        "deploy:
  script: [x]
  variables:
    AKEYLESS_ACCESS_ID: p-demojwtauth1
  secrets:
    ALLOWED:
      token: $AKEYLESS_JWT
      akeyless: {name: /demo/static/password, akeyless_api_url: $AKEYLESS_EMULATOR_URL}
    RESTRICTED:
      token: $AKEYLESS_JWT
      akeyless: {name: /restricted/admin-token, akeyless_api_url: $AKEYLESS_EMULATOR_URL}
",
    );
    let files = project.path().join("files");
    let run = Run::of(
        project
            .resolve(&job, "dotenv")
            .arg("--files-dir")
            .arg(&files)
            .arg("--var")
            .arg(harness.url_var())
            .arg("--var")
            .arg(format!("AKEYLESS_JWT={jwt}")),
    );
    assert_clean_failure(&run, &files);
    run.assert_no_leak(&[&jwt]);
    let stderr = run.stderr();
    assert!(
        stderr.contains("RESTRICTED") && stderr.contains("/restricted/admin-token"),
        "{stderr}"
    );
}
