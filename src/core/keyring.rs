//! The keyring: ordered AES-256-GCM keys (the first seals, all open) plus a long-lived naming key.
//!
//! The naming key is separate from the sealing keys on purpose: Redis key names are derived from it,
//! so it must survive rotation. If names came from the primary key, every name would move the day
//! an old key retired.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::envelope::{self, KeyId, SealingKey, KEY_ID_LEN};
use super::error::{CoreError, Result};
use super::secret::{KeyBytes, SecretBytes};

const TEXT_PREFIX: &str = "ks2";
/// The check value: the first 8 bytes of SHA-256 over this label and the text before `,check=`,
/// as 16 lowercase hex digits. It catches typos and truncation, not an attacker (who could
/// recompute it): the text is a secret and must be kept out of attackers' hands anyway.
const CHECK_LABEL: &[u8] = b"keyseal keyring text v2\n";
const CHECK_FIELD: &str = ",check=";
const CHECK_HEX: usize = 16;
/// Length of one key in unpadded base64url.
const B64_KEY_LEN: usize = 43;
/// RFC 9106 section 4, second recommended option (for memory-constrained hosts): 64 MiB, t=3, p=4.
pub const RFC9106_MEMORY_KIB: u32 = 64 * 1024;
pub const RFC9106_TIME_COST: u32 = 3;
pub const RFC9106_PARALLELISM: u32 = 4;
/// Below this (OWASP's 19 MiB floor) the caller must opt in to weak parameters explicitly.
pub const MIN_SAFE_MEMORY_KIB: u32 = 19 * 1024;
pub const MIN_SALT_LEN: usize = 16;
pub const MIN_PASSPHRASE_CHARS: usize = 12;
/// zxcvbn's estimate of the guesses a cracker needs must reach 10^14: at a billion Argon2id
/// guesses per second (far beyond what RFC 9106 parameters allow) that is over a day, and at
/// realistic rates for these parameters (hundreds per second per GPU) millennia.
pub const MIN_GUESSES_LOG10: f64 = 14.0;
const ESTIMATE_MAX_CHARS: usize = 128;

/// One key of the ring: its raw bytes (for export) and its ready cipher.
pub struct RingKey {
    bytes: KeyBytes,
    sealing: SealingKey,
}

impl RingKey {
    fn new(bytes: KeyBytes) -> Self {
        let id = derive_key_id(&bytes);
        let sealing = SealingKey::new(id, bytes.expose());
        Self { bytes, sealing }
    }
    pub fn id(&self) -> KeyId {
        self.sealing.id()
    }
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug)]
pub struct PassphraseParams {
    pub memory_kib: u32,
    pub time_cost: u32,
    pub parallelism: u32,
    pub allow_weak: bool,
}

impl Default for PassphraseParams {
    fn default() -> Self {
        Self {
            memory_kib: RFC9106_MEMORY_KIB,
            time_cost: RFC9106_TIME_COST,
            parallelism: RFC9106_PARALLELISM,
            allow_weak: false,
        }
    }
}

/// An immutable keyring. Rotation returns a new ring; keys are shared, never copied out.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Arc<RingKey>>,
    name_key: Arc<KeyBytes>,
}

fn random_key() -> Result<KeyBytes> {
    let mut k = KeyBytes([0u8; 32]);
    getrandom::fill(&mut k.0)
        .map_err(|_| CoreError::config("the operating system's random number generator failed"))?;
    Ok(k)
}

/// A key id is the first four bytes of HMAC-SHA256(key, "keyseal key id"): stable for a given key,
/// so the same passphrase always yields the same id, and revealing nothing usable about the key.
fn derive_key_id(key: &KeyBytes) -> KeyId {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose()).expect("HMAC takes any key length");
    mac.update(b"keyseal key id");
    let out = mac.finalize().into_bytes();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&out[..KEY_ID_LEN]);
    id
}

