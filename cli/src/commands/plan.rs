//! `ci-secrets plan`: how the job's secrets would be resolved (providers,
//! identities, items, deliveries, expected API calls), without any network
//! call and without any value.

use std::fmt::Write as _;
use std::process::ExitCode;

use ci_secrets_core::error::EXIT_INVALID;
use ci_secrets_doctor::{IdentityReport, PlanReport};
use ci_secrets_provider_api::Registry;
use indexmap::IndexMap;

use super::{fail, prepare};
use crate::args::{GlobalArgs, PlanArgs, ReportFormat};

pub fn run(global: &GlobalArgs, registry: &Registry, args: PlanArgs) -> ExitCode {
    let mut prepared = match prepare(global, &args.selection) {
        Ok(prepared) => prepared,
        Err(err) => return fail(&err),
    };
    // `plan` makes no network call: it says which source would mint an ID token.
    prepared.variables.mint_id_tokens = false;
    let report = match ci_secrets_doctor::plan(
        registry.as_slice(),
        &prepared.source,
        &prepared.variables,
        &prepared.config,
    ) {
        Ok(report) => report,
        Err(err) => return fail(&err),
    };
    match args.format {
        ReportFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                eprintln!("ci-secrets: cannot write the plan as JSON: {err}");
                return ExitCode::from(EXIT_INVALID);
            }
        },
        ReportFormat::Text => print!("{}", render_text(&report)),
    }
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// Identities first (numbered), then one block per secret that refers to them.
fn render_text(report: &PlanReport) -> String {
    let totals = &report.totals;
    let mut out = format!(
        "Job {}: {} from {}, {} ({}), {} expected\n",
        report.job,
        plural(totals.secrets, "secret"),
        plural(totals.providers, "provider"),
        plural(totals.identities, "identity").replace("identitys", "identities"),
        plural(totals.logins, "login"),
        plural(totals.api_calls, "API call"),
    );
    if let Some(rule) = &report.workflow_rule {
        let _ = writeln!(out, "Workflow rule: {rule}");
    }
    for token in &report.id_tokens {
        let _ = writeln!(
            out,
            "ID token {}: minted by {} for aud {}",
            token.name, token.source, token.audience
        );
    }
    if let Some(rule) = &report.rule {
        let _ = writeln!(out, "Rule: {rule}");
    }
    let mut identities: IndexMap<(&str, &str), &IdentityReport> = IndexMap::new();
    for secret in &report.secrets {
        if let Some(identity) = &secret.identity {
            identities
                .entry((secret.provider.as_str(), identity.label.as_str()))
                .or_insert(identity);
        }
    }
    if !identities.is_empty() {
        out.push_str("\nIdentities:\n");
    }
    for (number, ((provider, _), identity)) in identities.iter().enumerate() {
        let _ = writeln!(out, "  [{}] {provider}: {}", number + 1, identity.label);
        for (name, value) in &identity.fields {
            let _ = writeln!(out, "      {name}: {}", value.as_str().unwrap_or_default());
        }
        let login = identity.login.as_deref().unwrap_or("none needed");
        let _ = writeln!(out, "      login: {login}");
    }
    out.push_str("\nSecrets:\n");
    for secret in &report.secrets {
        let _ = writeln!(
            out,
            "  {} ({}, {})",
            secret.variable,
            secret.provider,
            secret.delivery.as_str()
        );
        if let Some(identity) = &secret.identity {
            let key = (secret.provider.as_str(), identity.label.as_str());
            if let Some(number) = identities.get_index_of(&key) {
                let _ = writeln!(out, "      identity: [{}]", number + 1);
            }
        }
        if let Some(item) = &secret.item {
            let _ = writeln!(out, "      item: {item}");
        }
        for call in &secret.calls {
            let shared = if call.shared_by > 1 {
                format!(" (one call for {} secrets)", call.shared_by)
            } else {
                String::new()
            };
            let _ = writeln!(out, "      call: {}{shared}", call.operation);
        }
        for note in &secret.notes {
            let _ = writeln!(out, "      note: {note}");
        }
    }
    if !report.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for warning in &report.warnings {
            let _ = writeln!(out, "  {warning}");
        }
    }
    if !report.problems.is_empty() {
        out.push_str("\nProblems:\n");
        for problem in &report.problems {
            let _ = writeln!(out, "  {problem}");
        }
    }
    out
}
