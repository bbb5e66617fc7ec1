//! Call counts, retries and faults, expired tokens, and TLS to a gateway with
//! its own CA, all against the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod common;

use std::time::{Duration, Instant};

use akeyless_emulator::demo::*;
use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Access, Emulator, Fault, Item, Operation, Seed};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ci_secrets_provider_akeyless::{AkeylessProvider, MISSING_ACCESS_ID};
use ci_secrets_provider_api::{ErrorKind, JobVariables, Provider, ResolveContext, SecretRequest};
use common::*;
use serde_json::{Value, json};

fn access_key_block(url: &str, name: &str) -> Value {
    json!({
        "name": name,
        "akeyless_api_url": url,
        "akeyless_access_type": "access_key",
        "akeyless_access_key": DEMO_ACCESS_KEY,
    })
}

fn password(url: &str) -> SecretRequest {
    request(
        "PASSWORD",
        access_key_block(url, "/demo/static/password"),
        None,
    )
}

fn demo_context() -> ResolveContext {
    context(&[("AKEYLESS_ACCESS_ID", DEMO_ACCESS_KEY_ID)])
}

#[tokio::test]
async fn fifty_static_secrets_take_one_login_and_one_batched_read() {
    let mut seed =
        Seed::new().with_access(Access::access_key("p-bulk00000001", "bulk-key").allow("/bulk/*"));
    for i in 0..50 {
        seed = seed.with_item(
            format!("/bulk/s{i:02}"),
            Item::static_text(format!("value-{i:02}")),
        );
    }
    let emulator = Emulator::builder().seed(seed).start().await.unwrap();
    let requests: Vec<SecretRequest> = (0..50)
        .map(|i| {
            let block = json!({
                "name": format!("/bulk/s{i:02}"), "akeyless_api_url": emulator.url(),
                "akeyless_access_type": "access_key", "akeyless_access_key": "bulk-key",
            });
            request(&format!("S{i:02}"), block, None)
        })
        .collect();
    let ctx = context(&[("AKEYLESS_ACCESS_ID", "p-bulk00000001")]);
    let results = resolve(&ctx, &requests).await;
    for (i, result) in results.iter().enumerate() {
        assert_eq!(text(result), format!("value-{i:02}"));
    }
    let stats = emulator.stats();
    assert_eq!(stats.requests(Operation::Auth), 1);
    assert!(stats.requests(Operation::GetSecretValue) <= 2, "{stats:?}");
    assert_eq!(stats.requests(Operation::DescribeItem), 0, "{stats:?}");
    // At most one listing of the shared folder, sent with the read and
    // dropped once the read answered every name.
    assert!(stats.requests(Operation::ListItems) <= 1, "{stats:?}");
    assert_eq!(
        stats.total_requests(),
        2 + stats.requests(Operation::ListItems),
        "{stats:?}"
    );
    assert_eq!(ctx.metrics().snapshot().logins, 1);
}

#[tokio::test]
async fn two_identities_take_exactly_two_logins() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let jwt = TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(600));
    // D1: each secret's own settings; AKEYLESS_ACCESS_ID is per job, so the
    // second identity differs in access type and credential.
    let seed_jwt = json!({"name": "/demo/static/password", "akeyless_api_url": url});
    let ctx = context(&[("AKEYLESS_ACCESS_ID", DEMO_JWT_ACCESS_ID)]);
    let requests = [
        request("A", seed_jwt.clone(), Some(&jwt)),
        request(
            "B",
            json!({"name": "/demo/static/db", "akeyless_api_url": url, "data_key": "username"}),
            Some(&jwt),
        ),
        request(
            "C",
            seed_jwt,
            Some(&TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), Duration::from_secs(900))),
        ),
    ];
    let results = resolve(&ctx, &requests).await;
    assert_eq!(text(&results[0]), "demo-password-v2");
    assert_eq!(text(&results[1]), "app");
    assert_eq!(text(&results[2]), "demo-password-v2");
    assert_eq!(emulator.stats().requests(Operation::Auth), 2);
}

