//! The start-up section of `BENCHMARKS.md` (issue 16): what `ci-secrets`
//! costs when the network costs nothing. `exec -- true` on a job without
//! secrets against `true` alone (the fixed cost of a run), and `resolve` of
//! 1 and of 1000 static secrets from an emulator with no added latency (the
//! cost of a job, and the CPU per secret). Regenerated on its own with
//! `bench-report --only startup`: it sits between two markers.

use std::fmt::Write as _;

use crate::median;
use crate::report::ToolRuns;

/// Marks where the section starts in `BENCHMARKS.md`.
pub const SECTION_START: &str = "<!-- bench-report: startup -->";
/// Marks where it ends.
pub const SECTION_END: &str = "<!-- /bench-report: startup -->";

/// Issue 16's targets.
pub const EXEC_OVERHEAD_TARGET_MS: f64 = 3.0;
pub const PER_JOB_TARGET_MS: f64 = 8.0;
pub const PER_SECRET_TARGET_US: f64 = 20.0;

/// Everything the section shows.
#[derive(Debug, Clone)]
pub struct StartupReport {
    /// `true` alone.
    pub bare: ToolRuns,
    /// The smallest wrapper: a shell that starts, spawns `true` and waits
    /// for it. What any tool that runs a command pays on this machine
    /// before doing anything of its own: a second process start.
    pub wrapper: ToolRuns,
    /// `ci-secrets exec` of a job without secrets, running `true`.
    pub exec: ToolRuns,
    /// `resolve` of one static secret, 0 ms per request.
    pub one: ToolRuns,
    /// `resolve` of 1000 static secrets, 0 ms per request.
    pub thousand: ToolRuns,
}

/// The median CPU time (user + system) of the runs, in microseconds.
pub fn median_cpu_us(runs: &ToolRuns) -> f64 {
    let cpu: Vec<f64> = runs.samples.iter().map(|s| s.cpu_us as f64).collect();
    median(&cpu).unwrap_or(f64::NAN)
}

impl StartupReport {
    /// `exec -- true` over `true`, ms.
    pub fn exec_overhead_ms(&self) -> f64 {
        self.exec.median_ms() - self.bare.median_ms()
    }

    /// `exec -- true` over the smallest wrapper, ms: what ci-secrets itself
    /// adds, without the machine's cost of starting a second process.
    pub fn own_share_ms(&self) -> f64 {
        self.exec.median_ms() - self.wrapper.median_ms()
    }

    /// The CPU each secret adds, µs: the 1000-secret job's CPU over the
    /// one-secret job's, per added secret.
    pub fn per_secret_cpu_us(&self) -> f64 {
        (median_cpu_us(&self.thousand) - median_cpu_us(&self.one)) / 999.0
    }

    /// The section, with its markers.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "{SECTION_START}");
        let _ = writeln!(md, "## Start-up and per-secret cost, no network latency\n");
        let _ = writeln!(
            md,
            "- `exec -- true`: a job without secrets (no provider, no network), against `true` \
             alone; the difference is what a run of ci-secrets adds to a command. It includes \
             a second process start, which any wrapper pays: the wrapper row is `sh -c \
             '/bin/true; :'` (the shell starts, spawns `true`, waits), and *own share* is \
             `exec -- true` over that row.\n\
             - 0 ms latency: `resolve --format json` of 1 and of 1000 static Akeyless secrets from \
             the emulator with no added latency (plain HTTP on loopback). The one-secret job is \
             the cost of a job; CPU per secret = (median CPU of the 1000-secret job − that of \
             the one-secret job) / 999. CPU is user + system time of the process (`getrusage`).\n\
             - Medians of {} runs each.\n",
            self.exec.samples.len()
        );
        let _ = writeln!(
            md,
            "| case | median wall (ms) | median CPU (ms) | peak RSS (MiB) |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for (label, runs) in [
            ("`true`", &self.bare),
            ("`sh -c '/bin/true; :'` (smallest wrapper)", &self.wrapper),
            ("`ci-secrets exec -- true`, no secrets", &self.exec),
            ("`resolve`, 1 static secret, 0 ms latency", &self.one),
            (
                "`resolve`, 1000 static secrets, 0 ms latency",
                &self.thousand,
            ),
        ] {
            let _ = writeln!(
                md,
                "| {label} | {:.2} | {:.2} | {:.1} |",
                runs.median_ms(),
                median_cpu_us(runs) / 1000.0,
                runs.peak_rss_mib()
            );
        }
        let overhead = self.exec_overhead_ms();
        let own = self.own_share_ms();
        let per_job = self.one.median_ms();
        let per_secret = self.per_secret_cpu_us();
        let verdict = |pass: bool| if pass { "pass" } else { "**FAIL**" };
        let _ = writeln!(
            md,
            "\n| target (issue 16) | result | |\n|---|---|---|\n\
             | `exec -- true` overhead over `true` ≤ {EXEC_OVERHEAD_TARGET_MS} ms | {overhead:.2} ms (own share over the smallest wrapper: {own:.2} ms) | {} |\n\
             | 0 ms latency, per job ≤ {PER_JOB_TARGET_MS} ms | {per_job:.2} ms | {} |\n\
             | 0 ms latency, CPU per secret ≤ {PER_SECRET_TARGET_US} µs | {per_secret:.1} µs | {} |",
            verdict(overhead <= EXEC_OVERHEAD_TARGET_MS),
            verdict(per_job <= PER_JOB_TARGET_MS),
            verdict(per_secret <= PER_SECRET_TARGET_US),
        );
        let _ = writeln!(md, "{SECTION_END}");
        md
    }
}

/// `document` with its start-up section replaced by `section` (or `section`
/// appended when it has none).
pub fn splice(document: &str, section: &str) -> String {
    crate::splice_section(document, SECTION_START, SECTION_END, section)
}
