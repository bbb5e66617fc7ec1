//! The masker's work, repeatable under load: masks the criterion bench's
//! 8 MiB of output (see `benches/mask.rs`) a given number of times, for an
//! instruction count under `valgrind --tool=callgrind`. The cost of one
//! pass is the difference between a run of 2 passes and a run of 1, which
//! leaves out building the text and the mask set:
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/mask_instructions 10 1
//! valgrind --tool=callgrind target/release/examples/mask_instructions 10 2
//! ```
//!
//! Arguments: the number of secrets (default 10), the number of passes
//! (default 1) and the chunk size in KiB (default 64).

use ci_secrets_bench::masking::{INSERTED_VALUE, output_text};
use ci_secrets_core::mask::MaskSet;

fn main() {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<usize>());
    let mut next = |default: usize| args.next().and_then(Result::ok).unwrap_or(default);
    let (secrets, passes, chunk_kib) = (next(10), next(1), next(64));
    let (text, inserted) = output_text(8 << 20);
    let values: Vec<(String, String)> = (0..secrets)
        .map(|i| (format!("SECRET_{i}"), format!("static-value-{i:04}")))
        .collect();
    let (masks, _) = MaskSet::new(
        values
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    let mut out = Vec::new();
    for _ in 0..passes {
        let mut stream = masks.stream();
        let mut masked = 0;
        for chunk in text.as_bytes().chunks(chunk_kib.max(1) << 10) {
            out.clear();
            stream.feed_into(chunk, &mut out);
            stream.flush_pause_into(&mut out);
            masked += memchr::memmem::find_iter(&out, b"[MASKED]").count();
        }
        out.clear();
        stream.finish_into(&mut out);
        masked += memchr::memmem::find_iter(&out, b"[MASKED]").count();
        if masked != inserted {
            eprintln!("{INSERTED_VALUE} masked {masked} times, inserted {inserted}");
            std::process::exit(1);
        }
    }
}
