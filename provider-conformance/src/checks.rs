//! The checks, each against fresh providers and contexts built from the
//! [`Backend`]. Every message, plan and `Debug` text they see goes into a
//! [`Transcript`] that the leak check reads last.

use std::time::Duration;

use ci_secrets_provider_api::{
    Check, ErrorKind, Provider, ProviderError, ResolveContext, SecretRequest, SecretResult,
};
use tokio_util::sync::CancellationToken;

use crate::Backend;
use crate::report::{Report, Verdict};

/// The deadline of every resolution that should succeed or fail on its own.
const DEADLINE: Duration = Duration::from_secs(60);

/// The time [`Provider::finish`] gets, as in the core.
const CLEANUP: Duration = Duration::from_secs(5);

/// Values shorter than this are not searched for: they could be part of any
/// word of a message.
const MIN_LEAK_LEN: usize = 6;

type Outcome = Result<(), Verdict>;

pub(crate) async fn run_all(backend: &Backend) -> Report {
    let mut report = Report::new(&backend.name);
    let mut transcript = Transcript::default();
    let seen = &mut transcript;
    report.record(
        "every readable item, in request order",
        in_order(backend, seen).await,
    );
    report.record(
        "the same item under two variables",
        duplicated(backend, seen).await,
    );
    report.record("an empty batch", empty(backend, seen).await);
    report.record(
        "a missing item fails alone, as NotFound",
        fails_alone(backend, &backend.missing, ErrorKind::NotFound, seen).await,
    );
    report.record(
        "a denied item fails alone, as Denied",
        fails_alone(backend, &backend.denied, ErrorKind::Denied, seen).await,
    );
    report.record(
        "an invalid block fails alone, as Config",
        invalid(backend, seen).await,
    );
    report.record(
        "a passed deadline fails every secret, as Deadline",
        passed_deadline(backend, seen).await,
    );
    report.record(
        "a cancelled run fails every secret, as Deadline",
        cancelled(backend, seen).await,
    );
    report.record(
        "an unreachable server fails every secret, as Transient",
        unreachable(backend, seen).await,
    );
    report.record(
        "one provider, two resolutions at once and one after",
        shared_provider(backend, seen).await,
    );
    report.record("one plan per request", plans(backend, seen));
    report.record(
        "doctor passes every readable item",
        doctor_passes(backend, seen).await,
    );
    report.record(
        "doctor flags a denied item",
        doctor_flags_denied(backend, seen).await,
    );
    report.record(
        "no credential in any error when the server echoes every request",
        echoed_credentials(backend, seen).await,
    );
    report.record(
        "no value or credential in any message, plan or Debug",
        no_leaks(backend, &transcript),
    );
    report
}

/// Every text a check saw that a user or a log could see.
#[derive(Default)]
struct Transcript {
    texts: Vec<String>,
}

impl Transcript {
    fn error(&mut self, err: &ProviderError) {
        self.texts.push(err.to_string());
        self.texts.push(format!("{err:?}"));
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            self.texts.push(cause.to_string());
            source = cause.source();
        }
    }

    fn results(&mut self, results: &[SecretResult]) {
        for result in results {
            match result {
                Ok(value) => self.texts.push(format!("{value:?}")),
                Err(err) => self.error(err),
            }
        }
    }
}

fn context(backend: &Backend) -> ResolveContext {
    (backend.context)().timeout(DEADLINE).build()
}

fn readable(backend: &Backend) -> Result<Vec<SecretRequest>, Verdict> {
    if backend.readable.len() < 2 {
        return Err(Verdict::Failed(
            "the backend must describe at least 2 readable items".to_owned(),
        ));
    }
    Ok(backend
        .readable
        .iter()
        .map(|(request, _)| request.clone())
        .collect())
}

/// Preflight, resolve, then finish the run, as the core does: one result
/// per request, or an error saying what went wrong.
async fn resolve_run(
    provider: &dyn Provider,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
    seen: &mut Transcript,
) -> Result<Vec<SecretResult>, Verdict> {
    let results = resolve(provider, ctx, requests, seen).await;
    provider.finish(&ctx.for_cleanup(CLEANUP)).await;
    results
}

/// Preflight, then resolve, with one result per request or an error saying
/// what went wrong.
async fn resolve(
    provider: &dyn Provider,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
    seen: &mut Transcript,
) -> Result<Vec<SecretResult>, Verdict> {
    if let Err(err) = provider.preflight(ctx, requests) {
        seen.error(&err);
        return Err(Verdict::Failed(format!("preflight refused: {err}")));
    }
    let results = provider.resolve(ctx, requests).await;
    seen.results(&results);
    seen.texts.push(format!("{provider:?}"));
    if results.len() != requests.len() {
        return Err(Verdict::Failed(format!(
            "{} results for {} requests",
            results.len(),
            requests.len()
        )));
    }
    Ok(results)
}

