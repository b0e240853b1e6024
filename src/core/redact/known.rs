//! Known secret values, matched exactly in their raw form and in the encodings logs show them in.
//!
//! The set is bounded and cheap to grow. Values sit in a hash set (duplicate check O(1)) and
//! in insertion order; the matcher is a stack of levels, each an automaton over one batch of
//! values, merged like a binary counter (a level is merged into the one below while it is at
//! least half its size). Adding a value costs O(1) plus, amortised, O(log n) rebuild work the
//! next time something is redacted, never a rebuild of the whole set. Past the cap the oldest
//! values are evicted in one batch, so eviction too is amortised.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::prefilter::SampledFinder;

/// Shorter values would collide with ordinary words and numbers.
pub const MIN_KNOWN_LEN: usize = 6;
/// At most this many values are kept; past it the oldest are evicted (see docs/redaction.md).
pub const MAX_KNOWN_VALUES: usize = 16_384;
/// At most this many bytes of values (before encodings) are kept, for the same reason.
pub const MAX_KNOWN_BYTES: usize = 16 * 1024 * 1024;
/// A base64 fragment shorter than this could turn up by chance inside unrelated base64.
const MIN_B64_FRAGMENT: usize = 10;

/// A registered value. Wiped when the last reference (set, order list or level) drops.
#[derive(Clone)]
struct Value(Arc<Zeroizing<Vec<u8>>>);

impl Value {
    fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}
impl Eq for Value {}
impl Hash for Value {
    // Same as `[u8]`'s hash, so the set can be probed with a plain slice.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state)
    }
}
impl std::borrow::Borrow<[u8]> for Value {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

/// One compiled batch of values. The automaton keeps its own (zeroizing) copies of the
/// patterns.
pub struct KnownMatcher {
    finder: SampledFinder,
    /// Per pattern: it is a base64 fragment, so the match is widened to the whole base64 run
    /// around it (the fragment's edge characters also carry bits of the secret).
    base64: Vec<bool>,
}

impl KnownMatcher {
    /// Push `(start, end)` for every occurrence of a value of this batch in `text`.
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

/// Every level of the set at one moment: what a search uses.
pub struct KnownSnapshot {
    levels: Vec<Arc<KnownMatcher>>,
}

impl KnownSnapshot {
    /// Push `(start, end)` for every occurrence of a known value in `text`.
    pub fn find(&self, text: &[u8], out: &mut Vec<(usize, usize)>) {
        for l in &self.levels {
            l.find(text, out);
        }
    }
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

struct Level {
    values: Vec<Value>,
    /// None after a removal inside the batch: rebuilt on the next search.
    matcher: Option<Arc<KnownMatcher>>,
}

#[derive(Default)]
struct Inner {
    set: HashSet<Value>,
    /// Insertion order, oldest first: the eviction order.
    order: VecDeque<Value>,
    bytes: usize,
    /// Levels hold the values registered up to the last search, oldest batch first; values
    /// added since wait in `pending`.
    levels: Vec<Level>,
    pending: Vec<Value>,
    snapshot: Option<Arc<KnownSnapshot>>,
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
        if inner.set.contains(value) {
            return true;
        }
        let v = Value(Arc::new(Zeroizing::new(value.to_vec())));
        inner.set.insert(v.clone());
        inner.order.push_back(v.clone());
        inner.bytes += value.len();
        inner.pending.push(v);
        inner.snapshot = None;
        if inner.set.len() > MAX_KNOWN_VALUES || inner.bytes > MAX_KNOWN_BYTES {
            inner.evict();
        }
        true
    }

    pub fn remove(&self, value: &[u8]) -> bool {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let Some(v) = inner.set.take(value) else {
            return false;
        };
        inner.bytes -= v.bytes().len();
        if let Some(pos) = inner.order.iter().position(|o| *o == v) {
            inner.order.remove(pos);
        }
        inner.pending.retain(|p| *p != v);
        for l in &mut inner.levels {
            if let Some(pos) = l.values.iter().position(|o| *o == v) {
                l.values.remove(pos);
                l.matcher = None;
            }
        }
        inner.levels.retain(|l| !l.values.is_empty());
        inner.snapshot = None;
        true
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .set
            .len()
    }

