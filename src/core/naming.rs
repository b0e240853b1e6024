//! Opaque, keyed Redis key names: `<prefix>:<namespace tag>:<name tag>`, both tags HMAC-SHA256 under
//! the keyring's naming key, so Redis shows neither the namespace nor the name.
//!
//! The namespace tag lets `clear()`/`rewrap()` find one namespace with a SCAN pattern without knowing
//! any name. The full Redis key is the envelope's associated data, so a value copied to another key
//! (another name or namespace) fails to open.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::error::{CoreError, Result};
use super::secret::KeyBytes;

pub const MAX_NAME_BYTES: usize = 1024;
pub const MAX_NAMESPACE_CHARS: usize = 64;
const NS_TAG_BYTES: usize = 8;
/// 128 bits: collisions need about 2^64 names.
const NAME_TAG_BYTES: usize = 16;

pub fn validate_namespace(ns: &str) -> Result<()> {
    if ns.is_empty() || ns.chars().count() > MAX_NAMESPACE_CHARS {
        return Err(CoreError::invalid(format!(
            "namespace must be 1 to {MAX_NAMESPACE_CHARS} characters"
        )));
    }
    if !ns
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
    {
        return Err(CoreError::invalid(
            "namespace may hold only ASCII letters, digits and _ . : -",
        ));
    }
    Ok(())
}

pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty()
        || prefix.len() > 32
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(CoreError::invalid(
            "key_prefix must be 1 to 32 ASCII letters, digits, _ . or -",
        ));
    }
    Ok(())
}

/// Names are application identifiers, not data: non-empty, bounded, no control characters. The
/// message never repeats the name (it might be sensitive too).
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(CoreError::invalid("secret name must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(CoreError::invalid(format!(
            "secret name is longer than {MAX_NAME_BYTES} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "secret name must not contain control characters",
        ));
    }
    if name.trim() != name {
        return Err(CoreError::invalid(
            "secret name must not start or end with whitespace",
        ));
    }
    Ok(())
}

/// Maps (namespace, name) to a Redis key, deterministically for a given naming key.
#[derive(Clone)]
pub struct Namer {
    mac: Hmac<Sha256>,
    /// `<prefix>:<namespace tag>:`; every key of the namespace starts with it.
    ns_prefix: String,
    namespace: String,
}

impl Namer {
    pub fn new(name_key: &KeyBytes, prefix: &str, namespace: &str) -> Result<Self> {
        validate_prefix(prefix)?;
        validate_namespace(namespace)?;
        let mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(name_key.expose()).expect("any key length");
        let mut ns_mac = mac.clone();
        ns_mac.update(b"keyseal ns\0");
        ns_mac.update(namespace.as_bytes());
        let tag = ns_mac.finalize().into_bytes();
        let ns_prefix = format!("{prefix}:{}:", B64.encode(&tag[..NS_TAG_BYTES]));
        Ok(Self {
            mac,
            ns_prefix,
            namespace: namespace.to_owned(),
        })
    }

    /// The Redis key for `name` (validated).
    pub fn key(&self, name: &str) -> Result<Vec<u8>> {
        validate_name(name)?;
        let mut m = self.mac.clone();
        m.update(b"keyseal name\0");
        // Length-prefix the namespace so (ns, name) pairs can never be ambiguous.
        m.update(&(self.namespace.len() as u32).to_be_bytes());
        m.update(self.namespace.as_bytes());
        m.update(name.as_bytes());
        let tag = m.finalize().into_bytes();
        let mut key = Vec::with_capacity(self.ns_prefix.len() + 22);
        key.extend_from_slice(self.ns_prefix.as_bytes());
        key.extend_from_slice(B64.encode(&tag[..NAME_TAG_BYTES]).as_bytes());
        Ok(key)
    }

    /// Every key of this namespace starts with this; safe as a SCAN MATCH pattern followed by `*`
    /// (base64url has no glob characters).
    pub fn namespace_prefix(&self) -> &[u8] {
        self.ns_prefix.as_bytes()
    }

