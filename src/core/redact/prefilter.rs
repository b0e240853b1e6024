//! Literal finders tuned for logs: where a general Aho-Corasick automaton over 150 anchors (or
//! thousands of known values) runs at 250-500 MB/s, these spend one table probe per byte (anchors)
//! or per few bytes (known values) and verify only the rare candidates exactly.

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
    /// Bucket of trigram `h`: `recs[offsets[h]..]` up to and including the first record
    /// marked `last`.
    offsets: Vec<u16>,
    recs: Vec<Rec>,
    anchors: Vec<Vec<u8>>,
}

/// One anchor in a bucket, with its first four bytes prepared for a one-instruction check:
/// `(word | case) & cmp == want`, where `case` sets bit 5 of letters (ASCII case folding that
/// cannot make a non-letter equal a letter) and `cmp` keeps only the anchor's own bytes.
/// Most candidates fail here without touching the anchor's heap copy.
#[derive(Clone, Copy)]
struct Rec {
    want: u32,
    cmp: u32,
    case: u32,
    id: u32,
    len: u32,
    last: bool,
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
        let mut offsets = vec![0u16; TRIGRAM_SIZE];
        let mut recs: Vec<Rec> = Vec::new();
        for (h, b) in buckets.iter().enumerate() {
            if b.is_empty() {
                continue;
            }
            table[h] = 1;
            offsets[h] = u16::try_from(recs.len()).expect("anchor buckets fit in u16");
            for (k, &id) in b.iter().enumerate() {
                let a = &anchors[id as usize];
                let (mut want, mut cmp, mut case) = (0u32, 0u32, 0u32);
                for (j, &c) in a.iter().take(4).enumerate() {
                    let shift = 8 * j;
                    let letter = c.is_ascii_alphabetic();
                    let bit = if letter { 0x20u32 } else { 0 };
                    case |= bit << shift;
                    cmp |= 0xFF << shift;
                    want |= ((c as u32) | bit) << shift;
                }
                recs.push(Rec {
                    want,
                    cmp,
                    case,
                    id,
                    len: a.len() as u32,
                    last: k + 1 == b.len(),
                });
            }
        }
        Self {
            table,
            offsets,
            recs,
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

    #[inline(never)]
    fn check(&self, data: &[u8], i: usize, h: usize, hit: &mut impl FnMut(usize, usize, usize)) {
        let rest = &data[i..];
        let word = match rest.get(..4) {
            Some(w) => u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
            None => {
                let mut b = [0u8; 4];
                b[..rest.len()].copy_from_slice(rest);
                u32::from_le_bytes(b)
            }
        };
        for r in &self.recs[self.offsets[h] as usize..] {
            let len = r.len as usize;
            if (word | r.case) & r.cmp == r.want
                && rest.len() >= len
                && (len <= 4
                    || rest[4..len].eq_ignore_ascii_case(&self.anchors[r.id as usize][4..]))
            {
                hit(r.id as usize, i, i + len);
            }
            if r.last {
                break;
            }
        }
    }
}

/// Table size bounds (log2 of bits). The table is sized to about 1/32 occupancy so that few
/// probes reach the hash map; it is touched once per `stride` bytes, so a table larger than
/// the L1 cache costs little.
const GRAM_TABLE_MIN_BITS: u32 = 16;
const GRAM_TABLE_MAX_BITS: u32 = 24;

#[inline(always)]
fn gram_hash(g: u32, bits: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

/// Exact multi-pattern search for long literals (known secrets), sampling every `stride`-th
/// position. Each pattern registers its 4-byte grams at offsets `0..stride`; any occurrence
/// covers exactly one sampled position among its first `stride` bytes, so nothing is missed
/// while the scan touches only `1/stride` of the positions.
pub struct SampledFinder {
    stride: usize,
    table_bits: u32,
    bits: Vec<u64>,
    /// [gram, pattern id, offset], sorted by gram: probed by binary search on the rare table
    /// hits. A sorted vector rather than a hash map because the grams are pieces of secrets
    /// and a vector can be wiped when the finder is dropped.
    grams: Zeroizing<Vec<[u32; 3]>>,
    /// Known secrets: wiped when the finder is dropped.
    patterns: Vec<Zeroizing<Vec<u8>>>,
}

impl SampledFinder {
    /// Patterns shorter than 4 bytes are ignored (the known set refuses them anyway).
    pub fn new(patterns: Vec<Zeroizing<Vec<u8>>>) -> Self {
        let min_len = patterns
            .iter()
            .map(|p| p.len())
            .filter(|&l| l >= 4)
            .min()
            .unwrap_or(4);
        let stride = (min_len - 3).clamp(1, 16);
        let grams_total: usize = patterns.iter().filter(|p| p.len() >= 4).count() * stride;
        let table_bits = (grams_total.max(1) * 32)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(GRAM_TABLE_MIN_BITS, GRAM_TABLE_MAX_BITS);
        let mut bits = vec![0u64; (1usize << table_bits) / 64];
        // Reserved exactly: growing would leave unwiped copies of the grams behind.
        let mut grams = Zeroizing::new(Vec::with_capacity(grams_total));
        for (pid, p) in patterns.iter().enumerate() {
            if p.len() < 4 {
                continue;
            }
            for off in 0..stride {
                let g = u32::from_le_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]]);
                let h = gram_hash(g, table_bits);
                bits[h / 64] |= 1 << (h % 64);
                grams.push([g, pid as u32, off as u32]);
            }
        }
        // In place (unstable sort allocates nothing).
        grams.sort_unstable();
        Self {
            stride,
            table_bits,
            bits,
            grams,
            patterns,
        }
    }

    /// Call `hit(pattern_id, start, end)` for every occurrence (unordered, may overlap).
    pub fn for_each(&self, data: &[u8], mut hit: impl FnMut(usize, usize, usize)) {
        let mut i = 0;
        while i + 4 <= data.len() {
            let g = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
            let h = gram_hash(g, self.table_bits);
            if self.bits[h >> 6] & (1 << (h & 63)) != 0 {
                let from = self.grams.partition_point(|e| e[0] < g);
                for &[eg, pid, off] in &self.grams[from..] {
                    if eg != g {
                        break;
                    }
                    let Some(start) = i.checked_sub(off as usize) else {
                        continue;
                    };
                    let p = &self.patterns[pid as usize];
                    if data[start..].starts_with(p.as_slice()) {
                        hit(pid as usize, start, start + p.len());
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
        let f = SampledFinder::new(pats.iter().map(|p| Zeroizing::new(p.to_vec())).collect());
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
