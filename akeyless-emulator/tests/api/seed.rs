//! Seed loading: the example file, YAML errors that name what is wrong, and builder validation.

use std::time::Duration;

use akeyless_emulator::testing::TestKeys;
use akeyless_emulator::{Access, EmulatorArgs, Item, Seed};
use clap::Parser;

fn invalid(yaml: &str) -> String {
    Seed::from_yaml_str(yaml).unwrap_err().to_string()
}

#[test]
fn the_shipped_example_seed_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/example.yaml");
    let seed = Seed::from_file(path).unwrap();
    assert_eq!(seed.access().len(), 7);
    assert_eq!(seed.item_names().count(), 9);
    assert_eq!(seed.token_ttl(), Duration::from_secs(3600));
}

#[test]
fn yaml_errors_name_the_entry_and_the_problem() {
    let e = invalid("access: [{id: p-a, type: password}]");
    assert!(
        e.contains("access[0] (p-a)") && e.contains("unknown type \"password\""),
        "{e}"
    );
    let e = invalid("access: [{id: p-a, type: jwt}]");
    assert!(e.contains("type jwt needs public_key_pem"), "{e}");
    let e = invalid("access: [{id: p-a, type: access_key, access_key: k, uid_tokens: [u-x]}]");
    assert!(e.contains("does not use uid_tokens"), "{e}");
    let e = invalid("access: [{id: p-a, type: jwt, public_key_pem: nope}]");
    assert!(
        e.contains("access p-a") && e.contains("neither an RSA nor"),
        "{e}"
    );
    let e = invalid(
        "access: [{id: p-a, type: access_key, access_key: k}, {id: p-a, type: access_key, access_key: k}]",
    );
    assert!(e.contains("listed twice"), "{e}");
    let e = invalid("items: {/a: {type: static}}");
    assert!(
        e.contains("item /a") && e.contains("exactly one of value and versions"),
        "{e}"
    );
    let e = invalid("items: {/a: {type: vault}}");
    assert!(e.contains("unknown variant"), "{e}");
    let e = invalid("items: {/a: {type: static, value: x, colour: red}}");
    assert!(e.contains("unknown field"), "{e}");
    let e = invalid("items: {/a: {type: ssh_cert_issuer, allowed_users: []}}");
    assert!(e.contains("allowed_users is empty"), "{e}");
    let e = invalid("access: [{id: p-a, type: universal_identity, uid_tokens: [t-x]}]");
    assert!(e.contains("does not start with \"u-\""), "{e}");
    let e = invalid("bogus: 1");
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn a_missing_seed_file_names_the_path() {
    let e = Seed::from_file("/nonexistent/seed.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/seed.yaml"), "{e}");
}

#[test]
fn builder_validation_rejects_misplaced_audiences_and_empty_values() {
    let seed = Seed::new().with_access(Access::access_key("p-a", "k").with_audience("x"));
    assert!(
        seed.validate()
            .unwrap_err()
            .to_string()
            .contains("has no audience")
    );
    let seed = Seed::new().with_item("/a", Item::static_versions([]));
    assert!(seed.validate().is_err());
    let seed = Seed::new().with_item("/a", Item::rotated(serde_json::json!("not an object")));
    assert!(seed.validate().is_err());
    let ok = Seed::new()
        .with_access(
            Access::jwt("p-j", TestKeys::ec().public_key_pem())
                .with_audience("a")
                .allow("/*"),
        )
        .with_item("no-leading-slash", Item::static_text("v"));
    ok.validate().unwrap();
    assert_eq!(ok.item_names().collect::<Vec<_>>(), ["/no-leading-slash"]);
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    emulator: EmulatorArgs,
}

#[test]
fn cli_flags_parse_with_sensible_defaults() {
    let cli = Cli::try_parse_from(["emulator"]).unwrap().emulator;
    assert_eq!(cli.listen.to_string(), "127.0.0.1:8787");
    assert!(!cli.tls && cli.seed.is_none() && cli.fail_rate == 0.0);
    let cli = Cli::try_parse_from([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--tls-ca-out",
        "ca.pem",
        "--latency-ms",
        "5",
        "--fail-rate",
        "0.5",
        "--fail-status",
        "429",
    ])
    .unwrap()
    .emulator;
    assert_eq!((cli.latency_ms, cli.fail_status), (5, 429));
    assert!(
        Cli::try_parse_from(["emulator", "--tls-ca-out", "ca.pem"]).is_err(),
        "--tls-ca-out needs --tls"
    );
}
