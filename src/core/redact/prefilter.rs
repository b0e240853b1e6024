//! Literal finders tuned for logs: where a general Aho-Corasick automaton over 150 anchors (or
//! thousands of known values) runs at 250-500 MB/s, these spend one table probe per byte (anchors)
//! or per few bytes (known values) and verify only the rare candidates exactly.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use zeroize::Zeroizing;

const TRIGRAM_BITS: usize = 15;
const TRIGRAM_SIZE: usize = 1 << TRIGRAM_BITS;

/// Five low bits per byte: folds ASCII case for free ('a' and 'A' share them). Collisions
/// (digits with some letters, punctuation) only cost a failed exact check.
#[inline(always)]
fn fold(b: u8) -> usize {
    (b & 0x1f) as usize
}

/// All anchors found at every position (overlapping), compared ignoring ASCII case; callers
/// re-check case where a rule wants it.
pub struct AnchorFinder {
    table: Box<[u8; TRIGRAM_SIZE]>,
    /// CSR buckets: anchors whose first three folded bytes hash to `h` are
    /// `ids[offsets[h]..offsets[h + 1]]`.
    offsets: Vec<u32>,
    ids: Vec<u32>,
    anchors: Vec<Vec<u8>>,
}

impl AnchorFinder {
    pub fn new(anchors: Vec<Vec<u8>>) -> Self {
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); TRIGRAM_SIZE];
        for (id, a) in anchors.iter().enumerate() {
            // Anchors shorter than three bytes are entered under every possible fold of the
            // missing bytes.
            let first: Vec<Vec<usize>> = (0..3)
                .map(|k| match a.get(k) {
                    Some(&b) => vec![fold(b)],
                    None => (0..32).collect(),
                })
                .collect();
            for &x in &first[0] {
                for &y in &first[1] {
                    for &z in &first[2] {
                        let h = (x << 10) | (y << 5) | z;
                        if !buckets[h].contains(&(id as u32)) {
                            buckets[h].push(id as u32);
                        }
                    }
                }
            }
        }
        let mut table = Box::new([0u8; TRIGRAM_SIZE]);
        let mut offsets = Vec::with_capacity(TRIGRAM_SIZE + 1);
        let mut ids = Vec::new();
        for (h, b) in buckets.iter().enumerate() {
            offsets.push(ids.len() as u32);
            if !b.is_empty() {
                table[h] = 1;
                ids.extend_from_slice(b);
            }
        }
        offsets.push(ids.len() as u32);
        Self {
            table,
            offsets,
            ids,
            anchors,
        }
    }

    /// Call `hit(anchor_id, start, end)` for every occurrence, in order of start.
    #[inline]
    pub fn for_each(&self, data: &[u8], mut hit: impl FnMut(usize, usize, usize)) {
        let n = data.len();
        if n == 0 {
            return;
        }
        // Each position's trigram is computed on its own (no hash carried from one byte to the
        // next), so the CPU overlaps the work of neighbouring positions; the table is a byte
        // array small enough for L1 and indexed without bounds checks.
        let table: &[u8; TRIGRAM_SIZE] = &self.table;
        for (k, w) in data.windows(3).enumerate() {
            let h = ((fold(w[0]) << 10) | (fold(w[1]) << 5) | fold(w[2])) & (TRIGRAM_SIZE - 1);
            if table[h] != 0 {
                self.check(data, k, h, &mut hit);
            }
        }
        // The last two positions have fewer than three bytes: pad with fold 0 (anchors shorter
        // than three bytes are entered under every fold) and let the exact check decide.
        for i in n.saturating_sub(2)..n {
            let at = |j: usize| if j < n { fold(data[j]) } else { 0 };
            let h = (at(i) << 10) | (at(i + 1) << 5) | at(i + 2);
            if self.table[h] != 0 {
                self.check(data, i, h, &mut hit);
            }
        }
    }

    #[cold]
    fn check(&self, data: &[u8], i: usize, h: usize, hit: &mut impl FnMut(usize, usize, usize)) {
        let (lo, hi) = (self.offsets[h] as usize, self.offsets[h + 1] as usize);
        for &id in &self.ids[lo..hi] {
            let a = &self.anchors[id as usize];
            if data.len() - i >= a.len() && data[i..i + a.len()].eq_ignore_ascii_case(a) {
                hit(id as usize, i, i + a.len());
            }
        }
    }
}

const GRAM_TABLE_BITS: u32 = 20;