/// That `result`, for `request`, holds the value the backend says.
fn expect_value(backend: &Backend, request: &SecretRequest, result: &SecretResult) -> Outcome {
    let expected = backend
        .readable
        .iter()
        .find(|(readable, _)| readable.variable == request.variable)
        .map(|(_, value)| value.as_slice());
    match (result, expected) {
        (Ok(value), Some(expected)) if value.expose_bytes() == expected => Ok(()),
        (Ok(value), Some(expected)) => Err(Verdict::Failed(format!(
            "{}: {} bytes, not the {} expected",
            request.variable,
            value.len(),
            expected.len()
        ))),
        (Err(err), _) => Err(Verdict::Failed(format!("{}: {err}", request.variable))),
        (Ok(_), None) => Err(Verdict::Failed(format!(
            "{}: not a readable item of the backend",
            request.variable
        ))),
    }
}

/// That `result` is an error of `kind`.
fn expect_kind(variable: &str, result: &SecretResult, kind: ErrorKind) -> Outcome {
    match result {
        Err(err) if err.kind() == kind => Ok(()),
        Err(err) => Err(Verdict::Failed(format!(
            "{variable}: {} error, not {kind}: {err}",
            err.kind()
        ))),
        Ok(_) => Err(Verdict::Failed(format!(
            "{variable}: resolved, where a {kind} error was expected"
        ))),
    }
}

async fn in_order(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let mut requests = readable(backend)?;
    for pass in 0..2 {
        if pass == 1 {
            requests.reverse();
        }
        let provider = (backend.provider)();
        let results = resolve_run(provider.as_ref(), &context(backend), &requests, seen).await?;
        for (request, result) in requests.iter().zip(&results) {
            expect_value(backend, request, result)?;
        }
    }
    Ok(())
}

async fn duplicated(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let first = readable(backend)?.remove(0);
    let mut twin = first.clone();
    twin.variable = format!("{}_AGAIN", first.variable);
    let provider = (backend.provider)();
    let requests = [first.clone(), twin];
    let results = resolve_run(provider.as_ref(), &context(backend), &requests, seen).await?;
    for result in &results {
        expect_value(backend, &first, result)?;
    }
    Ok(())
}

async fn empty(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let provider = (backend.provider)();
    resolve_run(provider.as_ref(), &context(backend), &[], seen)
        .await
        .map(|_| ())
}

/// `odd` items, each between two readable ones, fail with `kind`; the
/// readable ones resolve.
async fn fails_alone(
    backend: &Backend,
    odd: &[SecretRequest],
    kind: ErrorKind,
    seen: &mut Transcript,
) -> Outcome {
    if odd.is_empty() {
        return Err(Verdict::Skipped("the backend describes no such item"));
    }
    let readable = readable(backend)?;
    for item in odd {
        let requests = [readable[0].clone(), item.clone(), readable[1].clone()];
        let provider = (backend.provider)();
        let results = resolve_run(provider.as_ref(), &context(backend), &requests, seen).await?;
        expect_value(backend, &requests[0], &results[0])?;
        expect_kind(&item.variable, &results[1], kind)?;
        expect_value(backend, &requests[2], &results[2])?;
    }
    Ok(())
}

/// An invalid block fails with `Config`: in preflight (which stops the run
/// before any request, so that is enough) or in its own result.
async fn invalid(backend: &Backend, seen: &mut Transcript) -> Outcome {
    if backend.invalid.is_empty() {
        return Err(Verdict::Skipped("the backend describes no invalid block"));
    }
    let readable = readable(backend)?;
    for item in &backend.invalid {
        let requests = [readable[0].clone(), item.clone()];
        let provider = (backend.provider)();
        let ctx = context(backend);
        match provider.preflight(&ctx, &requests) {
            Err(err) => {
                seen.error(&err);
                if err.kind() != ErrorKind::Config {
                    return Err(Verdict::Failed(format!(
                        "{}: preflight gave a {} error, not Config: {err}",
                        item.variable,
                        err.kind()
                    )));
                }
            }
            Ok(()) => {
                let results = resolve_run(provider.as_ref(), &ctx, &requests, seen).await?;
                expect_value(backend, &requests[0], &results[0])?;
                expect_kind(&item.variable, &results[1], ErrorKind::Config)?;
            }
        }
    }
    Ok(())
}

/// Every result is an error of `kind`.
fn expect_all(requests: &[SecretRequest], results: &[SecretResult], kind: ErrorKind) -> Outcome {
    requests
        .iter()
        .zip(results)
        .try_for_each(|(request, result)| expect_kind(&request.variable, result, kind))
}

