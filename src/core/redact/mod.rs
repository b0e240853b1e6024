//! Redaction engine: known secret values and a catalogue of token formats, replaced in place.
//!
//! One search finds candidates: an Aho-Corasick pass over the literal anchors of every rule
//! (`ghp_`, `AKIA`, `://`, `password`, ...). Each rule's regex then runs only in a small window
//! around its own anchor hits, anchored where the token starts at the anchor. Text without an
//! anchor costs one automaton pass and no regex at all. Known values get their own automaton.

pub mod apikey;
pub mod checks;
pub mod fuzzing;
pub mod known;
pub mod prefilter;
pub mod rules;

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, LazyLock};

use hmac::{Hmac, KeyInit, Mac};
use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use sha2::Sha256;
use zeroize::Zeroizing;

pub use checks::is_sensitive_key;
use checks::{github_checksum_ok, gitlab_token_ok, is_placeholder, jwt_header_ok};
use known::KnownSet;
use prefilter::AnchorFinder;
use rules::{Check, CATALOGUE};

/// The rule id reported for registered values.
pub const KNOWN_RULE_ID: &str = "known_secret";
/// Context rules: they name where a secret sits, not what it is.
const GENERIC_RULES: &[&str] = &[
    "url_password",
    "http_authorization",
    "bearer_token",
    "http_cookie",
    "secret_assignment",
    "private_key_fragment",
];
/// Neighbourhood of each mask re-checked after a pass (see `Redactor::unsettled`).
const SETTLE_WINDOW: usize = 512;
const SETTLE_EDGE: usize = 64;
/// Window search a rule may do per input: this many times the input length, plus a constant.
/// Inputs that repeat a rule's anchor (`-----BEGIN ... KEY-----` lines, `eyJ-eyJ-...`) would
/// otherwise cost one window (up to 17 kB) per anchor; past the budget the rule is searched
/// once over the whole input, which is linear. Normal text stays far below it.
const RULE_BUDGET_FACTOR: usize = 1;
const RULE_BUDGET_BASE: usize = 32 * 1024;
/// Window each side of an anchor for custom rules that name anchors.
const CUSTOM_WINDOW: usize = 1024;

/// How a secret is replaced.
#[derive(Clone, Default)]
pub enum Mode {
    /// `[REDACTED:<rule>]`
    #[default]
    Mask,
    /// `[REDACTED:<rule>...<tail>]`: the last `tail` characters of long secrets, so support
    /// staff can tell two keys apart. Secrets shorter than four times the tail show none.
    Partial { tail: usize },
    /// `[REDACTED:<rule>#<12 hex>]`: HMAC-SHA256 under an application key, truncated. The same
    /// secret gives the same tag everywhere; without the key the tag cannot be brute-forced.
    Fingerprint { key: Zeroizing<Vec<u8>> },
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Mask => f.write_str("Mask"),
            Mode::Partial { tail } => write!(f, "Partial {{ tail: {tail} }}"),
            Mode::Fingerprint { .. } => f.write_str("Fingerprint { key: [redacted] }"),
        }
    }
}

/// A rule added by the application.
#[derive(Clone, Debug)]
pub struct CustomRule {
    pub id: String,
    /// A regex (byte-oriented, ASCII classes). The secret is the group named `s`, or the whole
    /// match when there is none.
    pub pattern: String,
    /// Literals the match contains. With anchors the regex runs near them only; without, it
    /// runs over the whole input (slower).
    pub anchors: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    /// Built-in rule ids to switch off.
    pub disabled: Vec<String>,
    pub custom: Vec<CustomRule>,
    /// Also match the process-wide known values (every revealed `Secret`).
    pub use_global_known: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mode: Mode::Mask,
            disabled: Vec::new(),
            custom: Vec::new(),
            use_global_known: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedactError {
    UnknownRule(String),
    DuplicateRule(String),
    BadPattern(String),
    BadArgument(&'static str),
}

impl fmt::Display for RedactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedactError::UnknownRule(id) => write!(f, "unknown rule id {id:?}"),
            RedactError::DuplicateRule(id) => write!(f, "rule id {id:?} is already used"),
            RedactError::BadPattern(id) => write!(f, "the pattern of rule {id:?} does not compile"),
            RedactError::BadArgument(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for RedactError {}

/// Where a secret was found. Holds no part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Arc<str>,
    pub start: usize,
    pub end: usize,
}

struct Rule {
    id: Arc<str>,
    regex: Option<Regex>,
    back: usize,
    fwd: usize,
    check: Check,
    /// Match at the anchor's start only: the token begins with its anchor.
    anchored: bool,
    group_s: Option<usize>,
    group_k: Option<usize>,
    group_q: Option<usize>,
    group_sep: Option<usize>,
    /// Context rules (key names, headers, URLs) yield to a specific token format when both
    /// cover the same text, so the mask names the format.
    generic: bool,
    header_like: bool,
}

struct Anchor {
    /// The anchor as written, for case-sensitive confirmation of a case-insensitive hit.
    bytes: Vec<u8>,
    /// (rule index, must match case exactly)
    rules: Vec<(usize, bool)>,
}

#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    rule: usize,
}

pub struct Redactor {
    rules: Vec<Rule>,
    anchors: Option<AnchorFinder>,
    anchor_info: Vec<Anchor>,
    /// Custom rules without anchors: run over the whole input.
    full_scan: Vec<usize>,
    known: KnownSet,
    use_global_known: bool,
    mode: Mode,
    known_rule: usize,
    /// keyseal's own API key tokens (see `apikey`); `None` when that rule is disabled.
    api_key_rule: Option<usize>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules.len())
            .field("known_values", &self.known.len())
            .field("mode", &self.mode)
            .finish()
    }
}

