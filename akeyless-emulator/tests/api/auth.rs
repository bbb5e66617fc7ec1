//! `/auth` for every access type, and `/validate-token`.

use std::time::{Duration, SystemTime};

use akeyless_emulator::demo::*;
use akeyless_emulator::testing::{AwsTestCredentials, TestKeys};
use akeyless_emulator::{Access, Operation, Seed};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Harness, error_text};

const HOUR: Duration = Duration::from_secs(3600);

async fn assert_rejected(h: &Harness, body: Value, reason: &str) {
    let (status, out) = h.post("auth", body).await;
    assert_eq!(status, 401, "{out}");
    let text = error_text(&out);
    assert!(text.contains(reason), "expected {reason:?} in {text:?}");
}

#[tokio::test]
async fn access_key_login_returns_token_expiration_and_creds() {
    let h = Harness::demo().await;
    let (status, out) = h
        .post(
            "auth",
            json!({"access-type": "access_key", "access-id": DEMO_ACCESS_KEY_ID,
                   "access-key": DEMO_ACCESS_KEY, "json": false, "gcp-audience": "akeyless.io",
                   "oci-auth-type": "apikey", "some-future-field": 1}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let token = out["token"].as_str().unwrap();
    assert!(token.starts_with("t-"));
    let expiration = OffsetDateTime::parse(out["expiration"].as_str().unwrap(), &Rfc3339).unwrap();
    let expiry = out["creds"]["expiry"].as_i64().unwrap();
    assert_eq!(expiration.unix_timestamp(), expiry);
    let ttl = expiry - OffsetDateTime::now_utc().unix_timestamp();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
    assert_eq!(h.emulator.stats().logins, 1);
}

#[tokio::test]
async fn access_key_accepts_the_api_key_alias_and_a_missing_access_type() {
    let h = Harness::demo().await;
    for access_type in [Some("api_key"), None] {
        let mut body = json!({"access-id": DEMO_ACCESS_KEY_ID, "access-key": DEMO_ACCESS_KEY});
        if let Some(t) = access_type {
            body["access-type"] = json!(t);
        }
        h.login(body).await;
    }
}

#[tokio::test]
async fn access_key_failures_are_401() {
    let h = Harness::demo().await;
    let id = DEMO_ACCESS_KEY_ID;
    assert_rejected(
        &h,
        json!({"access-id": id, "access-key": "wrong"}),
        "access key is incorrect",
    )
    .await;
    assert_rejected(&h, json!({"access-id": id}), "access-key is missing").await;
    assert_rejected(
        &h,
        json!({"access-id": "p-nosuchid0001", "access-key": "x"}),
        "no such access id",
    )
    .await;
    assert_rejected(
        &h,
        json!({"access-key": DEMO_ACCESS_KEY}),
        "access-id is missing",
    )
    .await;
    assert_rejected(
        &h,
        json!({"access-type": "jwt", "access-id": id, "jwt": "x"}),
        "does not use access type jwt",
    )
    .await;
    assert_rejected(
        &h,
        json!({"access-type": "password", "access-id": id}),
        "unsupported access type",
    )
    .await;
    let stats = h.emulator.stats();
    assert_eq!((stats.logins, stats.failed_logins), (0, 6));
    assert_eq!(stats.requests(Operation::Auth), 6);
}

#[tokio::test]
async fn jwt_login_checks_signature_audience_expiry_and_not_before() {
    let h = Harness::demo().await;
    let rsa = TestKeys::rsa();
    let body =
        |jwt: String| json!({"access-type": "jwt", "access-id": DEMO_JWT_ACCESS_ID, "jwt": jwt});
    h.login(body(rsa.jwt(Some(DEMO_JWT_AUDIENCE), HOUR))).await;
    assert_rejected(&h, body(rsa.jwt(Some("other"), HOUR)), "audience").await;
    assert_rejected(&h, body(rsa.jwt(None, HOUR)), "aud").await;
    assert_rejected(
        &h,
        body(rsa.expired_jwt(Some(DEMO_JWT_AUDIENCE))),
        "expired",
    )
    .await;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let future =
        rsa.mint_jwt(&json!({"aud": DEMO_JWT_AUDIENCE, "nbf": now + 600, "exp": now + 1200}));
    assert_rejected(&h, body(future), "not valid yet").await;
    let no_exp = rsa.mint_jwt(&json!({"aud": DEMO_JWT_AUDIENCE}));
    assert_rejected(&h, body(no_exp), "exp").await;
    // Signed by another key (the EC test key) for the RSA-keyed access id.
    assert_rejected(
        &h,
        body(TestKeys::ec().jwt(Some(DEMO_JWT_AUDIENCE), HOUR)),
        "algorithm",
    )
    .await;
    assert_rejected(&h, body("not.a.jwt".to_owned()), "malformed").await;
}

#[tokio::test]
async fn jwt_signed_by_an_unknown_key_of_the_same_type_is_rejected() {
    // Two access ids with different EC keys would need a second key pair; instead verify the RSA
    // key rejects a token whose signature was tampered with.
    let h = Harness::demo().await;
    let jwt = TestKeys::rsa().jwt(Some(DEMO_JWT_AUDIENCE), HOUR);
    let (head, sig) = jwt.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &sig[1..]);
    assert_rejected(
        &h,
        json!({"access-type": "jwt", "access-id": DEMO_JWT_ACCESS_ID, "jwt": tampered}),
        "signature",
    )
    .await;
}

#[tokio::test]
async fn universal_identity_accepts_both_field_spellings() {
    let h = Harness::demo().await;
    for field in ["uid-token", "uid_token"] {
        let mut body =
            json!({"access-type": "universal_identity", "access-id": DEMO_UID_ACCESS_ID});
        body[field] = json!(DEMO_UID_TOKEN);
        h.login(body).await;
    }
    assert_rejected(
        &h,
        json!({"access-type": "universal_identity", "access-id": DEMO_UID_ACCESS_ID, "uid-token": "u-wrong"}),
        "not valid",
    )
    .await;
}

#[tokio::test]
async fn k8s_login_needs_the_config_name_the_gateway_url_and_a_valid_token() {
    let h = Harness::demo().await;
    let ec = TestKeys::ec();
    let body = |config: &str, gateway: Option<&str>, token: String| {
        let mut b = json!({"access-type": "k8s", "access-id": DEMO_K8S_ACCESS_ID,
                           "k8s-auth-config-name": config, "k8s-service-account-token": token});
        if let Some(g) = gateway {
            b["gateway-url"] = json!(g);
        }
        b
    };
    let token = || ec.k8s_service_account_token(None, HOUR);
    h.login(body(DEMO_K8S_CONFIG_NAME, Some("https://gw:8000"), token()))
        .await;
    assert_rejected(
        &h,
        body(DEMO_K8S_CONFIG_NAME, None, token()),
        "gateway-url is missing",
    )
    .await;
    assert_rejected(
        &h,
        body("other", Some("https://gw"), token()),
        "does not exist",
    )
    .await;
    assert_rejected(
        &h,
        body(DEMO_K8S_CONFIG_NAME, Some("https://gw"), "%%%".to_owned()),
        "not base64",
    )
    .await;
    let raw_jwt = ec.jwt(None, HOUR);
    assert_rejected(
        &h,
        body(DEMO_K8S_CONFIG_NAME, Some("https://gw"), raw_jwt),
        "base64",
    )
    .await;
}

#[tokio::test]
async fn aws_iam_login_verifies_the_sigv4_signature() {
    let h = Harness::demo().await;
    let creds = demo_aws_credentials();
    let body = |cloud_id: String| json!({"access-type": "aws_iam", "access-id": DEMO_AWS_ACCESS_ID, "cloud-id": cloud_id});
    h.login(body(creds.cloud_id())).await;
    h.login(body(creds.regional_cloud_id("eu-central-1"))).await;
    let wrong_secret = AwsTestCredentials::new(creds.access_key_id(), "not-the-secret");
    assert_rejected(
        &h,
        body(wrong_secret.cloud_id()),
        "signature does not match",
    )
    .await;
    let other_key = AwsTestCredentials::new("AKIAOTHER", creds.secret_access_key());
    assert_rejected(&h, body(other_key.cloud_id()), "another AWS access key").await;
    let stale = creds.cloud_id_signed_at(SystemTime::now() - Duration::from_secs(3600));
    assert_rejected(&h, body(stale), "15 minutes").await;
    assert_rejected(&h, body("bm90IGpzb24=".to_owned()), "not an STS request").await;
}

#[tokio::test]
async fn aws_iam_accepts_temporary_credentials() {
    let creds = AwsTestCredentials::new("ASIATEMPORARY", "temp-secret")
        .with_session_token("FwoGZXIvYXdzEXAMPLE");
    let seed = Seed::new().with_access(creds.access("p-awstemp00001").allow("/*"));
    let h = Harness::with_seed(seed).await;
    h.login(json!({"access-type": "aws_iam", "access-id": "p-awstemp00001", "cloud-id": creds.cloud_id()}))
        .await;
}

#[tokio::test]
async fn azure_ad_login_verifies_the_token_in_the_cloud_id() {
    let h = Harness::demo().await;
    let ec = TestKeys::ec();
    let body = |cloud_id: String| json!({"access-type": "azure_ad", "access-id": DEMO_AZURE_ACCESS_ID, "cloud-id": cloud_id});
    h.login(body(ec.cloud_id(DEMO_AZURE_AUDIENCE, HOUR))).await;
    assert_rejected(&h, body(ec.cloud_id("https://other/", HOUR)), "audience").await;
    assert_rejected(&h, body(json!(null).to_string()), "not base64").await;
}

#[tokio::test]
async fn gcp_login_requires_the_token_audience_to_equal_gcp_audience() {
    let h = Harness::demo().await;
    let rsa = TestKeys::rsa();
    let body = |cloud_id: String, audience: Option<&str>| {
        let mut b =
            json!({"access-type": "gcp", "access-id": DEMO_GCP_ACCESS_ID, "cloud-id": cloud_id});
        if let Some(a) = audience {
            b["gcp-audience"] = json!(a);
        }
        b
    };
    h.login(body(rsa.cloud_id("akeyless.io", HOUR), Some("akeyless.io")))
        .await;
    // gcp-audience defaults to akeyless.io.
    h.login(body(rsa.cloud_id("akeyless.io", HOUR), None)).await;
    assert_rejected(
        &h,
        body(rsa.cloud_id("akeyless.io", HOUR), Some("custom")),
        "audience",
    )
    .await;

    // A seed may pin the audience; the request must then name it.
    let seed = Seed::new().with_access(
        Access::gcp("p-gcppinned001", rsa.public_key_pem())
            .with_audience("custom")
            .allow("/*"),
    );
    let pinned = Harness::with_seed(seed).await;
    let pinned_body = |audience: &str| {
        json!({"access-type": "gcp", "access-id": "p-gcppinned001",
               "cloud-id": rsa.cloud_id(audience, HOUR), "gcp-audience": audience})
    };
    pinned.login(pinned_body("custom")).await;
    assert_rejected(&pinned, pinned_body("akeyless.io"), "not allowed").await;
}

#[tokio::test]
async fn validate_token_reports_validity_expiry_and_unknown_tokens() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (status, out) = h.post("validate-token", json!({"token": token})).await;
    assert_eq!(status, 200);
    assert_eq!(out["is_valid"], true);
    assert!(out["ttl"].as_i64().unwrap() > 3500);
    OffsetDateTime::parse(out["expiration"].as_str().unwrap(), &Rfc3339).unwrap();

    h.emulator.expire_all_tokens();
    let (status, out) = h.post("validate-token", json!({"token": token})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (out["is_valid"].clone(), out["reason"].clone()),
        (json!(false), json!("token expired"))
    );

    let (status, out) = h
        .post("validate-token", json!({"token": "t-unknown"}))
        .await;
    assert_eq!(status, 401);
    error_text(&out);
    let (status, out) = h
        .post("validate-token", json!({"token": DEMO_UID_TOKEN}))
        .await;
    assert_eq!((status, out["is_valid"].clone()), (200, json!(true)));
}

#[tokio::test]
async fn expired_tokens_get_401_and_a_new_login_works() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let read = |token: String| json!({"names": ["/demo/static/password"], "token": token});
    assert_eq!(h.post("get-secret-value", read(token.clone())).await.0, 200);
    h.emulator.expire_all_tokens();
    let (status, out) = h.post("get-secret-value", read(token)).await;
    assert_eq!(status, 401);
    assert!(error_text(&out).contains("token expired"));
    let fresh = h.demo_token().await;
    assert_eq!(h.post("get-secret-value", read(fresh)).await.0, 200);
}

#[tokio::test]
async fn a_short_token_ttl_is_honoured() {
    let emulator = akeyless_emulator::Emulator::builder()
        .token_ttl(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let h = Harness {
        emulator,
        client: reqwest::Client::new(),
    };
    let (_, out) = h
        .post(
            "auth",
            json!({"access-id": DEMO_ACCESS_KEY_ID, "access-key": DEMO_ACCESS_KEY}),
        )
        .await;
    let ttl = out["creds"]["expiry"].as_i64().unwrap() - OffsetDateTime::now_utc().unix_timestamp();
    assert!((0..=5).contains(&ttl), "ttl {ttl}");
}
