//! `/describe-item`, the value reads, `/list-items`, and the 401/404 rules.

use akeyless_emulator::demo::*;
use serde_json::{Value, json};

use crate::{Harness, error_text};

#[tokio::test]
async fn describe_item_reports_each_item_type() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    for (name, item_type) in [
        ("/demo/static/password", "STATIC_SECRET"),
        ("/demo/dynamic/db", "DYNAMIC_SECRET"),
        ("/demo/rotated/admin", "ROTATED_SECRET"),
        ("/demo/ssh/issuer", "SSH_CERT_ISSUER"),
        ("/demo/pki/issuer", "PKI_CERT_ISSUER"),
        ("/demo/certificate/web", "CERTIFICATE"),
    ] {
        let (status, out) = h
            .post("describe-item", json!({"name": name, "token": token}))
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["item_name"], name);
        assert_eq!(out["item_type"], item_type);
        assert_eq!(out["is_enabled"], true);
        assert!(out["item_id"].as_u64().unwrap() > 0);
    }
    // A name without the leading slash is the same item.
    let (status, out) = h
        .post(
            "describe-item",
            json!({"name": "demo/static/password", "token": token}),
        )
        .await;
    assert_eq!(
        (status, out["item_name"].clone()),
        (200, json!("/demo/static/password"))
    );
}

#[tokio::test]
async fn describe_item_shows_versions_and_issuer_details() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (_, out) = h
        .post(
            "describe-item",
            json!({"name": "/demo/static/password", "token": token, "show-versions": true}),
        )
        .await;
    assert_eq!(out["last_version"], 2);
    assert_eq!(out["item_versions"].as_array().unwrap().len(), 2);
    let (_, out) = h
        .post(
            "describe-item",
            json!({"name": "/demo/static/db", "token": token}),
        )
        .await;
    assert_eq!(
        out["item_general_info"]["static_secret_info"]["format"],
        "json"
    );
    let (_, out) = h
        .post(
            "describe-item",
            json!({"name": "/demo/ssh/issuer", "token": token}),
        )
        .await;
    assert_eq!(out["certificate_issue_details"]["cert_issuer_type"], "ssh");
    assert_eq!(
        out["certificate_issue_details"]["ssh_cert_issuer_details"]["allowed_users"],
        json!(["deploy", "ci"])
    );
    let (_, out) = h
        .post(
            "describe-item",
            json!({"name": "/demo/pki/issuer", "token": token}),
        )
        .await;
    assert_eq!(out["certificate_issue_details"]["max_ttl"], 3600);
}

