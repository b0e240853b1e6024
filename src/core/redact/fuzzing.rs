//! The engine's invariants, checked on one input: shared by the cargo-fuzz target (nightly,
//! libFuzzer) and by a bounded stable-Rust smoke run inside `cargo test`, so CI exercises them
//! on every change even where no nightly toolchain exists.

use super::Redactor;

/// Panics when any invariant fails: redaction is idempotent; a secret-free input is returned
/// unchanged; findings are sorted, disjoint and in bounds; the plan writes exactly what `redact`
/// returns; valid UTF-8 stays valid; two streaming windows equal one.
pub fn check(r: &Redactor, data: &[u8]) {
    let out = r.redact(data);
    assert_eq!(r.redact(&out).as_ref(), out.as_ref(), "not idempotent");

    let findings = r.scan(data);
    if findings.is_empty() {
        assert_eq!(out.as_ref(), data, "changed an input with no findings");
    }
    let mut prev = 0;
    for f in &findings {
        assert!(
            f.start >= prev && f.start < f.end && f.end <= data.len(),
            "bad finding span"
        );
        prev = f.end;
    }

    let plan = r.plan(data);
    let mut direct = vec![0u8; plan.out_len()];
    plan.write(data, &mut direct);
    assert_eq!(direct.as_slice(), out.as_ref(), "plan and redact disagree");

    if std::str::from_utf8(data).is_ok() {
        assert!(std::str::from_utf8(&out).is_ok(), "UTF-8 broken");
    }

    // Windows are single passes (`redact` may settle further), so compare windows with a window.
    let mid = data.len() / 2;
    let (whole, _) = r.redact_window(data, 0, data.len());
    let (a, end) = r.redact_window(data, 0, mid);
    let (b, _) = r.redact_window(data, end, data.len());
    let mut joined = a;
    joined.extend_from_slice(&b);
    assert_eq!(joined, whole, "windows differ from one window");
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::time::{Duration, Instant};

    /// Pieces that sit near rule boundaries: prefixes, separators, encodings, known values.
    const PIECES: &[&[u8]] = &[
        b"ghp_",
        b"gho_",
        b"github_pat_",
        b"AKIA",
        b"sk_live_",
        b"sk-ant-",
        b"xoxb-",
        b"glpat-",
        b"npm_",
        b"eyJ",
        b"-----BEGIN PRIVATE KEY-----",
        b"redis://",
        b"://u:",
        b"@h",
        b"password=",
        b"token=",
        b"Authorization: Bearer ",
        b"Basic ",
        b"Cookie: ",
        b"X-Api-Key: ",
        b"\"api_key\": \"",
        b"%2F",
        b"\\u0041",
        b"\\n",
        b" ",
        b"=",
        b"&",
        b"\"",
        b"'",
        b".",
        b"_",
        b"-",
        b"\xff",
        b"\xc3\xa9",
        b"fuzz-known/va+lue\"1",
        b"s3cr3t-value-42",
        b"czNjcjN0LXZhbHVlLTQy",
        b"0123456789abcdef",
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    ];

    #[test]
    fn invariants_hold_on_generated_inputs() {
        let r = Redactor::new(Config {
            use_global_known: false,
            ..Config::default()
        })
        .unwrap();
        r.add_secret(b"fuzz-known/va+lue\"1");
        r.add_secret(b"s3cr3t-value-42");
        // xorshift64*: deterministic, so a failure reproduces from the printed case number.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut cases = 0u64;
        while Instant::now() < deadline && cases < 200_000 {
            let mut input = Vec::new();
            for _ in 0..(next() % 24) {
                let roll = next();
                if roll % 4 == 0 {
                    input.push((roll >> 8) as u8);
                } else {
                    input.extend_from_slice(PIECES[(roll >> 8) as usize % PIECES.len()]);
                }
            }
            let outcome = std::panic::catch_unwind(|| check(&r, &input));
            assert!(
                outcome.is_ok(),
                "case {cases} failed: {:?}",
                String::from_utf8_lossy(&input)
            );
            cases += 1;
        }
        // Slack for a loaded machine (and instrumented builds): the point is that many ran.
        assert!(cases > 200, "only {cases} cases ran");
    }
}