fn compile(pattern: &str) -> Option<Regex> {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(Regex::config().utf8_empty(false))
        .build(pattern)
        .ok()
}

fn group(re: &Regex, name: &str) -> Option<usize> {
    re.group_info()
        .to_index(regex_automata::PatternID::ZERO, name)
}

impl Redactor {
    pub fn new(config: Config) -> Result<Self, RedactError> {
        for id in &config.disabled {
            if !is_builtin(id) {
                return Err(RedactError::UnknownRule(id.clone()));
            }
        }
        if let Mode::Fingerprint { key } = &config.mode {
            if key.len() < 16 {
                return Err(RedactError::BadArgument(
                    "fingerprint_key must be at least 16 bytes",
                ));
            }
        }
        let mut rules = Vec::new();
        let mut anchor_list: Vec<(String, usize, bool)> = Vec::new();
        for def in CATALOGUE {
            if config.disabled.iter().any(|d| d == def.id) {
                continue;
            }
            let regex = if def.pattern.is_empty() {
                None
            } else {
                Some(compile(def.pattern).ok_or_else(|| RedactError::BadPattern(def.id.into()))?)
            };
            let idx = rules.len();
            for a in def.anchors {
                anchor_list.push(((*a).to_owned(), idx, def.case_sensitive));
            }
            rules.push(Rule::new(
                def.id.into(),
                regex,
                def.back,
                def.fwd,
                def.check,
            ));
        }
        let api_key_off = config.disabled.iter().any(|d| d == apikey::RULE_ID);
        let mut full_scan = Vec::new();
        for c in &config.custom {
            // A disabled built-in rule's id is free for a replacement, as before.
            let api_key_taken = c.id == apikey::RULE_ID && !api_key_off;
            if c.id.is_empty()
                || c.id == KNOWN_RULE_ID
                || api_key_taken
                || rules.iter().any(|r| *r.id == c.id)
            {
                return Err(RedactError::DuplicateRule(c.id.clone()));
            }
            if !c
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(RedactError::BadArgument(
                    "custom rule ids may hold only letters, digits, '_' and '-'",
                ));
            }
            let re = compile(&c.pattern).ok_or_else(|| RedactError::BadPattern(c.id.clone()))?;
            let idx = rules.len();
            let mut rule = Rule::new(
                c.id.as_str().into(),
                Some(re),
                CUSTOM_WINDOW,
                CUSTOM_WINDOW,
                Check::None,
            );
            rule.anchored = false;
            rules.push(rule);
            if c.anchors.iter().all(|a| a.is_empty()) {
                full_scan.push(idx);
            } else {
                for a in c.anchors.iter().filter(|a| !a.is_empty()) {
                    anchor_list.push((a.clone(), idx, true));
                }
            }
        }
        let known_rule = rules.len();
        rules.push(Rule::new(KNOWN_RULE_ID.into(), None, 0, 0, Check::None));
        let api_key_rule = if api_key_off {
            None
        } else {
            rules.push(Rule::new(apikey::RULE_ID.into(), None, 0, 0, Check::None));
            Some(rules.len() - 1)
        };