async fn passed_deadline(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let requests = readable(backend)?;
    let ctx = (backend.context)().timeout(Duration::ZERO).build();
    let provider = (backend.provider)();
    let results = resolve_run(provider.as_ref(), &ctx, &requests, seen).await?;
    expect_all(&requests, &results, ErrorKind::Deadline)
}

async fn cancelled(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let requests = readable(backend)?;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let ctx = (backend.context)()
        .timeout(DEADLINE)
        .cancellation(cancel)
        .build();
    let provider = (backend.provider)();
    let results = resolve_run(provider.as_ref(), &ctx, &requests, seen).await?;
    expect_all(&requests, &results, ErrorKind::Deadline)
}

async fn unreachable(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let Some((context, requests)) = &backend.unreachable else {
        return Err(Verdict::Skipped(
            "the backend describes no unreachable server",
        ));
    };
    let ctx = context().timeout(DEADLINE).build();
    let provider = (backend.provider)();
    let results = resolve_run(provider.as_ref(), &ctx, requests, seen).await?;
    expect_all(requests, &results, ErrorKind::Transient)
}

async fn shared_provider(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let requests = readable(backend)?;
    let provider = (backend.provider)();
    let (ctx_a, ctx_b) = (context(backend), context(backend));
    let mut seen_a = Transcript::default();
    let mut seen_b = Transcript::default();
    let (a, b) = futures::join!(
        resolve(provider.as_ref(), &ctx_a, &requests, &mut seen_a),
        resolve(provider.as_ref(), &ctx_b, &requests, &mut seen_b),
    );
    seen.texts.extend(seen_a.texts);
    seen.texts.extend(seen_b.texts);
    let later = resolve(provider.as_ref(), &context(backend), &requests, seen).await;
    // One run: what the three resolutions acquired is released once, at the end.
    provider
        .finish(&context(backend).for_cleanup(CLEANUP))
        .await;
    for results in [a?, b?, later?] {
        for (request, result) in requests.iter().zip(&results) {
            expect_value(backend, request, result)?;
        }
    }
    Ok(())
}

fn plans(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let requests: Vec<SecretRequest> = backend
        .readable
        .iter()
        .map(|(request, _)| request.clone())
        .chain(backend.missing.iter().cloned())
        .chain(backend.invalid.iter().cloned())
        .collect();
    let provider = (backend.provider)();
    let plans = provider.plan(&context(backend), &requests);
    seen.texts
        .extend(plans.iter().map(|plan| format!("{plan:?}")));
    if plans.len() == requests.len() {
        Ok(())
    } else {
        Err(Verdict::Failed(format!(
            "{} plans for {} requests",
            plans.len(),
            requests.len()
        )))
    }
}

/// `requests` grouped by the identity [`Provider::plan`] gives each, in
/// first-seen order, as `ci-secrets doctor` hands them to
/// [`Provider::diagnose`].
fn by_identity(
    provider: &dyn Provider,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
) -> Vec<(Option<String>, Vec<SecretRequest>)> {
    let plans = provider.plan(ctx, requests);
    let mut groups: Vec<(Option<String>, Vec<SecretRequest>)> = Vec::new();
    for (request, plan) in requests.iter().zip(plans) {
        let label = plan.identity.map(|identity| identity.label);
        match groups.iter_mut().find(|(seen, _)| *seen == label) {
            Some((_, members)) => members.push(request.clone()),
            None => groups.push((label, vec![request.clone()])),
        }
    }
    groups
}

/// Runs `diagnose` for `requests`, recording what it says.
async fn diagnose(
    provider: &dyn Provider,
    ctx: &ResolveContext,
    requests: &[SecretRequest],
    seen: &mut Transcript,
) -> Vec<Check> {
    let checks = provider.diagnose(ctx, requests).await;
    for check in &checks {
        seen.texts.push(check.to_string());
        seen.texts.push(format!("{check:?}"));
    }
    checks
}

/// A setup that resolves has nothing for `doctor` to complain about. A
/// provider whose `diagnose` checks nothing is skipped, not passed: no
/// check cannot show that `doctor` passes what resolves.
async fn doctor_passes(backend: &Backend, seen: &mut Transcript) -> Outcome {
    let requests = readable(backend)?;
    let provider = (backend.provider)();
    let ctx = context(backend);
    let mut outcome = Err(Verdict::Skipped("the provider has no diagnose checks"));
    for (_, group) in by_identity(provider.as_ref(), &ctx, &requests) {
        let checks = diagnose(provider.as_ref(), &ctx, &group, seen).await;
        if let Some(failed) = checks.iter().find(|check| !check.passed) {
            outcome = Err(Verdict::Failed(format!(
                "doctor fails items that resolve: {failed}"
            )));
            break;
        }
        if !checks.is_empty() {
            outcome = Ok(());
        }
    }
    provider.finish(&ctx.for_cleanup(CLEANUP)).await;
    outcome
}

