//! What the provider sends, checked on the wire with a recording server: the
//! Vault rows of GitLab's payload vectors (`gitlab-payload-and-scheduling.yaml`),
//! headers on every request, and checks that stop a job before any request.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ci_secrets_provider_api::{
    ErrorKind, HttpSettings, JobVariables, ResolveContext, SecretRequest,
};
use serde_json::{Value, json};
use support::recording::{Recorder, Route};
use support::{context, provider, resolve, text};

fn payload_rows() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/gitlab/gitlab-payload-and-scheduling.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {path}: {err}"));
    let rows: Vec<Value> = serde_norway::from_str(&text).expect("the vectors parse");
    rows.into_iter()
        .filter(|row| {
            serde_json::to_string(&row["secrets"])
                .is_ok_and(|secrets| secrets.contains("\"vault\""))
        })
        .collect()
}

/// Payload rows that are not about what this provider sends, with the reason.
fn not_applicable(id: &str) -> Option<&'static str> {
    match id {
        "presenter-vault-file-directive" => Some("`file:` delivery is the core's job"),
        "api-runner-unsupported" | "api-not-licensed" => {
            Some("GitLab's job hand-out (runner features, licence); there is no runner in between")
        }
        "secrets-provider-v2-mixed-vault-url" | "secrets-provider-v2-mixed-no-vault-url" => {
            Some("mixes in gitlab_secrets_manager, which ci-secrets has no provider for")
        }
        _ => None,
    }
}

/// Runs each Vault payload row: the value GitLab puts in the runner payload
/// must be what the provider sends to Vault.
#[tokio::test]
async fn vault_rows_of_the_runner_payload() {
    let mut ran = 0;
    for row in payload_rows() {
        let id = row["id"].as_str().expect("an id");
        if let Some(reason) = not_applicable(id) {
            println!("not applicable: {id}: {reason}");
            continue;
        }
        match row["kind"].as_str() {
            Some("runner_payload") | Some("job_request_response") => payload_row(id, &row).await,
            Some("secrets_provider_check") => provider_check_row(id, &row),
            other => panic!("{id}: unknown kind {other:?}"),
        }
        ran += 1;
    }
    assert!(ran >= 12, "too few payload rows ran: {ran}");
}

