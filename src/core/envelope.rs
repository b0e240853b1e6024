//! The sealed envelope, version 1: `"KS" | 0x01 | key id (4) | nonce (12) | ciphertext | tag (16)`.
//!
//! AES-256-GCM (NIST SP 800-38D) with a fresh random 96-bit nonce per seal. The associated data is
//! the 7-byte header (magic, version, key id) followed by the caller's context, so neither the key
//! id nor the slot a value belongs to can be changed without the tag failing.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};

use super::error::{CoreError, Result};
use super::secret::SecretBytes;

pub const MAGIC: [u8; 2] = *b"KS";
pub const VERSION: u8 = 1;
pub const KEY_ID_LEN: usize = 4;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Magic, version and key id: the part of the header that is also associated data.
pub const AAD_HEADER_LEN: usize = MAGIC.len() + 1 + KEY_ID_LEN;
pub const HEADER_LEN: usize = AAD_HEADER_LEN + NONCE_LEN;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

pub type KeyId = [u8; KEY_ID_LEN];

/// An AES-256-GCM key with its id, its key schedule computed once.
pub struct SealingKey {
    id: KeyId,
    cipher: Aes256Gcm,
}

impl SealingKey {
    pub fn new(id: KeyId, key: &[u8; 32]) -> Self {
        Self {
            id,
            cipher: Aes256Gcm::new(key.into()),
        }
    }
    pub fn id(&self) -> KeyId {
        self.id
    }
}

/// The key id of an envelope, if it looks like one of ours. Used to route to the right key and by
/// `rewrap` to skip values already under the primary key; it proves nothing until the tag verifies.
pub fn peek_key_id(envelope: &[u8]) -> Option<KeyId> {
    if envelope.len() < OVERHEAD || envelope[..2] != MAGIC || envelope[2] != VERSION {
        return None;
    }
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&envelope[3..AAD_HEADER_LEN]);
    Some(id)
}

/// Call `f` with the associated data (header then context), on the stack when it is small: this
/// runs on every seal and open.
fn with_aad<T>(header: &[u8], context: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let len = AAD_HEADER_LEN + context.len();
    let mut small = [0u8; 256];
    let mut large = Vec::new();
    let ad: &mut [u8] = if len <= small.len() {
        &mut small[..len]
    } else {
        large.resize(len, 0);
        &mut large
    };
    ad[..AAD_HEADER_LEN].copy_from_slice(&header[..AAD_HEADER_LEN]);
    ad[AAD_HEADER_LEN..].copy_from_slice(context);
    f(ad)
}

/// The size of the envelope for a plaintext of `len` bytes.
pub const fn sealed_len(len: usize) -> usize {
    len + OVERHEAD
}

/// Seal into `out`, which must be exactly `sealed_len(plaintext.len())` bytes, with a caller-chosen
/// nonce. Only `seal_into` and known-answer tests choose nonces; one must never repeat under a key.
pub(crate) fn seal_with_nonce_into(
    key: &SealingKey,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    context: &[u8],
    out: &mut [u8],
) {
    assert_eq!(
        out.len(),
        sealed_len(plaintext.len()),
        "output buffer has the wrong size"
    );
    out[..2].copy_from_slice(&MAGIC);
    out[2] = VERSION;
    out[3..AAD_HEADER_LEN].copy_from_slice(&key.id);
    out[AAD_HEADER_LEN..HEADER_LEN].copy_from_slice(nonce);
    let tag_at = out.len() - TAG_LEN;
    out[HEADER_LEN..tag_at].copy_from_slice(plaintext);
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    let (body, tag_out) = rest.split_at_mut(tag_at - HEADER_LEN);
    let nonce = Nonce::try_from(&head[AAD_HEADER_LEN..]).expect("nonce is 12 bytes");
    let tag = with_aad(head, context, |ad| {
        key.cipher.encrypt_inout_detached(&nonce, ad, body.into())
    })
    // Only fails past GCM's 64 GiB message limit, far above any value we accept.
    .expect("AES-GCM encryption of a bounded message cannot fail");
    tag_out.copy_from_slice(&tag);
}

pub(crate) fn seal_with_nonce(
    key: &SealingKey,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    context: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; sealed_len(plaintext.len())];
    seal_with_nonce_into(key, nonce, plaintext, context, &mut out);
    out
}