/// The whole `Item` object of each item type, as `/describe-item` and `/list-items` answer it:
/// every field and value except the item ids and the dates, which are checked for form.
#[tokio::test]
async fn describe_and_list_answer_the_whole_item_object() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let common = |name: &str, item_type: &str, sub_type: &str, last_version: u64| {
        json!({
            "item_name": name, "item_type": item_type, "item_sub_type": sub_type,
            "item_state": "Enabled", "is_enabled": true, "last_version": last_version,
            "item_metadata": "", "item_tags": [], "item_size": 0,
            "with_customer_fragment": false, "delete_protection": false,
            "client_permissions": ["read", "list"],
        })
    };
    let ssh_details = json!({
        "cert_issuer_type": "ssh", "max_ttl": 3600,
        "ssh_cert_issuer_details": {
            "allowed_users": ["deploy", "ci"], "cert_type": 1, "extensions": {"permit-pty": ""},
        },
    });
    let pki_details = json!({
        "cert_issuer_type": "pki", "max_ttl": 3600,
        "pki_cert_issuer_details": {
            "allowed_domains_list": ["demo.local", "example.com"], "allow_subdomains": true,
            "allow_any_name": false, "server_flag": true, "client_flag": true,
            "key_type": "ec", "key_bits": 256, "is_ca": false,
        },
    });
    let with = |mut object: Value, extra: Value| {
        let map = object.as_object_mut().unwrap();
        for (key, value) in extra.as_object().unwrap() {
            map.insert(key.clone(), value.clone());
        }
        object
    };
    let expected = [
        with(
            common("/demo/static/password", "STATIC_SECRET", "generic", 2),
            json!({"item_general_info": {"static_secret_info": {"format": "text", "max_versions": 0}}}),
        ),
        with(
            common("/demo/static/db", "STATIC_SECRET", "generic", 1),
            json!({"item_general_info": {"static_secret_info": {"format": "json", "max_versions": 0}}}),
        ),
        with(
            common("/demo/dynamic/db", "DYNAMIC_SECRET", "custom", 0),
            json!({"item_general_info": {"dynamic_secret_producer_details": {
                "producer_status": "ProducerConnected", "producer_type": "custom"}}}),
        ),
        with(
            common("/demo/rotated/admin", "ROTATED_SECRET", "custom", 0),
            json!({"item_general_info": {"rotated_secret_details": {
                "rotator_status": "RotationSucceeded", "rotator_type": "custom"}}}),
        ),
        with(
            common("/demo/ssh/issuer", "SSH_CERT_ISSUER", "ssh", 0),
            json!({"item_general_info": {"cert_issue_details": ssh_details},
                   "certificate_issue_details": ssh_details}),
        ),
        with(
            common("/demo/pki/issuer", "PKI_CERT_ISSUER", "pki", 0),
            json!({"item_general_info": {"cert_issue_details": pki_details},
                   "certificate_issue_details": pki_details}),
        ),
        with(
            common("/demo/certificate/web", "CERTIFICATE", "certificate", 0),
            json!({"item_general_info": {"certificate_format": "pem"}}),
        ),
    ];
    // Ids and dates vary by run: checked for form, then left out of the comparison.
    let without_ids_and_dates = |mut item: Value| {
        let map = item.as_object_mut().unwrap();
        assert!(map.remove("item_id").unwrap().as_u64().unwrap() > 0);
        assert!(
            map.remove("display_id")
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("emu")
        );
        let created = map.remove("creation_date").unwrap();
        assert!(created.as_str().unwrap().ends_with('Z'), "{created}");
        assert_eq!(map.remove("modification_date").unwrap(), created);
        assert_eq!(map.remove("access_date").unwrap(), created);
        item
    };
    for want in &expected {
        let name = want["item_name"].as_str().unwrap();
        let (status, out) = h
            .post("describe-item", json!({"name": name, "token": token}))
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(without_ids_and_dates(out.clone()), *want, "{name}");
        // Listed, the item is the same object.
        let folder = &name[..name.rfind('/').unwrap()];
        let (_, listing) = h
            .post("list-items", json!({"path": folder, "token": token}))
            .await;
        let listed = listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["item_name"] == name)
            .unwrap();
        assert_eq!(*listed, out, "{name}");
    }
    // With versions: one entry per version, dated like the item.
    let (_, out) = h
        .post(
            "describe-item",
            json!({"name": "/demo/static/password", "token": token, "show-versions": true}),
        )
        .await;
    let created = out["creation_date"].clone();
    assert_eq!(
        out["item_versions"],
        json!([
            {"version": 1, "item_version_state": "Enabled", "creation_date": created, "modification_date": created},
            {"version": 2, "item_version_state": "Enabled", "creation_date": created, "modification_date": created},
        ])
    );
    assert_eq!(
        without_ids_and_dates(with(out, json!({})))
            .as_object()
            .unwrap()
            .len(),
        expected[0].as_object().unwrap().len() + 1
    );
}