async fn payload_row(id: &str, row: &Value) {
    let recorder = Recorder::start(vec![
        Route::login("jwt", "t"),
        Route::login("custom/path", "t"),
        Route::new(
            "GET",
            "/v1/kv-v2/data/production/db",
            200,
            json!({"data": {"data": {"password": "pw"}}}),
        ),
    ])
    .await;
    let secret = &row["secrets"]["DATABASE_PASSWORD"];
    let mut variables: Vec<(String, String)> = row["ci_variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_string()))
        .collect();
    for (name, value) in &mut variables {
        if name == "VAULT_SERVER_URL" {
            *value = recorder.url.clone();
        }
    }
    let id_tokens: Vec<&str> = row["id_tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    // GitLab mints each ID token; here each holds a JWT named after it.
    for name in &id_tokens {
        variables.push((name.to_string(), format!("jwt-of-{name}")));
    }
    variables.push(("CI_JOB_JWT".to_string(), "jwt-of-CI_JOB_JWT".to_string()));
    let mut request = SecretRequest::new("DATABASE_PASSWORD", secret["vault"].clone());
    if let Some(token) = secret["token"].as_str() {
        // The core expands `token:` before the provider sees it.
        let name = token.trim_start_matches('$');
        request = request.with_token(format!("jwt-of-{name}"));
    }
    let variable_pairs: Vec<(&str, &str)> = variables
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let ctx = context(&variable_pairs, &id_tokens);
    let results = resolve(&*provider(json!({})), &ctx, &[request]).await;
    assert_eq!(text(&results[0]), "pw", "{id}");

    let requests = recorder.requests();
    let login = requests
        .iter()
        .find(|r| r.path.ends_with("/login"))
        .expect("a login");
    let dig: Vec<&str> = row["dig"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let expected = &row["expected"];
    match dig.as_slice() {
        [.., "server", "url"] => assert!(
            !requests.is_empty(),
            "{id}: requests go to VAULT_SERVER_URL"
        ),
        [.., "auth", "data", "role"] => assert_eq!(login.body["role"], *expected, "{id}"),
        [.., "auth", "data"] => {
            let key = expected.as_str().unwrap();
            assert!(login.body.get(key).is_none(), "{id}: {:?}", login.body);
        }
        [.., "auth", "path"] => {
            assert_eq!(
                login.path,
                format!("/v1/auth/{}/login", expected.as_str().unwrap()),
                "{id}"
            )
        }
        [.., "namespace"] => {
            for request in &requests {
                assert_eq!(
                    request.header("x-vault-namespace"),
                    expected.as_str(),
                    "{id}"
                );
            }
        }
        [.., "auth", "data", "jwt"] => {
            let name = expected.as_str().unwrap().trim_start_matches('$');
            assert_eq!(login.body["jwt"], format!("jwt-of-{name}"), "{id}");
        }
        [] if id == "api-vault-full" => {
            let server = &row["expected_secrets_json"]["DATABASE_PASSWORD"]["vault"]["server"];
            assert_eq!(
                login.path,
                format!(
                    "/v1/auth/{}/login",
                    server["auth"]["path"].as_str().unwrap()
                )
            );
            assert_eq!(login.body["role"], server["auth"]["data"]["role"], "{id}");
            // `${CI_JOB_JWT}`: no token: and no id_tokens.
            assert_eq!(login.body["jwt"], "jwt-of-CI_JOB_JWT", "{id}");
            assert!(
                requests
                    .iter()
                    .all(|r| r.header("x-vault-namespace").is_none()),
                "{id}"
            );
        }
        _ => panic!("{id}: row neither run nor listed as not applicable"),
    }
}

/// GitLab refuses a Vault job without `VAULT_SERVER_URL`; ci-secrets stops it
/// at preflight, before any request.
fn provider_check_row(id: &str, row: &Value) {
    let variables: Vec<(&str, &str)> = row["project_ci_variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.as_str(), value.as_str().unwrap_or_default()))
        .collect();
    let secrets = row["secrets"].as_object().expect("the job's secrets");
    let requests: Vec<SecretRequest> = secrets
        .iter()
        .map(|(name, secret)| SecretRequest::new(name, secret["vault"].clone()).with_token("j"))
        .collect();
    let ctx = context(&variables, &[]);
    let outcome = provider(json!({})).preflight(&ctx, &requests);
    if row["expected"] == true {
        // GitLab checks presence only. ci-secrets also refuses the row's
        // `server_url`, which is not a URL, and `path: secret` without a
        // field; neither is the missing-server error GitLab's check is about.
        if let Err(err) = &outcome {
            assert!(
                !err.message().starts_with("VAULT_SERVER_URL is not set"),
                "{id}: {err}"
            );
        }
    } else {
        let err = outcome.expect_err("no VAULT_SERVER_URL");
        assert_eq!(err.kind(), ErrorKind::Config, "{id}");
        assert!(
            err.message().starts_with("VAULT_SERVER_URL is not set"),
            "{id}: {err}"
        );
    }
}

/// The reads fail until the deadline passes: the run is over, but its token
/// is still revoked, by `finish` with a context of its own.
#[tokio::test]
async fn the_token_is_revoked_even_when_the_reads_ran_out_of_time() {
    let recorder = Recorder::start(vec![
        Route::login("jwt", "vault-token-1"),
        Route::new(
            "GET",
            "/v1/kv-v2/data/app",
            503,
            json!({"errors": ["Vault is sealed"]}),
        ),
        Route::new("POST", "/v1/auth/token/revoke-self", 204, Value::Null),
    ])
    .await;
    let mut settings = HttpSettings::default();
    settings.initial_backoff = Duration::from_millis(5);
    settings.max_backoff = Duration::from_millis(20);
    settings.max_attempts = 1000;
    let ctx = ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter([
            ("VAULT_SERVER_URL", recorder.url.as_str()),
            ("ID", "the-jwt"),
        ]))
        .id_token_names(vec!["ID".to_string()])
        .http(settings)
        .timeout(Duration::from_millis(500))
        .build();
    let requests = [SecretRequest::new("A", json!("app/a"))];
    let results = resolve(&*provider(json!({"revoke_token": true})), &ctx, &requests).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deadline, "{err}");

    let sent = recorder.requests();
    assert_eq!(
        sent.first().map(|r| r.path.as_str()),
        Some("/v1/auth/jwt/login")
    );
    let last = sent.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("POST", "/v1/auth/token/revoke-self")
    );
    assert_eq!(last.header("x-vault-token"), Some("vault-token-1"));
}

#[tokio::test]
async fn every_request_carries_the_namespace_and_the_token_is_revoked() {
    let recorder = Recorder::start(vec![
        Route::login("jwt", "vault-token-1"),
        Route::new(
            "GET",
            "/v1/kv-v2/data/app",
            200,
            json!({"data": {"data": {"a": "1", "b": "2"}}}),
        ),
        Route::new("POST", "/v1/auth/token/revoke-self", 204, Value::Null),
    ])
    .await;
    let ctx = context(
        &[
            ("VAULT_SERVER_URL", recorder.url.as_str()),
            ("VAULT_NAMESPACE", "team-a"),
            ("ID", "the-jwt"),
        ],
        &["ID"],
    );
    let requests = [
        SecretRequest::new("A", json!("app/a")),
        SecretRequest::new("B", json!("app/b")),
    ];
    let results = resolve(&*provider(json!({"revoke_token": true})), &ctx, &requests).await;
    assert_eq!((text(&results[0]), text(&results[1])), ("1", "2"));

    let sent = recorder.requests();
    let paths: Vec<(&str, &str)> = sent
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("PUT", "/v1/auth/jwt/login"),
            // Both secrets are fields of one path: it is read once.
            ("GET", "/v1/kv-v2/data/app"),
            ("POST", "/v1/auth/token/revoke-self"),
        ]
    );
    for request in &sent {
        assert_eq!(
            request.header("x-vault-namespace"),
            Some("team-a"),
            "{}",
            request.path
        );
        assert_eq!(
            request.header("x-vault-request"),
            Some("true"),
            "{}",
            request.path
        );
    }
    assert_eq!(
        sent[0].header("x-vault-token"),
        None,
        "the login carries no token"
    );
    assert_eq!(sent[0].body, json!({"jwt": "the-jwt"}));
    for request in &sent[1..] {
        assert_eq!(
            request.header("x-vault-token"),
            Some("vault-token-1"),
            "{}",
            request.path
        );
    }
}

