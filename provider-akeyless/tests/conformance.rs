//! GitLab Runner's Akeyless test rows (`tests/data/gitlab/runner-resolution.yaml`)
//! run against this provider, with a scripted server that answers what the
//! row's mocked SDK answered and checks every request the row expects.
//!
//! Where a decision of `gitlab-secrets.md` §1 makes us differ, the row is
//! adjusted here and the adjustment names the decision:
//! - `akeyless-svc-no-token-auth-called`: `access-type` is `access_key`, not
//!   `api_key` (D2).
//! - Rows whose mocked SDK returned a bare Go error (`err`): the server
//!   answers HTTP 400 `{"error":"err"}`, and our message quotes it with the
//!   operation, item and status instead of returning it unwrapped.
//! - `akeyless-e2e-derived-jwt-static`: the API URL is the scripted server's.
//!
//! Rows that test GitLab Runner's resolver registry (`Name`, `IsSupported`)
//! or a mocked service layer (`akeyless-resolve-*`) have no provider-level
//! counterpart: provider selection is the core's, and the service layer is
//! what these other rows run for real. They are listed in `NOT_PROVIDER_ROWS`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Map, Value, json};

const NOT_PROVIDER_ROWS: [&str; 6] = [
    "akeyless-resolver-name",
    "akeyless-is-supported-supported-resolver",
    "akeyless-is-supported-unsupported-resolver",
    "akeyless-is-supported-no-resolver",
    "akeyless-resolve-service-error",
    "akeyless-resolve-ok",
];

fn rows() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/gitlab/runner-resolution.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let all: Vec<Value> = serde_norway::from_str(&text).unwrap();
    all.into_iter()
        .filter(|row| row["provider"] == "akeyless")
        .collect()
}

fn call_path(call: &str) -> &'static str {
    match call {
        "Auth" => "/auth",
        "DescribeItem" => "/describe-item",
        "GetSecretValue" => "/get-secret-value",
        "GetRotatedSecretValue" => "/get-rotated-secret-value",
        "GetSSHCertificate" => "/get-ssh-certificate",
        "GetPKICertificate" => "/get-pki-certificate",
        other => panic!("unknown call {other}"),
    }
}