/// An item the identity may not read is what `doctor` is for: among the
/// readable items of its identity, it gets a failed check.
async fn doctor_flags_denied(backend: &Backend, seen: &mut Transcript) -> Outcome {
    if backend.denied.is_empty() {
        return Err(Verdict::Skipped("the backend describes no denied item"));
    }
    let provider = (backend.provider)();
    let ctx = context(backend);
    let readable = readable(backend)?;
    if diagnose(provider.as_ref(), &ctx, &readable[..1], seen)
        .await
        .is_empty()
    {
        return Err(Verdict::Skipped("the provider has no diagnose checks"));
    }
    let mut outcome = Ok(());
    for denied in &backend.denied {
        let mut requests = readable.clone();
        requests.push(denied.clone());
        let groups = by_identity(provider.as_ref(), &ctx, &requests);
        let group = groups
            .into_iter()
            .map(|(_, members)| members)
            .find(|members| {
                members
                    .iter()
                    .any(|member| member.variable == denied.variable)
            })
            .unwrap_or_else(|| vec![denied.clone()]);
        let checks = diagnose(provider.as_ref(), &ctx, &group, seen).await;
        if checks.iter().all(|check| check.passed) {
            outcome = Err(Verdict::Failed(format!(
                "doctor passes {}, which the identity may not read",
                denied.variable
            )));
            break;
        }
    }
    provider.finish(&ctx.for_cleanup(CLEANUP)).await;
    outcome
}

/// Every way of logging in the backend describes, against a server that
/// echoes each request back in its errors: resolution and `doctor` fail,
/// and no declared credential shows in what they say.
async fn echoed_credentials(backend: &Backend, seen: &mut Transcript) -> Outcome {
    if backend.echoing.is_empty() {
        return Err(Verdict::Skipped("the backend describes no echoing server"));
    }
    if backend.credentials.is_empty() {
        return Err(Verdict::Skipped("the backend declares no credential"));
    }
    let server = crate::echo::EchoServer::start()
        .await
        .map_err(|err| Verdict::Failed(format!("cannot start the echoing server: {err}")))?;
    let mut echoed = Transcript::default();
    for (number, case) in backend.echoing.iter().enumerate() {
        let before = server.requests();
        let (context, requests) = case(server.url());
        let ctx = context.timeout(DEADLINE).build();
        let provider = (backend.provider)();
        let results = resolve(provider.as_ref(), &ctx, &requests, &mut echoed).await?;
        diagnose(provider.as_ref(), &ctx, &requests, &mut echoed).await;
        provider.finish(&ctx.for_cleanup(CLEANUP)).await;
        if let Some((request, _)) = requests.iter().zip(&results).find(|(_, r)| r.is_ok()) {
            return Err(Verdict::Failed(format!(
                "echoing case {number}: {} resolved from a server that answers only errors",
                request.variable
            )));
        }
        if server.requests() == before {
            return Err(Verdict::Failed(format!(
                "echoing case {number}: no request reached the echoing server"
            )));
        }
    }
    let leaked = credential_leak(backend, &echoed);
    seen.texts.extend(echoed.texts);
    leaked
}

/// That no declared credential appears in `transcript`.
fn credential_leak(backend: &Backend, transcript: &Transcript) -> Outcome {
    for (number, credential) in backend.credentials.iter().enumerate() {
        let needle = credential.as_bytes();
        if needle.len() < MIN_LEAK_LEN {
            continue;
        }
        if transcript
            .texts
            .iter()
            .any(|text| contains(text.as_bytes(), needle))
        {
            // Named by its position: the message never holds the credential.
            return Err(Verdict::Failed(format!(
                "credential {number} (in the order declared) appears in an error"
            )));
        }
    }
    Ok(())
}

fn no_leaks(backend: &Backend, transcript: &Transcript) -> Outcome {
    let values = backend
        .readable
        .iter()
        .map(|(request, value)| (request.variable.as_str(), value.as_slice()));
    let credentials = backend
        .credentials
        .iter()
        .map(|credential| ("a credential", credential.as_bytes()));
    for (whose, needle) in values.chain(credentials) {
        if needle.len() < MIN_LEAK_LEN {
            continue;
        }
        let leaked = transcript
            .texts
            .iter()
            .any(|text| contains(text.as_bytes(), needle));
        if leaked {
            // The message names whose value leaked, never the value.
            return Err(Verdict::Failed(format!(
                "the value of {whose} appears in a message, a plan or a Debug text"
            )));
        }
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
