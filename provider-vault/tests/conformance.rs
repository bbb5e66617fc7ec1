//! The Vault rows of GitLab Runner's resolution vectors
//! (`tests/data/gitlab/runner-resolution.yaml`), run against a local server
//! that gives each row's canned answers and records what the provider sent.
//!
//! Every `provider: vault` row is either run or listed in [`not_applicable`]
//! with the reason; a new row that is neither fails the test.
// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ci_secrets_provider_api::{ErrorKind, SecretRequest, SecretResult};
use serde_json::{Value, json};
use support::recording::{Recorder, Route};
use support::{context, provider};

const VARIABLE: &str = "VAULT_SECRET";

fn vault_rows() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/gitlab/runner-resolution.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {path}: {err}"));
    let rows: Vec<Value> = serde_norway::from_str(&text).expect("the vectors parse");
    rows.into_iter()
        .filter(|row| row["provider"] == "vault")
        .collect()
}

/// Rows that do not apply to ci-secrets, with the reason.
fn not_applicable(id: &str) -> Option<&'static str> {
    let reason = match id {
        "vault-resolve-unsupported" => {
            "a secret without a `vault` key never reaches this provider: the core picks providers by key"
        }
        "vault-service-new-error-on-vault-client-creation"
        | "vault-service-new-auth-method-initialization-error"
        | "vault-client-new-error-on-client-creation" => {
            "a mocked Go constructor failure; our client fails to build only on a bad VAULT_SERVER_URL or CA, \
             which the settings and config unit tests cover"
        }
        "vault-service-new-unknown-auth-method-factory" => {
            "GitLab always sends the auth method name `jwt`; JWT login is the only method, not a pluggable factory"
        }
        "vault-kv2-put-succeeded"
        | "vault-kv2-delete-error"
        | "vault-generic-put-error"
        | "vault-generic-put-succeeded"
        | "vault-generic-delete-succeeded"
        | "vault-client-write-error-on-writing"
        | "vault-client-write-successful-writing"
        | "vault-client-delete-error-on-reading"
        | "vault-client-delete-api-response-type-error-on-reading"
        | "vault-client-delete-successful-reading" => {
            "ci-secrets only reads secrets (and writes only the login, covered by the vault-jwt-login rows); \
             GitLab's resolver never writes or deletes either"
        }
        "vault-engine-op-unsupported-get" | "vault-engine-op-unsupported-delete" => {
            "every engine ci-secrets accepts supports reading, and nothing is deleted, so this Go error cannot occur"
        }
        "vault-registry-already-registered" | "vault-registry-not-registered" => {
            "the Go factory registry; an unknown engine name is run as vault-service-get-field-unknown-engine-factory"
        }
        "vault-auth-missing-key-message" => {
            "a Go error text; a missing JWT is reported with the variable to set (run as vault-jwt-new-missing-required-key)"
        }
        "vault-client-new-vault-health-check-error"
        | "vault-client-new-vault-server-not-initialized"
        | "vault-client-new-vault-server-sealed"
        | "vault-client-new-vault-client-initialized" => {
            "the Akeyless-era client called sys/health first; current GitLab Runner and ci-secrets do not: a sealed \
             or uninitialized server answers the login with a 5xx, which is retried, then reported with Vault's text"
        }
        "vault-client-read-api-response-type-error-on-reading"
        | "vault-unwrap-nil"
        | "vault-unwrap-non-api"
        | "vault-unwrapped-error-message" => {
            "Go error unwrapping; ci-secrets reports a failed call as `<operation> failed with HTTP <status>: <Vault's \
             errors>` (run by the read and login error rows)"
        }
        "vault-result-data-nil" | "vault-result-data-nonnil" => {
            "a Go accessor of the API answer; absent and present data are run by the kv-v2 and generic Get rows"
        }
        "expand-vault-vault-missing-data" | "expand-vault-vault-missing-jwt-data" => {
            "variable expansion happens in the core before the provider runs (resolver-core's tests)"
        }
        _ => return None,
    };
    Some(reason)
}