fn fresh_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    // Straight from the OS every time: a user-space buffer of randomness would be duplicated by
    // fork() (pre-forking web servers), and a repeated GCM nonce is catastrophic.
    getrandom::fill(&mut nonce)
        .map_err(|_| CoreError::config("the operating system's random number generator failed"))?;
    Ok(nonce)
}

/// Seal `plaintext` for the slot named by `context` into `out` (`sealed_len` bytes).
pub fn seal_into(key: &SealingKey, plaintext: &[u8], context: &[u8], out: &mut [u8]) -> Result<()> {
    seal_with_nonce_into(key, &fresh_nonce()?, plaintext, context, out);
    Ok(())
}

/// Seal `plaintext` for the slot named by `context`, with a fresh random nonce.
pub fn seal(key: &SealingKey, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
    Ok(seal_with_nonce(key, &fresh_nonce()?, plaintext, context))
}

/// The plaintext size of a well-formed envelope, if it could be one.
pub fn opened_len(envelope: &[u8]) -> Option<usize> {
    envelope.len().checked_sub(OVERHEAD)
}

/// Open into `out` (`opened_len` bytes) with `key`, which the caller chose from the key id. On
/// failure `out` holds no plaintext: the tag is checked before anything is decrypted.
pub fn open_into(key: &SealingKey, envelope: &[u8], context: &[u8], out: &mut [u8]) -> Result<()> {
    if peek_key_id(envelope) != Some(key.id) || opened_len(envelope) != Some(out.len()) {
        return Err(CoreError::Decryption);
    }
    let nonce = Nonce::try_from(&envelope[AAD_HEADER_LEN..HEADER_LEN])
        .map_err(|_| CoreError::Decryption)?;
    let tag_at = envelope.len() - TAG_LEN;
    let tag = Tag::try_from(&envelope[tag_at..]).map_err(|_| CoreError::Decryption)?;
    out.copy_from_slice(&envelope[HEADER_LEN..tag_at]);
    with_aad(envelope, context, |ad| {
        key.cipher
            .decrypt_inout_detached(&nonce, ad, out.into(), &tag)
    })
    .map_err(|_| CoreError::Decryption)
}

