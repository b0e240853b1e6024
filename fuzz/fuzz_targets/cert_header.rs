//! Fuzz target for the client-certificate header parsers: arbitrary bytes read as every proxy format.
//!
//! Run: `cargo +nightly fuzz run cert_header -- -max_total_time=60` from the repository root.
//! The invariants live in `keyseal::core::cert::fuzzing::check`, which `cargo test` also runs on
//! mutated well-formed headers for a few seconds (stable Rust, in CI).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Larger inputs are refused up front by the parsers; keep the fuzzer near the boundary.
    if data.len() <= 40 * 1024 {
        keyseal::core::cert::fuzzing::check(data);
    }
});