#[tokio::test]
async fn vault_rows_of_runner_resolution() {
    let rows = vault_rows();
    assert!(
        rows.len() >= 61,
        "expected the 61 Vault rows, found {}",
        rows.len()
    );
    let mut ran = Vec::new();
    let mut skipped = Vec::new();
    for row in &rows {
        let id = row["id"].as_str().expect("every row has an id");
        if let Some(reason) = not_applicable(id) {
            skipped.push((id, reason));
            continue;
        }
        run_row(id, row).await;
        ran.push(id);
    }
    println!("ran {} Vault rows: {}", ran.len(), ran.join(", "));
    for (id, reason) in &skipped {
        println!("not applicable: {id}: {reason}");
    }
    assert!(ran.len() >= 25, "too few rows ran: {ran:?}");
}

async fn run_row(id: &str, row: &Value) {
    match row["layer"].as_str() {
        Some("resolver") => resolver_row(id, row).await,
        Some("secret_engine")
            if row["call"]
                .as_str()
                .is_some_and(|call| call.starts_with("Get(")) =>
        {
            engine_get_row(id, row).await
        }
        Some("secret_engine") if row["call"] == "EngineName()" => engine_name_row(id, row).await,
        Some("auth_method") => auth_row(id, row).await,
        _ => other_row(id, row).await,
    }
}

/// A job with a recording server, a role and a JWT, resolving one secret.
struct Job {
    recorder: Recorder,
    variables: Vec<(String, String)>,
}

impl Job {
    async fn start(routes: Vec<Route>) -> Job {
        let recorder = Recorder::start(routes).await;
        let variables = vec![("VAULT_SERVER_URL".to_string(), recorder.url.clone())];
        Job {
            recorder,
            variables,
        }
    }

    fn set(mut self, name: &str, value: &str) -> Job {
        self.variables.push((name.to_string(), value.to_string()));
        self
    }

    async fn resolve(&self, request: SecretRequest) -> SecretResult {
        let variables: Vec<(&str, &str)> = self
            .variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let ctx = context(&variables, &[]);
        let provider = provider(json!({}));
        provider.preflight(&ctx, std::slice::from_ref(&request))?;
        provider
            .resolve(&ctx, std::slice::from_ref(&request))
            .await
            .pop()
            .expect("one result")
    }
}

/// The answer a row's `server_responses` entry stands for.
fn canned_answer(response: &Value) -> (u16, Value) {
    if let Some(error) = response.get("error") {
        // A failed call: Vault answers with its `errors` list.
        return (400, json!({"errors": [error]}));
    }
    if response.get("result").is_some_and(Value::is_null) {
        // The Go client returns a nil secret for Vault's 404.
        return (404, json!({"errors": []}));
    }
    (
        200,
        json!({"data": response.get("data").cloned().unwrap_or(Value::Null)}),
    )
}

fn hash_secret(engine_name: &str, engine_path: &str, path: &str, field: &str) -> SecretRequest {
    SecretRequest::new(
        VARIABLE,
        json!({"engine": {"name": engine_name, "path": engine_path}, "path": path, "field": field}),
    )
    .with_token("test.jwt")
}

fn split_http(row: &Value) -> (String, String) {
    let http = row["expected_requests"][0]["http"]
        .as_str()
        .expect("an expected HTTP request");
    let (method, path) = http.split_once(' ').expect("`METHOD /path`");
    (method.to_string(), path.to_string())
}

fn assert_error(id: &str, result: &SecretResult, kind: Option<ErrorKind>) {
    let err = result
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("{id}: expected an error"));
    if let Some(kind) = kind {
        assert_eq!(err.kind(), kind, "{id}: {err}");
    }
}

fn assert_value(id: &str, result: &SecretResult, expected: &str) {
    match result {
        Ok(value) => assert_eq!(value.expose_str(), Some(expected), "{id}"),
        Err(err) => panic!("{id}: expected {expected:?}, got {err}"),
    }
}

