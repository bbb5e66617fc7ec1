//! The masking cases of `BENCHMARKS.md` (issue 13): how fast `exec` pipes a
//! command's output through the masker with 10 and with 1000 secrets, next
//! to `cat` of the same bytes, and what a large secret costs `exec` before
//! the command starts. The section can be regenerated on its own
//! (`bench-report --only masking`): it sits between two markers.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::os::fd::AsFd as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::BenchError;
use crate::report::ToolRuns;

/// Marks where the section starts in `BENCHMARKS.md`.
pub const SECTION_START: &str = "<!-- bench-report: masking -->";
/// Marks where it ends.
pub const SECTION_END: &str = "<!-- /bench-report: masking -->";

/// Megabytes of output piped through the masker per run.
pub const OUTPUT_MIB: usize = 64;

/// A secret value inserted into the output every this many bytes, so that
/// every run masks something and the count can be checked.
pub const SECRET_EVERY: usize = 64 * 1024;

/// The value inserted (the 4th static item of the seed, in every job).
pub const INSERTED_VALUE: &str = "static-value-0003";

/// First argument of `bench-report` when it runs as the relay of the
/// masking section: `RELAY_ARG <program> [args...]`.
pub const RELAY_ARG: &str = "__relay";

/// The relay's pipe: the size `exec` asks for the command's output
/// (`PIPE_SIZE` in `cli/src/pump.rs`).
const RELAY_PIPE_SIZE: i32 = 1 << 20;

/// The relay's reads: the size of `exec`'s (`READ_SIZE` in `cli/src/pump.rs`).
const RELAY_READ_SIZE: usize = 256 * 1024;

/// The relay's row in the table.
pub fn relay_label() -> String {
    format!(
        "`cat` through a relay (`exec`'s {} MiB pipe and {} KiB reads, one thread, no masking)",
        RELAY_PIPE_SIZE >> 20,
        RELAY_READ_SIZE >> 10
    )
}

/// The relay's main: runs `program` with its stdout on a pipe of `exec`'s
/// size, and copies that pipe to our stdout in reads of `exec`'s size, on
/// one thread, with nothing in between. Its row is `exec`'s pipe without
/// the masker: what `exec` costs on top of it is the masking. Returns the
/// program's exit code.
pub fn run_relay(args: &[OsString]) -> Result<i32, BenchError> {
    let [program, rest @ ..] = args else {
        return Err(BenchError::Command {
            command: RELAY_ARG.into(),
            message: "usage: <program> [args...]".into(),
        });
    };
    let label = program.to_string_lossy().into_owned();
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| BenchError::io(format!("starting {label}"), err))?;
    let mut source = child.stdout.take().ok_or_else(|| BenchError::Command {
        command: label.clone(),
        message: "no stdout pipe".into(),
    })?;
    // Best effort, as `exec` does: the system may cap the size.
    let _ = nix::fcntl::fcntl(
        source.as_fd(),
        nix::fcntl::FcntlArg::F_SETPIPE_SZ(RELAY_PIPE_SIZE),
    );
    // Our stdout unbuffered: every read is written as it came.
    let mut sink = std::fs::File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|err| BenchError::io("duplicating stdout", err))?,
    );
    let mut buffer = vec![0u8; RELAY_READ_SIZE];
    loop {
        let count = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(BenchError::io("reading the pipe", err)),
        };
        sink.write_all(&buffer[..count])
            .map_err(|err| BenchError::io("writing stdout", err))?;
    }
    let status = child
        .wait()
        .map_err(|err| BenchError::io(format!("waiting for {label}"), err))?;
    Ok(status.code().unwrap_or(-1))
}

/// Writes the piped output ([`output_text`] of [`OUTPUT_MIB`]). Returns how
/// many values it inserted.
pub fn write_output(path: &Path) -> Result<usize, BenchError> {
    let (text, inserted) = output_text(OUTPUT_MIB << 20);
    std::fs::write(path, text)
        .map_err(|err| BenchError::io(format!("writing {}", path.display()), err))?;
    Ok(inserted)
}

