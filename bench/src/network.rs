//! The network-model section of `BENCHMARKS.md` (issue 16): the same jobs as
//! the main table, but through [`DelayProxy`](crate::netmodel::DelayProxy),
//! where a new connection and a TLS handshake cost what they cost on a real
//! network, once over plain HTTP/1.1 and once over TLS, where the client and
//! the server agree on HTTP/2 through ALPN. Regenerated on its own with
//! `bench-report --only network`: it sits between two markers.
//!
//! The floor of a job is its chain of dependent requests (log in, then
//! read; a mixed job then issues) plus the set-up of its first connection:
//! one round trip for TCP, one more for a TLS 1.3 handshake. Connections the
//! wave after the login needs are not in the floor: its size is known from
//! the job, so a client opens them while the login is in flight. A wave
//! whose size only the answers before it tell (the mixed job's issuance:
//! how many names are not static secrets comes with the item types) is
//! different over HTTP/1.1, one request per connection: its new connections
//! cost one more round trip, unless a client opened a connection per name
//! on speculation, which costs the server a connection for every static
//! secret too. Over HTTP/2 the wave shares the one connection.

use std::fmt::Write as _;
use std::time::Duration;

use crate::report::{ToolRuns, call_summary};

/// Marks where the section starts in `BENCHMARKS.md`.
pub const SECTION_START: &str = "<!-- bench-report: network -->";
/// Marks where it ends.
pub const SECTION_END: &str = "<!-- /bench-report: network -->";

/// How the client reaches the server through the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `http://`, and a new connection costs nothing: only requests pay a
    /// round trip (the model of the main table).
    PerRequest,
    /// `http://`: HTTP/1.1, one request at a time per connection.
    Plain,
    /// `https://`, TLS 1.3; HTTP/2 when the server offers it.
    Tls,
}

impl Transport {
    /// Round trips before the first request can leave a new connection.
    pub fn setup_rtts(self) -> u32 {
        match self {
            Transport::PerRequest => 0,
            Transport::Plain => 1,
            Transport::Tls => 2,
        }
    }

    /// How the tables name it.
    pub fn label(self) -> &'static str {
        match self {
            Transport::PerRequest => "HTTP/1.1, set-up free",
            Transport::Plain => "HTTP/1.1, plain",
            Transport::Tls => "TLS 1.3 (ALPN)",
        }
    }
}

/// One job measured through the model.
#[derive(Debug, Clone)]
pub struct NetworkCase {
    /// The server's name and the job, e.g. `Akeyless 100 static`.
    pub job: String,
    /// How it was reached.
    pub transport: Transport,
    /// Dependent requests in the job's critical path.
    pub chain_rtts: u32,
    /// Waves of the chain whose size is known only from the answers before
    /// them: over HTTP/1.1 each opens its connections after those answers.
    pub unforeseen_waves: u32,
    /// The allowance over the floor (the per-case slack).
    pub slack_ms: f64,
    /// The runs of ci-secrets.
    pub runs: ToolRuns,
    /// Connections the proxy carried per run (mean).
    pub connections: f64,
    /// Of those, how many spoke HTTP/2 (mean; `None` where the server does
    /// not say).
    pub h2_connections: Option<f64>,
}

impl NetworkCase {
    /// The floor, in round trips.
    pub fn floor_rtts(&self) -> u32 {
        let late_connections = match self.transport {
            Transport::Plain => self.unforeseen_waves,
            Transport::PerRequest | Transport::Tls => 0,
        };
        self.chain_rtts + self.transport.setup_rtts() + late_connections
    }

    /// The target, ms, at `rtt`.
    pub fn target_ms(&self, rtt: Duration) -> f64 {
        f64::from(self.floor_rtts()) * rtt.as_secs_f64() * 1000.0 + self.slack_ms
    }

    /// Whether the median run met the target.
    pub fn pass(&self, rtt: Duration) -> bool {
        self.runs.median_ms() <= self.target_ms(rtt)
    }
}

/// Everything the section shows.
#[derive(Debug, Clone)]
pub struct NetworkReport {
    /// The modelled round trip.
    pub rtt: Duration,
    /// Every case, in the order measured.
    pub cases: Vec<NetworkCase>,
    /// Cases that could not run, with the reason.
    pub skipped: Vec<String>,
}