    /// The current matcher; None when the set is empty. After changes, only the new batch
    /// (and the levels it merges into) is compiled.
    pub fn matcher(&self) -> Option<Arc<KnownSnapshot>> {
        {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            if inner.set.is_empty() {
                return None;
            }
            if let Some(s) = &inner.snapshot {
                return Some(Arc::clone(s));
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.set.is_empty() {
            return None;
        }
        if inner.snapshot.is_none() {
            inner.settle();
        }
        inner.snapshot.clone()
    }
}

impl Inner {
    /// Evict the oldest values down to 7/8 of the caps in one batch, so that a process that
    /// keeps revealing new values pays for one rebuild every cap/8 additions, not one each.
    fn evict(&mut self) {
        let keep_n = MAX_KNOWN_VALUES - MAX_KNOWN_VALUES / 8;
        let keep_b = MAX_KNOWN_BYTES - MAX_KNOWN_BYTES / 8;
        let mut gone: HashSet<Value> = HashSet::new();
        // The newest value always stays, however large.
        while self.order.len() > 1 && (self.order.len() > keep_n || self.bytes > keep_b) {
            let Some(v) = self.order.pop_front() else {
                break;
            };
            self.set.remove(v.bytes());
            self.bytes -= v.bytes().len();
            gone.insert(v);
        }
        if gone.is_empty() {
            return;
        }
        self.pending.retain(|p| !gone.contains(p));
        for l in &mut self.levels {
            let before = l.values.len();
            l.values.retain(|v| !gone.contains(v));
            if l.values.len() != before {
                l.matcher = None;
            }
        }
        self.levels.retain(|l| !l.values.is_empty());
        self.snapshot = None;
        // `gone` drops here: with the levels' matchers rebuilt, the last copies are wiped.
    }

    /// Turn pending values into a level, merge levels that grew too alike in size, rebuild
    /// levels a removal touched, and publish a snapshot.
    fn settle(&mut self) {
        if !self.pending.is_empty() {
            let values = std::mem::take(&mut self.pending);
            self.levels.push(Level {
                values,
                matcher: None,
            });
        }
        while self.levels.len() >= 2 {
            let n = self.levels.len();
            if self.levels[n - 1].values.len() * 2 < self.levels[n - 2].values.len() {
                break;
            }
            let top = self.levels.pop().expect("two levels");
            let below = self.levels.last_mut().expect("two levels");
            below.values.extend(top.values);
            below.matcher = None;
        }
        for l in &mut self.levels {
            if l.matcher.is_none() {
                l.matcher = Some(Arc::new(build(&l.values)));
            }
        }
        self.snapshot = Some(Arc::new(KnownSnapshot {
            levels: self
                .levels
                .iter()
                .filter_map(|l| l.matcher.clone())
                .collect(),
        }));
    }
}

/// Every form a value is matched in, each flagged whether it is a base64 fragment. Each
/// buffer is sized exactly before it is written, so no growth leaves an unwiped copy behind.
pub fn variants(value: &[u8]) -> Vec<(Zeroizing<Vec<u8>>, bool)> {
    let mut out: Vec<(Zeroizing<Vec<u8>>, bool)> = Vec::with_capacity(12);
    let mut push = |v: Zeroizing<Vec<u8>>, b64: bool| {
        if !v.is_empty() && !out.iter().any(|(o, _)| o.as_slice() == v.as_slice()) {
            out.push((v, b64));
        }
    };
    push(Zeroizing::new(value.to_vec()), false);
    push(percent_encode(value, false), false);
    push(percent_encode(value, true), false);
    push(json_escape(value, false), false);
    push(json_escape(value, true), false);
    push(repr_escape(value), false);
    // A value inside a longer base64 string is encoded differently for each of the three
    // offsets it can sit at modulo 3. For offset k the characters that depend only on the value
    // run from ceil(8k/6) to floor(8(k+n)/6); those are the fragments matched.
    for k in 0..3usize {
        let first = (8 * k).div_ceil(6);
        let last = (8 * (k + value.len())) / 6;
        if last <= first || last - first < MIN_B64_FRAGMENT {
            continue;
        }
        let mut shifted = Zeroizing::new(Vec::with_capacity(k + value.len()));
        shifted.resize(k, 0);
        shifted.extend_from_slice(value);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            // `encode` sizes its String exactly (encoded_len) before writing.
            let enc = Zeroizing::new(engine.encode(shifted.as_slice()));
            push(Zeroizing::new(enc.as_bytes()[first..last].to_vec()), true);
        }
    }
    out
}

fn build(values: &[Value]) -> KnownMatcher {
    let mut all: Vec<(Zeroizing<Vec<u8>>, bool)> = Vec::new();
    for v in values {
        all.extend(variants(v.bytes()));
    }
    let base64 = all.iter().map(|(_, b)| *b).collect();
    // Moved, not copied: the finder takes over the zeroizing buffers.
    let finder = SampledFinder::new(all.into_iter().map(|(p, _)| p).collect());
    KnownMatcher { finder, base64 }
}

/// A zeroizing buffer of exactly `len` bytes' capacity, filled by `write`.
fn exact(len: usize, write: impl FnOnce(&mut Vec<u8>)) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    write(&mut out);
    debug_assert_eq!(out.len(), len);
    out
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 percent-encoding of everything outside the unreserved set; `form` writes space as
/// `+` (application/x-www-form-urlencoded).
fn percent_encode(value: &[u8], form: bool) -> Zeroizing<Vec<u8>> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let len = value
        .iter()
        .map(|&b| {
            if unreserved(b) || (form && b == b' ') {
                1
            } else {
                3
            }
        })
        .sum();
    exact(len, |out| {
        for &b in value {
            if unreserved(b) {
                out.push(b);
            } else if form && b == b' ' {
                out.push(b'+');
            } else {
                out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
        }
    })
}

/// JSON string escaping (RFC 8259 section 7); `slash` also escapes `/`, as some encoders do.
fn json_escape(value: &[u8], slash: bool) -> Zeroizing<Vec<u8>> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let width = |b: u8| match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
        b'/' if slash => 2,
        0..=0x1f => 6,
        _ => 1,
    };
    let len = value.iter().map(|&b| width(b)).sum();
    exact(len, |out| {
        for &b in value {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'/' if slash => out.extend_from_slice(b"\\/"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..=0x1f => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]),
                _ => out.push(b),
            }
        }
    })
}

