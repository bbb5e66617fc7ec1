//! The suite fails the providers it should: one in-memory provider, with
//! one fault at a time, each caught by the check made for it, and the
//! well-behaved version passing everything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

use ci_secrets_http::HttpContext as _;
use ci_secrets_provider_api::{
    ErrorKind, Provider, ProviderError, ResolveContext, SecretRequest, SecretResult, SecretValue,
    async_trait,
};
use ci_secrets_provider_conformance::{Backend, Report, run};

const ITEMS: [(&str, &str); 3] = [
    ("alpha", "alpha-secret-value"),
    ("beta", "beta-secret-value"),
    ("gamma", "gamma-secret-value"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    ReversedResults,
    EchoesValueInErrors,
    IgnoresDeadline,
    FailsWholeBatch,
    NotFoundAsDenied,
    DropsLastResult,
}

#[derive(Debug)]
struct Memory {
    fault: Fault,
}

#[async_trait]
impl Provider for Memory {
    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        let mut results: Vec<SecretResult> = requests
            .iter()
            .map(|request| {
                if self.fault != Fault::IgnoresDeadline {
                    ctx.check_deadline()?;
                }
                let name = request
                    .block
                    .as_str()
                    .ok_or_else(|| ProviderError::new(ErrorKind::Config, "not a string"))?;
                match ITEMS.iter().find(|(item, _)| *item == name) {
                    Some((_, value)) => Ok(SecretValue::text(*value)),
                    None if self.fault == Fault::EchoesValueInErrors => Err(ProviderError::new(
                        ErrorKind::NotFound,
                        format!("{name} not found; did you mean alpha ({})?", ITEMS[0].1),
                    )),
                    None if self.fault == Fault::NotFoundAsDenied => {
                        Err(ProviderError::new(ErrorKind::Denied, "forbidden"))
                    }
                    None => Err(ProviderError::new(ErrorKind::NotFound, "no such item")),
                }
            })
            .collect();
        match self.fault {
            Fault::ReversedResults => results.reverse(),
            Fault::DropsLastResult => {
                results.pop();
            }
            Fault::FailsWholeBatch if results.iter().any(Result::is_err) => {
                results = requests
                    .iter()
                    .map(|_| Err(ProviderError::new(ErrorKind::NotFound, "batch failed")))
                    .collect();
            }
            _ => {}
        }
        results
    }
}

async fn report(fault: Fault) -> Report {
    let mut backend = Backend::new(
        format!("memory, {fault:?}"),
        move || Box::new(Memory { fault }),
        || ResolveContext::builder("job"),
    )
    .missing(SecretRequest::new("MISSING", "delta".into()))
    .invalid(SecretRequest::new(
        "INVALID",
        serde_json::json!({"name": 1}),
    ));
    for (index, (item, value)) in ITEMS.iter().enumerate() {
        backend = backend.readable(
            SecretRequest::new(format!("VAR_{index}"), (*item).into()),
            *value,
        );
    }
    run(&backend).await
}

fn failed_checks(report: &Report) -> Vec<&'static str> {
    report.failed().iter().map(|(check, _)| *check).collect()
}

#[tokio::test]
async fn a_well_behaved_provider_passes() {
    let report = report(Fault::None).await;
    report.assert_passed();
    let skipped: Vec<_> = report.skipped().iter().map(|(check, _)| *check).collect();
    assert_eq!(
        skipped,
        [
            "a denied item fails alone, as Denied",
            "an unreachable server fails every secret, as Transient",
            // `Memory` has no `diagnose`: nothing shows that doctor passes.
            "doctor passes every readable item",
            "doctor flags a denied item",
            "no credential in any error when the server echoes every request",
        ]
    );
}

#[tokio::test]
async fn results_out_of_order_are_caught() {
    let report = report(Fault::ReversedResults).await;
    assert!(
        failed_checks(&report).contains(&"every readable item, in request order"),
        "{report}"
    );
}

#[tokio::test]
async fn a_value_in_an_error_is_caught_without_repeating_it() {
    let report = report(Fault::EchoesValueInErrors).await;
    let leak = report
        .failed()
        .iter()
        .find(|(check, _)| check.starts_with("no value or credential"))
        .unwrap_or_else(|| panic!("leak not caught: {report}"));
    assert!(leak.1.contains("VAR_0"), "{}", leak.1);
    assert!(
        !report.to_string().contains(ITEMS[0].1),
        "the report repeats the value"
    );
}

#[tokio::test]
async fn an_ignored_deadline_and_cancellation_are_caught() {
    let report = report(Fault::IgnoresDeadline).await;
    let failed = failed_checks(&report);
    assert!(
        failed.contains(&"a passed deadline fails every secret, as Deadline"),
        "{report}"
    );
    assert!(
        failed.contains(&"a cancelled run fails every secret, as Deadline"),
        "{report}"
    );
}

