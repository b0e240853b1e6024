//! Decoding of the headers TLS-terminating proxies use to forward a client certificate, down to DER.
//!
//! Each decoder is strict: anything it does not understand is an error, never a guess, because the
//! header is the only evidence the application has of who is calling.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::{CertError, Proxy, Reason};

/// Largest header value we look at (each of value and chain): a leaf with a long chain fits well
/// below it, and a bound keeps a hostile peer from making us decode megabytes.
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// The certificates a header carried: the leaf's DER, then any others (intermediates), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub leaf: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

/// Decodes a header value (and, for RFC 9440, the optional `Client-Cert-Chain` value) to DER.
pub fn decode(value: &str, chain: Option<&str>, proxy: Proxy) -> Result<Decoded, CertError> {
    let err = |reason| CertError::new(proxy, reason);
    if value.len() > MAX_HEADER_LEN || chain.is_some_and(|c| c.len() > MAX_HEADER_LEN) {
        return Err(err(Reason::TooLarge));
    }
    let trimmed = value.trim_matches(is_ows);
    if trimmed.is_empty() || trimmed == "(null)" {
        return Err(err(Reason::Empty));
    }
    if chain.is_some() && proxy != Proxy::Rfc9440 {
        return Err(err(Reason::ChainNotAccepted));
    }
    let mut certs = match proxy {
        Proxy::Nginx | Proxy::Alb => pem_blocks(&percent_decode(trimmed, proxy)?, proxy)?,
        Proxy::Apache => pem_blocks(trimmed, proxy)?,
        Proxy::Traefik => traefik(trimmed, proxy)?,
        Proxy::Envoy => return envoy(trimmed),
        Proxy::Rfc9440 => {
            let mut certs = vec![sf_binary(trimmed, proxy)?];
            if let Some(list) = chain {
                for item in list.split(',') {
                    let item = item.trim_matches(is_ows);
                    if !item.is_empty() {
                        certs.push(sf_binary(item, proxy)?);
                    }
                }
            }
            certs
        }
    };
    let leaf = certs.remove(0);
    Ok(Decoded { leaf, chain: certs })
}

/// Optional whitespace around header values (RFC 9110 section 5.6.3).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Percent-decoding that keeps `+` literal: nginx never writes `+` for a space, and ALB leaves
/// `+=/` unencoded on purpose, so treating `+` as a space would corrupt base64.
fn percent_decode(value: &str, proxy: Proxy) -> Result<String, CertError> {
    // A `%` that does not start a valid escape is passed through by the decoder; refuse it instead.
    let bytes = value.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit())
        {
            return Err(CertError::new(proxy, Reason::Undecodable));
        }
    }
    percent_decode_str(value)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| CertError::new(proxy, Reason::Undecodable))
}

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Every `CERTIFICATE` block of a PEM text, which must hold nothing else but whitespace. Apache turns
/// the newlines into spaces, so whitespace of any kind is accepted wherever PEM puts a newline.
pub fn pem_blocks(text: &str, proxy: Proxy) -> Result<Vec<Vec<u8>>, CertError> {
    let err = |reason| CertError::new(proxy, reason);
    let mut out = Vec::new();
    let mut rest = text.trim_matches(|c: char| c.is_ascii_whitespace());
    while !rest.is_empty() {
        let body = rest.strip_prefix(BEGIN).ok_or(err(Reason::Undecodable))?;
        let end = body.find(END).ok_or(err(Reason::Undecodable))?;
        out.push(base64_body(&body[..end], proxy)?);
        rest = body[end + END.len()..].trim_start_matches(|c: char| c.is_ascii_whitespace());
    }
    if out.is_empty() {
        return Err(err(Reason::Undecodable));
    }
    Ok(out)
}

/// Every `CERTIFICATE` block of a CA bundle. Unlike a header, a bundle file may carry comments and
/// other text between blocks (distribution bundles do), which is skipped.
pub fn pem_bundle(text: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let err = |reason| CertError::new(Proxy::Nginx, reason).in_bundle();
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let end = body.find(END).ok_or(err(Reason::BundlePem))?;
        out.push(base64_body(&body[..end], Proxy::Nginx).map_err(|_| err(Reason::BundlePem))?);
        rest = &body[end + END.len()..];
    }
    if out.is_empty() {
        return Err(err(Reason::NoCertificate));
    }
    Ok(out)
}

/// The base64 between PEM armour lines, whitespace removed (RFC 7468 section 3).
fn base64_body(body: &str, proxy: Proxy) -> Result<Vec<u8>, CertError> {
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    decode_b64(&compact, proxy)
}

fn decode_b64(text: &str, proxy: Proxy) -> Result<Vec<u8>, CertError> {
    if text.is_empty() {
        return Err(CertError::new(proxy, Reason::Undecodable));
    }
    STANDARD
        .decode(text)
        .map_err(|_| CertError::new(proxy, Reason::Undecodable))
}

/// Traefik: base64 DER without armour, certificates joined by ",", leaf first. v2 URL-escaped the
/// whole value (so "," arrives as "%2C"); v3 does not. Base64 never holds "%", which tells them apart.
fn traefik(value: &str, proxy: Proxy) -> Result<Vec<Vec<u8>>, CertError> {
    let text = if value.contains('%') {
        percent_decode(value, proxy)?
    } else {
        value.to_owned()
    };
    text.split(',')
        .map(|part| decode_b64(part.trim_matches(is_ows), proxy))
        .collect()
}

/// RFC 8941 section 3.3.5 byte sequence: `:base64:` (RFC 9440 section 2.2 uses it for `Client-Cert`).
fn sf_binary(item: &str, proxy: Proxy) -> Result<Vec<u8>, CertError> {
    let inner = item
        .strip_prefix(':')
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(CertError::new(proxy, Reason::Undecodable))?;
    if inner.contains(':') {
        return Err(CertError::new(proxy, Reason::Undecodable));
    }
    decode_b64(inner, proxy)
}