        // One automaton entry per distinct anchor (ignoring ASCII case); each remembers which
        // rules it wakes and whether they want the exact case.
        let mut anchor_info: Vec<Anchor> = Vec::new();
        for (text, rule, cs) in anchor_list {
            let key = text.to_ascii_lowercase();
            match anchor_info
                .iter_mut()
                .find(|a| a.bytes.to_ascii_lowercase() == key.as_bytes())
            {
                Some(a) if a.bytes == text.as_bytes() || !cs => a.rules.push((rule, cs)),
                _ => anchor_info.push(Anchor {
                    bytes: text.into_bytes(),
                    rules: vec![(rule, cs)],
                }),
            }
        }
        let anchors = if anchor_info.is_empty() {
            None
        } else {
            Some(AnchorFinder::new(
                anchor_info.iter().map(|a| a.bytes.clone()).collect(),
            ))
        };
        Ok(Self {
            rules,
            anchors,
            anchor_info,
            full_scan,
            known: KnownSet::default(),
            use_global_known: config.use_global_known,
            mode: config.mode,
            known_rule,
            api_key_rule,
        })
    }

    /// Register an exact secret value (ignored, returning false, when shorter than 6 bytes).
    pub fn add_secret(&self, value: &[u8]) -> bool {
        self.known.add(value)
    }

    pub fn remove_secret(&self, value: &[u8]) -> bool {
        self.known.remove(value)
    }

    pub fn known_count(&self) -> usize {
        self.known.len()
    }

    /// Ids of the active rules, catalogue order, then custom rules, then `known_secret`.
    pub fn rule_ids(&self) -> Vec<Arc<str>> {
        self.rules.iter().map(|r| Arc::clone(&r.id)).collect()
    }

    /// `data` with every secret replaced; borrowed unchanged when there is none.
    pub fn redact<'a>(&self, data: &'a [u8]) -> Cow<'a, [u8]> {
        let plan = self.plan(data);
        if plan.is_empty() {
            return Cow::Borrowed(data);
        }
        let mut out = vec![0u8; plan.out_len()];
        plan.write(data, &mut out);
        Cow::Owned(out)
    }

    /// The replacements for `data`, rendered, without building the output: lets a caller write
    /// the result straight into memory it owns (the binding writes into a Python `bytes`).
    pub fn plan(&self, data: &[u8]) -> Plan {
        let spans = self.spans(data);
        let plan = self.plan_spans(data, &spans, 0, data.len());
        if plan.is_empty() || !self.unsettled(data, &plan.masks) {
            return plan;
        }
        // Rare (the fuzzer finds such inputs in binary noise): a mask gave a neighbouring rule
        // new context, e.g. a URL scheme that began with a digit now begins after `]`. Redact
        // again until nothing changes, so redacting is idempotent.
        let mut cur = vec![0u8; plan.out_len()];
        plan.write(data, &mut cur);
        for _ in 0..8 {
            let spans = self.spans(&cur);
            if spans.is_empty() {
                break;
            }
            let next = self.plan_spans(&cur, &spans, 0, cur.len());
            let mut buf = vec![0u8; next.out_len()];
            next.write(&cur, &mut buf);
            cur = buf;
        }
        Plan {
            masks: Vec::new(),
            from: 0,
            to: 0,
            out_len: cur.len(),
            settled: Some(cur),
        }
    }

    /// Would a second pass find something new near the masks? Each group of masks is checked
    /// in a local copy of its neighbourhood (`SETTLE_WINDOW` bytes each side), so the common
    /// case costs a few kilobytes of scanning per secret, not a second pass over the input.
    fn unsettled(&self, data: &[u8], masks: &[(usize, usize, Vec<u8>)]) -> bool {
        let mut i = 0;
        while i < masks.len() {
            let a = masks[i].0.saturating_sub(SETTLE_WINDOW);
            let mut b = (masks[i].1 + SETTLE_WINDOW).min(data.len());
            let mut j = i;
            while j + 1 < masks.len() && masks[j + 1].0 <= b {
                j += 1;
                b = b.max((masks[j].1 + SETTLE_WINDOW).min(data.len()));
            }
            let mut local = Vec::with_capacity(b - a + 64);
            let mut last = a;
            for (s, e, m) in &masks[i..=j] {
                local.extend_from_slice(&data[last..*s]);
                local.extend_from_slice(m);
                last = *e;
            }
            local.extend_from_slice(&data[last..b]);
            // Near the edges of the copy, context is cut off: matches there are artefacts.
            let lo = if a == 0 { 0 } else { SETTLE_EDGE };
            let hi = if b == data.len() {
                local.len()
            } else {
                local.len().saturating_sub(SETTLE_EDGE)
            };
            if self
                .spans(&local)
                .iter()
                .any(|sp| sp.start >= lo && sp.end <= hi)
            {
                return true;
            }
            i = j + 1;
        }
        false
    }

    fn plan_spans(&self, data: &[u8], spans: &[Span], from: usize, to: usize) -> Plan {
        let mut masks = Vec::with_capacity(spans.len());
        let mut out_len = to - from;
        for sp in spans.iter().filter(|s| s.end > from && s.start < to) {
            let mut m = Vec::with_capacity(32);
            self.render(&mut m, sp.rule, &data[sp.start..sp.end]);
            // A span that began before `from` was already replaced in the previous window;
            // what is left of it here is masked again rather than shown.
            let (s, e) = (sp.start.max(from), sp.end.min(to));
            out_len = out_len - (e - s) + m.len();
            masks.push((s, e, m));
        }
        Plan {
            masks,
            from,
            to,
            out_len,
            settled: None,
        }
    }

    /// Streaming support, as `redact_window` but as a plan the caller writes out.
    pub fn plan_window(&self, data: &[u8], emit_from: usize, emit_to: usize) -> (Plan, usize) {
        let emit_to = emit_to.clamp(emit_from.min(data.len()), data.len());
        let emit_from = emit_from.min(emit_to);
        let spans = self.spans(data);
        let end = extend_past(&spans, emit_to);
        (self.plan_spans(data, &spans, emit_from, end), end)
    }

    /// Convenience for text: the output is valid UTF-8 because spans are widened to character
    /// boundaries and masks are ASCII.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(v) => Cow::Owned(
                String::from_utf8(v)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    pub fn scan(&self, data: &[u8]) -> Vec<Finding> {
        self.spans(data)
            .into_iter()
            .map(|s| Finding {
                rule: Arc::clone(&self.rules[s.rule].id),
                start: s.start,
                end: s.end,
            })
            .collect()
    }

    /// Streaming support: redact `data[emit_from..end]` where `end >= emit_to` is moved past
    /// any secret that straddles `emit_to`. The caller keeps some bytes before `end` as context
    /// for the next window (passing them as the next `emit_from`), so a key name, a scheme or
    /// half a token split across reads is still seen. Returns the output and `end`.
    pub fn redact_window(&self, data: &[u8], emit_from: usize, emit_to: usize) -> (Vec<u8>, usize) {
        let (plan, end) = self.plan_window(data, emit_from, emit_to);
        let mut out = vec![0u8; plan.out_len()];
        plan.write(data, &mut out);
        (out, end)
    }

    /// The scanning twin of `redact_window`: findings that start in `[emit_from, end)`.
    pub fn scan_window(
        &self,
        data: &[u8],
        emit_from: usize,
        emit_to: usize,
    ) -> (Vec<Finding>, usize) {
        let emit_to = emit_to.clamp(emit_from.min(data.len()), data.len());
        let spans = self.spans(data);
        let end = extend_past(&spans, emit_to);
        let found = spans
            .iter()
            .filter(|s| s.start >= emit_from.min(emit_to) && s.start < end)
            .map(|s| Finding {
                rule: Arc::clone(&self.rules[s.rule].id),
                start: s.start,
                end: s.end,
            })
            .collect();
        (found, end)
    }

    /// The replacement this redactor's mode gives `secret` under `rule_id` (used for whole
    /// values of sensitive fields, which no rule matched).
    pub fn mask(&self, rule_id: &str, secret: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(rule_id.len() + 32);
        self.render_id(&mut out, rule_id, secret);
        out
    }

    fn render(&self, out: &mut Vec<u8>, rule: usize, secret: &[u8]) {
        self.render_id(out, &self.rules[rule].id, secret);
    }

    fn render_id(&self, out: &mut Vec<u8>, rule_id: &str, secret: &[u8]) {
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(rule_id.as_bytes());
        match &self.mode {
            Mode::Mask => {}
            Mode::Partial { tail } => {
                let tail = *tail;
                if tail > 0 && secret.len() >= 4 * tail {
                    let t = &secret[secret.len() - tail..];
                    if t.iter()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b']' | b'['))
                    {
                        out.extend_from_slice(b"...");
                        out.extend_from_slice(t);
                    }
                }
            }
            Mode::Fingerprint { key } => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .expect("HMAC accepts any key length");
                mac.update(secret);
                let tag = mac.finalize().into_bytes();
                out.push(b'#');
                for b in &tag[..6] {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
            }
        }
        out.push(b']');
    }

    /// All secret spans in `data`: sorted, non-overlapping, on UTF-8 boundaries.
    fn spans(&self, data: &[u8]) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        let mut state = ScanState {
            budget: data.len().saturating_mul(RULE_BUDGET_FACTOR) + RULE_BUDGET_BASE,
            ..ScanState::default()
        };
        if let Some(ac) = &self.anchors {
            ac.for_each(data, |id, start, end| {
                let info = &self.anchor_info[id];
                let exact = &data[start..end] == info.bytes.as_slice();
                for &(ri, cs) in &info.rules {
                    if cs && !exact {
                        continue;
                    }
                    self.try_rule(ri, data, start, end, &mut spans, &mut state);
                }
            });
        }
        for &ri in &self.full_scan {
            self.scan_whole(ri, data, &mut spans);
        }
        // Rules that spent their budget in windows: one linear pass over the whole input.
        for ri in 0..state.over_budget.len() {
            if state.over_budget[ri] {
                self.scan_whole(ri, data, &mut spans);
            }
        }
        // Before known values: a revealed token is reported as what it is.
        if let Some(rule) = self.api_key_rule {
            apikey::find(data, |start, end| spans.push(Span { start, end, rule }));
        }
        let mut kv = Vec::new();
        if let Some(m) = self.known.matcher() {
            m.find(data, &mut kv);
        }
        if self.use_global_known {
            if let Some(m) = global().known.matcher() {
                m.find(data, &mut kv);
            }
        }
        for (s, e) in kv {
            spans.push(Span {
                start: s,
                end: e,
                rule: self.known_rule,
            });
        }
        normalize(&mut spans, data, &self.rules);
        spans
    }

    /// Every match of rule `ri` in `data`, searched unanchored from start to end: linear in the
    /// input, whatever its content.
    fn scan_whole(&self, ri: usize, data: &[u8], spans: &mut Vec<Span>) {
        let rule = &self.rules[ri];
        let Some(re) = rule.regex.as_ref() else {
            return;
        };
        let mut caps = re.create_captures();
        let mut input = Input::new(data);
        while input.start() <= data.len() {
            re.search_captures(&input, &mut caps);
            let Some(m) = caps.get_match() else { break };
            if let Some((s, e)) = rule.secret(&caps, data) {
                spans.push(Span {
                    start: s,
                    end: e,
                    rule: ri,
                });
            }
            input.set_start(if m.end() > m.start() {
                m.end()
            } else {
                m.end() + 1
            });
        }
    }

    fn try_rule(
        &self,
        ri: usize,
        data: &[u8],
        a_start: usize,
        a_end: usize,
        spans: &mut Vec<Span>,
        state: &mut ScanState,
    ) {
        let rule = &self.rules[ri];
        // An anchor inside a match this rule already produced adds nothing; a rule that ran
        // out of budget is searched once over the whole input instead.
        if a_start < state.covered(ri) || state.is_over(ri) {
            return;
        }
        // Header-style rules need `:`/`=`/a quote or space right after their word; prose
        // ("bearer of", "cookies") stops here, before any regex work.
        let next = data.get(a_end).copied().unwrap_or(b'\n');
        if rule.header_like
            && !(matches!(next, b' ' | b'\t')
                || (&*rule.id != "bearer_token" && matches!(next, b'"' | b'\'' | b':' | b'=')))
        {
            state.cover(ri, a_end);
            return;
        }
        let Some(re) = &rule.regex else {
            if rule.check == Check::UrlPassword {
                if let Some((s, e)) = url_password(data, a_start) {
                    spans.push(Span {
                        start: s,
                        end: e,
                        rule: ri,
                    });
                    state.cover(ri, e);
                }
            }
            return;
        };
        // A key name is walked back by hand to its first character, so the pair regex can
        // run anchored there instead of searching a window for where the key begins.
        let key_value = rule.check == Check::KeyValue;
        let win_start = if key_value {
            let mut k = a_start;
            while k > 0
                && a_start - k < rule.back
                && (data[k - 1].is_ascii_alphanumeric()
                    || matches!(data[k - 1], b'_' | b'.' | b'-'))
            {
                k -= 1;
            }
            k
        } else {
            a_start.saturating_sub(rule.back)
        };
        let anchored = rule.anchored || key_value;
        if key_value && !pair_follows(data, win_start, a_end) {
            state.cover(ri, a_end);
            return;
        }
        let win_end = (a_start + rule.fwd).max(a_end).min(data.len());
        if state.spend(ri, win_end - win_start) {
            return;
        }
        let caps = state.captures(ri, re);
        let mut pos = win_start;
        loop {
            let input = Input::new(data)
                .range(pos..win_end)
                .anchored(if rule.anchored {
                    Anchored::Yes
                } else {
                    Anchored::No
                });
            re.search_captures(&input, caps);
            let Some(m) = caps.get_match() else { return };
            if m.start() > a_start {
                return;
            }
            if m.end() >= a_end {
                if let Some((s, e)) = rule.secret(caps, data) {
                    spans.push(Span {
                        start: s,
                        end: e,
                        rule: ri,
                    });
                }
                state.cover(ri, m.end());
                return;
            }
            if anchored {
                return;
            }
            pos = if m.end() > m.start() {
                m.end()
            } else {
                m.end() + 1
            };
            if pos > a_start {
                return;
            }
        }
    }
}