/// Open an envelope with `key`, which the caller chose from the envelope's key id.
pub fn open(key: &SealingKey, envelope: &[u8], context: &[u8]) -> Result<SecretBytes> {
    let len = opened_len(envelope).ok_or(CoreError::Decryption)?;
    let mut plain = SecretBytes::new(vec![0u8; len]);
    open_into(key, envelope, context, plain.expose_mut())?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::new(*b"abcd", &[0x42; 32])
    }

    #[test]
    fn round_trip_and_layout() {
        let k = key();
        let env = seal(&k, b"sk_test_value", b"slot-1").unwrap();
        assert_eq!(env.len(), OVERHEAD + 13);
        assert_eq!(&env[..3], b"KS\x01");
        assert_eq!(&env[3..7], b"abcd");
        assert_eq!(
            open(&k, &env, b"slot-1").unwrap().expose(),
            b"sk_test_value"
        );
    }

    #[test]
    fn nonces_differ() {
        let k = key();
        let a = seal(&k, b"x", b"").unwrap();
        let b = seal(&k, b"x", b"").unwrap();
        assert_ne!(a[7..19], b[7..19]);
    }

    #[test]
    fn every_single_bit_flip_fails() {
        let k = key();
        let env = seal(&k, b"secret", b"ctx").unwrap();
        for i in 0..env.len() {
            for bit in 0..8 {
                let mut bad = env.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    matches!(open(&k, &bad, b"ctx"), Err(CoreError::Decryption)),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn truncation_context_and_key_checks() {
        let k = key();
        let env = seal(&k, b"secret", b"ctx").unwrap();
        for n in 0..env.len() {
            assert!(open(&k, &env[..n], b"ctx").is_err(), "truncated to {n}");
        }
        assert!(open(&k, &env, b"other").is_err());
        let other = SealingKey::new(*b"abcd", &[0x43; 32]);
        assert!(open(&other, &env, b"ctx").is_err());
    }

    /// Empty plaintexts, contexts at and past the stack buffer, and `seal_into`/`open_into` with
    /// right and wrong buffer sizes (cases found by mutation testing).
    #[test]
    fn sizes_at_the_edges() {
        let k = key();
        let empty = seal(&k, b"", b"ctx").unwrap();
        assert_eq!(empty.len(), OVERHEAD);
        assert_eq!(peek_key_id(&empty), Some(*b"abcd"));
        assert_eq!(open(&k, &empty, b"ctx").unwrap().expose(), b"");
        assert_eq!(peek_key_id(&empty[..OVERHEAD - 1]), None);
        for ctx_len in [
            0,
            1,
            256 - AAD_HEADER_LEN - 1,
            256 - AAD_HEADER_LEN,
            256 - AAD_HEADER_LEN + 1,
            4096,
        ] {
            let ctx = vec![b'c'; ctx_len];
            let env = seal(&k, b"value", &ctx).unwrap();
            assert_eq!(
                open(&k, &env, &ctx).unwrap().expose(),
                b"value",
                "context of {ctx_len}"
            );
            let mut other = ctx.clone();
            other.push(b'x');
            assert!(open(&k, &env, &other).is_err(), "context of {ctx_len}");
        }
        let mut out = vec![0u8; sealed_len(5)];
        assert_eq!(sealed_len(5), 5 + OVERHEAD);
        seal_into(&k, b"hello", b"c", &mut out).unwrap();
        assert_eq!(opened_len(&out), Some(5));
        let mut plain = [0u8; 5];
        open_into(&k, &out, b"c", &mut plain).unwrap();
        assert_eq!(&plain, b"hello");
        for wrong in [4, 6] {
            let mut buf = vec![0u8; wrong];
            assert!(matches!(
                open_into(&k, &out, b"c", &mut buf),
                Err(CoreError::Decryption)
            ));
        }
        assert_eq!(opened_len(&out[..OVERHEAD - 1]), None);
        // a key with another id refuses before any work
        let other = SealingKey::new(*b"wxyz", &[0x42; 32]);
        assert_eq!(other.id(), *b"wxyz");
        assert!(matches!(
            open(&other, &out, b"c"),
            Err(CoreError::Decryption)
        ));
        // peek checks magic and version
        let mut v2 = out.clone();
        v2[2] = 2;
        assert_eq!(peek_key_id(&v2), None);
        let mut magic = out.clone();
        magic[0] = b'X';
        assert_eq!(peek_key_id(&magic), None);
    }

    /// A fixed nonce gives a fixed envelope (the layout is the documented one byte for byte).
    #[test]
    fn fixed_nonce_layout() {
        let k = key();
        let nonce = [7u8; NONCE_LEN];
        let a = seal_with_nonce(&k, &nonce, b"abc", b"ctx");
        assert_eq!(a, seal_with_nonce(&k, &nonce, b"abc", b"ctx"));
        assert_eq!(&a[AAD_HEADER_LEN..HEADER_LEN], &nonce);
        assert_eq!(a.len(), HEADER_LEN + 3 + TAG_LEN);
        assert_ne!(
            &a[HEADER_LEN..HEADER_LEN + 3],
            b"abc",
            "the body is encrypted"
        );
        assert_eq!(open(&k, &a, b"ctx").unwrap().expose(), b"abc");
    }

    /// NIST GCM test vectors (McGrew and Viega, test cases 13-16, AES-256, 96-bit IV), shared with the
    /// Python tests through tests/vectors/aes_256_gcm.txt.
    #[test]
    fn known_answers() {
        let text = include_str!("../../tests/vectors/aes_256_gcm.txt");
        let mut checked = 0;
        for block in text.split("\n\n") {
            let field = |name: &str| -> Vec<u8> {
                let line = block
                    .lines()
                    .find(|l| l.starts_with(&format!("{name} = ")))
                    .unwrap();
                hex::decode(line.split(" = ").nth(1).unwrap().trim()).unwrap()
            };
            if !block.contains("Key = ") {
                continue;
            }
            let key_bytes: [u8; 32] = field("Key").try_into().unwrap();
            let iv: [u8; 12] = field("IV").try_into().unwrap();
            let (pt, aad_in, ct, tag) = (field("PT"), field("AAD"), field("CT"), field("Tag"));
            let cipher = Aes256Gcm::new((&key_bytes).into());
            let mut buf = pt.clone();
            let got = cipher
                .encrypt_inout_detached(
                    &Nonce::try_from(&iv[..]).unwrap(),
                    &aad_in,
                    buf.as_mut_slice().into(),
                )
                .unwrap();
            assert_eq!(buf, ct);
            assert_eq!(got.as_slice(), tag.as_slice());
            checked += 1;
        }
        assert!(checked >= 4, "only {checked} vectors found");
    }
}
