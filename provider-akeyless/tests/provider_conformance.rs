//! The provider conformance suite (`ci-secrets-provider-conformance`)
//! against the emulator's demo seed: the behaviour every provider owes the
//! core, checked on Akeyless's real wire protocol.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

mod common;

use akeyless_emulator::demo::*;
use ci_secrets_provider_akeyless::AkeylessProvider;
use ci_secrets_provider_api::ResolveContextBuilder;
use ci_secrets_provider_conformance::{Backend, run};
use ci_secrets_test_support::refused_url;
use common::{context_builder, demo_emulator, demo_item as item};
use serde_json::json;

fn demo_context() -> ResolveContextBuilder {
    context_builder(&[("AKEYLESS_ACCESS_ID", DEMO_ACCESS_KEY_ID)])
}

#[tokio::test]
async fn akeyless_passes_the_provider_conformance_suite() {
    let emulator = demo_emulator().await;
    let url = emulator.url();
    let readable = [
        (
            item("PASSWORD", &url, "/demo/static/password", json!({})),
            "demo-password-v2",
        ),
        (
            item(
                "DB_PASSWORD",
                &url,
                "/demo/static/db",
                json!({"data_key": "password"}),
            ),
            "demo-db-password",
        ),
        (
            item(
                "ADMIN_PASSWORD",
                &url,
                "/demo/rotated/admin",
                json!({"data_key": "password"}),
            ),
            "demo-rotated-password",
        ),
    ];
    let unreachable = refused_url();
    let mut backend = Backend::new(
        "akeyless (emulator)",
        || Box::new(AkeylessProvider::new()),
        demo_context,
    )
    .missing(item("GONE", &url, "/demo/static/no-such-item", json!({})))
    // The demo access key may read /demo/* only.
    .denied(item(
        "ADMIN_TOKEN",
        &url,
        "/restricted/admin-token",
        json!({}),
    ))
    // A key the JSON item does not hold is the job's mistake, not the server's.
    .invalid(item(
        "DB_TYPO",
        &url,
        "/demo/static/db",
        json!({"data_key": "pasword"}),
    ))
    .invalid(item(
        "BAD_ACCESS_TYPE",
        &url,
        "/demo/static/password",
        json!({"akeyless_access_type": "carrier_pigeon"}),
    ))
    .unreachable(
        demo_context,
        readable.iter().map(|(request, _)| {
            let mut request = request.clone();
            request.block["akeyless_api_url"] = json!(unreachable);
            request
        }),
    )
    .credential(DEMO_ACCESS_KEY)
    // Never returned, so never allowed anywhere in a message.
    .credential("nobody-may-read-this");
    for (request, value) in readable {
        backend = backend.readable(request, value);
    }

    let report = run(&backend).await;
    report.assert_passed();
    assert!(report.skipped().is_empty(), "{report}");
}