/// Replacements computed by `Redactor::plan`.
pub struct Plan {
    /// (start, end, mask) in input coordinates, clipped to `from..to`.
    masks: Vec<(usize, usize, Vec<u8>)>,
    from: usize,
    to: usize,
    out_len: usize,
    /// The whole output, when a single pass was not enough (see `Redactor::plan`).
    settled: Option<Vec<u8>>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.masks.is_empty() && self.settled.is_none()
    }
    /// Length of the redacted output.
    pub fn out_len(&self) -> usize {
        self.out_len
    }
    /// Write the redacted form of `data[from..to]` (`data` being the input given to `plan`
    /// or `plan_window`) into `out`, which must be exactly `out_len()` bytes.
    pub fn write(&self, data: &[u8], out: &mut [u8]) {
        if let Some(done) = &self.settled {
            out.copy_from_slice(done);
            return;
        }
        let mut last = self.from;
        let mut pos = 0;
        for (s, e, m) in &self.masks {
            let gap = s - last;
            out[pos..pos + gap].copy_from_slice(&data[last..*s]);
            pos += gap;
            out[pos..pos + m.len()].copy_from_slice(m);
            pos += m.len();
            last = *e;
        }
        out[pos..].copy_from_slice(&data[last..self.to]);
    }
}

/// Per-call scratch: capture buffers and how far each rule has already matched.
#[derive(Default)]
struct ScanState {
    caps: Vec<Option<Captures>>,
    covered: Vec<usize>,
    /// Bytes of window each rule has searched so far, and the most it may.
    work: Vec<usize>,
    budget: usize,
    over_budget: Vec<bool>,
}

