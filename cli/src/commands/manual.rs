//! `ci-secrets completions SHELL` and `ci-secrets man`: shell completion and
//! the manual page, generated from the command-line definition itself so they
//! never drift from it.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs};

/// Prints the completion script for the shell.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "ci-secrets", &mut out);
    write_stdout(&out)
}

/// Prints the manual page in roff.
pub fn man() -> ExitCode {
    let mut out = Vec::new();
    if let Err(err) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
        eprintln!("ci-secrets: cannot render the manual page: {err}");
        return ExitCode::FAILURE;
    }
    write_stdout(&out)
}

/// Writes all of `bytes` at once: a reader that closes early gets an error
/// on stderr and a failure status, never a partial page without one.
fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ci-secrets: cannot write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}