#[tokio::test]
async fn missing_access_id_fails_before_any_call() {
    let emulator = demo_emulator().await;
    let provider = AkeylessProvider::new();
    for variables in [vec![], vec![("AKEYLESS_ACCESS_ID", "  ")]] {
        let ctx = context(&variables);
        let err = provider
            .preflight(&ctx, &[password(&emulator.url())])
            .unwrap_err();
        assert_eq!(err.to_string(), MISSING_ACCESS_ID);
        assert_eq!(err.kind(), ErrorKind::Config);
        let results = provider.resolve(&ctx, &[password(&emulator.url())]).await;
        assert_eq!(
            results[0].as_ref().unwrap_err().to_string(),
            MISSING_ACCESS_ID
        );
    }
    assert_eq!(emulator.stats().total_requests(), 0);
}

#[tokio::test]
async fn rate_limited_twice_then_success() {
    let emulator = demo_emulator().await;
    emulator
        .faults()
        .fail_next(Operation::GetSecretValue, 2, Fault::status(429))
        .unwrap();
    let ctx = demo_context();
    let results = resolve(&ctx, &[password(&emulator.url())]).await;
    assert_eq!(text(&results[0]), "demo-password-v2");
    assert_eq!(emulator.stats().requests(Operation::GetSecretValue), 3);
    assert_eq!(ctx.metrics().snapshot().retries, 2);
}

#[tokio::test]
async fn unavailable_until_the_deadline_fails_cleanly_in_time() {
    let emulator = demo_emulator().await;
    emulator
        .faults()
        .fail_next(Operation::Auth, 10_000, Fault::status(503))
        .unwrap();
    let ctx = ResolveContext::builder("deploy")
        .variables(JobVariables::from_iter([(
            "AKEYLESS_ACCESS_ID",
            DEMO_ACCESS_KEY_ID,
        )]))
        .http(fast_http())
        .timeout(Duration::from_secs(2))
        .build();
    let started = Instant::now();
    let results = resolve(&ctx, &[password(&emulator.url())]).await;
    let elapsed = started.elapsed();
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Transient | ErrorKind::Deadline),
        "{err}"
    );
    assert!(
        err.to_string().contains("503") || err.kind() == ErrorKind::Deadline,
        "{err}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "gave up within the deadline: {elapsed:?}"
    );
    assert!(
        emulator.stats().requests(Operation::Auth) >= 2,
        "it retried"
    );
}

