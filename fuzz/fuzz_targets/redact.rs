//! Fuzz target for the redaction engine: arbitrary bytes through every entry point.
//!
//! Run: `cargo +nightly fuzz run redact -- -max_total_time=60` from the repository root.
//! Invariants checked on every input: no panic; output is idempotent; a secret-free input is
//! returned unchanged; findings are sorted, disjoint and in bounds; the plan writes exactly
//! what `redact` returns; streaming windows give the same output as one window; valid UTF-8
//! stays valid.
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

fuzz_target!(|data: &[u8]| {
    let r = &*ENGINE;
    let out = r.redact(data);
    assert_eq!(r.redact(&out).as_ref(), out.as_ref(), "not idempotent");

    let findings = r.scan(data);
    if findings.is_empty() {
        assert_eq!(out.as_ref(), data);
    }
    let mut prev = 0;
    for f in &findings {
        assert!(f.start >= prev && f.start < f.end && f.end <= data.len());
        prev = f.end;
    }

    let plan = r.plan(data);
    let mut direct = vec![0u8; plan.out_len()];
    plan.write(data, &mut direct);
    assert_eq!(direct.as_slice(), out.as_ref());

    if std::str::from_utf8(data).is_ok() {
        assert!(std::str::from_utf8(&out).is_ok(), "UTF-8 broken");
    }

    // Two windows split in the middle, with the whole input as context, equal one window over
    // everything (windows are single passes; `redact` may settle further).
    let mid = data.len() / 2;
    let (whole, _) = r.redact_window(data, 0, data.len());
    let (a, end) = r.redact_window(data, 0, mid);
    let (b, _) = r.redact_window(data, end, data.len());
    let mut joined = a;
    joined.extend_from_slice(&b);
    assert_eq!(joined, whole, "windows differ from one window");
});