#[tokio::test]
async fn missing_items_are_404_only_for_callers_who_may_read_them() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (status, out) = h
        .post(
            "describe-item",
            json!({"name": "/demo/missing", "token": token}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        error_text(&out),
        format!(
            "failed to obtain item description: Desc: Failed to get item. Status 404 Not Found, Error: NotFound. \
             Message: account id: acc-emulator00001, access id: {DEMO_ACCESS_KEY_ID}. failed to obtain item /demo/missing"
        )
    );
    // Outside the allow list: 401 whether the item exists or not.
    for name in ["/restricted/admin-token", "/restricted/missing"] {
        let (status, out) = h
            .post("describe-item", json!({"name": name, "token": token}))
            .await;
        assert_eq!(status, 401);
        assert!(error_text(&out).ends_with(&format!(
            "Status 401 Unauthorized, Error: UnauthorizedAccess. Message: account id: acc-emulator00001, \
             access id: {DEMO_ACCESS_KEY_ID}. unauthorized access for access id {DEMO_ACCESS_KEY_ID}"
        )));
    }
}

#[tokio::test]
async fn data_calls_without_a_valid_token_are_401() {
    let h = Harness::demo().await;
    for body in [
        json!({"name": "/demo/static/password"}),
        json!({"name": "/demo/static/password", "token": "t-forged"}),
        json!({"name": "/demo/static/password", "uid-token": "u-forged"}),
    ] {
        let (status, out) = h.post("describe-item", body).await;
        assert_eq!(status, 401);
        assert!(error_text(&out).contains("UnauthorizedAccess"));
    }
}

#[tokio::test]
async fn a_uid_token_works_directly_on_data_calls() {
    let h = Harness::demo().await;
    let (status, out) = h
        .post(
            "get-secret-value",
            json!({"names": ["/demo/static/password"], "uid-token": DEMO_UID_TOKEN}),
        )
        .await;
    assert_eq!(
        (status, out["/demo/static/password"].clone()),
        (200, json!("demo-password-v2"))
    );
}

#[tokio::test]
async fn static_secrets_return_text_json_encoded_objects_and_versions() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (status, out) = h
        .post(
            "get-secret-value",
            json!({"names": ["/demo/static/password", "/demo/static/db"], "token": token}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["/demo/static/password"], "demo-password-v2");
    let db = out["/demo/static/db"]
        .as_str()
        .expect("JSON secrets are JSON-encoded strings");
    let db: Value = serde_json::from_str(db).unwrap();
    assert_eq!(db["username"], "app");
    assert_eq!(db["port"], 5432);

    let version =
        |v: i64| json!({"names": ["/demo/static/password"], "token": token, "version": v});
    assert_eq!(
        h.post("get-secret-value", version(1)).await.1["/demo/static/password"],
        "demo-password-v1"
    );
    assert_eq!(
        h.post("get-secret-value", version(2)).await.1["/demo/static/password"],
        "demo-password-v2"
    );
    assert_eq!(h.post("get-secret-value", version(3)).await.0, 404);
    assert_eq!(h.post("get-secret-value", version(-2)).await.0, 400);
}

#[tokio::test]
async fn reading_with_the_wrong_operation_is_400_and_missing_parameters_are_400() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (status, out) = h
        .post(
            "get-secret-value",
            json!({"names": ["/demo/dynamic/db"], "token": token}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&out).contains("is of type DYNAMIC_SECRET, not STATIC_SECRET"));
    assert_eq!(
        h.post("get-secret-value", json!({"token": token})).await.0,
        400
    );
    assert_eq!(
        h.post("describe-item", json!({"token": token})).await.0,
        400
    );
    assert_eq!(
        h.post(
            "get-dynamic-secret-value",
            json!({"name": "/demo/static/db", "token": token})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        h.post(
            "get-rotated-secret-value",
            json!({"names": "/demo/static/db", "token": token})
        )
        .await
        .0,
        400
    );
    let (status, out) = h
        .post("describe-item", json!({"name": 5, "token": token}))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&out).contains("wrong type"));
}

