//! Fuzz target for the redaction engine: arbitrary bytes through every entry point.
//!
//! Run: `cargo +nightly fuzz run redact -- -max_total_time=60` from the repository root.
//! The invariants live in `keyseal::core::redact::fuzzing::check`, which `cargo test` also runs
//! on generated inputs for a few seconds (stable Rust, in CI).
#![no_main]

use std::sync::LazyLock;

use keyseal::core::redact::{Config, Redactor};
use libfuzzer_sys::fuzz_target;

static ENGINE: LazyLock<Redactor> = LazyLock::new(|| {
    let r = Redactor::new(Config {
        use_global_known: false,
        ..Config::default()
    })
    .expect("catalogue compiles");
    // Known values with characters that every encoding changes.
    r.add_secret(b"fuzz-known/va+lue\"1");
    r.add_secret(b"s3cr3t-value-42");
    r
});

fuzz_target!(|data: &[u8]| keyseal::core::redact::fuzzing::check(&ENGINE, data));