impl NetworkReport {
    /// The section, with its markers.
    pub fn markdown(&self) -> String {
        let rtt_ms = self.rtt.as_secs_f64() * 1000.0;
        let mut md = String::new();
        let _ = writeln!(md, "{SECTION_START}");
        let _ = writeln!(
            md,
            "## Network model: connections and TLS, {rtt_ms:.0} ms round trip\n"
        );
        let _ = writeln!(
            md,
            "- The server adds no latency; a proxy on loopback (`bench/src/netmodel.rs`) carries \
             every byte {half:.0} ms late each way, and holds the first byte a client sends on a \
             new connection one round trip (the TCP handshake). A TLS handshake therefore costs \
             the round trips its messages take: one with TLS 1.3, which both sides speak here.\n\
             - Floor = the job's dependent requests (log in, read; a mixed job then issues) + the \
             set-up of the first connection (1 RTT plain, 2 RTT with TLS; none in the *set-up \
             free* rows, where the proxy charges only the bytes, as the main table's emulator \
             charges only requests). Target = floor + the \
             issue's allowance for the job size. The connections of the wave after the login \
             are not in the floor: its size is known from the job, so they can be opened while \
             the login is in flight. Those of the mixed job's issuance are, over HTTP/1.1 (one \
             round trip more): how many items are not static secrets comes with the second \
             wave's answers, and a connection per name opened on speculation would cost the \
             server one for every static secret too. Over HTTP/2 the wave shares one connection.\n\
             - *connections* is what the proxy carried per run; *HTTP/2* how many of them \
             negotiated `h2` (the emulator counts ALPN results; OpenBao does not say).\n\
             - Medians of {runs} runs each, after one unmeasured run.\n",
            half = rtt_ms / 2.0,
            runs = self.cases.first().map_or(0, |case| case.runs.samples.len()),
        );
        let _ = writeln!(
            md,
            "| job | transport | median wall (ms) | RTTs | floor | target (ms) | connections | HTTP/2 | API calls | verdict |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---|---|");
        for case in &self.cases {
            let wall = case.runs.median_ms();
            let calls = if case.runs.calls.total() == 0 {
                "–".to_string()
            } else {
                call_summary(&case.runs.calls)
            };
            let _ = writeln!(
                md,
                "| {} | {} | {wall:.1} | {:.1} | {} RTT | {:.0} | {:.1} | {} | {calls} | {} |",
                case.job,
                case.transport.label(),
                wall / rtt_ms,
                case.floor_rtts(),
                case.target_ms(self.rtt),
                case.connections,
                case.h2_connections
                    .map_or_else(|| "–".to_string(), |h2| format!("{h2:.1}")),
                if case.pass(self.rtt) {
                    "pass"
                } else {
                    "**FAIL**"
                },
            );
        }
        for reason in &self.skipped {
            let _ = writeln!(md, "\n- Not measured: {reason}.");
        }
        let _ = writeln!(md, "{SECTION_END}");
        md
    }
}

/// `document` with its network section replaced by `section` (or `section`
/// appended when it has none).
pub fn splice(document: &str, section: &str) -> String {
    crate::splice_section(document, SECTION_START, SECTION_END, section)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::measure::Sample;

    fn case(transport: Transport, chain_rtts: u32, wall_ms: f64) -> NetworkCase {
        NetworkCase {
            job: "Akeyless 10 static".into(),
            transport,
            chain_rtts,
            unforeseen_waves: 0,
            slack_ms: 15.0,
            runs: ToolRuns {
                tool: "ours".into(),
                samples: vec![Sample {
                    wall_us: (wall_ms * 1000.0) as u64,
                    max_rss_kib: 0,
                    code: 0,
                    cpu_us: 0,
                }],
                calls: Default::default(),
            },
            connections: 1.0,
            h2_connections: Some(1.0),
        }
    }

    #[test]
    fn the_floor_adds_the_connection_set_up_to_the_request_chain() {
        let rtt = Duration::from_millis(20);
        let plain = case(Transport::Plain, 2, 70.0);
        assert_eq!(plain.floor_rtts(), 3);
        assert_eq!(plain.target_ms(rtt), 75.0);
        assert!(plain.pass(rtt));
        let tls = case(Transport::Tls, 2, 96.0);
        assert_eq!(tls.floor_rtts(), 4);
        assert!(!tls.pass(rtt));
    }

    #[test]
    fn a_wave_of_unforeseen_size_pays_its_connections_over_http1_only() {
        let waves = |transport| {
            let mut case = case(transport, 3, 0.0);
            case.unforeseen_waves = 1;
            case.floor_rtts()
        };
        assert_eq!(waves(Transport::Plain), 5);
        assert_eq!(waves(Transport::Tls), 5);
        assert_eq!(waves(Transport::PerRequest), 3);
        let mut foreseen = case(Transport::Plain, 3, 0.0);
        foreseen.unforeseen_waves = 0;
        assert_eq!(foreseen.floor_rtts(), 4);
    }

    #[test]
    fn the_section_sits_between_its_markers_and_replaces_itself() {
        let report = NetworkReport {
            rtt: Duration::from_millis(20),
            cases: vec![case(Transport::Tls, 2, 96.0)],
            skipped: vec!["OpenBao over TLS: no certificate".into()],
        };
        let section = report.markdown();
        assert!(section.starts_with(SECTION_START));
        assert!(section.trim_end().ends_with(SECTION_END));
        assert!(
            section.contains("| Akeyless 10 static | TLS 1.3 (ALPN) | 96.0 | 4.8 | 4 RTT | 95 |")
        );
        assert!(section.contains("**FAIL**"));
        let document = format!("# B\n\n{section}## After\n");
        let replaced = splice(&document, "NEW\n");
        assert_eq!(replaced, "# B\n\nNEW\n## After\n");
    }
}
