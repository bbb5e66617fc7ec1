//! The `ci-secrets` command line with every shipped provider plus `testkv`,
//! a provider from this test crate. It runs exactly the real binary's code.

use std::process::ExitCode;

fn main() -> ExitCode {
    use ci_secrets_e2e::test_provider;
    ci_secrets_provider_api::link_providers!(
        ci_secrets_provider_akeyless,
        ci_secrets_provider_vault,
        ci_secrets_provider_aws,
        ci_secrets_provider_localjson,
        test_provider,
    );
    ci_secrets::run(std::env::args_os())
}
