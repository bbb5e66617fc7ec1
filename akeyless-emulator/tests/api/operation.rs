//! Prefixes, unknown paths, stats, fault injection and TLS.

use std::time::{Duration, Instant};

use akeyless_emulator::demo::{DEMO_ACCESS_KEY, DEMO_ACCESS_KEY_ID};
use akeyless_emulator::{Emulator, Fault, FaultPlan, Operation, RandomFailures, Stats};
use serde_json::{Value, json};

use crate::{Harness, error_text};

fn login_body() -> Value {
    json!({"access-id": DEMO_ACCESS_KEY_ID, "access-key": DEMO_ACCESS_KEY})
}

#[tokio::test]
async fn every_prefix_serves_the_operations() {
    let h = Harness::demo().await;
    for prefix in ["", "/v2", "/api/v2"] {
        let (status, out) = h.post_at(prefix, "auth", login_body()).await;
        assert_eq!(status, 200, "{prefix}: {out}");
    }
    assert_eq!(h.emulator.stats().requests(Operation::Auth), 3);
}

#[tokio::test]
async fn unknown_operations_and_paths_are_404_json() {
    let h = Harness::demo().await;
    let (status, out) = h.post("delete-item", json!({})).await;
    assert_eq!(status, 404);
    error_text(&out);
    let (status, _) = h.post_at("/v3", "auth", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn stats_endpoint_matches_the_library_snapshot() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    h.post(
        "describe-item",
        json!({"name": "/demo/static/password", "token": token}),
    )
    .await;
    h.post(
        "auth",
        json!({"access-id": DEMO_ACCESS_KEY_ID, "access-key": "bad"}),
    )
    .await;
    let served: Stats = h
        .client
        .get(format!("{}/__emulator/stats", h.emulator.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, h.emulator.stats());
    assert_eq!(served.requests(Operation::Auth), 2);
    assert_eq!(served.requests(Operation::DescribeItem), 1);
    assert_eq!((served.logins, served.failed_logins), (1, 1));
    assert_eq!(served.total_requests(), 3);
}

#[tokio::test]
async fn scripted_429s_with_retry_after_then_success() {
    let plan = FaultPlan::new().fail_next(
        Operation::Auth,
        2,
        Fault::too_many_requests(Duration::from_secs(1)),
    );
    let emulator = Emulator::builder().faults(plan).start().await.unwrap();
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .post(format!("{}/auth", emulator.url()))
            .json(&login_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = response.json().await.unwrap();
        error_text(&body);
    }
    let response = client
        .post(format!("{}/auth", emulator.url()))
        .json(&login_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stats = emulator.stats();
    assert_eq!(
        (
            stats.requests(Operation::Auth),
            stats.faults_injected,
            stats.logins
        ),
        (3, 2, 1)
    );
}

#[tokio::test]
async fn runtime_faults_reset_connections_and_serve_broken_bodies() {
    let h = Harness::demo().await;
    let faults = h.emulator.faults();
    let url = format!("{}/auth", h.emulator.url());

    faults
        .fail_next(Operation::Auth, 1, Fault::ResetConnection)
        .unwrap();
    let error = h
        .client
        .post(&url)
        .json(&login_body())
        .send()
        .await
        .unwrap_err();
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );

    faults
        .fail_next(Operation::Auth, 1, Fault::MalformedJson)
        .unwrap();
    let response = h
        .client
        .post(&url)
        .json(&login_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());

    faults
        .fail_next_any(
            1,
            Fault::OversizedBody {
                bytes: 11 * 1024 * 1024,
            },
        )
        .unwrap();
    let response = h
        .client
        .post(&url)
        .json(&login_body())
        .send()
        .await
        .unwrap();
    assert!(response.bytes().await.unwrap().len() >= 11 * 1024 * 1024);

    faults.set_random_failures(Some(RandomFailures::new(1.0, 503).unwrap()));
    assert_eq!(
        h.client
            .post(&url)
            .json(&login_body())
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    faults.clear();
    assert_eq!(
        h.client
            .post(&url)
            .json(&login_body())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(faults.pending(), 0);
}

#[tokio::test]
async fn latency_delays_every_response() {
    let emulator = Emulator::builder()
        .latency(Duration::from_millis(150))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/auth", emulator.url()))
        .json(&login_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn tls_serves_https_trusted_through_the_emulator_ca() {
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    assert!(emulator.url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().unwrap().as_bytes()).unwrap();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let response = trusting
        .post(format!("{}/v2/auth", emulator.url()))
        .json(&login_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let localhost = emulator.url().replace("127.0.0.1", "localhost");
    assert_eq!(
        trusting
            .post(format!("{localhost}/auth"))
            .json(&login_body())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let untrusting = reqwest::Client::new();
    assert!(
        untrusting
            .post(format!("{}/auth", emulator.url()))
            .json(&login_body())
            .send()
            .await
            .is_err()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/auth", emulator.url());
    emulator.shutdown().await;
    assert!(
        reqwest::Client::new()
            .post(url)
            .json(&login_body())
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn concurrent_requests_are_all_counted() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let client = h.client.clone();
        let url = format!("{}/get-secret-value", h.emulator.url());
        let body = json!({"names": ["/demo/static/password"], "token": token});
        tasks.push(tokio::spawn(async move {
            client.post(url).json(&body).send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(h.emulator.stats().requests(Operation::GetSecretValue), 64);
}
