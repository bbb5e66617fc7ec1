//! The masker's own CPU per byte, without processes or pipes: the output of
//! the harness's masking case (build-log lines, `%` escapes, line breaks, a
//! secret every 64 KiB) fed to a `StreamMasker` in 64 KiB chunks, the size
//! a Linux pipe hands `exec`'s pump per read, with 10 and 1000 secrets.
//!
//! Under `cargo test --all-targets` criterion runs each case once.

use std::time::Duration;

use ci_secrets_bench::masking::{INSERTED_VALUE, output_text};
use ci_secrets_core::mask::MaskSet;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// What one read of a full pipe returns.
const CHUNK: usize = 64 * 1024;

fn mask(c: &mut Criterion) {
    let (text, inserted) = output_text(8 << 20);
    let mut group = c.benchmark_group("stream_masker");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(text.len() as u64));
    for secrets in [10usize, 1000] {
        let values: Vec<(String, String)> = (0..secrets)
            .map(|i| (format!("SECRET_{i}"), format!("static-value-{i:04}")))
            .collect();
        let (masks, _) = MaskSet::new(
            values
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        group.bench_with_input(
            BenchmarkId::new("chunks_64k", secrets),
            &masks,
            |b, masks| {
                b.iter(|| {
                    let mut stream = masks.stream();
                    let mut masked = 0usize;
                    let mut out = Vec::new();
                    // As `exec`'s pump feeds it: into one reused buffer.
                    for chunk in text.as_bytes().chunks(CHUNK) {
                        out.clear();
                        stream.feed_into(chunk, &mut out);
                        stream.flush_pause_into(&mut out);
                        masked += count(&out);
                    }
                    out.clear();
                    stream.finish_into(&mut out);
                    masked += count(&out);
                    // The work is only worth timing if every value was masked.
                    assert_eq!(masked, inserted, "{INSERTED_VALUE} masked every time");
                    masked
                });
            },
        );
    }
    group.finish();
}

fn count(bytes: &[u8]) -> usize {
    memchr::memmem::find_iter(bytes, b"[MASKED]").count()
}

criterion_group!(benches, mask);
criterion_main!(benches);
