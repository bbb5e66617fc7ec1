//! The `ci-secrets` binary.

use std::process::ExitCode;

// Loading a large pipeline is allocation-bound (YAML trees, extends merges).
// On the benchmark's 500-job pipeline, mimalloc takes `validate` from a 39 ms
// to a 30 ms median against glibc's malloc. Its `no_thp` feature keeps it off
// transparent huge pages: with them `validate` gains 4 ms more, but every
// thread's arena faults in 2 MiB pages, and peak RSS grows from about 21 to
// 33 MiB for `validate` and from 14 to 22 MiB for a 60-secret `resolve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `inventory` only sees crates the linker keeps: each enabled provider
    // feature is referenced here, so its registration is linked in (see
    // provider-api's registry docs). `ci-secrets providers` lists them.
    #[cfg(feature = "akeyless")]
    ci_secrets_provider_api::link_providers!(ci_secrets_provider_akeyless);
    #[cfg(feature = "vault")]
    ci_secrets_provider_api::link_providers!(ci_secrets_provider_vault);
    #[cfg(feature = "aws")]
    ci_secrets_provider_api::link_providers!(ci_secrets_provider_aws);
    ci_secrets::run(std::env::args_os())
}
