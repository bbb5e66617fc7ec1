//! In-process resolution through the Akeyless provider against the emulator
//! with 20 ms per request: 10, 100 and 1000 static secrets, and the mixed
//! job (static, dynamic, rotated, SSH, PKI; 20 each). Each iteration is a
//! whole job from scratch: a fresh provider (no cached login) and a fresh
//! connection pool.
//!
//! Under `cargo test --all-targets` criterion runs each case once (its test
//! mode), which takes about a second in all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::time::Duration;

use ci_secrets_bench::inprocess::{resolve_once, start_emulator};
use ci_secrets_bench::workload::{KeyMaterial, RTT, Workload};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn resolve(c: &mut Criterion) {
    // A benchmark cannot run without its emulator: failing loudly is right.
    #[allow(clippy::expect_used)]
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    #[allow(clippy::expect_used)]
    let emulator = runtime
        .block_on(start_emulator(RTT))
        .expect("the emulator starts");
    #[allow(clippy::expect_used)]
    let keys = KeyMaterial::generate().expect("key material");
    let url = emulator.url();

    let mut group = c.benchmark_group(format!("akeyless_resolve_rtt_{}ms", RTT.as_millis()));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for workload in [
        Workload::Static(10),
        Workload::Static(100),
        Workload::Static(1000),
        Workload::Mixed,
    ] {
        let requests = workload.requests(&url, &keys);
        group.throughput(Throughput::Elements(workload.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(workload.id()),
            &requests,
            |bencher, requests| {
                bencher.to_async(&runtime).iter(|| async {
                    // Every secret must resolve, or the timing is meaningless.
                    #[allow(clippy::expect_used)]
                    let resolved = resolve_once(requests).await.expect("the job resolves");
                    assert_eq!(resolved, requests.len());
                });
            },
        );
    }
    group.finish();
    runtime.block_on(emulator.shutdown());
}

criterion_group!(benches, resolve);
criterion_main!(benches);
