//! Second-stage checks that turn a regex hit into a finding: token checksums, JWT headers, values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), the one zlib and GitHub use. A table
/// built at compile time keeps this dependency-free and fast enough for 36-byte tokens.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC_TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `value` in base62 (digits, upper, lower), left-padded with '0' to `width`.
pub fn base62(mut value: u32, width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width);
    while value > 0 {
        out.push(BASE62[(value % 62) as usize]);
        value /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    out
}

/// GitHub (ghp_/gho_/ghu_/ghs_/ghr_) and npm (npm_) tokens: 4-byte prefix, 30 random base62
/// characters, then the CRC-32 of those 30 characters in 6 base62 digits
/// (github.blog 2021-04-05 "Behind GitHub's new authentication token formats"; npm adopted the
/// same layout in 2021-09). A token-shaped string with a wrong checksum is not a real token.
pub fn github_checksum_ok(token: &[u8]) -> bool {
    if token.len() != 40 {
        return false;
    }
    let (random, check) = token[4..].split_at(30);
    base62(crc32(random), 6) == check
}

/// `value` in lowercase base36, left-padded with '0' to `width` (Ruby's `to_s(36).rjust`).
fn base36(mut value: u32, width: usize) -> Vec<u8> {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(width.max(7));
    while value > 0 {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    out
}

/// GitLab routable tokens (gitlabhq `lib/authn/token_field/generator/routable_token.rb`):
/// `<prefix><base64url payload>.<version "01">.<payload length, 2 base36>` followed by the
/// CRC-32 of everything before it (prefix included) in 7 base36 digits; the framing before
/// 17.x had no `01.`. Both are verified here: the length field must equal the payload's length
/// and the CRC must match. A token without a dot is the older random form: shape only.
pub fn gitlab_token_ok(token: &[u8]) -> bool {
    let Some(dot) = token.iter().position(|&b| b == b'.') else {
        return true;
    };
    let n = token.len();
    let Some(prefix_end) = token.iter().position(|&b| b == b'-').map(|i| i + 1) else {
        return false;
    };
    if n < prefix_end + 9 || dot < prefix_end || dot > n - 9 {
        return false;
    }
    let framing = &token[dot..n - 9];
    if framing != b"." && framing != b".01." {
        return false;
    }
    let tail = &token[n - 9..];
    let Ok(len_field) = std::str::from_utf8(&tail[..2]) else {
        return false;
    };
    let Ok(len) = usize::from_str_radix(len_field, 36) else {
        return false;
    };
    if len != dot - prefix_end || tail[..2].iter().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    base36(crc32(&token[..n - 7]), 7) == tail[2..]
}

/// A JWT's first segment must decode to a JSON object naming an algorithm; random base64 that
/// happens to start with `eyJ` (any `{"...` encoded) does not.
pub fn jwt_header_ok(token: &[u8]) -> bool {
    let Some(dot) = token.iter().position(|&b| b == b'.') else {
        return false;
    };
    let Ok(header) = URL_SAFE_NO_PAD.decode(&token[..dot]) else {
        return false;
    };
    header.first() == Some(&b'{')
        && header.windows(5).any(|w| w == b"\"alg\"")
        && header.last() == Some(&b'}')
}

/// Values that are placeholders, not secrets: empty, null-ish, already masked, template
/// references. Skipping them keeps a second pass over redacted text a no-op.
pub fn is_placeholder(value: &[u8]) -> bool {
    if value.is_empty() || value.starts_with(b"[REDACTED") {
        return true;
    }
    if matches!(value[0], b'$' | b'{' | b'%' | b'<') {
        return true;
    }
    if value
        .iter()
        .all(|&b| b == b'*' || b == b'x' || b == b'X' || b == b'.')
    {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    matches!(
        lower.as_slice(),
        b"null"
            | b"none"
            | b"nil"
            | b"true"
            | b"false"
            | b"undefined"
            | b"redacted"
            | b"hidden"
            | b"masked"
            | b"changeme"
            | b"secret"
            | b"password"
            | b"token"
            // Code, not values: minified JavaScript assigns functions to `secretSauce=`.
            | b"function"
            | b"new"
            | b"this"
            | b"void"
            | b"typeof"
            | b"return"
    )
}

/// Words a key name may end with that make it describe a secret rather than hold one
/// (`max_tokens`, `token_type`, `password_reset_url`, `secret_name`, ...).
const NON_SECRET_LAST: &[&str] = &[
    "count",
    "counts",
    "type",
    "types",
    "len",
    "length",
    "size",
    "limit",
    "max",
    "min",
    "expiry",
    "expires",
    "expiration",
    "exp",
    "ttl",
    "at",
    "in",
    "ids",
    "name",
    "names",
    "url",
    "uri",
    "urls",
    "endpoint",
    "path",
    "file",
    "dir",
    "hint",
    "policy",
    "required",
    "enabled",
    "set",
    "field",
    "fields",
    "format",
    "prefix",
    "version",
    "usage",
    "used",
    "index",
    "kind",
    "label",
    "scope",
    "scopes",
    "method",
    "methods",
    "mode",
    "source",
    "tokens",
    "strength",
    "valid",
    "invalid",
    "changed",
    "updated",
    "created",
    "reset",
    "rotation",
    "provider",
    "store",
    "manager",
    "backend",
    "class",
    "regex",
    "pattern",
    "rules",
    "algorithm",
    "algo",
    "location",
    "ref",
];
/// First words that make a key a boolean or a question about a secret, not the secret.
const NON_SECRET_FIRST: &[&str] = &[
    "is", "has", "use", "needs", "should", "num", "n", "max", "min",
];
/// Fragments that, anywhere in the joined lower-case key, mark it as holding a secret.
const SECRET_FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "cookie",
    "credential",
    "sessionid",
    "sessionkey",
    "signingkey",
    "encryptionkey",
    "authkey",
    "masterkey",
];

/// Split a key into lower-case words: separators and camelCase boundaries both count, so
/// `clientSecret`, `client-secret`, `CLIENT_SECRET` and `client.secret` all give `client secret`.
fn key_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Does a field or parameter with this name hold a secret? Matches on normalized compound
/// names (`api_token`, `clientSecret`, `X-Api-Key`, `DB_PASSWORD`), not a fixed list of exact
/// names, and rejects names that only talk about a secret (`token_count`, `password_hint`).
pub fn is_sensitive_key(name: &str) -> bool {
    if name.len() > 128 {
        return false;
    }
    if !name.is_ascii() {
        let words = key_words(name);
        let joined: String = words.concat();
        let refs: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        return decide(joined.as_bytes(), &refs);
    }
    // ASCII keys (nearly all of them) are split on the stack: this runs for every
    // `token`/`password` word the scanner meets, so it must not allocate.
    let mut joined = [0u8; 128];
    let mut n = 0;
    let mut starts = [0usize; 65];
    let mut nw = 0;
    let mut in_word = false;
    let mut prev_lower = false;
    for &c in name.as_bytes() {
        if !c.is_ascii_alphanumeric() {
            in_word = false;
            prev_lower = false;
            continue;
        }
        if (!in_word || (c.is_ascii_uppercase() && prev_lower)) && nw < 64 {
            starts[nw] = n;
            nw += 1;
        }
        in_word = true;
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        joined[n] = c.to_ascii_lowercase();
        n += 1;
    }
    starts[nw] = n;
    let mut words: [&[u8]; 64] = [&[]; 64];
    for i in 0..nw {
        words[i] = &joined[starts[i]..starts[i + 1]];
    }
    decide(&joined[..n], &words[..nw])
}

fn decide(joined: &[u8], words: &[&[u8]]) -> bool {
    let Some(&last) = words.last() else {
        return false;
    };
    let is = |w: &[u8], s: &str| w == s.as_bytes();
    if NON_SECRET_LAST.iter().any(|s| is(last, s)) {
        return false;
    }
    if words.len() > 1 && NON_SECRET_FIRST.iter().any(|s| is(words[0], s)) {
        return false;
    }
    // A token's or client's id is an identifier; a session id is a bearer credential.
    if is(last, "id") && !joined.ends_with(b"sessionid") {
        return false;
    }
    if words
        .iter()
        .any(|w| w.starts_with(b"tokeniz") || is(w, "secretary") || is(w, "secretariat"))
    {
        return false;
    }
    let contains = |f: &str| joined.windows(f.len()).any(|w| w == f.as_bytes());
    if SECRET_FRAGMENTS.iter().any(|f| contains(f)) {
        return true;
    }
    // Short fragments only as whole words: `db_pwd` yes, base64 noise like `IjPwDYQ` no.
    if words.iter().any(|w| is(w, "pwd") || is(w, "passwd")) {
        return true;
    }
    // `auth` alone or as the last word (`basic_auth`, `proxy_auth`) carries credentials;
    // `author`, `oauth_provider` and friends do not.
    is(last, "auth")
        || (is(last, "key")
            && words.len() > 1
            && (is(words[0], "x") || words.iter().any(|w| is(w, "api"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answer() {
        // zlib.crc32(b"123456789") == 0xCBF43926, the standard check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn base62_pads_and_orders() {
        assert_eq!(base62(0, 6), b"000000");
        assert_eq!(base62(61, 2), b"0z");
        assert_eq!(base62(62, 2), b"10");
        assert_eq!(base62(u32::MAX, 6), b"4gfFC3");
    }

    #[test]
    fn github_checksum_round_trip() {
        let random = b"abcdefghijklmnopqrstuvwxyz0123";
        let mut tok = b"ghp_".to_vec();
        tok.extend_from_slice(random);
        tok.extend_from_slice(&base62(crc32(random), 6));
        assert!(github_checksum_ok(&tok));
        let last = tok.len() - 1;
        tok[last] = if tok[last] == b'A' { b'B' } else { b'A' };
        assert!(!github_checksum_ok(&tok));
    }

    #[test]
    fn jwt_header() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let tok = format!("{header}.eyJzdWIiOiIxIn0.c2ln");
        assert!(jwt_header_ok(tok.as_bytes()));
        let not = URL_SAFE_NO_PAD.encode(br#"{"name":"x"}"#);
        assert!(!jwt_header_ok(
            format!("{not}.eyJzdWIiOiIxIn0.c2ln").as_bytes()
        ));
    }

    #[test]
    fn sensitive_keys() {
        for k in [
            "password",
            "passwd",
            "DB_PASSWORD",
            "db_pwd",
            "api_token",
            "apiToken",
            "client_secret",
            "clientSecret",
            "x-api-key",
            "X-Api-Key",
            "apikey",
            "access_token",
            "refresh_token",
            "authorization",
            "Cookie",
            "set-cookie",
            "private_key",
            "aws_secret_access_key",
            "session_id",
            "basic_auth",
            "auth",
            "secret",
            "github.token",
            "mot_de_passe_password_été",
        ] {
            assert!(is_sensitive_key(k), "{k} should be sensitive");
        }
        for k in [
            "max_tokens",
            "token_count",
            "token_type",
            "password_reset_url",
            "secret_name",
            "is_secret",
            "tokenizer",
            "client_id",
            "token_id",
            "author",
            "username",
            "expires_in",
            "prompt_tokens",
            "user",
            "keyboard",
            "IjPwDYQ",
            "kléber_name",
            "",
        ] {
            assert!(!is_sensitive_key(k), "{k} should not be sensitive");
        }
    }

    #[test]
    fn placeholders() {
        for v in [
            &b""[..],
            b"null",
            b"None",
            b"***",
            b"${DB_PASS}",
            b"[REDACTED:x]",
            b"xxxx",
        ] {
            assert!(is_placeholder(v));
        }
        assert!(!is_placeholder(b"hunter2"));
    }

    #[test]
    fn gitlab_routable_checksum() {
        // Built the way GitLab builds them: base64url payload, version, length, CRC-32.
        let make = |prefix: &str, payload: &str, version: bool| {
            let mut t = format!("{prefix}{payload}.");
            if version {
                t.push_str("01.");
            }
            t.push_str(std::str::from_utf8(&base36(payload.len() as u32, 2)).unwrap());
            let crc = base36(crc32(t.as_bytes()), 7);
            t.push_str(std::str::from_utf8(&crc).unwrap());
            t
        };
        let payload = "W5m1cHR6skC98Bx7XkuYjmM6MQpnOjgKbzpyegp0OjIQ";
        for prefix in ["glpat-", "glrt-", "glrtr-", "glcbt-", "glagent-"] {
            for version in [true, false] {
                let t = make(prefix, payload, version);
                assert!(gitlab_token_ok(t.as_bytes()), "{t}");
                // One character changed anywhere fails the CRC.
                let mut bad = t.clone().into_bytes();
                let i = prefix.len() + 3;
                bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
                assert!(!gitlab_token_ok(&bad), "{t}");
                let mut bad = t.clone().into_bytes();
                let last = bad.len() - 1;
                bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
                assert!(!gitlab_token_ok(&bad), "{t}");
            }
        }
        // A wrong length field is refused even with a matching CRC.
        let mut t = format!("glpat-{payload}.01.0a");
        let crc = base36(crc32(t.as_bytes()), 7);
        t.push_str(std::str::from_utf8(&crc).unwrap());
        assert!(!gitlab_token_ok(t.as_bytes()));
        // The legacy form has no checksum: shape only.
        assert!(gitlab_token_ok(b"glpat-abcdefghijklmnopqrst"));
        assert_eq!(base36(0, 7), b"0000000");
    }

    /// Each framing check of a routable GitLab token on its own: the CRC is recomputed after
    /// each change, so only the check under test can refuse it.
    #[test]
    fn gitlab_framing_is_checked_field_by_field() {
        // `<body><2 length chars><crc of everything before it>`
        let seal = |body: &str| {
            let crc = base36(crc32(body.as_bytes()), 7);
            format!("{body}{}", std::str::from_utf8(&crc).unwrap())
        };
        let payload = "abcdefghij";
        let good = seal(&format!("glpat-{payload}.01.0a"));
        assert!(gitlab_token_ok(good.as_bytes()));
        assert!(gitlab_token_ok(
            seal(&format!("glpat-{payload}.0a")).as_bytes()
        ));
        for bad in [
            // no '-' ending a prefix
            seal(&format!("glpat{payload}.01.0a")),
            // the dot sits inside the prefix
            seal("gl.pat-abcdefghij01.0a"),
            // too short to hold length and CRC after the prefix
            "glpat-.".to_string(),
            "glpat-ab.cdefgh".to_string(),
            // framing other than "." or ".01."
            seal(&format!("glpat-{payload}.02.0a")),
            seal(&format!("glpat-{payload}..0a")),
            // a length field that is not base36, not the payload length, or upper case
            seal(&format!("glpat-{payload}.01.!a")),
            seal(&format!("glpat-{payload}.01.0b")),
            seal(&format!("glpat-{payload}.01.0A")),
        ] {
            assert!(!gitlab_token_ok(bad.as_bytes()), "{bad}");
        }
        // a length field with a non-UTF-8 byte
        let mut raw = format!("glpat-{payload}.01.0a").into_bytes();
        let at = raw.len() - 2;
        raw[at] = 0xff;
        let crc = base36(crc32(&raw), 7);
        raw.extend_from_slice(&crc);
        assert!(!gitlab_token_ok(&raw));
        // upper-case length digits would parse as base36: refused on their own
        assert_eq!(usize::from_str_radix("0A", 36), Ok(10));
        assert_eq!(base36(36 * 36 - 1, 2), b"zz");
        assert_eq!(base36(36 * 36, 2), b"100");
    }

    #[test]
    fn github_and_jwt_shapes() {
        assert!(!github_checksum_ok(b""));
        assert!(!github_checksum_ok(&[b'a'; 39]));
        assert!(!github_checksum_ok(&[b'a'; 41]));
        // no dot, a header that is not base64url, an object that never closes
        assert!(!jwt_header_ok(b"eyJhbGciOiJIUzI1NiJ9"));
        assert!(!jwt_header_ok(b"eyJ*.x.y"));
        let open = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256""#);
        assert!(!jwt_header_ok(format!("{open}.x.y").as_bytes()));
        let array = URL_SAFE_NO_PAD.encode(br#"["alg"]"#);
        assert!(!jwt_header_ok(format!("{array}.x.y").as_bytes()));
    }

    #[test]
    fn key_words_split_on_separators_and_case() {
        let w = |s: &str| key_words(s).join(" ");
        assert_eq!(w("clientSecret"), "client secret");
        assert_eq!(w("client-secret"), "client secret");
        assert_eq!(w("CLIENT_SECRET"), "client secret");
        assert_eq!(w("client..secret."), "client secret");
        assert_eq!(w("x2Key"), "x2 key");
        assert_eq!(w("--"), "");
        // names past 128 bytes are never keys we judge
        assert!(is_sensitive_key(&format!("{}_password", "a".repeat(119))));
        assert!(!is_sensitive_key(&format!("{}_password", "a".repeat(120))));
    }
}
