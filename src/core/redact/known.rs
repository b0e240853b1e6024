//! Known secret values, matched exactly in their raw form and in the encodings logs show them in.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::prefilter::SampledFinder;

/// Shorter values would collide with ordinary words and numbers.
pub const MIN_KNOWN_LEN: usize = 6;
/// A base64 fragment shorter than this could turn up by chance inside unrelated base64.
const MIN_B64_FRAGMENT: usize = 10;

/// One compiled snapshot of the set. Rebuilt lazily on the first search after a change, so a
/// burst of `add_secret` calls costs one build. The automaton keeps its own copy of the
/// patterns, which are not wiped: see docs/redaction.md.
pub struct KnownMatcher {
    finder: SampledFinder,
    /// Per pattern: it is a base64 fragment, so the match is widened to the whole base64 run
    /// around it (the fragment's edge characters also carry bits of the secret).
    base64: Vec<bool>,
}

impl KnownMatcher {
    /// Push `(start, end)` for every occurrence of a known value in `text`.
    pub fn find(&self, text: &[u8], out: &mut Vec<(usize, usize)>) {
        self.finder.for_each(text, |pid, start, end| {
            let (mut s, mut e) = (start, end);
            if self.base64[pid] {
                while s > 0 && is_b64(text[s - 1]) {
                    s -= 1;
                }
                while e < text.len() && is_b64(text[e]) {
                    e += 1;
                }
            }
            out.push((s, e));
        });
    }
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

#[derive(Default)]
struct Inner {
    values: Vec<Zeroizing<Vec<u8>>>,
    matcher: Option<Arc<KnownMatcher>>,
}

#[derive(Default)]
pub struct KnownSet {
    inner: RwLock<Inner>,
}

impl KnownSet {
    /// Returns false when the value is too short to match safely (it is then ignored).
    pub fn add(&self, value: &[u8]) -> bool {
        if value.len() < MIN_KNOWN_LEN {
            return false;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !inner.values.iter().any(|v| v.as_slice() == value) {
            inner.values.push(Zeroizing::new(value.to_vec()));
            inner.matcher = None;
        }
        true
    }

    pub fn remove(&self, value: &[u8]) -> bool {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let before = inner.values.len();
        inner.values.retain(|v| v.as_slice() != value);
        let removed = inner.values.len() != before;
        if removed {
            inner.matcher = None;
        }
        removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values
            .len()
    }

    /// The current matcher, building it if the set changed; None when the set is empty.
    pub fn matcher(&self) -> Option<Arc<KnownMatcher>> {
        {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            if inner.values.is_empty() {
                return None;
            }
            if let Some(m) = &inner.matcher {
                return Some(Arc::clone(m));
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.matcher.is_none() && !inner.values.is_empty() {
            inner.matcher = build(&inner.values).map(Arc::new);
        }
        inner.matcher.clone()
    }
}

/// Every form a value is matched in, each flagged whether it is a base64 fragment.
pub fn variants(value: &[u8]) -> Vec<(Zeroizing<Vec<u8>>, bool)> {
    let mut out: Vec<(Zeroizing<Vec<u8>>, bool)> = Vec::new();
    let mut push = |v: Vec<u8>, b64: bool| {
        if !v.is_empty() && !out.iter().any(|(o, _)| o.as_slice() == v.as_slice()) {
            out.push((Zeroizing::new(v), b64));
        }
    };
    push(value.to_vec(), false);
    push(percent_encode(value, false), false);
    push(percent_encode(value, true), false);
    push(json_escape(value, false), false);
    push(json_escape(value, true), false);
    push(repr_escape(value), false);
    // A value inside a longer base64 string is encoded differently for each of the three
    // offsets it can sit at modulo 3. For offset k the characters that depend only on the value
    // run from ceil(8k/6) to floor(8(k+n)/6); those are the fragments matched.
    for k in 0..3usize {
        let mut shifted = Zeroizing::new(vec![0u8; k]);
        shifted.extend_from_slice(value);
        let first = (8 * k).div_ceil(6);
        let last = (8 * (k + value.len())) / 6;
        if last <= first || last - first < MIN_B64_FRAGMENT {
            continue;
        }
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = Zeroizing::new(engine.encode(shifted.as_slice()));
            push(enc.as_bytes()[first..last].to_vec(), true);
        }
    }
    out
}

fn build(values: &[Zeroizing<Vec<u8>>]) -> Option<KnownMatcher> {
    let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut base64 = Vec::new();
    for v in values {
        for (p, b) in variants(v) {
            patterns.push(p);
            base64.push(b);
        }
    }
    let finder = SampledFinder::new(patterns.iter().map(|p| p.to_vec()).collect());
    Some(KnownMatcher { finder, base64 })
}

/// RFC 3986 percent-encoding of everything outside the unreserved set; `form` writes space as
/// `+` (application/x-www-form-urlencoded).
fn percent_encode(value: &[u8], form: bool) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else if form && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
    out
}

/// JSON string escaping (RFC 8259 section 7); `slash` also escapes `/`, as some encoders do.
fn json_escape(value: &[u8], slash: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' if slash => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

/// Python `repr()` of a str in single quotes: `print(headers)` shows values this way.
fn repr_escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'\'' => out.extend_from_slice(b"\\'"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn hits(set: &KnownSet, text: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if let Some(m) = set.matcher() {
            m.find(text, &mut out);
        }
        out
    }

    #[test]
    fn raw_and_encoded_forms_match() {
        let set = KnownSet::default();
        let secret = b"p@ss w/rd\"x";
        assert!(set.add(secret));
        let raw = b"a p@ss w/rd\"x b";
        assert_eq!(hits(&set, raw), vec![(2, 2 + secret.len())]);
        assert_eq!(hits(&set, b"pw=p%40ss%20w%2Frd%22x&").len(), 1);
        assert_eq!(hits(&set, b"pw=p%40ss+w%2Frd%22x&").len(), 1);
        assert_eq!(hits(&set, br#"{"pw": "p@ss w/rd\"x"}"#).len(), 1);
    }

    #[test]
    fn base64_at_every_offset_is_covered_whole() {
        let set = KnownSet::default();
        let secret = b"correct-horse-battery";
        set.add(secret);
        for pad in 0..3 {
            let mut data = b"user:".to_vec();
            data.extend(std::iter::repeat_n(b'x', pad));
            data.extend_from_slice(secret);
            data.extend_from_slice(b"!tail");
            let enc = STANDARD.encode(&data);
            let line = format!("Basic {enc} end");
            let found = hits(&set, line.as_bytes());
            assert_eq!(found, vec![(6, 6 + enc.len())], "offset {pad}");
        }
    }

    #[test]
    fn short_values_are_refused_and_remove_works() {
        let set = KnownSet::default();
        assert!(!set.add(b"abc"));
        assert!(set.matcher().is_none());
        set.add(b"s3cr3t-value");
        assert_eq!(hits(&set, b"x s3cr3t-value y").len(), 1);
        assert!(set.remove(b"s3cr3t-value"));
        assert!(hits(&set, b"x s3cr3t-value y").is_empty());
        assert!(!set.remove(b"s3cr3t-value"));
    }
}