    /// Whether a key read back from SCAN has the exact shape of one of our names in this namespace.
    pub fn owns(&self, key: &[u8]) -> bool {
        key.len() == self.ns_prefix.len() + 22 && key.starts_with(self.ns_prefix.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8) -> KeyBytes {
        KeyBytes([b; 32])
    }

    #[test]
    fn keys_are_opaque_stable_and_distinct() {
        let n = Namer::new(&k(1), "ks", "billing").unwrap();
        let a = n.key("stripe/api_key").unwrap();
        assert_eq!(a, n.key("stripe/api_key").unwrap());
        let s = String::from_utf8(a.clone()).unwrap();
        assert!(!s.contains("stripe") && !s.contains("billing"));
        assert!(n.owns(&a));
        assert_ne!(a, n.key("stripe/api_key2").unwrap());
        let other_ns = Namer::new(&k(1), "ks", "billing2").unwrap();
        assert_ne!(a, other_ns.key("stripe/api_key").unwrap());
        assert!(!other_ns.owns(&a));
        let other_key = Namer::new(&k(2), "ks", "billing").unwrap();
        assert_ne!(a, other_key.key("stripe/api_key").unwrap());
    }

    #[test]
    fn bad_names_and_namespaces() {
        let n = Namer::new(&k(1), "ks", "default").unwrap();
        for bad in [
            "",
            " lead",
            "trail ",
            "new\nline",
            "nul\0",
            &"x".repeat(MAX_NAME_BYTES + 1),
        ] {
            assert!(n.key(bad).is_err(), "{bad:?}");
        }
        assert!(n.key("ok name/with-üñí").is_ok());
        for bad in ["", "has space", "star*", &"n".repeat(65)] {
            assert!(Namer::new(&k(1), "ks", bad).is_err(), "{bad:?}");
        }
        assert!(Namer::new(&k(1), "a b", "default").is_err());
    }

    /// Each limit exactly: the last size allowed and the first refused (found by mutation testing).
    #[test]
    fn limits_are_exact() {
        let ns64 = "n".repeat(MAX_NAMESPACE_CHARS);
        assert!(Namer::new(&k(1), "ks", &ns64).is_ok());
        assert!(Namer::new(&k(1), "ks", &format!("{ns64}n")).is_err());
        // counted in characters, not bytes: ASCII only, so the two agree; the allowed punctuation
        assert!(Namer::new(&k(1), "ks", "a_b.c:d-e").is_ok());
        assert!(Namer::new(&k(1), "ks", "a/b").is_err());
        let p32 = "p".repeat(32);
        assert!(Namer::new(&k(1), &p32, "default").is_ok());
        assert!(Namer::new(&k(1), &format!("{p32}p"), "default").is_err());
        assert!(Namer::new(&k(1), "a_b.c-d", "default").is_ok());
        assert!(Namer::new(&k(1), "", "default").is_err());
        assert!(Namer::new(&k(1), "ks:x", "default").is_err());
        let n = Namer::new(&k(1), "ks", "default").unwrap();
        assert!(n.key(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        // 1,024 bytes in 512 two-byte characters is still within the byte limit; 1,025 is not
        assert!(n.key(&"é".repeat(MAX_NAME_BYTES / 2)).is_ok());
        assert!(n
            .key(&format!("{}x", "é".repeat(MAX_NAME_BYTES / 2)))
            .is_err());
        assert!(n.key("inner space is fine").is_ok());
    }

    /// The exact key shape: `<prefix>:<11 base64url chars>:<22 base64url chars>`, and `owns` accepts
    /// that shape under our namespace prefix only.
    #[test]
    fn key_shape_and_ownership() {
        let n = Namer::new(&k(1), "ks", "default").unwrap();
        let prefix = n.namespace_prefix().to_vec();
        assert_eq!(prefix.len(), "ks:".len() + 11 + 1);
        assert!(prefix.starts_with(b"ks:") && prefix.ends_with(b":"));
        let key = n.key("a").unwrap();
        assert!(key.starts_with(&prefix));
        assert_eq!(key.len(), prefix.len() + 22);
        assert!(key[prefix.len()..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'));
        assert!(n.owns(&key));
        let mut longer = key.clone();
        longer.push(b'A');
        assert!(
            !n.owns(&longer),
            "a longer key under our prefix is not ours"
        );
        assert!(!n.owns(&key[..key.len() - 1]));
        assert!(!n.owns(&prefix));
        let mut foreign = key.clone();
        foreign[3] ^= 1; // same length, another namespace tag
        assert!(!n.owns(&foreign));
        // the namespace tag does not depend on the name; the name tag does
        assert_eq!(n.key("b").unwrap()[..prefix.len()], prefix[..]);
        assert_ne!(n.key("b").unwrap(), key);
        // (namespace, name) pairs are unambiguous: "ab"+"c" is not "a"+"bc"
        let ab = Namer::new(&k(1), "ks", "ab").unwrap().key("c").unwrap();
        let a = Namer::new(&k(1), "ks", "a").unwrap().key("bc").unwrap();
        assert_ne!(ab[ab.len() - 22..], a[a.len() - 22..]);
    }
}