/// At least `size` bytes of build-log lines with paths, percentages and line
/// breaks (so that every view of the masker is exercised), and
/// [`INSERTED_VALUE`] every [`SECRET_EVERY`] bytes, with how many values it
/// inserted. The criterion bench of the masker masks the same text.
pub fn output_text(size: usize) -> (String, usize) {
    let mut text = String::with_capacity(size + 1024);
    let mut inserted = 0;
    let mut line = 0usize;
    while text.len() < size {
        if text.len() / SECRET_EVERY >= inserted {
            let _ = writeln!(text, "token: {INSERTED_VALUE}");
            inserted += 1;
        }
        let _ = writeln!(
            text,
            "[{line:>8}] Compiling crate-{} v0.{}.{} (/builds/group/project/crates/c{}) 100% done, \
             dGhpcyBpcyBub3QgYSBzZWNyZXQ= url=https://example.com/a%2Fb?q=1",
            line % 977,
            line % 13,
            line % 7,
            line % 31
        );
        line += 1;
    }
    (text, inserted)
}

/// Throughput of one exec case: its median wall time minus that of the
/// same `exec` running `true` (resolution, start-up), over the bytes.
#[derive(Debug, Clone)]
pub struct Throughput {
    /// What ran.
    pub label: String,
    /// `exec ... -- cat output` (or `cat output` alone).
    pub piping: ToolRuns,
    /// `exec ... -- true`, when the case has an exec.
    pub overhead: Option<ToolRuns>,
}

impl Throughput {
    /// MiB/s through the pipe.
    pub fn mib_per_s(&self) -> f64 {
        let overhead = self.overhead.as_ref().map_or(0.0, ToolRuns::median_ms);
        let piping = self.piping.median_ms() - overhead;
        if piping > 0.0 {
            OUTPUT_MIB as f64 / (piping / 1000.0)
        } else {
            f64::NAN
        }
    }
}

/// One large-secret case.
#[derive(Debug, Clone)]
pub struct LargeSecret {
    /// The value's size, MiB.
    pub mib: usize,
    /// `resolve --format json` of it.
    pub resolve: ToolRuns,
    /// `exec -- true` with it (as a file secret: no environment holds 4 MiB).
    pub exec: ToolRuns,
}

/// Everything the section shows.
#[derive(Debug, Clone)]
pub struct MaskingReport {
    /// `cat`, `cat | cat`, the relay, then exec with 10 and with 1000 secrets,
    /// in the order of the table.
    pub throughput: Vec<Throughput>,
    /// `cat | cat`, MiB/s: a pipe between two processes with no masking.
    pub pipe: Option<f64>,
    /// The relay ([`run_relay`]), MiB/s: `exec`'s pipe, read in `exec`'s
    /// reads, without the masker; what `exec` takes over it is, near
    /// enough, the masking (`exec` also writes on a thread of its own).
    pub relay: Option<f64>,
    /// The 10- and 1000-secret exec cases, for the target.
    pub ten: Option<f64>,
    pub thousand: Option<f64>,
    pub large: Vec<LargeSecret>,
    /// Runs per row.
    pub runs: usize,
}