/// Multiply-shift hashing for 4-byte grams: the table is private and holds no attacker-chosen
/// keys (only grams of the application's own secrets), so SipHash's flood resistance buys
/// nothing here and costs most of a lookup.
#[derive(Default)]
struct GramHasher(u64);
impl Hasher for GramHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01B3);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
type GramMap = HashMap<u32, Vec<(u32, u32)>, BuildHasherDefault<GramHasher>>;

#[inline(always)]
fn gram_hash(g: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> (32 - GRAM_TABLE_BITS)) as usize
}

/// Exact multi-pattern search for long literals (known secrets), sampling every `stride`-th
/// position. Each pattern registers its 4-byte grams at offsets `0..stride`; any occurrence
/// covers exactly one sampled position among its first `stride` bytes, so nothing is missed
/// while the scan touches only `1/stride` of the positions.
pub struct SampledFinder {
    stride: usize,
    bits: Vec<u64>,
    grams: GramMap,
    /// Known secrets: wiped when the finder is dropped (rebuilt after every change).
    patterns: Vec<Zeroizing<Vec<u8>>>,
}

impl SampledFinder {
    /// Patterns shorter than 4 bytes are ignored (the known set refuses them anyway).
    pub fn new(patterns: Vec<Vec<u8>>) -> Self {
        let min_len = patterns
            .iter()
            .map(Vec::len)
            .filter(|&l| l >= 4)
            .min()
            .unwrap_or(4);
        let stride = (min_len - 3).clamp(1, 16);
        let mut bits = vec![0u64; (1usize << GRAM_TABLE_BITS) / 64];
        let mut grams = GramMap::default();
        for (pid, p) in patterns.iter().enumerate() {
            if p.len() < 4 {
                continue;
            }
            for off in 0..stride {
                let g = u32::from_le_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]]);
                let h = gram_hash(g);
                bits[h / 64] |= 1 << (h % 64);
                grams.entry(g).or_default().push((pid as u32, off as u32));
            }
        }
        Self {
            stride,
            bits,
            grams,
            patterns: patterns.into_iter().map(Zeroizing::new).collect(),
        }
    }

    /// Call `hit(pattern_id, start, end)` for every occurrence (unordered, may overlap).
    pub fn for_each(&self, data: &[u8], mut hit: impl FnMut(usize, usize, usize)) {
        let mut i = 0;
        while i + 4 <= data.len() {
            let g = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
            let h = gram_hash(g);
            if self.bits[h >> 6] & (1 << (h & 63)) != 0 {
                if let Some(list) = self.grams.get(&g) {
                    for &(pid, off) in list {
                        let Some(start) = i.checked_sub(off as usize) else {
                            continue;
                        };
                        let p = &self.patterns[pid as usize];
                        if data[start..].starts_with(p.as_slice()) {
                            hit(pid as usize, start, start + p.len());
                        }
                    }
                }
            }
            i += self.stride;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(pats: &[&[u8]], data: &[u8], ci: bool) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for s in 0..data.len() {
            for (id, p) in pats.iter().enumerate() {
                let e = s + p.len();
                if e <= data.len() {
                    let w = &data[s..e];
                    if (ci && w.eq_ignore_ascii_case(p)) || (!ci && w == *p) {
                        out.push((id, s, e));
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn anchors_match_naive_search() {
        let pats: Vec<&[u8]> = vec![b"ab", b"ABC", b"://", b"Q~", b"token", b"x", b"tok"];
        let f = AnchorFinder::new(pats.iter().map(|p| p.to_vec()).collect());
        let data = b"xx abc ABC http://a Q~ TOKEN tok Q~x tokab";
        let mut got = Vec::new();
        f.for_each(data, |id, s, e| got.push((id, s, e)));
        got.sort_unstable();
        assert_eq!(got, naive(&pats, data, true));
    }

    #[test]
    fn sampled_matches_naive_search() {
        let pats: Vec<&[u8]> = vec![b"secret", b"secret-longer", b"0123456789", b"zzzzzz"];
        let f = SampledFinder::new(pats.iter().map(|p| p.to_vec()).collect());
        for data in [
            &b"secret"[..],
            b"a secret-longer zzzzzzz 0123456789secret",
            b"xsecre",
            b"",
        ] {
            let mut got = Vec::new();
            f.for_each(data, |id, s, e| got.push((id, s, e)));
            got.sort_unstable();
            assert_eq!(
                got,
                naive(&pats, data, false),
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
}