impl ScanState {
    /// Charge `bytes` of window search to rule `ri`; true when that exceeds its budget (the
    /// rule is then switched to one whole-input pass).
    fn spend(&mut self, ri: usize, bytes: usize) -> bool {
        if self.work.len() <= ri {
            self.work.resize(ri + 1, 0);
        }
        self.work[ri] += bytes;
        if self.work[ri] <= self.budget {
            return false;
        }
        if self.over_budget.len() <= ri {
            self.over_budget.resize(ri + 1, false);
        }
        self.over_budget[ri] = true;
        true
    }
    fn is_over(&self, ri: usize) -> bool {
        self.over_budget.get(ri).copied().unwrap_or(false)
    }
    fn covered(&self, ri: usize) -> usize {
        self.covered.get(ri).copied().unwrap_or(0)
    }
    fn cover(&mut self, ri: usize, end: usize) {
        if self.covered.len() <= ri {
            self.covered.resize(ri + 1, 0);
        }
        self.covered[ri] = self.covered[ri].max(end);
    }
    fn captures(&mut self, ri: usize, re: &Regex) -> &mut Captures {
        if self.caps.len() <= ri {
            self.caps.resize_with(ri + 1, || None);
        }
        self.caps[ri].get_or_insert_with(|| re.create_captures())
    }
}