impl MaskingReport {
    /// The section, with its markers.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "{SECTION_START}");
        let _ = writeln!(
            md,
            "## Masking: `exec` output throughput and large secrets\n"
        );
        let _ = writeln!(
            md,
            "- Output: {OUTPUT_MIB} MiB of build-log lines (paths, `%` escapes, base64-looking words) \
             with one secret value every {} KiB, written by `cat` to a file through `exec`'s masking \
             pipes. Every run's output is checked: each inserted value became `[MASKED]`.\n\
             - Throughput = {OUTPUT_MIB} MiB / (median wall of `exec -- cat` − median wall of the \
             same `exec -- true`), so resolution and start-up are not counted; `cat` alone is the \
             ceiling. Secrets are the static items of the Akeyless cases (`static-value-NNNN`), \
             each masked in all its forms (raw, base64 at three alignments in two alphabets, \
             percent-encoded, JSON-escaped).\n\
             - Large secret: one static item of 1 or 4 MiB read as a file secret; wall time and \
             peak RSS of the whole process, `exec -- true` against `resolve` of the same item.\n\
             - Medians of {} runs.\n",
            SECRET_EVERY / 1024,
            self.runs
        );
        let _ = writeln!(
            md,
            "| case | median wall (ms) | throughput (MiB/s) | peak RSS (MiB) |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for case in &self.throughput {
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.0} | {:.1} |",
                case.label,
                case.piping.median_ms(),
                case.mib_per_s(),
                case.piping.peak_rss_mib()
            );
            if let Some(overhead) = &case.overhead {
                let _ = writeln!(
                    md,
                    "| {} (`-- true`: no output) | {:.1} | | {:.1} |",
                    case.label.replace(" -- cat", ""),
                    overhead.median_ms(),
                    overhead.peak_rss_mib()
                );
            }
        }
        if !self.large.is_empty() {
            let _ = writeln!(
                md,
                "\n| large secret | command | median wall (ms) | peak RSS (MiB) |"
            );
            let _ = writeln!(md, "|---|---|---:|---:|");
            for case in &self.large {
                for (command, runs) in [
                    ("resolve --format json", &case.resolve),
                    ("exec -- true", &case.exec),
                ] {
                    let _ = writeln!(
                        md,
                        "| {} MiB | `{command}` | {:.1} | {:.1} |",
                        case.mib,
                        runs.median_ms(),
                        runs.peak_rss_mib()
                    );
                }
            }
        }
        if let (Some(ten), Some(thousand)) = (self.ten, self.thousand) {
            let pass = thousand * 2.0 >= ten;
            let _ = writeln!(
                md,
                "\nTarget: throughput with 1000 secrets ≥ half of that with 10: {thousand:.0} vs \
                 {ten:.0} MiB/s ({:.2}×): {}.",
                thousand / ten,
                if pass { "pass" } else { "**FAIL**" }
            );
            // Issue 16: near `cat`, measured in the same run.
            if let Some(cat) = self.throughput.first().map(Throughput::mib_per_s) {
                for (secrets, ours, target) in [(10, ten, 0.5), (1000, thousand, 0.4)] {
                    let ratio = ours / cat;
                    let _ = writeln!(
                        md,
                        "\nTarget: throughput with {secrets} secrets ≥ {target}× `cat`: {ours:.0} vs \
                         {cat:.0} MiB/s ({ratio:.2}×): {}.",
                        if ratio >= target { "pass" } else { "**FAIL**" }
                    );
                }
                if let (Some(pipe), Some(relay)) = (self.pipe, self.relay) {
                    // The milliseconds the masker adds to the relay's copy.
                    let ms = |mib_per_s: f64| OUTPUT_MIB as f64 * 1000.0 / mib_per_s;
                    let _ = writeln!(
                        md,
                        "\nFor scale: a pipe alone (`cat | cat`, no masking) runs at {pipe:.0} MiB/s, \
                         {:.2}× `cat`; the relay (`exec`'s pipe without its masker) at {relay:.0} \
                         MiB/s, {:.2}× `cat`. `exec` with 10 secrets takes {:.1} ms more than the \
                         relay for the {OUTPUT_MIB} MiB: that is what masking costs here.",
                        pipe / cat,
                        relay / cat,
                        ms(ten) - ms(relay)
                    );
                }
            }
        }
        let _ = writeln!(md, "{SECTION_END}");
        md
    }
}

/// `document` with its masking section replaced by `section` (or `section`
/// appended when it has none).
pub fn splice(document: &str, section: &str) -> String {
    crate::splice_section(document, SECTION_START, SECTION_END, section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_section() {
        let doc = format!("# B\n\n{SECTION_START}\nold\n{SECTION_END}\n\n## After\n");
        let new = format!("{SECTION_START}\nnew\n{SECTION_END}\n");
        assert_eq!(
            splice(&doc, &new),
            format!("# B\n\n{SECTION_START}\nnew\n{SECTION_END}\n\n## After\n")
        );
        assert_eq!(splice("# B\n", &new), format!("# B\n\n{new}"));
    }
}
