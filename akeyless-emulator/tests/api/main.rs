//! HTTP-level tests of every operation, auth kind and error path of the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod certificates;
mod items;
mod operation;
mod seed;

use akeyless_emulator::demo::{DEMO_ACCESS_KEY, DEMO_ACCESS_KEY_ID};
use akeyless_emulator::{Emulator, RunningEmulator, Seed};
use serde_json::{Value, json};

/// A started emulator with the demo seed and a plain HTTP client.
#[derive(Debug)]
pub struct Harness {
    pub emulator: RunningEmulator,
    pub client: reqwest::Client,
}

impl Harness {
    pub async fn demo() -> Self {
        Self::with_seed(Seed::demo()).await
    }

    pub async fn with_seed(seed: Seed) -> Self {
        let emulator = Emulator::builder().seed(seed).start().await.unwrap();
        Self {
            emulator,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` to `/<op>` and returns the status and the JSON body.
    pub async fn post(&self, op: &str, body: Value) -> (u16, Value) {
        self.post_at("", op, body).await
    }

    pub async fn post_at(&self, prefix: &str, op: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{prefix}/{op}", self.emulator.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{op}: body is not JSON ({e}): {text}"));
        (status, value)
    }

    /// Logs in and returns the token; panics unless the login succeeds.
    pub async fn login(&self, body: Value) -> String {
        let (status, out) = self.post("auth", body).await;
        assert_eq!(status, 200, "login failed: {out}");
        out["token"].as_str().unwrap().to_owned()
    }

    /// A token of the demo access-key identity, which reads `/demo/*`.
    pub async fn demo_token(&self) -> String {
        self.login(json!({
            "access-type": "access_key",
            "access-id": DEMO_ACCESS_KEY_ID,
            "access-key": DEMO_ACCESS_KEY,
        }))
        .await
    }
}

/// The error text of an error body, asserting the `{"error": string}` envelope.
pub fn error_text(body: &Value) -> &str {
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    body["error"].as_str().unwrap()
}