impl Rule {
    fn new(id: Arc<str>, regex: Option<Regex>, back: usize, fwd: usize, check: Check) -> Self {
        let (s, k, q, sep) = match &regex {
            Some(re) => (
                group(re, "s"),
                group(re, "k"),
                group(re, "q"),
                group(re, "sep"),
            ),
            None => (None, None, None, None),
        };
        let generic = GENERIC_RULES.contains(&&*id);
        let header_like = matches!(&*id, "http_authorization" | "http_cookie" | "bearer_token");
        Rule {
            id,
            regex,
            back,
            fwd,
            check,
            anchored: back == 0,
            group_s: s,
            group_k: k,
            group_q: q,
            group_sep: sep,
            generic,
            header_like,
        }
    }

    /// The secret's span within a match, or None when the check rejects it.
    fn secret(&self, caps: &Captures, data: &[u8]) -> Option<(usize, usize)> {
        let span = match self.group_s {
            Some(g) => caps.get_group(g)?,
            None => caps.get_match()?.span(),
        };
        let (mut s, mut e) = (span.start, span.end);
        let value = &data[s..e];
        match self.check {
            Check::None | Check::UrlPassword => {}
            Check::GithubCrc => {
                if !github_checksum_ok(value) {
                    return None;
                }
            }
            Check::GitlabRoutable => {
                if !gitlab_token_ok(value) {
                    return None;
                }
            }
            Check::Jwt => {
                if !jwt_header_ok(value) {
                    return None;
                }
            }
            Check::Value => {
                if is_placeholder(value) {
                    return None;
                }
            }
            Check::KeyValue => {
                let key = caps.get_group(self.group_k?)?;
                let key = std::str::from_utf8(&data[key.start..key.end]).ok()?;
                if !is_sensitive_key(key) {
                    return None;
                }
                let mut quoted = false;
                if value.starts_with(b"\\\"") && value.ends_with(b"\\\"") && value.len() >= 4 {
                    s += 2;
                    e -= 2;
                    quoted = true;
                } else if value.len() >= 2
                    && (value[0] == b'"' || value[0] == b'\'')
                    && value[value.len() - 1] == value[0]
                {
                    s += 1;
                    e -= 1;
                    quoted = true;
                }
                let inner = &data[s..e];
                if is_placeholder(inner) {
                    return None;
                }
                // `password = getpass()`: an unquoted value followed by `(` is a call.
                if !quoted && data.get(e) == Some(&b'(') {
                    return None;
                }
                let key_quoted = self
                    .group_q
                    .and_then(|g| caps.get_group(g))
                    .is_some_and(|q| q.end > q.start);
                let colon = self
                    .group_sep
                    .and_then(|g| caps.get_group(g))
                    .is_some_and(|sp| &data[sp.start..sp.end] == b":");
                // `Invalid password: user not found` is prose, not a pair: with a bare colon
                // and nothing quoted, only a value that looks like a credential counts.
                if colon && !key_quoted && !quoted {
                    let alpha = inner.iter().all(|b| b.is_ascii_alphabetic());
                    if inner.len() < 6 || (alpha && inner.len() < 16) {
                        return None;
                    }
                }
            }
        }
        if s >= e {
            return None;
        }
        // A context value that runs into a mask was cut short by an earlier pass (which had
        // rejected the whole value): accepting the stub now would make redaction not
        // idempotent.
        if self.generic && data[e..].starts_with(b"[REDACTED:") {
            return None;
        }
        Some((s, e))
    }
}