#[tokio::test]
async fn secrets_of_one_path_share_its_read_and_each_keeps_its_own_error() {
    let recorder = Recorder::start(vec![
        Route::login("jwt", "t"),
        Route::new(
            "GET",
            "/v1/kv-v2/data/app",
            200,
            json!({"data": {"data": {"user": "u"}}}),
        ),
        Route::new("GET", "/v1/kv-v2/data/gone", 404, json!({"errors": []})),
        Route::new(
            "GET",
            "/v1/kv-v2/data/other",
            200,
            json!({"data": {"data": {"user": "o"}}}),
        ),
    ])
    .await;
    let ctx = context(
        &[("VAULT_SERVER_URL", recorder.url.as_str()), ("ID", "j")],
        &["ID"],
    );
    let requests = [
        SecretRequest::new("USER", json!("app/user")),
        SecretRequest::new("PASSWORD", json!("app/password")),
        SecretRequest::new("GONE_A", json!("gone/a")),
        SecretRequest::new("OTHER", json!("other/user")),
        SecretRequest::new("GONE_B", json!("gone/b")),
        SecretRequest::new("USER_AGAIN", json!("app/user")),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "u");
    let no_field = results[1].as_ref().unwrap_err();
    assert_eq!(no_field.kind(), ErrorKind::NotFound);
    assert!(
        no_field
            .to_string()
            .contains(r#"field "password" of "app""#),
        "{no_field}"
    );
    for (index, reference) in [(2, r#"field "a" of "gone""#), (4, r#"field "b" of "gone""#)] {
        let err = results[index].as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains(reference), "{err}");
    }
    assert_eq!(text(&results[3]), "o");
    assert_eq!(text(&results[5]), "u");

    let reads: Vec<String> = recorder
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    for path in [
        "/v1/kv-v2/data/app",
        "/v1/kv-v2/data/gone",
        "/v1/kv-v2/data/other",
    ] {
        assert!(reads.iter().any(|read| read == path), "{reads:?}");
    }
}

#[tokio::test]
async fn a_path_in_the_server_url_is_kept() {
    let recorder = Recorder::start(vec![
        Route::login("jwt", "t").with_prefix("/vault"),
        Route::new(
            "GET",
            "/vault/v1/kv-v2/data/app",
            200,
            json!({"data": {"data": {"a": "1"}}}),
        ),
    ])
    .await;
    let url = format!("{}/vault/", recorder.url);
    let ctx = context(&[("VAULT_SERVER_URL", url.as_str()), ("ID", "j")], &["ID"]);
    let results = resolve(
        &*provider(json!({})),
        &ctx,
        &[SecretRequest::new("A", json!("app/a"))],
    )
    .await;
    assert_eq!(text(&results[0]), "1");
}

#[tokio::test]
async fn an_unreadable_vault_cacert_fails_every_secret_before_any_request() {
    let recorder = Recorder::start(vec![]).await;
    let ctx = context(
        &[
            ("VAULT_SERVER_URL", recorder.url.as_str()),
            ("VAULT_CACERT", "/no/such/ca.pem"),
            ("ID", "j"),
        ],
        &["ID"],
    );
    let requests = [
        SecretRequest::new("A", json!("app/a")),
        SecretRequest::new("B", json!("app/b")),
    ];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.to_string()
                .starts_with("VAULT_CACERT: cannot read /no/such/ca.pem"),
            "{err}"
        );
    }
    assert!(recorder.requests().is_empty());
}