/// The row's runner payload as our block, variables and `token:`.
fn block_of(row: &Value, api_url: &str) -> (Value, Vec<(String, String)>, Option<String>) {
    let akeyless = &row["secret"]["akeyless"];
    let server = &akeyless["server"];
    let mut block = Map::new();
    for (key, value) in akeyless.as_object().unwrap() {
        if key != "server" && !value.is_null() {
            block.insert(key.clone(), value.clone());
        }
    }
    let mut variables = Vec::new();
    for (key, value) in server.as_object().unwrap() {
        let Some(text) = value.as_str() else { continue };
        match key.as_str() {
            "access_id" => variables.push(("AKEYLESS_ACCESS_ID".to_string(), text.to_string())),
            "access_key" => {
                block.insert("akeyless_access_key".into(), value.clone());
            }
            "jwt" | "akeyless_api_url" => {}
            _ if !text.is_empty() => {
                block.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    if !variables
        .iter()
        .any(|(name, _)| name == "AKEYLESS_ACCESS_ID")
    {
        // D8: GitLab needs the variable even with a given token (§9.4 item 3).
        variables.push(("AKEYLESS_ACCESS_ID".into(), "p-conformance".into()));
    }
    block.insert(
        "akeyless_api_url".into(),
        Value::String(api_url.to_string()),
    );
    // The runner's `jwt` is the expanded `token:`.
    let token = row["variables"]["AKEYLESS_JWT"]
        .as_str()
        .map(str::to_string);
    (Value::Object(block), variables, token)
}

#[tokio::test]
async fn runner_resolution_rows() {
    let rows = rows();
    assert_eq!(
        rows.len(),
        18,
        "the Akeyless rows of runner-resolution.yaml"
    );
    let mut ran = 0;
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        if NOT_PROVIDER_ROWS.contains(&id) {
            continue;
        }
        run_row(id, row).await;
        ran += 1;
    }
    assert_eq!(ran, 12);
}

async fn run_row(id: &str, row: &Value) {
    // Scripted answers by path, from `server_responses`.
    let mut answers: HashMap<String, (u16, String)> = HashMap::new();
    for (index, response) in row["server_responses"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let path = match response.get("call").and_then(Value::as_str) {
            Some(call) => call_path(call).to_string(),
            // End-to-end rows list answers in request order.
            None => row["expected_requests"][index]["http"]
                .as_str()
                .and_then(|http| http.rsplit('/').next())
                .map(|op| format!("/{op}"))
                .unwrap(),
        };
        let answer = match response.get("error") {
            Some(error) => (400, json!({"error": error}).to_string()),
            None => (200, response["body"].to_string()),
        };
        answers.insert(path, answer);
    }
    let answers = Arc::new(Mutex::new(answers));
    let server =
        LocalServer::start(
            move |request| match answers.lock().unwrap().get(&request.path) {
                Some((status, body)) => (*status, "application/json", body.clone()),
                None => (
                    404,
                    "application/json",
                    json!({"error": "unexpected call"}).to_string(),
                ),
            },
        )
        .await;

    let (block, variables, token) = block_of(row, &server.url());
    let variables: Vec<(&str, &str)> = variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ctx = context(&variables);
    let results = resolve(&ctx, &[request("SECRET", block, token.as_deref())]).await;

    // Requests: the expected ones, with the expected bodies. One decision
    // differs from the runner (see `fetch::learn_types`): the describe and
    // an optimistic `/get-secret-value` of the name go out together, so
    // after the login the runner's requests arrive in either order, plus a
    // speculative read (same body as a static read) when the item is not a
    // static secret, and without the describe when that read answered.
    let received = server.received();
    let expected = row["expected_requests"].as_array().unwrap();
    let want_of = |want: &Value| -> (String, Value) {
        let path = match want.get("path").and_then(Value::as_str) {
            Some(path) => path.to_string(),
            None => format!(
                "/{}",
                want["http"].as_str().unwrap().rsplit('/').next().unwrap()
            ),
        };
        let mut body = want["body"].clone();
        if id == "akeyless-svc-no-token-auth-called" {
            // D2: `api_key` is sent as `access_key`.
            assert_eq!(body["access-type"], "api_key");
            body["access-type"] = json!("access_key");
        }
        (path, body)
    };
    let mut wanted: Vec<(String, Value)> = expected.iter().map(want_of).collect();
    let got: Vec<(String, Value)> = received
        .iter()
        .map(|got| {
            assert_eq!(got.method, "POST", "{id}");
            (got.path.clone(), got.json())
        })
        .collect();
    // The login (if any) comes first, as in the runner.
    let logins = wanted
        .iter()
        .take_while(|(path, _)| path == "/auth")
        .count();
    assert_eq!(got[..logins], wanted[..logins], "{id}: the login first");
    let describe = wanted
        .iter()
        .find(|(path, _)| path == "/describe-item")
        .cloned();
    if let Some((_, describe_body)) = &describe {
        let speculative = (
            "/get-secret-value".to_string(),
            json!({"names": [describe_body["name"].clone()], "token": describe_body["token"].clone()}),
        );
        let read_is_static = wanted.contains(&speculative);
        if !read_is_static {
            wanted.push(speculative.clone());
        }
        let answered = read_is_static && row["expected_value"].is_string();
        let described = got.iter().any(|(path, _)| path == "/describe-item");
        if answered && !described {
            // The read answered first and the describe was dropped.
            wanted.retain(|(path, _)| path != "/describe-item");
        }
        // A typed read (not the speculative one) waits for the describe.
        if let Some(typed) = got.iter().position(|(path, _)| {
            path != "/auth" && path != "/describe-item" && path != "/get-secret-value"
        }) {
            let describe_at = got.iter().position(|(path, _)| path == "/describe-item");
            assert!(describe_at.is_some_and(|at| at < typed), "{id}: {got:?}");
        }
    }
    let sort = |list: &mut Vec<(String, Value)>| {
        list.sort_by_key(|(path, body)| format!("{path} {body}"));
    };
    let (mut got_rest, mut wanted_rest) = (got[logins..].to_vec(), wanted[logins..].to_vec());
    sort(&mut got_rest);
    sort(&mut wanted_rest);
    assert_eq!(got_rest, wanted_rest, "{id}: requests after the login");
    for (got, want) in received.iter().zip(expected) {
        if let Some(headers) = want.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                let got_value = got
                    .headers
                    .get(name.to_lowercase())
                    .map(|v| v.to_str().unwrap().to_string());
                let want_value = value.as_str().unwrap();
                assert!(
                    got_value
                        .as_deref()
                        .is_some_and(|v| v.starts_with(want_value)),
                    "{id}: header {name}: {got_value:?}"
                );
            }
        }
    }

    // Result: the expected value, or the expected error.
    match (&row["expected_value"], &row["expected_error"]) {
        (Value::String(value), _) => assert_eq!(text(&results[0]), *value, "{id}"),
        (_, Value::Object(error)) => {
            let err = results[0].as_ref().expect_err(id).to_string();
            let want = error["text"].as_str().unwrap();
            if want == "err" {
                // The SDK's bare error becomes our quoted server text.
                assert!(err.ends_with("failed: HTTP 400: \"err\""), "{id}: {err}");
            } else {
                assert_eq!(err, want, "{id}");
            }
        }
        other => panic!("{id}: no expectation {other:?}"),
    }
}