/// `Get` of a kv-v2 or generic engine: the request path, then what the
/// answer means (value, not found, or error).
async fn engine_get_row(id: &str, row: &Value) {
    let engine = &row["engine"];
    let engine_name = engine["name"].as_str().expect("engine name");
    let engine_path = engine["path"].as_str().expect("engine path");
    let secret_path = row["secret_path"].as_str().expect("secret path");
    let (method, path) = split_http(row);
    let (status, body) = canned_answer(&row["server_responses"][0]);
    let expected = &row["expected_value"];
    // The row's Get returns the whole map; the resolver then picks a field.
    let field = expected
        .as_object()
        .and_then(|map| map.keys().next().cloned())
        .unwrap_or_else(|| "test".to_string());

    let job = Job::start(vec![
        Route::login("jwt", "vault.token"),
        Route::new("GET", path.clone(), status, body),
    ])
    .await;
    let result = job
        .resolve(hash_secret(engine_name, engine_path, secret_path, &field))
        .await;

    let reads: Vec<_> = job
        .recorder
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(reads.len(), 1, "{id}: one read");
    assert_eq!(
        (reads[0].method.as_str(), reads[0].path.as_str()),
        (method.as_str(), path.as_str()),
        "{id}"
    );
    assert_eq!(
        reads[0].header("x-vault-token"),
        Some("vault.token"),
        "{id}"
    );

    if row.get("expected_error").is_some() {
        let kind = if id.ends_with("bogus-data") {
            Some(ErrorKind::Protocol)
        } else {
            None
        };
        assert_error(id, &result, kind);
    } else if expected.is_null() {
        assert_error(id, &result, Some(ErrorKind::NotFound));
    } else {
        let value = expected[&field].as_str().expect("a string field");
        assert_value(id, &result, value);
    }
}

/// The engine names GitLab Runner registers are accepted and read their own path layout.
async fn engine_name_row(id: &str, row: &Value) {
    let name = row["expected_value"].as_str().expect("an engine name");
    let path = match name {
        "kv-v2" => "/v1/kv/data/app",
        "generic" => "/v1/kv/app",
        other => panic!("{id}: unexpected engine {other}"),
    };
    let data = if name == "kv-v2" {
        json!({"data": {"data": {"f": "v"}}})
    } else {
        json!({"data": {"f": "v"}})
    };
    let job = Job::start(vec![
        Route::login("jwt", "t"),
        Route::new("GET", path, 200, data),
    ])
    .await;
    let result = job.resolve(hash_secret(name, "kv", "app", "f")).await;
    assert_value(id, &result, "v");
    // `kv-v1` is the other name of the generic engine.
    if name == "generic" {
        let result = job.resolve(hash_secret("kv-v1", "kv", "app", "f")).await;
        assert_value(id, &result, "v");
    }
}

