//! `ci-secrets emulator`: the local Akeyless API, from the emulator crate.

use std::process::ExitCode;

use akeyless_emulator::EmulatorArgs;

pub async fn run(args: EmulatorArgs) -> ExitCode {
    match akeyless_emulator::run_cli(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ci-secrets emulator: {err}");
            ExitCode::from(ci_secrets_core::error::EXIT_INVALID)
        }
    }
}