#[tokio::test]
async fn one_bad_item_failing_the_batch_is_caught() {
    let report = report(Fault::FailsWholeBatch).await;
    let failed = failed_checks(&report);
    assert!(
        failed.contains(&"a missing item fails alone, as NotFound"),
        "{report}"
    );
    assert!(
        failed.contains(&"an invalid block fails alone, as Config"),
        "{report}"
    );
}

#[tokio::test]
async fn a_wrong_error_kind_is_caught() {
    let report = report(Fault::NotFoundAsDenied).await;
    let (_, why) = report
        .failed()
        .iter()
        .find(|(check, _)| *check == "a missing item fails alone, as NotFound")
        .unwrap_or_else(|| panic!("wrong kind not caught: {report}"));
    assert!(why.contains("MISSING"), "{why}");
}

#[tokio::test]
async fn a_missing_result_is_caught() {
    let report = report(Fault::DropsLastResult).await;
    let (_, why) = &report.failed()[0];
    assert!(why.contains("2 results for 3 requests"), "{report}");
}

/// Reads from `SERVER_URL` with the key `KEY` in a header and the token
/// `TOKEN` in the body when that variable is set; otherwise like `Memory`.
/// It scrubs the server's error text of the key, and of the token unless
/// it forgets to.
#[derive(Debug)]
struct OverHttp {
    forgets_the_token: bool,
}

#[async_trait]
impl Provider for OverHttp {
    async fn resolve(&self, ctx: &ResolveContext, requests: &[SecretRequest]) -> Vec<SecretResult> {
        let Some(url) = ctx.variables().get("SERVER_URL").map(str::to_string) else {
            return Memory { fault: Fault::None }.resolve(ctx, requests).await;
        };
        let key = ctx.variables().get("KEY").unwrap_or_default().to_string();
        let token = ctx.variables().get("TOKEN").unwrap_or_default().to_string();
        let mut results = Vec::new();
        for _ in requests {
            let client = ctx.http().client(None).unwrap();
            let sent = client
                .send(
                    ctx,
                    "POST /read",
                    ci_secrets_http::RetryMode::Idempotent,
                    |http| {
                        http.post(format!("{url}/read"))
                            .header("x-key", &key)
                            .json(&serde_json::json!({"token": token}))
                    },
                )
                .await;
            let scrub: Vec<&str> = if self.forgets_the_token {
                vec![key.as_str()]
            } else {
                vec![key.as_str(), token.as_str()]
            };
            results.push(match sent {
                Ok(response) => Err(ProviderError::new(
                    ErrorKind::Denied,
                    format!(
                        "read refused: {}",
                        response.error_text(&scrub).unwrap_or_default()
                    ),
                )),
                Err(err) => Err(err),
            });
        }
        results
    }
}

async fn echo_report(forgets_the_token: bool) -> Report {
    let mut backend = Backend::new(
        "over http",
        move || Box::new(OverHttp { forgets_the_token }),
        || ResolveContext::builder("job"),
    )
    .credential("key-0123456789abcdef")
    .credential("token-0123456789abcdef")
    .echoing(|url| {
        let variables = ci_secrets_provider_api::JobVariables::from_iter([
            ("SERVER_URL", url),
            ("KEY", "key-0123456789abcdef"),
            ("TOKEN", "token-0123456789abcdef"),
        ]);
        let requests = vec![SecretRequest::new("A", "alpha".into())];
        (
            ResolveContext::builder("job").variables(variables),
            requests,
        )
    });
    for (index, (item, value)) in ITEMS.iter().enumerate() {
        backend = backend.readable(
            SecretRequest::new(format!("VAR_{index}"), (*item).into()),
            *value,
        );
    }
    run(&backend).await
}

const ECHO_CHECK: &str = "no credential in any error when the server echoes every request";

#[tokio::test]
async fn a_credential_echoed_by_the_server_is_caught() {
    let report = echo_report(true).await;
    let (_, why) = report
        .failed()
        .iter()
        .find(|(check, _)| *check == ECHO_CHECK)
        .unwrap_or_else(|| panic!("echoed token not caught: {report}"));
    assert!(why.contains("credential 1"), "{why}");
    assert!(!report.to_string().contains("token-0123456789abcdef"));
}

#[tokio::test]
async fn every_credential_masked_passes_the_echo_check() {
    let report = echo_report(false).await;
    assert!(
        !failed_checks(&report).contains(&ECHO_CHECK)
            && !report
                .skipped()
                .iter()
                .any(|(check, _)| *check == ECHO_CHECK),
        "{report}"
    );
}