/// Python `repr()` of a str in single quotes: `print(headers)` shows values this way.
fn repr_escape(value: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = value
        .iter()
        .map(|&b| if matches!(b, b'\'' | b'\\') { 2 } else { 1 })
        .sum();
    exact(len, |out| {
        for &b in value {
            match b {
                b'\'' => out.extend_from_slice(b"\\'"),
                b'\\' => out.extend_from_slice(b"\\\\"),
                _ => out.push(b),
            }
        }
    })
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

    #[test]
    fn duplicates_are_free_and_levels_stay_few() {
        let set = KnownSet::default();
        for i in 0..1000 {
            set.add(format!("value-number-{i:05}").as_bytes());
            set.add(format!("value-number-{i:05}").as_bytes());
            // A search after every addition, as a reveal followed by a log line does.
            assert!(set.matcher().is_some());
        }
        assert_eq!(set.len(), 1000);
        let levels = set.matcher().unwrap().levels.len();
        assert!(levels <= 11, "{levels} levels for 1000 values");
        for i in [0, 499, 999] {
            let line = format!("x value-number-{i:05} y");
            assert_eq!(hits(&set, line.as_bytes()).len(), 1, "{i}");
        }
        assert!(set.remove(b"value-number-00499"));
        assert!(hits(&set, b"x value-number-00499 y").is_empty());
        assert_eq!(hits(&set, b"x value-number-00500 y").len(), 1);
    }

    #[test]
    fn the_cap_evicts_oldest_first() {
        let set = KnownSet::default();
        let n = MAX_KNOWN_VALUES + 10;
        for i in 0..n {
            set.add(format!("cap-value-{i:08}").as_bytes());
        }
        assert!(set.len() <= MAX_KNOWN_VALUES);
        assert!(set.len() >= MAX_KNOWN_VALUES - MAX_KNOWN_VALUES / 8);
        assert!(
            hits(&set, b"cap-value-00000000").is_empty(),
            "oldest evicted"
        );
        let newest = format!("cap-value-{:08}", n - 1);
        assert_eq!(hits(&set, newest.as_bytes()).len(), 1, "newest kept");
        // An evicted value registered again is matched again.
        set.add(b"cap-value-00000000");
        assert_eq!(hits(&set, b"cap-value-00000000").len(), 1);
    }

    #[test]
    fn encodings_are_sized_exactly() {
        let v = b"a\"b\\c/d\ne\x01f' g%";
        for buf in [
            percent_encode(v, false),
            percent_encode(v, true),
            json_escape(v, false),
            json_escape(v, true),
            repr_escape(v),
        ] {
            assert_eq!(buf.len(), buf.capacity());
        }
        assert_eq!(json_escape(b"\x01", false).as_slice(), b"\\u0001");
    }
}