#[tokio::test]
async fn a_malformed_body_is_400_json() {
    let h = Harness::demo().await;
    let response = h
        .client
        .post(format!("{}/describe-item", h.emulator.url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let out: Value = response.json().await.unwrap();
    assert!(error_text(&out).contains("not JSON"));
}

#[tokio::test]
async fn dynamic_secrets_are_fresh_per_call_in_both_shapes() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let body = |name: &str| json!({"name": name, "token": token, "timeout": 15});
    let (status, first) = h
        .post("get-dynamic-secret-value", body("/demo/dynamic/db"))
        .await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = h
        .post("get-dynamic-secret-value", body("/demo/dynamic/db"))
        .await;
    assert!(first["user"].as_str().unwrap().starts_with("tmp-"));
    assert_ne!(first["user"], second["user"]);
    assert_ne!(first["password"], second["password"]);
    assert_eq!(first["password"].as_str().unwrap().len(), 24);

    let (status, wrapped) = h
        .post("get-dynamic-secret-value", body("/demo/dynamic/aws"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(wrapped["error"], "");
    let inner: Value = serde_json::from_str(wrapped["value"].as_str().unwrap()).unwrap();
    assert!(
        inner["access_key_id"]
            .as_str()
            .unwrap()
            .starts_with("ASIADEMO")
    );
}

#[tokio::test]
async fn rotated_secrets_are_wrapped_in_value_and_names_may_be_a_string_or_one_element_array() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    for names in [json!("/demo/rotated/admin"), json!(["/demo/rotated/admin"])] {
        let (status, out) = h
            .post(
                "get-rotated-secret-value",
                json!({"names": names, "token": token}),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(
            out,
            json!({"value": {"username": "admin", "password": "demo-rotated-password"}})
        );
    }
}

#[tokio::test]
async fn certificate_items_return_their_pem_and_key() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (status, out) = h
        .post(
            "get-certificate-value",
            json!({"name": "/demo/certificate/web", "token": token}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert!(
        out["certificate_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(
        out["private_key_pem"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let (status, _) = h
        .post(
            "get-certificate-value",
            json!({"name": "/demo/certificate/web", "token": token, "format": "pfx"}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn list_items_shows_readable_items_and_folders() {
    let h = Harness::demo().await;
    let token = h.demo_token().await;
    let (status, out) = h
        .post("list-items", json!({"path": "/demo", "token": token}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["items"], json!([]));
    assert_eq!(
        out["folders"],
        json!([
            "/demo/certificate",
            "/demo/dynamic",
            "/demo/pki",
            "/demo/rotated",
            "/demo/ssh",
            "/demo/static"
        ])
    );
    let (_, out) = h
        .post(
            "list-items",
            json!({"path": "/demo/static/", "token": token}),
        )
        .await;
    let names: Vec<&str> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/demo/static/db", "/demo/static/password"]);
    // The root lists only folders the caller can read into.
    let (_, out) = h.post("list-items", json!({"token": token})).await;
    assert_eq!(out["folders"], json!(["/demo"]));
    // Type filter.
    let (_, out) = h
        .post(
            "list-items",
            json!({"path": "/demo/dynamic", "type": ["static-secret"], "token": token}),
        )
        .await;
    assert_eq!(out["items"], json!([]));
}

#[tokio::test]
async fn a_limited_identity_sees_only_its_allowed_item() {
    let h = Harness::demo().await;
    let token = h
        .login(json!({"access-id": DEMO_LIMITED_ACCESS_ID, "access-key": DEMO_LIMITED_ACCESS_KEY}))
        .await;
    let read = |name: &str| json!({"names": [name], "token": token});
    assert_eq!(
        h.post("get-secret-value", read("/demo/static/password"))
            .await
            .0,
        200
    );
    assert_eq!(
        h.post("get-secret-value", read("/demo/static/db")).await.0,
        401
    );
    let (_, out) = h
        .post(
            "list-items",
            json!({"path": "/demo/static", "token": token}),
        )
        .await;
    assert_eq!(out["items"].as_array().unwrap().len(), 1);
}