pub fn key_id_hex(id: &KeyId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_key_id(text: &str) -> Option<KeyId> {
    if text.len() != 2 * KEY_ID_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut id = [0u8; KEY_ID_LEN];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        id[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(id)
}

fn decode_key(text: &str) -> Result<KeyBytes> {
    let raw =
        Zeroizing::new(B64.decode(text).map_err(|_| {
            CoreError::config("invalid keyring text: a key is not valid base64url")
        })?);
    if raw.len() != 32 {
        return Err(CoreError::config(
            "invalid keyring text: every key must be 32 bytes",
        ));
    }
    let mut k = KeyBytes([0u8; 32]);
    k.0.copy_from_slice(&raw);
    Ok(k)
}

/// The check value of `body` (everything before `,check=`).
fn text_check(body: &str) -> String {
    let mut h = Sha256::new();
    h.update(CHECK_LABEL);
    h.update(body.as_bytes());
    h.finalize()[..CHECK_HEX / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A key with all 32 bytes equal (all zero, all 0xff...) is a placeholder or a bug, not a key.
fn is_degenerate(key: &KeyBytes) -> bool {
    let k = key.expose();
    k.iter().all(|&b| b == k[0])
}

/// Refuse passphrases a guessing attack would find quickly, with zxcvbn's estimate (dictionary
/// words, l33t substitutions, keyboard walks, dates, repeats and sequences): the estimated
/// number of guesses must reach 10^MIN_GUESSES_LOG10. Only the first
/// `ESTIMATE_MAX_CHARS` characters are estimated (more characters only add strength, and
/// the estimator's cost grows with length). The estimator keeps internal copies of the
/// passphrase that are freed without being wiped; keyseal's own copies are zeroizing.
fn check_passphrase(passphrase: &str) -> Result<()> {
    let chars = passphrase.chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(CoreError::config(format!(
            "passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters (a few random words work well)"
        )));
    }
    let cut = passphrase
        .char_indices()
        .nth(ESTIMATE_MAX_CHARS)
        .map_or(passphrase.len(), |(i, _)| i);
    let estimate = zxcvbn::zxcvbn(
        &passphrase[..cut],
        &["keyseal", "key", "seal", "redis", "vault"],
    );
    if estimate.guesses_log10() < MIN_GUESSES_LOG10 {
        return Err(CoreError::config(
            "passphrase too weak: it is built from common words, patterns or substitutions that guessing tools try first (use four or more random words)",
        ));
    }
    Ok(())
}

impl Keyring {
    /// A new ring with one random key and a random naming key.
    pub fn generate() -> Result<Self> {
        Ok(Self {
            keys: vec![Arc::new(RingKey::new(random_key()?))],
            name_key: Arc::new(random_key()?),
        })
    }

    /// Derive a ring from a passphrase: Argon2id (RFC 9106) stretches it to 64 bytes, the first 32
    /// the sealing key and the last 32 the naming key.
    pub fn from_passphrase(
        passphrase: &str,
        salt: &[u8],
        params: PassphraseParams,
    ) -> Result<Self> {
        check_passphrase(passphrase)?;
        if salt.len() < MIN_SALT_LEN {
            return Err(CoreError::config(format!(
                "salt too short: use at least {MIN_SALT_LEN} random bytes"
            )));
        }
        if !params.allow_weak
            && (params.memory_kib < MIN_SAFE_MEMORY_KIB
                || params.time_cost < 2
                || params.parallelism < 1)
        {
            return Err(CoreError::config(
                "Argon2id parameters below the safe floor (19 MiB, 2 passes); pass allow_weak_parameters=True only in tests",
            ));
        }
        let argon_params = Params::new(
            params.memory_kib,
            params.time_cost,
            params.parallelism,
            Some(64),
        )
        .map_err(|e| CoreError::config(format!("invalid Argon2id parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut out = Zeroizing::new([0u8; 64]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
            .map_err(|e| CoreError::config(format!("Argon2id failed: {e}")))?;
        let mut seal = KeyBytes([0u8; 32]);
        let mut name = KeyBytes([0u8; 32]);
        seal.0.copy_from_slice(&out[..32]);
        name.0.copy_from_slice(&out[32..]);
        Ok(Self {
            keys: vec![Arc::new(RingKey::new(seal))],
            name_key: Arc::new(name),
        })
    }

    /// Parse the text form written by [`Keyring::export`]. Errors never echo the input.
    pub fn from_text(text: &str) -> Result<Self> {
        let text = text.trim();
        if !text.starts_with("ks2,") {
            return Err(CoreError::config(if text.starts_with("ks1,") {
                "invalid keyring text: 'ks1' text (a pre-release form without a check value) is no longer read: generate a new keyring"
            } else {
                "invalid keyring text: it must start with 'ks2,' (see Keyring.export())"
            }));
        }
        // The check value comes last and covers everything before it.
        let (body, check) = text.rsplit_once(CHECK_FIELD).ok_or_else(|| {
            CoreError::config("invalid keyring text: no check value (',check=...' at the end)")
        })?;
        let want = text_check(body);
        if check.len() != CHECK_HEX
            || !bool::from(subtle::ConstantTimeEq::ct_eq(
                check.as_bytes(),
                want.as_bytes(),
            ))
        {
            return Err(CoreError::config(
                "invalid keyring text: the check value does not match (a typo, or a truncated copy?)",
            ));
        }
        let mut parts = body.split(',');
        parts.next();
        let mut name_key = None;
        let mut keys: Vec<Arc<RingKey>> = Vec::new();
        for part in parts {
            if let Some(v) = part.strip_prefix("name=") {
                if name_key.is_some() {
                    return Err(CoreError::config(
                        "invalid keyring text: more than one naming key",
                    ));
                }
                name_key = Some(decode_key(v)?);
            } else if let Some(v) = part.strip_prefix("key=") {
                let (id, key) = v.split_once(':').ok_or_else(|| {
                    CoreError::config(
                        "invalid keyring text: a key entry must be 'key=<id>:<base64url>'",
                    )
                })?;
                let id = parse_key_id(id).ok_or_else(|| {
                    CoreError::config("invalid keyring text: a key id must be 8 hex digits")
                })?;
                let key = RingKey::new(decode_key(key)?);
                if key.id() != id {
                    return Err(CoreError::config(
                        "invalid keyring text: a key does not match its key id (corrupted?)",
                    ));
                }
                if keys.iter().any(|k| k.id() == id) {
                    return Err(CoreError::config(
                        "invalid keyring text: the same key appears twice",
                    ));
                }
                keys.push(Arc::new(key));
            } else {
                return Err(CoreError::config(
                    "invalid keyring text: unknown field (expected 'name=' or 'key=')",
                ));
            }
        }
        let name_key =
            name_key.ok_or_else(|| CoreError::config("invalid keyring text: no naming key"))?;
        if keys.is_empty() {
            return Err(CoreError::config("invalid keyring text: no keys"));
        }
        let ring = Self {
            keys,
            name_key: Arc::new(name_key),
        };
        ring.check_keys()?;
        Ok(ring)
    }

    /// Refuse degenerate keys and a key used twice (the naming key must differ from every
    /// sealing key: one key, one job).
    fn check_keys(&self) -> Result<()> {
        if is_degenerate(&self.name_key) || self.keys.iter().any(|k| is_degenerate(&k.bytes)) {
            return Err(CoreError::config(
                "invalid keyring text: a key has all its bytes equal (all zero?): generate real keys",
            ));
        }
        let name = self.name_key.expose();
        if self.keys.iter().any(|k| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &k.bytes.expose()[..],
                &name[..],
            ))
        }) {
            return Err(CoreError::config(
                "invalid keyring text: the naming key equals a sealing key",
            ));
        }
        Ok(())
    }

    /// Exact length of the text form, so it is written into one zeroizing buffer that never
    /// grows (growing would leave an unwiped copy of the keys behind).
    fn text_len(&self) -> usize {
        TEXT_PREFIX.len()
            + ",name=".len()
            + B64_KEY_LEN
            + self.keys.len() * (",key=".len() + 2 * KEY_ID_LEN + 1 + B64_KEY_LEN)
            + CHECK_FIELD.len()
            + CHECK_HEX
    }

    /// The text form: `ks2,name=<b64url>,key=<id>:<b64url>[,key=...],check=<16 hex>`, primary
    /// key first; the check value covers everything before `,check=`.
    pub fn export(&self) -> Zeroizing<String> {
        let len = self.text_len();
        let mut out = Zeroizing::new(String::with_capacity(len));
        out.push_str(TEXT_PREFIX);
        out.push_str(",name=");
        // Encoded straight into the buffer: no intermediate String.
        B64.encode_string(self.name_key.expose(), &mut out);
        for k in &self.keys {
            out.push_str(",key=");
            out.push_str(&key_id_hex(&k.id()));
            out.push(':');
            B64.encode_string(k.bytes.expose(), &mut out);
        }
        let check = text_check(&out);
        out.push_str(CHECK_FIELD);
        out.push_str(&check);
        debug_assert_eq!(out.len(), len);
        debug_assert_eq!(out.capacity(), len);
        out
    }

    /// A new ring whose primary is a fresh random key; every old key stays to open old envelopes.
    pub fn rotated(&self) -> Result<Self> {
        self.rotated_with(random_key)
    }

    /// `rotated` with the key source given: a new key whose id collides with a key already in
    /// the ring (or that equals the naming key) is drawn again, since envelopes name their key
    /// by id and two keys with one id would make one of them unreachable.
    fn rotated_with(&self, mut fresh: impl FnMut() -> Result<KeyBytes>) -> Result<Self> {
        for _ in 0..64 {
            let key = RingKey::new(fresh()?);
            let clash = self.keys.iter().any(|k| k.id() == key.id())
                || key.bytes.expose() == self.name_key.expose()
                || is_degenerate(&key.bytes);
            if clash {
                continue;
            }
            let mut keys = Vec::with_capacity(self.keys.len() + 1);
            keys.push(Arc::new(key));
            keys.extend(self.keys.iter().cloned());
            return Ok(Self {
                keys,
                name_key: self.name_key.clone(),
            });
        }
        Err(CoreError::config(
            "could not draw a key whose id differs from the ring's (is the random source broken?)",
        ))
    }

    /// A new ring without `key_id`. The primary cannot be retired: rotate first.
    pub fn without(&self, key_id: &str) -> Result<Self> {
        let id =
            parse_key_id(key_id).ok_or_else(|| CoreError::invalid("a key id is 8 hex digits"))?;
        let pos = self.keys.iter().position(|k| k.id() == id).ok_or_else(|| {
            CoreError::invalid(format!("no key with id {key_id} in this keyring"))
        })?;
        if pos == 0 {
            return Err(CoreError::config(
                "cannot retire the primary key: call rotated() first, then rewrap()",
            ));
        }
        let mut keys = self.keys.clone();
        keys.remove(pos);
        Ok(Self {
            keys,
            name_key: self.name_key.clone(),
        })
    }

    /// A new ring holding only `key_id` (as its primary) and the same naming key, so names do not
    /// move: opens exactly what that one key sealed (used to count values per key, read-only).
    pub fn only(&self, key_id: &str) -> Result<Self> {
        let id =
            parse_key_id(key_id).ok_or_else(|| CoreError::invalid("a key id is 8 hex digits"))?;
        let key = self.keys.iter().find(|k| k.id() == id).ok_or_else(|| {
            CoreError::invalid(format!("no key with id {key_id} in this keyring"))
        })?;
        Ok(Self {
            keys: vec![key.clone()],
            name_key: self.name_key.clone(),
        })
    }

    pub fn primary(&self) -> &RingKey {
        &self.keys[0]
    }
    pub fn primary_id(&self) -> KeyId {
        self.keys[0].id()
    }
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|k| k.id()).collect()
    }
    pub fn name_key(&self) -> &KeyBytes {
        &self.name_key
    }

    /// Seal under the primary key.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        envelope::seal(&self.keys[0].sealing, plaintext, context)
    }

    /// Seal under the primary key into `out` (`envelope::sealed_len` bytes).
    pub fn seal_into(&self, plaintext: &[u8], context: &[u8], out: &mut [u8]) -> Result<()> {
        envelope::seal_into(&self.keys[0].sealing, plaintext, context, out)
    }

    fn key_for(&self, envelope_bytes: &[u8]) -> Result<&RingKey> {
        let id = envelope::peek_key_id(envelope_bytes).ok_or(CoreError::Decryption)?;
        self.keys
            .iter()
            .find(|k| k.id() == id)
            .map(|k| &**k)
            .ok_or(CoreError::Decryption)
    }

    /// Open into `out` (`envelope::opened_len` bytes).
    pub fn open_into(&self, envelope_bytes: &[u8], context: &[u8], out: &mut [u8]) -> Result<()> {
        envelope::open_into(
            &self.key_for(envelope_bytes)?.sealing,
            envelope_bytes,
            context,
            out,
        )
    }

    /// Open with whichever key the envelope names; an unknown id is a plain decryption failure.
    pub fn open(&self, envelope_bytes: &[u8], context: &[u8]) -> Result<SecretBytes> {
        let id = envelope::peek_key_id(envelope_bytes).ok_or(CoreError::Decryption)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id() == id)
            .ok_or(CoreError::Decryption)?;
        envelope::open(&key.sealing, envelope_bytes, context)
    }

    /// A subkey for a purpose other than sealing or naming (e.g. log fingerprints), so one key is
    /// never used for two jobs.
    pub fn derive_subkey(&self, purpose: &[u8]) -> KeyBytes {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.name_key.expose())
            .expect("any key length");
        mac.update(b"keyseal subkey:");
        mac.update(purpose);
        let mut k = KeyBytes([0u8; 32]);
        k.0.copy_from_slice(&mac.finalize().into_bytes());
        k
    }
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|k| key_id_hex(&k.id())).collect();
        write!(f, "Keyring(primary={}, keys={})", ids[0], ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PassphraseParams {
        PassphraseParams {
            memory_kib: 64,
            time_cost: 1,
            parallelism: 1,
            allow_weak: true,
        }
    }

    #[test]
    fn export_round_trip_keeps_every_key_and_order() {
        let ring = Keyring::generate().unwrap().rotated().unwrap();
        let text = ring.export();
        let back = Keyring::from_text(&text).unwrap();
        assert_eq!(back.key_ids(), ring.key_ids());
        assert_eq!(back.name_key().expose(), ring.name_key().expose());
        let env = ring.seal(b"v", b"c").unwrap();
        assert_eq!(back.open(&env, b"c").unwrap().expose(), b"v");
    }

    #[test]
    fn bad_text_never_echoes_input() {
        let ring = Keyring::generate().unwrap();
        let text = ring.export();
        for bad in [
            text.replace("ks2", "ks1"),
            text.replacen("key=", "key=zz", 1),
            format!("{}A", &*text),
            text.split(",key").next().unwrap().to_string(),
            "ks2,key=00000000:AAAA".into(),
            "ks2,key=00000000:AAAA,check=0000000000000000".into(),
        ] {
            let err = Keyring::from_text(&bad).unwrap_err().to_string();
            let key_part = text.rsplit(':').next().unwrap();
            assert!(!err.contains(key_part), "error echoed key material: {err}");
        }
    }

    #[test]
    fn rotation_keeps_old_envelopes_and_retires() {
        let r1 = Keyring::generate().unwrap();
        let env = r1.seal(b"old", b"").unwrap();
        let r2 = r1.rotated().unwrap();
        assert_ne!(r2.primary_id(), r1.primary_id());
        assert_eq!(r2.name_key().expose(), r1.name_key().expose());
        assert_eq!(r2.open(&env, b"").unwrap().expose(), b"old");
        let r3 = r2.without(&key_id_hex(&r1.primary_id())).unwrap();
        assert!(matches!(r3.open(&env, b""), Err(CoreError::Decryption)));
        assert!(r3.without(&key_id_hex(&r3.primary_id())).is_err());
    }

    #[test]
    fn diceware_passes_the_estimator() {
        let salt = b"0123456789abcdef";
        // Five words from the EFF large list: about 64 bits.
        assert!(
            Keyring::from_passphrase("tremor gravel unwound pastel voyage", salt, cheap()).is_ok()
        );
    }

    #[test]
    fn passphrase_is_deterministic_and_checked() {
        let salt = b"0123456789abcdef";
        let a = Keyring::from_passphrase("correct horse battery staple", salt, cheap()).unwrap();
        let b = Keyring::from_passphrase("correct horse battery staple", salt, cheap()).unwrap();
        assert_eq!(a.export().as_str(), b.export().as_str());
        let c = Keyring::from_passphrase("correct horse battery stapler", salt, cheap()).unwrap();
        assert_ne!(a.primary_id(), c.primary_id());
        for weak in [
            "short",
            "aaaaaaaaaaaaaaaa",
            "Password123!!",
            "ababababababab",
            "passwordpassword",
            "qwertyqwerty",
            "123456123456",
            "P@ssw0rd12345",
            "Summer2024!!",
            "qwertyuiop12",
            "iloveyou1234",
            "123456789012",
            "keyseal-keyseal-2024",
        ] {
            assert!(
                Keyring::from_passphrase(weak, salt, cheap()).is_err(),
                "{weak}"
            );
        }
        assert!(
            Keyring::from_passphrase("correct horse battery staple", b"short", cheap()).is_err()
        );
        let weak_params = PassphraseParams {
            allow_weak: false,
            ..cheap()
        };
        assert!(
            Keyring::from_passphrase("correct horse battery staple", salt, weak_params).is_err()
        );
    }

    /// RFC 9106 section 5.3, the Argon2id test vector (with secret and associated data).
    #[test]
    fn argon2id_rfc9106_known_answer() {
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .output_len(32)
            .data(argon2::AssociatedData::new(&[4u8; 12]).unwrap())
            .build()
            .unwrap();
        let secret = [3u8; 8];
        let a =
            Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params).unwrap();
        let mut out = [0u8; 32];
        a.hash_password_into(&[1u8; 32], &[2u8; 16], &mut out)
            .unwrap();
        assert_eq!(
            hex::encode(out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }

    /// A text with a correct check value around whatever body the test wants.
    fn with_check(body: &str) -> String {
        format!("{body},check={}", text_check(body))
    }

    #[test]
    fn export_is_reserved_exactly_and_checked() {
        let mut ring = Keyring::generate().unwrap();
        for _ in 0..20 {
            ring = ring.rotated().unwrap();
        }
        let text = ring.export();
        assert_eq!(text.len(), text.capacity());
        assert_eq!(text.len(), ring.text_len());
        assert!(text.starts_with("ks2,name="));
        // Any one-character change anywhere is caught, in the naming key above all.
        let pos = "ks2,name=".len() + 5;
        let mut typo = text.to_string();
        let c = if &typo[pos..pos + 1] == "A" { "B" } else { "A" };
        typo.replace_range(pos..pos + 1, c);
        let err = Keyring::from_text(&typo).unwrap_err().to_string();
        assert!(err.contains("check value"), "{err}");
        let cut = &text[..text.len() - 1];
        assert!(Keyring::from_text(cut).is_err());
    }

    #[test]
    fn degenerate_and_repeated_keys_are_refused() {
        let zero = B64.encode([0u8; 32]);
        let ring = Keyring::generate().unwrap();
        let k = &ring.keys[0];
        let kb = B64.encode(k.bytes.expose());
        let id = key_id_hex(&k.id());
        let good = B64.encode(ring.name_key.expose());
        // All-zero naming key (with a valid check value: the check is not what refuses it).
        let t = with_check(&format!("ks2,name={zero},key={id}:{kb}"));
        assert!(Keyring::from_text(&t)
            .unwrap_err()
            .to_string()
            .contains("all its bytes"));
        // Naming key equal to a sealing key.
        let t = with_check(&format!("ks2,name={kb},key={id}:{kb}"));
        assert!(Keyring::from_text(&t)
            .unwrap_err()
            .to_string()
            .contains("naming key equals"));
        // The same sealing key twice.
        let t = with_check(&format!("ks2,name={good},key={id}:{kb},key={id}:{kb}"));
        assert!(Keyring::from_text(&t)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        // An all-zero sealing key.
        let zk = RingKey::new(KeyBytes([0u8; 32]));
        let t = with_check(&format!(
            "ks2,name={good},key={}:{zero}",
            key_id_hex(&zk.id())
        ));
        assert!(Keyring::from_text(&t).is_err());
        // The good one parses.
        let t = with_check(&format!("ks2,name={good},key={id}:{kb}"));
        assert!(Keyring::from_text(&t).is_ok());
    }

    #[test]
    fn rotation_never_reuses_an_id() {
        let ring = Keyring::generate().unwrap();
        let existing = ring.keys[0].bytes.clone();
        let name = (*ring.name_key).clone();
        // The source first hands back the current key (same id), then the naming key, then a
        // fresh one: only the fresh one may become the primary.
        let mut calls = 0;
        let rotated = ring
            .rotated_with(|| {
                calls += 1;
                match calls {
                    1 => Ok(existing.clone()),
                    2 => Ok(name.clone()),
                    _ => random_key(),
                }
            })
            .unwrap();
        assert_eq!(calls, 3);
        assert_eq!(rotated.key_ids().len(), 2);
        assert_ne!(rotated.key_ids()[0], rotated.key_ids()[1]);
        // A broken source gives an error, not a ring with two keys under one id.
        let err = ring.rotated_with(|| Ok(existing.clone()));
        assert!(err.is_err());
    }

    /// The error of `from_text` for a body given a valid check value.
    fn text_error(body: &str) -> String {
        Keyring::from_text(&with_check(body))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn default_params_are_rfc9106_second_option() {
        let p = PassphraseParams::default();
        assert_eq!(p.memory_kib, 64 * 1024);
        assert_eq!(p.time_cost, 3);
        assert_eq!(p.parallelism, 4);
        assert!(!p.allow_weak);
    }

    /// Every refusal of `from_text` names its own reason, and the check value is verified before
    /// any field is read.
    #[test]
    fn text_refusals_each_name_their_reason() {
        let ring = Keyring::generate().unwrap();
        let k = &ring.keys[0];
        let kb = B64.encode(k.bytes.expose());
        let id = key_id_hex(&k.id());
        let name = B64.encode(ring.name_key.expose());
        let good = format!("ks2,name={name},key={id}:{kb}");
        assert!(Keyring::from_text(&with_check(&good)).is_ok());
        // surrounding whitespace (a copied line) is trimmed
        assert!(Keyring::from_text(&format!("  {}\n", with_check(&good))).is_ok());

        let err = |t: &str| Keyring::from_text(t).unwrap_err().to_string();
        assert!(err("ks1,name=x").contains("'ks1' text"));
        assert!(err("ks3,name=x").contains("must start with 'ks2,'"));
        assert!(err("").contains("must start with 'ks2,'"));
        assert!(err(&good).contains("no check value"));
        // a check value of the right digits plus one more, or one fewer
        let checked = with_check(&good);
        assert!(err(&format!("{checked}0")).contains("does not match"));
        assert!(err(&checked[..checked.len() - 1]).contains("does not match"));
        // upper-case hex is not the check value's form (a digit-only check has no case)
        let check = text_check(&good);
        if check.bytes().any(|b| b.is_ascii_alphabetic()) {
            let upper = format!("{good},check={}", check.to_uppercase());
            assert!(err(&upper).contains("does not match"));
        }

        for (body, reason) in [
            (format!("{good},name={name}"), "more than one naming key"),
            (
                format!("ks2,name={name},key={id}{kb}"),
                "'key=<id>:<base64url>'",
            ),
            (format!("ks2,name={name},key=1234567:{kb}"), "8 hex digits"),
            (
                format!("ks2,name={name},key=123456789:{kb}"),
                "8 hex digits",
            ),
            (format!("ks2,name={name},key=1234567g:{kb}"), "8 hex digits"),
            (
                format!("ks2,name={name},key={id}:{kb}!"),
                "not valid base64url",
            ),
            (
                format!("ks2,name=*{name},key={id}:{kb}"),
                "not valid base64url",
            ),
            (
                format!("ks2,name={name},key={id}:{}", B64.encode([9u8; 31])),
                "every key must be 32 bytes",
            ),
            (
                format!("ks2,name={},key={id}:{kb}", B64.encode([9u8; 33])),
                "every key must be 32 bytes",
            ),
            (
                format!("ks2,name={name},key=00000000:{kb}"),
                "does not match its key id",
            ),
            (format!("{good},label=x"), "unknown field"),
            (format!("{good},"), "unknown field"),
            (format!("ks2,key={id}:{kb}"), "no naming key"),
            (format!("ks2,name={name}"), "no keys"),
        ] {
            let e = text_error(&body);
            assert!(e.contains(reason), "{body}: {e}");
            assert!(!e.contains(&kb) && !e.contains(&name), "echoed a key: {e}");
        }
    }

    /// Key ids are read case-insensitively, as exactly eight hex digits.
    #[test]
    fn key_ids_parse_exactly() {
        let id = [0x0a, 0xbc, 0xde, 0xf1];
        assert_eq!(key_id_hex(&id), "0abcdef1");
        assert_eq!(parse_key_id("0abcdef1"), Some(id));
        assert_eq!(parse_key_id("0ABCDEF1"), Some(id));
        for bad in [
            "",
            "0abcdef",
            "0abcdef12",
            "0abcdefg",
            "+abcdef1",
            " abcdef1",
            "0abcdéf",
        ] {
            assert_eq!(parse_key_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn without_and_only_pick_keys_by_id() {
        let r1 = Keyring::generate().unwrap();
        let r2 = r1.rotated().unwrap().rotated().unwrap();
        let ids: Vec<String> = r2.key_ids().iter().map(key_id_hex).collect();
        assert_eq!(ids.len(), 3);
        let old_env = r1.seal(b"old", b"ctx").unwrap();
        let new_env = r2.seal(b"new", b"ctx").unwrap();

        // only(): the one key as primary, same naming key, opens what that key sealed only
        let only_old = r2.only(&ids[2].to_uppercase()).unwrap();
        assert_eq!(only_old.key_ids(), vec![r1.primary_id()]);
        assert_eq!(only_old.primary_id(), r1.primary_id());
        assert_eq!(only_old.primary().id(), r1.primary_id());
        assert_eq!(only_old.name_key().expose(), r2.name_key().expose());
        assert_eq!(only_old.open(&old_env, b"ctx").unwrap().expose(), b"old");
        assert!(matches!(
            only_old.open(&new_env, b"ctx"),
            Err(CoreError::Decryption)
        ));

        // without(): a middle key goes, order of the rest is kept
        let w = r2.without(&ids[1]).unwrap();
        assert_eq!(w.key_ids(), vec![r2.key_ids()[0], r2.key_ids()[2]]);
        assert_eq!(w.name_key().expose(), r2.name_key().expose());
        assert_eq!(w.open(&old_env, b"ctx").unwrap().expose(), b"old");
        let e = r2.without(&ids[0]).unwrap_err();
        assert!(matches!(e, CoreError::Config(_)), "{e}");
        assert!(e.to_string().contains("primary"));

        // bad and unknown ids: Invalid (ValueError), the unknown id named
        for f in [Keyring::without, Keyring::only] {
            let e = f(&r2, "xyz").unwrap_err();
            assert!(matches!(e, CoreError::Invalid(_)), "{e}");
            assert!(e.to_string().contains("8 hex digits"));
            let e = f(&r2, "00000000").unwrap_err();
            assert!(matches!(e, CoreError::Invalid(_)), "{e}");
            assert!(e.to_string().contains("no key with id 00000000"), "{e}");
        }
    }

    #[test]
    fn seal_into_open_into_route_by_key_id() {
        let r1 = Keyring::generate().unwrap();
        let r2 = r1.rotated().unwrap();
        let mut env = vec![0u8; envelope::sealed_len(5)];
        r1.seal_into(b"hello", b"ctx", &mut env).unwrap();
        assert_eq!(envelope::peek_key_id(&env), Some(r1.primary_id()));
        let mut out = [0u8; 5];
        r2.open_into(&env, b"ctx", &mut out).unwrap();
        assert_eq!(&out, b"hello");
        assert!(matches!(
            r2.open_into(&env, b"other", &mut out),
            Err(CoreError::Decryption)
        ));
        // an envelope under a key the ring lacks, and bytes that are no envelope
        let alone = Keyring::generate().unwrap();
        assert!(matches!(
            alone.open_into(&env, b"ctx", &mut out),
            Err(CoreError::Decryption)
        ));
        assert!(matches!(
            alone.open(&env, b"ctx"),
            Err(CoreError::Decryption)
        ));
        assert!(matches!(
            r2.open_into(b"KS", b"ctx", &mut out),
            Err(CoreError::Decryption)
        ));
        assert!(matches!(r2.open(b"", b"ctx"), Err(CoreError::Decryption)));
        // sealing always uses the primary
        let env2 = r2.seal(b"x", b"").unwrap();
        assert_eq!(envelope::peek_key_id(&env2), Some(r2.primary_id()));
        assert!(r1.open(&env2, b"").is_err());
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = Keyring::generate().unwrap().rotated().unwrap();
        let text = format!("{ring:?}");
        assert_eq!(
            text,
            format!(
                "Keyring(primary={}, keys=2)",
                key_id_hex(&ring.primary_id())
            )
        );
        let export = ring.export();
        for part in export
            .split([',', ':', '='])
            .filter(|p| p.len() == B64_KEY_LEN)
        {
            assert!(!text.contains(part));
        }
    }

    #[test]
    fn subkeys_are_per_purpose_and_survive_rotation() {
        let ring = Keyring::generate().unwrap();
        let a = ring.derive_subkey(b"logs");
        assert_eq!(a.expose(), ring.derive_subkey(b"logs").expose());
        assert_ne!(a.expose(), ring.derive_subkey(b"apikeys").expose());
        assert_ne!(a.expose(), ring.name_key().expose());
        assert_ne!(a.expose(), ring.primary().bytes.expose());
        assert_eq!(
            a.expose(),
            ring.rotated().unwrap().derive_subkey(b"logs").expose()
        );
        assert_ne!(
            a.expose(),
            Keyring::generate().unwrap().derive_subkey(b"logs").expose()
        );
        // HMAC-SHA256(name key, "keyseal subkey:" || purpose), checked independently
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(ring.name_key().expose()).unwrap();
        mac.update(b"keyseal subkey:logs");
        assert_eq!(&a.expose()[..], &mac.finalize().into_bytes()[..]);
    }

    /// The key id is HMAC-SHA256(key, "keyseal key id")[..4].
    #[test]
    fn key_id_is_the_documented_hmac() {
        let key = KeyBytes([0x42; 32]);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x42; 32]).unwrap();
        mac.update(b"keyseal key id");
        assert_eq!(derive_key_id(&key)[..], mac.finalize().into_bytes()[..4]);
        assert_ne!(derive_key_id(&key), derive_key_id(&KeyBytes([0x43; 32])));
    }

    /// Passphrase limits at their edges: length in characters, the salt floor, and each Argon2id
    /// floor on its own (checked before any hashing).
    #[test]
    fn passphrase_limits_are_exact() {
        let salt = [7u8; MIN_SALT_LEN];
        let words = "tremor gravel unwound pastel voyage";
        let err = |p: &str, s: &[u8], params| {
            Keyring::from_passphrase(p, s, params)
                .unwrap_err()
                .to_string()
        };
        // 11 characters is short, 12 is long enough to be judged on strength
        assert!(err("abcdefghijk", &salt, cheap()).contains("too short"));
        assert!(err("abcdefghijkl", &salt, cheap()).contains("too weak"));
        // characters, not bytes: eleven two-byte characters are still too short
        assert!(err(&"é".repeat(11), &salt, cheap()).contains("too short"));
        // only the first 128 characters are estimated (multi-byte text is cut on a boundary)
        let long_tail = format!("{words} {}", "ü".repeat(200));
        assert!(Keyring::from_passphrase(&long_tail, &salt, cheap()).is_ok());
        let long_head = format!("{} {words}", "ü".repeat(128));
        assert!(err(&long_head, &salt, cheap()).contains("too weak"));
        // salt: 16 bytes is enough, 15 is not
        assert!(Keyring::from_passphrase(words, &salt, cheap()).is_ok());
        assert!(err(words, &salt[..15], cheap()).contains("salt too short"));
        // each floor refuses on its own without allow_weak
        // OWASP's floor, written out: 19 MiB and 2 passes
        let floor = PassphraseParams {
            memory_kib: 19 * 1024,
            time_cost: 2,
            parallelism: 1,
            allow_weak: false,
        };
        for weak in [
            PassphraseParams {
                memory_kib: 19 * 1024 - 1,
                ..floor
            },
            PassphraseParams {
                time_cost: 1,
                ..floor
            },
            PassphraseParams {
                parallelism: 0,
                ..floor
            },
        ] {
            assert!(err(words, &salt, weak).contains("safe floor"), "{weak:?}");
        }
        // with allow_weak, Argon2's own limits still apply, reported as such
        let zero_lanes = PassphraseParams {
            parallelism: 0,
            ..cheap()
        };
        assert!(err(words, &salt, zero_lanes).contains("invalid Argon2id parameters"));
        // the floor itself is accepted (the one costly hash of this module's tests)
        let ring = Keyring::from_passphrase(words, &salt, floor).unwrap();
        assert_ne!(ring.primary().bytes.expose(), ring.name_key().expose());
    }

    #[test]
    fn degenerate_fresh_keys_are_drawn_again_and_errors_pass_through() {
        let ring = Keyring::generate().unwrap();
        let mut calls = 0;
        let rotated = ring
            .rotated_with(|| {
                calls += 1;
                if calls == 1 {
                    Ok(KeyBytes([0xff; 32]))
                } else {
                    random_key()
                }
            })
            .unwrap();
        assert_eq!(calls, 2);
        assert!(!is_degenerate(&rotated.primary().bytes));
        assert_eq!(rotated.key_ids()[1], ring.primary_id());
        let err = ring
            .rotated_with(|| Err(CoreError::config("no entropy")))
            .unwrap_err();
        assert_eq!(err.to_string(), "no entropy");
        // a key differing in one byte is not degenerate
        let mut k = KeyBytes([0u8; 32]);
        assert!(is_degenerate(&k));
        k.0[31] = 1;
        assert!(!is_degenerate(&k));
    }
}