#[tokio::test]
async fn preflight_names_the_variable_of_a_bad_block() {
    let ctx = context(
        &[
            ("VAULT_SERVER_URL", "https://vault.example.com"),
            ("ID", "j"),
        ],
        &["ID"],
    );
    let requests = [
        SecretRequest::new("GOOD", json!("app/a")),
        SecretRequest::new(
            "BAD",
            json!({"engine": {"name": "kv-v2", "path": "kv"}, "path": "app"}),
        ),
    ];
    let err = provider(json!({})).preflight(&ctx, &requests).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.message(),
        "BAD: the vault: block is not valid: missing field `field`"
    );
}

/// A login answer without `auth` whose token is `data.id`, as Vault's Go
/// client (and so GitLab Runner) accepts it: the token reads the secret.
#[tokio::test]
async fn a_login_answer_with_only_data_id_is_the_token() {
    let recorder = Recorder::start(vec![
        Route::new(
            "PUT",
            "/v1/auth/jwt/login",
            200,
            json!({"auth": null, "data": {"id": "vault-token-from-data", "policies": ["default"]}}),
        ),
        Route::new(
            "GET",
            "/v1/kv-v2/data/app",
            200,
            json!({"data": {"data": {"a": "1"}}}),
        ),
    ])
    .await;
    let ctx = context(
        &[
            ("VAULT_SERVER_URL", recorder.url.as_str()),
            ("ID", "the-jwt"),
        ],
        &["ID"],
    );
    let requests = [SecretRequest::new("A", json!("app/a"))];
    let results = resolve(&*provider(json!({})), &ctx, &requests).await;
    assert_eq!(text(&results[0]), "1");
    let sent = recorder.requests();
    assert_eq!(sent[1].path, "/v1/kv-v2/data/app");
    assert_eq!(
        sent[1].header("x-vault-token"),
        Some("vault-token-from-data")
    );
}