async fn resolver_row(id: &str, row: &Value) {
    match id {
        "vault-resolver-name" => {
            assert_eq!(
                ci_secrets_provider_vault::registration().key,
                row["expected_value"].as_str().unwrap()
            );
        }
        "vault-is-supported-supported" | "vault-is-supported-unsupported" => {
            // The core dispatches a secret to the provider registered under one of its keys.
            let _ = ci_secrets_provider_vault::registration();
            let keys = row["secret"].as_object().expect("a secret map");
            let supported = keys.keys().any(|key| {
                ci_secrets_provider_api::find_provider(key).is_some_and(|r| r.key == "vault")
            });
            assert_eq!(supported, row["expected_value"] == true, "{id}");
        }
        "vault-resolve-field-struct" => {
            // ci-secrets decision (as D6 for Akeyless): a non-string field is
            // delivered as compact JSON, not Go `%v` text (`{2020-08-24}`).
            let namespace = row["secret"]["vault"]["server"]["namespace"]
                .as_str()
                .unwrap();
            let job = Job::start(vec![
                Route::login("jwt", "t"),
                Route::new(
                    "GET",
                    "/v1/kv-v2/data/app",
                    200,
                    json!({"data": {"data": {"when": {"Date": "2020-08-24"}}}}),
                ),
            ])
            .await
            .set("VAULT_NAMESPACE", namespace);
            let result = job
                .resolve(SecretRequest::new(VARIABLE, json!("app/when")).with_token("j"))
                .await;
            assert_value(id, &result, r#"{"Date":"2020-08-24"}"#);
            assert!(
                job.recorder
                    .requests()
                    .iter()
                    .all(|r| r.header("x-vault-namespace") == Some(namespace))
            );
        }
        _ => panic!("{id}: resolver row neither run nor listed as not applicable"),
    }
}

/// JWT login rows: the login path, the filtered body, and the answer.
async fn auth_row(id: &str, row: &Value) {
    if id == "vault-jwt-new-missing-required-key" {
        // Auth data without a JWT: no `token:`, no `id_tokens:`.
        let job = Job::start(vec![]).await.set(
            "VAULT_AUTH_ROLE",
            row["auth_data"]["role"].as_str().unwrap(),
        );
        let request = SecretRequest::new(VARIABLE, json!("app/field"));
        let result = job.resolve(request).await;
        let err = result.expect_err("no JWT is an error");
        assert_eq!(err.kind(), ErrorKind::Config, "{id}: {err}");
        assert!(
            err.to_string().contains("no JWT for the Vault login"),
            "{id}: {err}"
        );
        assert!(job.recorder.requests().is_empty(), "{id}: nothing is sent");
        return;
    }
    if id == "vault-jwt-new-unexpected-key-provided" {
        // Only `jwt` and `role` reach the login body; with no role set, only `jwt`.
        let jwt = row["auth_data"]["jwt"].as_str().unwrap();
        let job = Job::start(vec![Route::login("jwt", "t")]).await;
        let _ = job
            .resolve(SecretRequest::new(VARIABLE, json!("app/f")).with_token(jwt))
            .await;
        let logins: Vec<_> = job
            .recorder
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/login"))
            .collect();
        assert_eq!(logins.len(), 1, "{id}");
        assert_eq!(logins[0].body, row["expected_login_payload"], "{id}");
        return;
    }

    let auth = &row["auth"];
    let mount = auth["path"].as_str().expect("auth path");
    let jwt = auth["data"]["jwt"].as_str().expect("jwt");
    let role = auth["data"]["role"].as_str().expect("role");
    let (method, path) = split_http(row);
    let response = &row["server_responses"][0];
    let (status, body) = if let Some(token) = response.get("token_id") {
        (200, json!({"auth": {"client_token": token}}))
    } else if response.get("token_id_error").is_some() {
        (200, json!({"auth": null}))
    } else {
        canned_answer(response)
    };
    let job = Job::start(vec![
        Route::new("PUT", path.clone(), status, body),
        Route::new(
            "GET",
            "/v1/kv-v2/data/app",
            200,
            json!({"data": {"data": {"f": "v"}}}),
        ),
    ])
    .await
    .set("VAULT_AUTH_PATH", mount)
    .set("VAULT_AUTH_ROLE", role);
    let result = job
        .resolve(SecretRequest::new(VARIABLE, json!("app/f")).with_token(jwt))
        .await;

    let requests = job.recorder.requests();
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        (method.as_str(), path.as_str()),
        "{id}"
    );
    assert_eq!(
        requests[0].body, row["expected_requests"][0]["body"],
        "{id}"
    );
    if let Some(token) = row["expected_token"].as_str() {
        assert_value(id, &result, "v");
        assert_eq!(requests[1].header("x-vault-token"), Some(token), "{id}");
    } else if response.get("token_id_error").is_some() {
        assert_error(id, &result, Some(ErrorKind::Protocol));
    } else {
        assert_error(id, &result, Some(ErrorKind::Auth));
        assert!(
            !result.unwrap_err().to_string().contains(jwt),
            "{id}: the JWT is never shown"
        );
    }
}