/// Cheap test before the pair regex: after the key (`data[key_start..]` through `anchor_end` and
/// any further key characters) comes an optional quote, a little space and `:` or `=`, and
/// the key is sensitive. Prose like "the token was refused" stops here.
fn pair_follows(data: &[u8], key_start: usize, anchor_end: usize) -> bool {
    let key_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    // Inside a base64 run (`...+IjPwDYQ==`) there is no key.
    if key_start > 0 && matches!(data[key_start - 1], b'+' | b'/') {
        return false;
    }
    let mut j = anchor_end;
    while j < data.len() && j - key_start < 96 && key_char(data[j]) {
        j += 1;
    }
    let key_end = j;
    if j < data.len() && data[j] == b'\\' {
        j += 1;
    }
    if j < data.len() && matches!(data[j], b'"' | b'\'') {
        j += 1;
    }
    let mut spaces = 0;
    while j < data.len() && spaces < 4 && matches!(data[j], b' ' | b'\t') {
        j += 1;
        spaces += 1;
    }
    if j >= data.len() || !matches!(data[j], b':' | b'=') {
        return false;
    }
    std::str::from_utf8(&data[key_start..key_end]).is_ok_and(is_sensitive_key)
}

/// The password in `scheme://user:password@host`. Done by hand because `://` is in almost
/// every log line (referrers, upstream URLs) and a byte loop rejects those in a few steps.
fn url_password(data: &[u8], colon_slash: usize) -> Option<(usize, usize)> {
    let mut s = colon_slash;
    while s > 0
        && colon_slash - s < 32
        && (data[s - 1].is_ascii_alphanumeric() || matches!(data[s - 1], b'+' | b'.' | b'-'))
    {
        s -= 1;
    }
    if s == colon_slash || !data[s].is_ascii_alphabetic() {
        return None;
    }
    let start = colon_slash + 3;
    let limit = (start + 1024).min(data.len());
    let mut end = start;
    while end < limit
        && !matches!(
            data[end],
            b'/' | b'?'
                | b'#'
                | b' '
                | b'\t'
                | b'\r'
                | b'\n'
                | b'"'
                | b'\''
                | b'<'
                | b'>'
                | b'`'
                | b'\\'
        )
    {
        end += 1;
    }
    let authority = &data[start..end];
    let at = authority.iter().rposition(|&b| b == b'@')?;
    let colon = authority[..at].iter().position(|&b| b == b':')?;
    let (ps, pe) = (start + colon + 1, start + at);
    if ps >= pe || is_placeholder(&data[ps..pe]) || data[pe..].starts_with(b"[REDACTED:") {
        return None;
    }
    Some((ps, pe))
}

