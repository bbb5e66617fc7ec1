//! `ci-secrets doctor`: checks each distinct identity of the job (DNS, TCP,
//! TLS, login, permission to describe each item) without fetching any
//! value. Exits with the resolution status when a check fails, and with its
//! own status when no check ran at all (that is not a pass).

use std::fmt::Write as _;
use std::process::ExitCode;

use ci_secrets_core::error::{EXIT_INVALID, EXIT_NOTHING_CHECKED, EXIT_RESOLUTION};
use ci_secrets_doctor::DoctorOutcome;
use ci_secrets_doctor::DoctorReport;
use ci_secrets_provider_api::Registry;

use super::{fail, prepare};
use crate::args::{DoctorArgs, GlobalArgs, ReportFormat};

pub async fn run(global: &GlobalArgs, registry: &Registry, args: DoctorArgs) -> ExitCode {
    let prepared = match prepare(global, &args.selection) {
        Ok(prepared) => prepared,
        Err(err) => return fail(&err),
    };
    let report = match ci_secrets_doctor::doctor(
        registry.as_slice(),
        &prepared.source,
        &prepared.variables,
        &prepared.config,
        prepared.cancel.clone(),
    )
    .await
    {
        Ok(report) => report,
        Err(err) => return fail(&err),
    };
    match args.format {
        ReportFormat::Json => {
            let json = serde_json::json!({
                "job": report.job,
                "passed": report.passed(),
                "checked": report.checked(),
                "identities": report.identities,
            });
            match serde_json::to_string_pretty(&json) {
                Ok(json) => println!("{json}"),
                Err(err) => {
                    eprintln!("ci-secrets: cannot write the report as JSON: {err}");
                    return ExitCode::from(EXIT_INVALID);
                }
            }
        }
        ReportFormat::Text => print!("{}", render_text(&report)),
    }
    match report.outcome() {
        DoctorOutcome::Passed => ExitCode::SUCCESS,
        DoctorOutcome::Failed { .. } => ExitCode::from(EXIT_RESOLUTION),
        DoctorOutcome::NothingChecked => ExitCode::from(EXIT_NOTHING_CHECKED),
    }
}

fn render_text(report: &DoctorReport) -> String {
    let identities = match report.identities.len() {
        1 => "1 identity".to_string(),
        count => format!("{count} identities"),
    };
    let mut out = match report.outcome() {
        DoctorOutcome::NothingChecked if report.identities.is_empty() => format!(
            "Job {}: nothing was checked: the job has no secrets\n",
            report.job
        ),
        DoctorOutcome::NothingChecked => format!(
            "Job {}: {identities}, nothing was checked: no check applies to any of them\n",
            report.job
        ),
        DoctorOutcome::Passed => format!(
            "Job {}: {identities} checked, every check passed\n",
            report.job
        ),
        DoctorOutcome::Failed { failures: 1 } => {
            format!("Job {}: {identities} checked, 1 check failed\n", report.job)
        }
        DoctorOutcome::Failed { failures } => format!(
            "Job {}: {identities} checked, {failures} checks failed\n",
            report.job
        ),
    };
    for entry in &report.identities {
        let title = entry.identity.as_ref().map_or_else(
            || "provider setup".to_string(),
            |identity| identity.label.clone(),
        );
        let _ = writeln!(
            out,
            "\n{}: {title}\n  secrets: {}",
            entry.provider,
            entry.variables.join(", ")
        );
        for check in &entry.checks {
            let status = if check.passed { "ok    " } else { "FAILED" };
            let _ = write!(out, "  {status} {}: {}", check.name, check.detail);
            match &check.hint {
                Some(hint) if !check.passed => {
                    let _ = writeln!(out, ". {hint}");
                }
                _ => out.push('\n'),
            }
        }
        if let Some(skipped) = &entry.skipped {
            let _ = writeln!(out, "  {skipped}");
        }
    }
    out
}