async fn other_row(id: &str, row: &Value) {
    match id {
        "vault-service-new-client-authentication-error" | "vault-client-authenticate-error" => {
            let job = Job::start(vec![Route::new(
                "PUT",
                "/v1/auth/jwt/login",
                400,
                json!({"errors": ["assert.AnError general error for testing"]}),
            )])
            .await;
            let result = job
                .resolve(SecretRequest::new(VARIABLE, json!("app/f")).with_token("j"))
                .await;
            assert_error(id, &result, Some(ErrorKind::Auth));
            assert!(
                result.unwrap_err().to_string().contains("assert.AnError"),
                "{id}: Vault's text is kept"
            );
        }
        "vault-service-new-client-initialized-properly" => {
            // Namespace `test_namespace` (the row's notes): sent on the login and the read.
            let job = Job::start(vec![
                Route::login("path", "t"),
                Route::new(
                    "GET",
                    "/v1/kv-v2/data/app",
                    200,
                    json!({"data": {"data": {"f": "v"}}}),
                ),
            ])
            .await
            .set("VAULT_AUTH_PATH", "path")
            .set("VAULT_NAMESPACE", "test_namespace");
            let result = job
                .resolve(SecretRequest::new(VARIABLE, json!("app/f")).with_token("j"))
                .await;
            assert_value(id, &result, "v");
            let requests = job.recorder.requests();
            assert_eq!(requests.len(), 2, "{id}");
            assert!(
                requests
                    .iter()
                    .all(|r| r.header("x-vault-namespace") == Some("test_namespace")),
                "{id}"
            );
        }
        "vault-service-get-field-unknown-engine-factory" => {
            let engine_path = row["engine"]["path"].as_str().unwrap();
            let job = Job::start(vec![]).await;
            let result = job
                .resolve(hash_secret(
                    "unknown factory",
                    engine_path,
                    row["secret_path"].as_str().unwrap(),
                    "f",
                ))
                .await;
            assert_error(id, &result, Some(ErrorKind::Unsupported));
            assert!(
                job.recorder.requests().is_empty(),
                "{id}: refused before any request"
            );
        }
        "vault-service-get-field-error-on-requesting-data"
        | "vault-client-read-error-on-reading" => {
            let job = Job::start(vec![
                Route::login("jwt", "t"),
                Route::new(
                    "GET",
                    "/v1/path/to/read",
                    400,
                    json!({"errors": ["assert.AnError general error for testing"]}),
                ),
            ])
            .await;
            let result = job
                .resolve(hash_secret("generic", "path", "to/read", "f"))
                .await;
            assert_error(id, &result, None);
        }
        "vault-service-get-field-data-requested-properly-with-missing-field" => {
            let data = &row["server_responses"][0]["data"];
            let engine_path = row["engine"]["path"].as_str().unwrap();
            let secret_path = row["secret_path"].as_str().unwrap();
            let job = Job::start(vec![
                Route::login("jwt", "t"),
                Route::new(
                    "GET",
                    format!("/v1/{engine_path}/data/{secret_path}"),
                    200,
                    json!({"data": {"data": data}}),
                ),
            ])
            .await;
            let field = row["secret_field"].as_str().unwrap();
            let result = job
                .resolve(hash_secret("kv-v2", engine_path, secret_path, field))
                .await;
            assert_error(id, &result, Some(ErrorKind::NotFound));
            // GitLab: `secret not found: <VARIABLE_KEY>`; ours names the path and field, and
            // the core puts the variable in front.
            let message = result.unwrap_err().to_string();
            assert!(message.starts_with("secret not found: "), "{id}: {message}");
            assert!(message.contains(field), "{id}: {message}");
            // The notes: the resolver formats field_1 (a number) as `1`.
            let result = job
                .resolve(hash_secret("kv-v2", engine_path, secret_path, "field_1"))
                .await;
            assert_value(id, &result, "1");
        }
        "vault-client-read-successful-reading" => {
            let data = &row["server_responses"][0]["data"];
            let job = Job::start(vec![
                Route::login("jwt", "t"),
                Route::new("GET", "/v1/path/to/read", 200, json!({"data": data})),
            ])
            .await;
            let result = job
                .resolve(hash_secret("kv-v1", "path", "to/read", "key1"))
                .await;
            assert_value(id, &result, row["expected_value"]["key1"].as_str().unwrap());
        }
        _ => panic!("{id}: row neither run nor listed as not applicable"),
    }
}