/// Envoy's `x-forwarded-client-cert`: comma-separated elements of `key=value` pairs joined by ";",
/// values optionally double-quoted. Each proxy hop appends an element, so only the LAST one was
/// written by the proxy we trust; the earlier ones may come from the client.
fn envoy(value: &str) -> Result<Decoded, CertError> {
    let proxy = Proxy::Envoy;
    let err = |reason| CertError::new(proxy, reason);
    let elements = split_quoted(value, ',').ok_or(err(Reason::Undecodable))?;
    let last = elements.last().ok_or(err(Reason::Undecodable))?;
    let mut cert = None;
    let mut hash = None;
    let mut chain = None;
    for pair in split_quoted(last, ';').ok_or(err(Reason::Undecodable))? {
        let pair = pair.trim_matches(is_ows);
        if pair.is_empty() {
            continue;
        }
        let (key, raw) = pair.split_once('=').ok_or(err(Reason::Undecodable))?;
        let val = unquote(raw.trim_matches(is_ows)).ok_or(err(Reason::Undecodable))?;
        let slot = match key.trim_matches(is_ows).to_ascii_lowercase().as_str() {
            "cert" => &mut cert,
            "hash" => &mut hash,
            "chain" => &mut chain,
            _ => continue,
        };
        // A repeated key would let one copy be checked and the other used.
        if slot.replace(val).is_some() {
            return Err(err(Reason::Undecodable));
        }
    }
    let cert = cert.ok_or(err(Reason::EnvoyNoCert))?;
    let mut blocks = pem_blocks(&percent_decode(&cert, proxy)?, proxy)?;
    if blocks.len() != 1 {
        return Err(err(Reason::Undecodable));
    }
    let leaf = blocks.remove(0);
    if let Some(expected) = hash {
        let ours = hex_lower(&Sha256::digest(&leaf));
        if !expected.eq_ignore_ascii_case(&ours) {
            return Err(err(Reason::EnvoyHashMismatch));
        }
    }
    let mut others = Vec::new();
    if let Some(chain) = chain {
        // Envoy's Chain= is the whole chain, leaf included: keep only the other certificates.
        for der in pem_blocks(&percent_decode(&chain, proxy)?, proxy)? {
            if der != leaf {
                others.push(der);
            }
        }
    }
    Ok(Decoded {
        leaf,
        chain: others,
    })
}

/// Splits on `sep` outside double quotes (a backslash escapes the next character inside quotes).
/// None when a quote is left open.
fn split_quoted(text: &str, sep: char) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if quoted && c == '\\' {
            cur.push(c);
            escaped = true;
        } else if c == '"' {
            cur.push(c);
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if quoted || escaped {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// A value without its surrounding quotes and escapes; bare values are returned as they are.
fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return (!raw.contains('"')).then(|| raw.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            _ => out.push(c),
        }
    }
    Some(out)
}

/// Lowercase hex, used for fingerprints and Envoy's Hash=.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_splitting_keeps_separators_inside_quotes() {
        let parts = split_quoted(r#"By=a;Subject="CN=x,O=y;z";URI=u"#, ';').unwrap();
        assert_eq!(parts, vec!["By=a", r#"Subject="CN=x,O=y;z""#, "URI=u"]);
        assert_eq!(split_quoted(r#"a="b\"c",d"#, ',').unwrap().len(), 2);
        assert!(split_quoted(r#"a="open"#, ',').is_none());
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("bare").as_deref(), Some("bare"));
        assert_eq!(unquote(r#""a\"b""#).as_deref(), Some(r#"a"b"#));
        assert_eq!(unquote(r#""unterminated"#), None);
        assert_eq!(unquote(r#"mid"quote"#), None);
    }

    #[test]
    fn percent_decoding_is_strict_and_keeps_plus() {
        assert_eq!(percent_decode("a+b%2Bc", Proxy::Alb).unwrap(), "a+b+c");
        for bad in ["%", "%2", "%zz", "ab%g0"] {
            assert_eq!(
                percent_decode(bad, Proxy::Nginx).unwrap_err().reason,
                Reason::Undecodable
            );
        }
        // Escapes that decode to invalid UTF-8 are refused too.
        assert!(percent_decode("%ff", Proxy::Nginx).is_err());
    }

    #[test]
    fn size_and_empty_checks_come_first() {
        let big = "A".repeat(MAX_HEADER_LEN + 1);
        assert_eq!(
            decode(&big, None, Proxy::Traefik).unwrap_err().reason,
            Reason::TooLarge
        );
        // At the limit the value is read (and here refused for what it is, not for its size).
        let at_limit = "A".repeat(MAX_HEADER_LEN);
        assert_eq!(
            decode(&at_limit, None, Proxy::Rfc9440).unwrap_err().reason,
            Reason::Undecodable
        );
        assert!(decode(&at_limit, None, Proxy::Traefik).is_ok());
        for empty in ["", " \t ", "(null)"] {
            assert_eq!(
                decode(empty, None, Proxy::Apache).unwrap_err().reason,
                Reason::Empty
            );
        }
    }

    #[test]
    fn envoy_keys_are_case_insensitive_and_unique() {
        let e = envoy("By=x;cert=\"%ZZ\"").unwrap_err();
        assert_eq!(e.reason, Reason::Undecodable);
        let e = envoy("By=x;Hash=00").unwrap_err();
        assert_eq!(e.reason, Reason::EnvoyNoCert);
        let e = envoy("Cert=a;CERT=b").unwrap_err();
        assert_eq!(e.reason, Reason::Undecodable);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