/// Sort, widen to UTF-8 character boundaries, skip already-masked text, merge overlaps (the
/// union is redacted, so a secret two rules see differently is never left half visible).
fn normalize(spans: &mut Vec<Span>, data: &[u8], rules: &[Rule]) {
    if spans.is_empty() {
        return;
    }
    for sp in spans.iter_mut() {
        while sp.start > 0 && (data[sp.start] & 0xC0) == 0x80 {
            sp.start -= 1;
        }
        while sp.end < data.len() && (data[sp.end] & 0xC0) == 0x80 {
            sp.end += 1;
        }
    }
    // A candidate that swallows a mask was shaped by an earlier pass (its text changed under
    // it); leaving it alone keeps a second pass a no-op.
    // Most inputs hold no mask at all: one memmem pass then spares every span the look back.
    let masked = memchr::memmem::find(data, b"[REDACTED:").is_some();
    spans.retain(|sp| {
        sp.end > sp.start
            && !(masked
                && (inside_mask(data, sp.start)
                    || memchr::memmem::find(&data[sp.start..sp.end], b"[REDACTED:").is_some()))
    });
    let generic = |sp: &Span| rules.get(sp.rule).is_some_and(|r| r.generic);
    spans.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(generic(a).cmp(&generic(b)))
    });
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for sp in spans.drain(..) {
        match merged.last_mut() {
            Some(last) if sp.start < last.end => {
                if generic(last) && !generic(&sp) {
                    last.rule = sp.rule;
                }
                last.end = last.end.max(sp.end);
            }
            _ => merged.push(sp),
        }
    }
    *spans = merged;
}

/// Is `pos` inside (or at the start of) a mask this engine wrote? Masks contain rule ids such
/// as `secret_assignment` that would otherwise look like `key: value` on a second pass.
fn inside_mask(data: &[u8], pos: usize) -> bool {
    const OPEN: &[u8] = b"[REDACTED:";
    let lo = pos.saturating_sub(96);
    for i in (lo..=pos.min(data.len().saturating_sub(1))).rev() {
        match data[i] {
            b']' if i < pos => return false,
            b'[' => return data[i..].starts_with(OPEN),
            _ => {}
        }
    }
    false
}

fn extend_past(spans: &[Span], mut end: usize) -> usize {
    for sp in spans {
        if sp.start < end && sp.end > end {
            end = sp.end;
        }
    }
    end
}

static GLOBAL: LazyLock<Redactor> = LazyLock::new(|| {
    Redactor::new(Config {
        use_global_known: false,
        ..Config::default()
    })
    .expect("the built-in catalogue compiles")
});

/// Whether `id` names a built-in rule, which `Config::disabled` may switch off.
pub fn is_builtin(id: &str) -> bool {
    id == apikey::RULE_ID || CATALOGUE.iter().any(|r| r.id == id)
}

/// One built-in rule as listed to users: its literal anchors and a regex whose group `s` is the
/// secret (empty for rules matched by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub anchors: Vec<String>,
    pub pattern: String,
}

/// Every built-in rule: the static catalogue, then keyseal's API key tokens for the prefixes
/// registered in this process so far.
pub fn catalogue() -> Vec<Listed> {
    let mut out: Vec<Listed> = CATALOGUE
        .iter()
        .map(|r| Listed {
            id: r.id.to_owned(),
            anchors: r.anchors.iter().map(|a| (*a).to_owned()).collect(),
            pattern: r.pattern.to_owned(),
        })
        .collect();
    let prefixes = apikey::prefixes();
    out.push(Listed {
        id: apikey::RULE_ID.to_owned(),
        anchors: prefixes.iter().map(|p| format!("{p}_")).collect(),
        pattern: apikey::pattern(&prefixes),
    });
    out
}

/// The process-wide redactor: default catalogue, fed by every revealed `Secret`.
pub fn global() -> &'static Redactor {
    &GLOBAL
}

/// Register a secret value with the process-wide redactor.
pub fn add_known_secret(value: &[u8]) {
    global().add_secret(value);
}

/// Forget a value registered with the process-wide redactor.
pub fn remove_known_secret(value: &[u8]) {
    global().remove_secret(value);
}

#[cfg(test)]
mod tests;
