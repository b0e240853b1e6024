//! keyseal's own API key tokens (`<prefix>_<46 base62>` with a CRC-32 over the body), for every
//! prefix an `ApiKeys` in this process uses plus the default `ks`.
//!
//! Prefixes are only known at run time, so this rule is not in the static `CATALOGUE` (whose
//! anchors are fixed when a redactor is built): one small process-wide automaton of `<prefix>_`
//! literals is rebuilt when a prefix is added, and every redactor that has not disabled the rule
//! runs it. A hit counts only with word boundaries on both sides and a correct checksum, so
//! random text is never reported. It is still listed and disabled like a catalogue rule.

use std::sync::{Arc, LazyLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::core::apikey::{prefix_ok, token_ok, DEFAULT_PREFIX, TAIL_LEN};

pub const RULE_ID: &str = "keyseal_api_key";

struct Prefixes {
    list: Vec<String>,
    finder: Arc<AhoCorasick>,
}

fn build(list: &[String]) -> Arc<AhoCorasick> {
    let pats: Vec<String> = list.iter().map(|p| format!("{p}_")).collect();
    Arc::new(
        AhoCorasick::builder()
            // Leftmost-first lets the literal prefilter (memchr/memmem for one prefix) skip text
            // without a candidate; overlapping hits add nothing, since a prefix that ends inside a
            // longer one (`ks_` in `aks_`) has a word character before it and is refused anyway.
            .match_kind(MatchKind::LeftmostFirst)
            .build(pats)
            .expect("a few short literals always build"),
    )
}

static PREFIXES: LazyLock<RwLock<Prefixes>> = LazyLock::new(|| {
    let list = vec![DEFAULT_PREFIX.to_owned()];
    let finder = build(&list);
    RwLock::new(Prefixes { list, finder })
});

/// Make the redactors of this process recognise tokens of `prefix` (idempotent).
pub fn register_prefix(prefix: &str) {
    if !prefix_ok(prefix.as_bytes()) {
        return;
    }
    let mut p = PREFIXES.write().unwrap_or_else(|e| e.into_inner());
    if !p.list.iter().any(|x| x == prefix) {
        p.list.push(prefix.to_owned());
        p.finder = build(&p.list);
    }
}

/// The prefixes recognised so far, in registration order (`ks` first).
pub fn prefixes() -> Vec<String> {
    PREFIXES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .list
        .clone()
}

/// A regex for the token shape of `prefixes`, for listings and for tools that only have a regex
/// engine: the secret is group `s`. The checksum is not expressed (the engine verifies it).
pub fn pattern(prefixes: &[String]) -> String {
    format!(
        r"\b(?P<s>(?:{})_[0-9A-Za-z]{{{TAIL_LEN}}})\b",
        prefixes.join("|")
    )
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Calls `found(start, end)` for every whole token with a valid checksum.
pub fn find(data: &[u8], mut found: impl FnMut(usize, usize)) {
    let finder = Arc::clone(&PREFIXES.read().unwrap_or_else(|e| e.into_inner()).finder);
    for m in finder.find_iter(data) {
        let (s, e) = (m.start(), m.end() + TAIL_LEN);
        if e > data.len() || (s > 0 && word(data[s - 1])) || data.get(e).is_some_and(|&b| word(b)) {
            continue;
        }
        if token_ok(&data[s..e]).is_some() {
            found(s, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::apikey::checksum;

    fn token(prefix: &str, fill: char) -> String {
        let body = format!("{prefix}_{}", fill.to_string().repeat(40));
        let crc = String::from_utf8(checksum(body.as_bytes())).unwrap();
        format!("{body}{crc}")
    }

    fn spans(text: &str) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        find(text.as_bytes(), |s, e| v.push((s, e)));
        v
    }

    #[test]
    fn default_and_registered_prefixes() {
        let t = token("ks", 'a');
        let text = format!("key={t} end");
        assert_eq!(spans(&text), vec![(4, 4 + t.len())]);
        let custom = token("acmeco", 'Z');
        assert!(spans(&custom).is_empty());
        register_prefix("acmeco");
        assert_eq!(spans(&custom), vec![(0, custom.len())]);
        // A prefix ending in another one: the longer token is found, the shorter never.
        register_prefix("aks");
        let long = token("aks", 'c');
        assert_eq!(spans(&format!(" {long} ")), vec![(1, 1 + long.len())]);
    }

    #[test]
    fn listing_pattern_matches_a_token() {
        let re = regex_automata::meta::Regex::new(&pattern(&["ks".into(), "zz".into()])).unwrap();
        let t = token("ks", 'q');
        let m = re.find(format!(" {t} ").as_bytes()).unwrap();
        assert_eq!((m.start(), m.end()), (1, 1 + t.len()));
        assert!(re.find(format!("x{t}").as_bytes()).is_none());
        assert!(prefixes().iter().any(|p| p == DEFAULT_PREFIX));
    }

    #[test]
    fn bad_checksum_and_boundaries_are_ignored() {
        let t = token("ks", 'b');
        let mut bad = t.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
        assert!(spans(std::str::from_utf8(&bad).unwrap()).is_empty());
        assert!(spans(&format!("x{t}")).is_empty());
        assert!(spans(&format!("{t}x")).is_empty());
        assert!(spans(&t[..t.len() - 1]).is_empty());
    }
}
