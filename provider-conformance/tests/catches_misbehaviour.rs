//! The suite fails the providers it should: one in-memory provider, with
//! one fault at a time, each caught by the check made for it, and the
//! well-behaved version passing everything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly.

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
            "doctor flags a denied item",
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