#[tokio::test]
async fn a_reset_connection_is_retried_for_reads_but_not_for_issuance() {
    let emulator = demo_emulator().await;
    emulator
        .faults()
        .fail_next(Operation::GetSecretValue, 1, Fault::ResetConnection)
        .unwrap();
    let results = resolve(&demo_context(), &[password(&emulator.url())]).await;
    assert_eq!(text(&results[0]), "demo-password-v2");
    assert_eq!(emulator.stats().requests(Operation::GetSecretValue), 2);

    // D9: the dynamic secret may have been issued; never ask twice.
    emulator
        .faults()
        .fail_next(Operation::GetDynamicSecretValue, 1, Fault::ResetConnection)
        .unwrap();
    let dynamic = request(
        "DB",
        access_key_block(&emulator.url(), "/demo/dynamic/db"),
        None,
    );
    let results = resolve(&demo_context(), &[dynamic]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(
        err.to_string()
            .starts_with("dynamic secret /demo/dynamic/db: POST /get-dynamic-secret-value"),
        "{err}"
    );
    assert_eq!(
        emulator.stats().requests(Operation::GetDynamicSecretValue),
        1
    );
}

#[tokio::test]
async fn a_malformed_body_is_a_protocol_error() {
    let emulator = demo_emulator().await;
    emulator
        .faults()
        .fail_next(Operation::GetSecretValue, 1, Fault::MalformedJson)
        .unwrap();
    let results = resolve(&demo_context(), &[password(&emulator.url())]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(
        err.to_string().starts_with(
            "POST /get-secret-value answered HTTP 200 with a body that is not the expected JSON"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused() {
    let emulator = demo_emulator().await;
    let fault = Fault::OversizedBody {
        bytes: 10 * 1024 * 1024 + 1,
    };
    emulator
        .faults()
        .fail_next(Operation::GetSecretValue, 1, fault)
        .unwrap();
    let results = resolve(&demo_context(), &[password(&emulator.url())]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(
        err.to_string()
            .contains("larger than the 10485760-byte limit"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_cached_token_costs_exactly_one_new_login() {
    let emulator = demo_emulator().await;
    let provider = AkeylessProvider::new();
    let ctx = demo_context();
    let first = provider.resolve(&ctx, &[password(&emulator.url())]).await;
    assert_eq!(text(&first[0]), "demo-password-v2");
    emulator.expire_all_tokens();
    let requests = [
        password(&emulator.url()),
        request(
            "DB",
            access_key_block(&emulator.url(), "/demo/static/db"),
            None,
        ),
    ];
    let second = provider.resolve(&ctx, &requests).await;
    assert_eq!(text(&second[0]), "demo-password-v2");
    assert!(text(&second[1]).contains("demo-db-password"));
    assert_eq!(emulator.stats().requests(Operation::Auth), 2);
    assert_eq!(ctx.metrics().snapshot().logins, 2);
}

#[tokio::test]
async fn gateway_over_tls_with_its_ca_as_pem_or_base64() {
    let emulator = Emulator::builder()
        .seed(Seed::demo())
        .tls(true)
        .start()
        .await
        .unwrap();
    let url = emulator.url();
    assert!(url.starts_with("https://"));
    let ca = emulator.ca_pem().expect("a TLS emulator has a CA");
    let ctx = demo_context();
    for given in [ca.clone(), STANDARD.encode(&ca)] {
        let mut block = access_key_block(&url, "/demo/static/password");
        block["gateway_ca_certificate"] = Value::String(given);
        let results = resolve(&ctx, &[request("PASSWORD", block, None)]).await;
        assert_eq!(text(&results[0]), "demo-password-v2");
    }

    let results = resolve(&ctx, &[password(&url)]).await;
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.to_string().contains("gateway_ca_certificate"),
        "the fix is named: {err}"
    );
}

#[tokio::test]
async fn a_refused_listing_falls_back_to_describes_without_a_new_login() {
    // Two dynamic secrets in one folder whose names share a start: their
    // types come from one listing, narrowed to that start.
    let dynamic = || {
        Item::dynamic(
            json!({"user": "tmp-{{lease_id}}", "password": "{{random}}"}),
            akeyless_emulator::DynamicShape::Flat,
        )
    };
    let seed = Seed::demo()
        .with_item("/demo/dynamic/db-main", dynamic())
        .with_item("/demo/dynamic/db-replica", dynamic());
    let emulator = Emulator::builder().seed(seed).start().await.unwrap();
    // Akeyless answers 401 when the identity may read but not list.
    emulator
        .faults()
        .fail_next(Operation::ListItems, 1, Fault::status(401))
        .unwrap();
    let url = emulator.url();
    // The optimistic static read fails, so the types must come from the
    // listing or, refused, from describes.
    let requests = [
        request("DB", access_key_block(&url, "/demo/dynamic/db-main"), None),
        request(
            "REPLICA",
            access_key_block(&url, "/demo/dynamic/db-replica"),
            None,
        ),
    ];
    let results = resolve(&demo_context(), &requests).await;
    assert!(text(&results[0]).contains("tmp-"));
    assert!(text(&results[1]).contains("tmp-"));
    let stats = emulator.stats();
    assert_eq!(stats.requests(Operation::GetSecretValue), 1, "{stats:?}");
    assert_eq!(stats.requests(Operation::ListItems), 1, "{stats:?}");
    assert_eq!(stats.requests(Operation::DescribeItem), 2, "{stats:?}");
    assert_eq!(
        stats.requests(Operation::Auth),
        1,
        "a refused listing is not an expired token"
    );
}
