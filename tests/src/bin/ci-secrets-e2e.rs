//! The `ci-secrets` command line with every shipped provider plus `testkv`,
//! a provider from this test crate. It runs exactly the real binary's code.

use std::process::ExitCode;

fn main() -> ExitCode {
    std::hint::black_box([
        ci_secrets_provider_akeyless::registration(),
        ci_secrets_provider_vault::registration(),
        ci_secrets_provider_aws::registration(),
        ci_secrets_e2e::test_provider::registration(),
    ]);
    ci_secrets::run(std::env::args_os())
}
