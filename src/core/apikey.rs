//! API keys: tokens shown once, kept in Redis only as a keyed digest inside a sealed record.
//!
//! Token text: `<prefix>_<key_id><secret><crc>`, base62 (`0-9A-Za-z`), key id 8 characters,
//! secret 32, crc 6 = CRC-32 of `<prefix>_<key_id><secret>` in base62 (GitHub's layout, over
//! the whole body so a key of one prefix cannot pass as another's).
//!
//! Storage, in the Vault's own format (so `Vault(namespace=<api keys namespace>).rewrap()`
//! re-seals it like any secret):
//! - name `k:<key_id>` (an opaque keyed Redis key, as every Vault name): the sealed record, the
//!   digest HMAC-SHA256(subkey, body) plus the metadata; its Redis TTL is the key's expiry.
//!   `verify` is one GET of it.
//! - name `o:<owner>`: the sealed list of the owner's key ids, for `list`; updated with a
//!   compare-and-swap, pruned of expired keys by `list`.
//!
//! The digest key is derived from the keyring's naming key, which `rotated()` keeps: issued keys
//! verify across key rotation.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::{CoreError, Result};
use super::naming::{validate_name, Namer};
use super::redact::checks::{base62, crc32};
use super::runtime::runtime;
use super::secret::SecretBytes;
use super::store::{Expiry, Store, Swap};
use super::vault::{vault_context, Vault};

pub const DEFAULT_PREFIX: &str = "ks";
pub const DEFAULT_NAMESPACE: &str = "apikeys";
pub const KEY_ID_LEN: usize = 8;
pub const SECRET_LEN: usize = 32;
pub const CRC_LEN: usize = 6;
/// Characters after `<prefix>_`.
pub const TAIL_LEN: usize = KEY_ID_LEN + SECRET_LEN + CRC_LEN;
pub const MAX_PREFIX_LEN: usize = 10;
/// `last_used_at` is written at most this often per key.
pub const LAST_USED_EVERY_MS: i64 = 60_000;
const MAX_SCOPES: usize = 256;
const MAX_FIELD_BYTES: usize = 1024;
const CAS_ATTEMPTS: usize = 64;
/// How long a revoked key's record outlives its revocation (for `list(include_revoked=True)` and
/// audits) before it expires; a key whose own expiry comes sooner keeps that. Without this, a key
/// issued without a ttl and then revoked would stay in the store, and in its owner's index, for ever.
pub const REVOKED_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// `issue` drops the ids of vanished records from the owner's index whenever the index reaches a
/// multiple of this many ids (`list` always does), so an owner who never lists stays bounded too.
const PRUNE_EVERY: usize = 32;
const RECORD_VERSION: u8 = 1;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `[a-z][a-z0-9]{1,9}`.
pub fn prefix_ok(prefix: &[u8]) -> bool {
    (2..=MAX_PREFIX_LEN).contains(&prefix.len())
        && prefix[0].is_ascii_lowercase()
        && prefix
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix_ok(prefix.as_bytes()) {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "prefix must be a lowercase letter then 1 to 9 lowercase letters or digits",
        ))
    }
}

/// The six checksum characters of a token body `<prefix>_<key_id><secret>`.
pub fn checksum(body: &[u8]) -> Vec<u8> {
    base62(crc32(body), CRC_LEN)
}

/// Whether `token` is a whole token of any valid prefix with a correct checksum: what the
/// redactor asks. Returns the prefix length.
pub fn token_ok(token: &[u8]) -> Option<usize> {
    let us = token.len().checked_sub(TAIL_LEN + 1)?;
    if token[us] != b'_' || !prefix_ok(&token[..us]) {
        return None;
    }
    let (body, crc) = token.split_at(token.len() - CRC_LEN);
    if !token[us + 1..].iter().all(|&b| is_base62(b)) {
        return None;
    }
    (checksum(body) == crc).then_some(us)
}

/// A token of this prefix, checked without any I/O: the key id, and the body the digest covers.
pub struct Parsed<'a> {
    pub key_id: &'a str,
    pub body: &'a [u8],
}

pub fn parse<'a>(token: &'a [u8], prefix: &str) -> Option<Parsed<'a>> {
    let us = token_ok(token)?;
    if &token[..us] != prefix.as_bytes() {
        return None;
    }
    let key_id = std::str::from_utf8(&token[us + 1..us + 1 + KEY_ID_LEN]).ok()?;
    Some(Parsed {
        key_id,
        body: &token[..token.len() - CRC_LEN],
    })
}

pub fn key_id_ok(key_id: &str) -> bool {
    key_id.len() == KEY_ID_LEN && key_id.bytes().all(is_base62)
}

fn random_base62(n: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf)
            .map_err(|_| CoreError::config("the operating system's random source failed"))?;
        // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() < n {
                out.push(BASE62[(b % 62) as usize]);
            }
        }
    }
    Ok(out)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What callers see of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub key_id: String,
    pub owner: String,
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    pub label: Option<String>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    /// Revoked at (or, during a rotation's grace, to be revoked at) this time.
    pub revoked_ms: Option<i64>,
    /// Lowercase hex SHA-256 of the bound client certificate, no separators.
    pub client_cert: Option<String>,
    /// The ttl the key was issued with, for `rotate`.
    pub ttl_ms: Option<u64>,
}

impl KeyInfo {
    pub fn revoked_at(&self, now: i64) -> bool {
        self.revoked_ms.is_some_and(|t| t <= now)
    }
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires_ms.is_some_and(|t| t <= now)
    }
}

/// The sealed record: the digest plus the metadata.
#[derive(Clone)]
struct Record {
    digest: [u8; 32],
    info: KeyInfo,
}

// ---- record encoding: version, digest, then fields; read only after the envelope verified.

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}
fn put_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => out.push(0),
        Some(x) => {
            out.push(1);
            out.extend_from_slice(&x.to_be_bytes());
        }
    }
}
fn put_opt_str(out: &mut Vec<u8>, v: &Option<String>) {
    match v {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(CoreError::Decryption);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CoreError::Decryption)
    }
    fn opt_i64(&mut self) -> Result<Option<i64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.i64()?)),
            _ => Err(CoreError::Decryption),
        }
    }
    fn opt_str(&mut self) -> Result<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err(CoreError::Decryption),
        }
    }
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let i = &self.info;
        let mut out = Vec::with_capacity(128);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.digest);
        put_str(&mut out, &i.key_id);
        put_str(&mut out, &i.owner);
        out.extend_from_slice(&(i.scopes.len() as u32).to_be_bytes());
        for s in &i.scopes {
            put_str(&mut out, s);
        }
        put_opt_str(&mut out, &i.label);
        out.extend_from_slice(&i.created_ms.to_be_bytes());
        put_opt_i64(&mut out, i.expires_ms);
        put_opt_i64(&mut out, i.last_used_ms);
        put_opt_i64(&mut out, i.revoked_ms);
        put_opt_str(&mut out, &i.client_cert);
        put_opt_i64(&mut out, i.ttl_ms.map(|t| t as i64));
        out
    }

    fn decode(data: &[u8]) -> Result<Self> {
        let mut r = Reader(data);
        if r.u8()? != RECORD_VERSION {
            return Err(CoreError::Decryption);
        }
        let digest: [u8; 32] = r.take(32)?.try_into().expect("32");
        let key_id = r.str()?;
        let owner = r.str()?;
        let n = r.u32()? as usize;
        if n > MAX_SCOPES {
            return Err(CoreError::Decryption);
        }
        let scopes = (0..n).map(|_| r.str()).collect::<Result<Vec<_>>>()?;
        let info = KeyInfo {
            key_id,
            owner,
            scopes,
            label: r.opt_str()?,
            created_ms: r.i64()?,
            expires_ms: r.opt_i64()?,
            last_used_ms: r.opt_i64()?,
            revoked_ms: r.opt_i64()?,
            client_cert: r.opt_str()?,
            ttl_ms: r.opt_i64()?.map(|t| t as u64),
        };
        if !r.0.is_empty() {
            return Err(CoreError::Decryption);
        }
        Ok(Self { digest, info })
    }
}

/// A client certificate fingerprint as stored: lowercase hex, colons and case ignored.
pub fn normalize_fingerprint(fp: &str) -> Result<String> {
    let hex: String = fp
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CoreError::invalid(
            "client_cert must be a SHA-256 fingerprint: 64 hex digits, colons allowed",
        ));
    }
    Ok(hex)
}

/// Scopes as given: non-empty, bounded, printable, no whitespace. Sorted and deduplicated.
pub fn normalize_scopes(scopes: &[String]) -> Result<Vec<String>> {
    if scopes.len() > MAX_SCOPES {
        return Err(CoreError::invalid(format!(
            "at most {MAX_SCOPES} scopes per key"
        )));
    }
    for s in scopes {
        if s.is_empty() || s.len() > 128 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CoreError::invalid(
                "every scope must be 1 to 128 characters without whitespace or control characters",
            ));
        }
    }
    let mut v = scopes.to_vec();
    v.sort();
    v.dedup();
    Ok(v)
}

fn validate_owner(owner: &str) -> Result<()> {
    validate_name(owner).map_err(|_| {
        CoreError::invalid(
            "owner must be 1 to 1024 bytes, without control characters or surrounding whitespace",
        )
    })
}

fn validate_label(label: &Option<String>) -> Result<()> {
    if let Some(l) = label {
        if l.len() > MAX_FIELD_BYTES || l.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "label must be at most 1024 bytes, without control characters",
            ));
        }
    }
    Ok(())
}

/// Why a verification failed, before it is flattened into the public errors.
fn invalid() -> CoreError {
    CoreError::InvalidApiKey { certificate: false }
}

/// What `issue` returns: the token (the only time it exists) and the key's metadata.
pub struct Issued {
    pub token: SecretBytes,
    pub info: KeyInfo,
}

/// A presented client certificate, for keys bound to one.
pub enum Presented<'a> {
    None,
    Fingerprint(&'a str),
}

pub struct IssueArgs {
    pub owner: String,
    pub scopes: Vec<String>,
    pub ttl: Option<Duration>,
    pub label: Option<String>,
    pub client_cert: Option<String>,
}

pub struct ApiKeys {
    vault: Arc<Vault>,
    prefix: String,
    namespace: String,
    namer: Namer,
    digest_key: Hmac<Sha256>,
}

impl ApiKeys {
    pub fn new(vault: Arc<Vault>, prefix: &str, namespace: &str) -> Result<Self> {
        validate_prefix(prefix)?;
        let ring = vault.keyring();
        let namer = Namer::new(ring.name_key(), &vault.config().key_prefix, namespace)?;
        let sub = ring.derive_subkey(b"apikeys digest v1");
        let digest_key =
            <Hmac<Sha256> as KeyInit>::new_from_slice(sub.expose()).expect("any key length");
        super::redact::apikey::register_prefix(prefix);
        Ok(Self {
            vault,
            prefix: prefix.to_owned(),
            namespace: namespace.to_owned(),
            namer,
            digest_key,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn store(&self) -> Result<Store> {
        self.vault.store()
    }

    fn digest(&self, body: &[u8]) -> [u8; 32] {
        let mut m = self.digest_key.clone();
        m.update(body);
        m.finalize().into_bytes().into()
    }

    fn record_key(&self, key_id: &str) -> Vec<u8> {
        self.namer
            .key(&format!("k:{key_id}"))
            .expect("key ids are valid names")
    }
    fn owner_key(&self, owner: &str) -> Result<Vec<u8>> {
        validate_owner(owner)?;
        self.namer.key(&format!("o:{owner}"))
    }

    fn seal(&self, key: &[u8], record: &Record) -> Result<Vec<u8>> {
        let plain = SecretBytes::new(record.encode());
        self.vault
            .keyring()
            .seal(plain.expose(), &vault_context(key))
    }
    fn open(&self, key: &[u8], env: &[u8]) -> Result<Record> {
        let plain = self.vault.keyring().open(env, &vault_context(key))?;
        Record::decode(plain.expose())
    }

    // ---- verify ------------------------------------------------------------------------------

    /// Everything about a verification but the read: the parsed token, then the judgement of
    /// what the store returned.
    fn judge(
        &self,
        parsed: &Parsed<'_>,
        key: Vec<u8>,
        env: Option<Vec<u8>>,
        scopes: &[String],
        cert: Presented<'_>,
    ) -> Result<(KeyInfo, Option<Swap>)> {
        let env = env.ok_or_else(invalid)?;
        let record = match self.open(&key, &env) {
            Ok(r) => r,
            Err(CoreError::Decryption) => {
                log::warn!("an API key record could not be opened with this keyring (tampered, or sealed under a retired key)");
                return Err(invalid());
            }
            Err(e) => return Err(e),
        };
        let digest = self.digest(parsed.body);
        let same_digest: bool = digest.ct_eq(&record.digest).into();
        let now = now_ms();
        let info = &record.info;
        if !same_digest
            || info.key_id != parsed.key_id
            || info.expired_at(now)
            || info.revoked_at(now)
        {
            return Err(invalid());
        }
        if let Some(bound) = &info.client_cert {
            let ok = match cert {
                Presented::None => false,
                Presented::Fingerprint(fp) => normalize_fingerprint(fp)
                    .map(|fp| bool::from(fp.as_bytes().ct_eq(bound.as_bytes())))
                    .unwrap_or(false),
            };
            if !ok {
                return Err(CoreError::InvalidApiKey { certificate: true });
            }
        }
        let missing: Vec<String> = scopes
            .iter()
            .filter(|s| info.scopes.binary_search(s).is_err())
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            return Err(CoreError::InsufficientScope(missing));
        }
        let touch = info
            .last_used_ms
            .is_none_or(|t| now - t >= LAST_USED_EVERY_MS || now < t);
        let swap = if touch {
            let mut updated = record.clone();
            updated.info.last_used_ms = Some(now);
            Some(Swap {
                new: self.seal(&key, &updated)?,
                key,
                old: env,
            })
        } else {
            None
        };
        let mut info = record.info;
        if swap.is_some() {
            info.last_used_ms = Some(now);
        }
        Ok((info, swap))
    }

    /// The `last_used_at` write runs in the background: verify answers after its one read.
    fn touch_later(&self, store: Store, swap: Option<Swap>) {
        if let Some(swap) = swap {
            runtime().spawn(async move {
                if let Err(e) = store.aswap_many(&[swap]).await {
                    log::warn!("could not record an API key's last use: {e}");
                }
            });
        }
    }

    pub fn verify(&self, token: &[u8], scopes: &[String], cert: Presented<'_>) -> Result<KeyInfo> {
        let parsed = parse(token, &self.prefix).ok_or_else(invalid)?;
        let key = self.record_key(parsed.key_id);
        let store = self.store()?;
        let env = store
            .get_many(std::slice::from_ref(&key), self.vault.max_envelope_size())?
            .pop()
            .flatten();
        let (info, swap) = self.judge(&parsed, key, env, scopes, cert)?;
        self.touch_later(store, swap);
        Ok(info)
    }

    pub async fn averify(
        &self,
        token: &[u8],
        scopes: &[String],
        cert: Presented<'_>,
    ) -> Result<KeyInfo> {
        let parsed = parse(token, &self.prefix).ok_or_else(invalid)?;
        let key = self.record_key(parsed.key_id);
        let store = self.store()?;
        let env = store
            .aget_many(std::slice::from_ref(&key), self.vault.max_envelope_size())
            .await?
            .pop()
            .flatten();
        let (info, swap) = self.judge(&parsed, key, env, scopes, cert)?;
        self.touch_later(store, swap);
        Ok(info)
    }

    // ---- issue -------------------------------------------------------------------------------

    fn new_token(&self) -> Result<(String, SecretBytes, [u8; 32])> {
        let mut body = Vec::with_capacity(self.prefix.len() + 1 + TAIL_LEN);
        body.extend_from_slice(self.prefix.as_bytes());
        body.push(b'_');
        let key_id = random_base62(KEY_ID_LEN)?;
        body.extend_from_slice(&key_id);
        let mut secret = zeroize::Zeroizing::new(random_base62(SECRET_LEN)?);
        body.extend_from_slice(&secret);
        zeroize::Zeroize::zeroize(&mut *secret);
        let digest = self.digest(&body);
        let crc = checksum(&body);
        body.extend_from_slice(&crc);
        let key_id = String::from_utf8(key_id).expect("base62 is ASCII");
        Ok((key_id, SecretBytes::new(body), digest))
    }

    pub async fn aissue(&self, args: IssueArgs) -> Result<Issued> {
        validate_owner(&args.owner)?;
        let scopes = normalize_scopes(&args.scopes)?;
        validate_label(&args.label)?;
        let client_cert = args
            .client_cert
            .as_deref()
            .map(normalize_fingerprint)
            .transpose()?;
        let ttl_ms = match args.ttl {
            None => None,
            Some(d) if d.as_millis() >= 1 => Some(d.as_millis() as u64),
            Some(_) => {
                return Err(CoreError::invalid(
                    "ttl must be at least one millisecond (None: no expiry)",
                ))
            }
        };
        let store = self.store()?;
        // A key id collision (62^8 ids) is improbable; SET NX makes it harmless anyway.
        for _ in 0..8 {
            let (key_id, token, digest) = self.new_token()?;
            let now = now_ms();
            let info = KeyInfo {
                key_id: key_id.clone(),
                owner: args.owner.clone(),
                scopes: scopes.clone(),
                label: args.label.clone(),
                created_ms: now,
                expires_ms: ttl_ms.map(|t| now + t as i64),
                last_used_ms: None,
                revoked_ms: None,
                client_cert: client_cert.clone(),
                ttl_ms,
            };
            let key = self.record_key(&key_id);
            let env = self.seal(&key, &Record { digest, info })?;
            let expiry = ttl_ms.map_or(Expiry::Never, |t| Expiry::After(Duration::from_millis(t)));
            if !store.aadd(&key, &env, expiry).await? {
                continue;
            }
            let info = self.open(&key, &env)?.info;
            let mut snapshot = Vec::new();
            self.aedit_index(&store, &args.owner, |ids| {
                ids.push(key_id.clone());
                snapshot.clone_from(ids);
                true
            })
            .await?;
            if snapshot.len().is_multiple_of(PRUNE_EVERY) {
                // Best effort, like list's: the key is issued whatever happens here.
                if let Ok(gone) = self.agone(&store, &snapshot).await {
                    let _ = self.aprune_index(&store, &args.owner, &gone).await;
                }
            }
            return Ok(Issued { token, info });
        }
        Err(CoreError::config(
            "could not find a free API key id: the random source looks broken",
        ))
    }

    pub fn issue(&self, args: IssueArgs) -> Result<Issued> {
        runtime().block_on(self.aissue(args))
    }

    // ---- owner index -------------------------------------------------------------------------

    fn decode_index(plain: &[u8]) -> Result<Vec<String>> {
        if !plain.len().is_multiple_of(KEY_ID_LEN) {
            return Err(CoreError::Decryption);
        }
        plain
            .chunks(KEY_ID_LEN)
            .map(|c| {
                std::str::from_utf8(c)
                    .ok()
                    .filter(|s| key_id_ok(s))
                    .map(str::to_owned)
                    .ok_or(CoreError::Decryption)
            })
            .collect()
    }

    async fn aread_index(
        &self,
        store: &Store,
        owner: &str,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>, Vec<String>)> {
        let key = self.owner_key(owner)?;
        let env = store
            .aget_many(std::slice::from_ref(&key), self.vault.max_envelope_size())
            .await?
            .pop()
            .flatten();
        let ids = match &env {
            None => Vec::new(),
            Some(e) => {
                Self::decode_index(self.vault.keyring().open(e, &vault_context(&key))?.expose())?
            }
        };
        Ok((key, env, ids))
    }

    /// Read-modify-write of an owner's index as a compare-and-swap loop; `edit` returns whether
    /// it changed anything.
    async fn aedit_index(
        &self,
        store: &Store,
        owner: &str,
        mut edit: impl FnMut(&mut Vec<String>) -> bool,
    ) -> Result<()> {
        for _ in 0..CAS_ATTEMPTS {
            let (key, env, mut ids) = self.aread_index(store, owner).await?;
            if !edit(&mut ids) {
                return Ok(());
            }
            let plain = SecretBytes::new(ids.concat().into_bytes());
            let new = self
                .vault
                .keyring()
                .seal(plain.expose(), &vault_context(&key))?;
            let done = match env {
                None => store.aadd(&key, &new, Expiry::Never).await?,
                Some(old) => {
                    store
                        .aswap_many(&[Swap {
                            key: key.clone(),
                            old,
                            new,
                        }])
                        .await?
                        == 1
                }
            };
            if done {
                return Ok(());
            }
        }
        Err(CoreError::store(
            super::error::StoreErrorKind::Server,
            "an API key owner index kept changing under concurrent writers; try again",
        ))
    }

    /// The ids among `ids` whose record is gone (expired, or revoked past the retention).
    async fn agone(&self, store: &Store, ids: &[String]) -> Result<Vec<String>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|i| self.record_key(i)).collect();
        // One byte of each record is enough to tell which are gone.
        let found = store.aget_many(&keys, 0).await?;
        Ok(ids
            .iter()
            .zip(found)
            .filter(|(_, f)| f.is_none())
            .map(|(i, _)| i.clone())
            .collect())
    }

    /// Drop `gone` from the owner's index (nothing to do when it is empty).
    async fn aprune_index(&self, store: &Store, owner: &str, gone: &[String]) -> Result<()> {
        if gone.is_empty() {
            return Ok(());
        }
        self.aedit_index(store, owner, |ids| {
            let before = ids.len();
            ids.retain(|i| !gone.contains(i));
            ids.len() != before
        })
        .await
    }

    // ---- read --------------------------------------------------------------------------------

    pub async fn aget(&self, key_id: &str) -> Result<Option<KeyInfo>> {
        if !key_id_ok(key_id) {
            return Err(CoreError::invalid(
                "key_id must be 8 base62 characters (0-9, A-Z, a-z)",
            ));
        }
        let key = self.record_key(key_id);
        let env = self
            .store()?
            .aget_many(std::slice::from_ref(&key), self.vault.max_envelope_size())
            .await?
            .pop()
            .flatten();
        env.map(|e| self.open(&key, &e).map(|r| r.info)).transpose()
    }

    pub fn get(&self, key_id: &str) -> Result<Option<KeyInfo>> {
        runtime().block_on(self.aget(key_id))
    }

    /// The owner's keys, newest first. Ids whose record is gone (expired, or revoked more than
    /// `REVOKED_RETENTION` ago) are dropped from the index.
    pub async fn alist(&self, owner: &str, include_revoked: bool) -> Result<Vec<KeyInfo>> {
        let store = self.store()?;
        let (_, _, ids) = self.aread_index(&store, owner).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Vec<u8>> = ids.iter().map(|i| self.record_key(i)).collect();
        let envs = store
            .aget_many(&keys, self.vault.max_envelope_size())
            .await?;
        let mut gone = Vec::new();
        let mut out = Vec::new();
        let now = now_ms();
        for ((id, key), env) in ids.iter().zip(&keys).zip(envs) {
            match env {
                None => gone.push(id.clone()),
                Some(e) => {
                    let info = self.open(key, &e)?.info;
                    if info.expired_at(now) {
                        continue;
                    }
                    if include_revoked || !info.revoked_at(now) {
                        out.push(info);
                    }
                }
            }
        }
        // Best effort: a failed prune is retried by the next list.
        let _ = self.aprune_index(&store, owner, &gone).await;
        out.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| b.key_id.cmp(&a.key_id))
        });
        Ok(out)
    }

    pub fn list(&self, owner: &str, include_revoked: bool) -> Result<Vec<KeyInfo>> {
        runtime().block_on(self.alist(owner, include_revoked))
    }

    // ---- revoke and rotate -------------------------------------------------------------------

    /// Set the record's revocation time to `at` (keeping an earlier one) with a compare-and-swap
    /// that keeps the key's TTL but caps it at `REVOKED_RETENTION` past the revocation. Returns
    /// the record as it was, or None if there is none.
    async fn aset_revoked(&self, store: &Store, key_id: &str, at: i64) -> Result<Option<KeyInfo>> {
        let key = self.record_key(key_id);
        for _ in 0..CAS_ATTEMPTS {
            let Some(env) = store
                .aget_many(std::slice::from_ref(&key), self.vault.max_envelope_size())
                .await?
                .pop()
                .flatten()
            else {
                return Ok(None);
            };
            let record = self.open(&key, &env)?;
            let mut updated = record.clone();
            let revoked = record.info.revoked_ms.map_or(at, |t| t.min(at));
            updated.info.revoked_ms = Some(revoked);
            // Unchanged (revoked already), the record is still written back with the cap: a
            // record revoked before the cap existed gets its expiry this way.
            let new = if updated.info.revoked_ms == record.info.revoked_ms {
                env.clone()
            } else {
                self.seal(&key, &updated)?
            };
            let until_revoked = u64::try_from(revoked.saturating_sub(now_ms())).unwrap_or(0);
            let keep = Duration::from_millis(until_revoked).saturating_add(REVOKED_RETENTION);
            let swap = Swap {
                key: key.clone(),
                old: env,
                new,
            };
            if store.aswap_capped(&swap, keep).await? {
                return Ok(Some(record.info));
            }
        }
        Err(CoreError::store(
            super::error::StoreErrorKind::Server,
            "an API key record kept changing under concurrent writers; try again",
        ))
    }

    /// True if the key existed, was live and is now revoked.
    pub async fn arevoke(&self, key_id: &str) -> Result<bool> {
        if !key_id_ok(key_id) {
            return Err(CoreError::invalid(
                "key_id must be 8 base62 characters (0-9, A-Z, a-z)",
            ));
        }
        let now = now_ms();
        let store = self.store()?;
        Ok(self
            .aset_revoked(&store, key_id, now)
            .await?
            .is_some_and(|before| !before.revoked_at(now) && !before.expired_at(now)))
    }

    pub fn revoke(&self, key_id: &str) -> Result<bool> {
        runtime().block_on(self.arevoke(key_id))
    }

    /// A new key with the same owner, scopes, label and binding, and the old ttl counted from
    /// now; the old key keeps verifying for `grace`.
    pub async fn arotate(&self, key_id: &str, grace: Duration) -> Result<Issued> {
        let old = if key_id_ok(key_id) {
            self.aget(key_id).await?
        } else {
            None
        };
        let now = now_ms();
        let old = old
            .filter(|o| !o.revoked_at(now) && !o.expired_at(now))
            .ok_or_else(invalid)?;
        let issued = self
            .aissue(IssueArgs {
                owner: old.owner.clone(),
                scopes: old.scopes.clone(),
                ttl: old.ttl_ms.map(Duration::from_millis),
                label: old.label.clone(),
                client_cert: old.client_cert.clone(),
            })
            .await?;
        let at = now_ms().saturating_add(grace.as_millis().min(i64::MAX as u128) as i64);
        self.aset_revoked(&self.store()?, key_id, at).await?;
        Ok(issued)
    }

    pub fn rotate(&self, key_id: &str, grace: Duration) -> Result<Issued> {
        runtime().block_on(self.arotate(key_id, grace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keyring::Keyring;
    use crate::core::store::url::Options;
    use crate::core::store::Ttl;
    use crate::core::vault::VaultConfig;

    fn keys(ring: &Keyring, store: &str) -> ApiKeys {
        let v = Vault::open(
            &format!("memory://{store}"),
            &Options::default(),
            ring.clone(),
            VaultConfig::default(),
        )
        .unwrap();
        ApiKeys::new(Arc::new(v), "ks", "apikeys").unwrap()
    }

    fn args(owner: &str, scopes: &[&str]) -> IssueArgs {
        IssueArgs {
            owner: owner.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ttl: None,
            label: None,
            client_cert: None,
        }
    }

    #[test]
    fn token_format_and_checksum() {
        let ak = keys(&Keyring::generate().unwrap(), "fmt");
        let issued = ak.issue(args("alice", &["read"])).unwrap();
        let t = issued.token.expose();
        assert_eq!(t.len(), 3 + TAIL_LEN);
        assert!(t.starts_with(b"ks_"));
        assert_eq!(token_ok(t), Some(2));
        let p = parse(t, "ks").unwrap();
        assert_eq!(p.key_id, issued.info.key_id);
        assert!(parse(t, "kt").is_none());
        let mut bad = t.to_vec();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert!(token_ok(&bad).is_none());
        // A known answer, computed by hand: CRC-32("ks_" + "0"*40) in base62.
        let body = format!("ks_{}", "0".repeat(40));
        let crc = crc32(body.as_bytes());
        assert_eq!(checksum(body.as_bytes()), base62(crc, 6));
    }

    #[test]
    fn verify_scopes_revoke_rotate() {
        let ring = Keyring::generate().unwrap();
        let ak = keys(&ring, "flow");
        let issued = ak.issue(args("alice", &["read", "write"])).unwrap();
        let t = issued.token.expose().to_vec();
        let info = ak.verify(&t, &["read".into()], Presented::None).unwrap();
        assert_eq!(info.owner, "alice");
        assert!(matches!(
            ak.verify(&t, &["admin".into(), "read".into()], Presented::None),
            Err(CoreError::InsufficientScope(m)) if m == vec!["admin".to_string()]
        ));
        // Survives rotation of the keyring (same naming key).
        let ak2 = keys(&ring.rotated().unwrap(), "flow");
        assert!(ak2.verify(&t, &[], Presented::None).is_ok());
        let new = ak.rotate(&info.key_id, Duration::ZERO).unwrap();
        assert!(ak.verify(&t, &[], Presented::None).is_err());
        assert!(ak.verify(new.token.expose(), &[], Presented::None).is_ok());
        assert!(ak.revoke(&new.info.key_id).unwrap());
        assert!(!ak.revoke(&new.info.key_id).unwrap());
        assert!(ak
            .get(&new.info.key_id)
            .unwrap()
            .unwrap()
            .revoked_at(now_ms()));
        assert_eq!(ak.list("alice", true).unwrap().len(), 2);
        assert_eq!(ak.list("alice", false).unwrap().len(), 0);
    }

    fn remaining(ak: &ApiKeys, key_id: &str) -> Ttl {
        ak.store().unwrap().ttl(&ak.record_key(key_id)).unwrap()
    }

    fn index(ak: &ApiKeys, owner: &str) -> Vec<String> {
        let store = ak.store().unwrap();
        runtime().block_on(ak.aread_index(&store, owner)).unwrap().2
    }

    #[test]
    fn revoked_records_expire_and_vanished_ids_are_pruned() {
        let ak = keys(&Keyring::generate().unwrap(), "retention");
        let day = Duration::from_secs(24 * 3600);
        // No ttl: the record never expires until it is revoked, then after the retention.
        let a = ak.issue(args("carol", &[])).unwrap().info.key_id;
        assert_eq!(remaining(&ak, &a), Ttl::Forever);
        assert!(ak.revoke(&a).unwrap());
        assert!(matches!(remaining(&ak, &a),
            Ttl::Remaining(d) if d <= REVOKED_RETENTION && d > REVOKED_RETENTION - day));
        // A shorter ttl of its own is kept.
        let mut short = args("carol", &[]);
        short.ttl = Some(Duration::from_secs(100));
        let b = ak.issue(short).unwrap().info.key_id;
        assert!(ak.revoke(&b).unwrap());
        assert!(matches!(remaining(&ak, &b), Ttl::Remaining(d) if d <= Duration::from_secs(100)));
        // Rotation: retention counted from the end of the grace.
        let c = ak.issue(args("carol", &[])).unwrap().info.key_id;
        ak.rotate(&c, 2 * day).unwrap();
        assert!(matches!(remaining(&ak, &c),
            Ttl::Remaining(d) if d > REVOKED_RETENTION + day && d <= REVOKED_RETENTION + 2 * day));
        // A record revoked with no expiry (as before the cap) gets one when revoked again.
        let store = ak.store().unwrap();
        assert!(store.touch(&ak.record_key(&a), Expiry::Never).unwrap());
        assert!(!ak.revoke(&a).unwrap());
        assert!(matches!(remaining(&ak, &a), Ttl::Remaining(d) if d <= REVOKED_RETENTION));

        // A vanished record's id leaves the index at the next list.
        assert_eq!(index(&ak, "carol").len(), 4);
        assert!(store.delete(&ak.record_key(&a)).unwrap());
        assert_eq!(index(&ak, "carol").len(), 4);
        assert_eq!(ak.list("carol", true).unwrap().len(), 3);
        assert!(!index(&ak, "carol").contains(&a));
        assert_eq!(index(&ak, "carol").len(), 3);
    }

    #[test]
    fn issue_prunes_the_index_every_so_often() {
        let ak = keys(&Keyring::generate().unwrap(), "prune");
        let first = ak.issue(args("dave", &[])).unwrap().info.key_id;
        assert!(ak.store().unwrap().delete(&ak.record_key(&first)).unwrap());
        for _ in 1..PRUNE_EVERY - 1 {
            ak.issue(args("dave", &[])).unwrap();
        }
        assert_eq!(index(&ak, "dave").len(), PRUNE_EVERY - 1);
        assert!(index(&ak, "dave").contains(&first));
        ak.issue(args("dave", &[])).unwrap();
        let ids = index(&ak, "dave");
        assert_eq!(ids.len(), PRUNE_EVERY - 1);
        assert!(!ids.contains(&first));
    }

    #[test]
    fn record_round_trip_and_garbage() {
        let r = Record {
            digest: [7; 32],
            info: KeyInfo {
                key_id: "abcdEFGH".into(),
                owner: "o".into(),
                scopes: vec!["a".into(), "b".into()],
                label: Some("l".into()),
                created_ms: 1,
                expires_ms: Some(2),
                last_used_ms: None,
                revoked_ms: Some(3),
                client_cert: Some("ab".repeat(32)),
                ttl_ms: Some(1),
            },
        };
        let enc = r.encode();
        assert_eq!(Record::decode(&enc).unwrap().info, r.info);
        for n in 0..enc.len() {
            assert!(Record::decode(&enc[..n]).is_err());
        }
    }

    /// A well-formed token of `prefix` with the given key id and secret.
    fn token_of(prefix: &str, key_id: &str, secret: &str) -> Vec<u8> {
        let mut t = format!("{prefix}_{key_id}{secret}").into_bytes();
        let crc = checksum(&t);
        t.extend_from_slice(&crc);
        t
    }

    #[test]
    fn prefixes_are_lowercase_letter_then_up_to_nine_more() {
        for ok in ["ks", "a1", "abcdefghij", "x0y9"] {
            assert!(prefix_ok(ok.as_bytes()), "{ok}");
            assert!(validate_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["", "k", "abcdefghijk", "1k", "Ks", "kS", "k_", "k-s", "é1"] {
            assert!(!prefix_ok(bad.as_bytes()), "{bad}");
            let e = validate_prefix(bad).unwrap_err();
            assert!(matches!(e, CoreError::Invalid(_)), "{bad}");
        }
    }

    /// `token_ok` accepts exactly `<prefix>_<40 base62><crc>` and nothing around it.
    #[test]
    fn token_shape_is_checked_exactly() {
        let secret = "s".repeat(SECRET_LEN);
        let t = token_of("ks", "AbCd0123", &secret);
        assert_eq!(t.len(), 3 + TAIL_LEN);
        assert_eq!(token_ok(&t), Some(2));
        let long = token_of("abcdefghij", "AbCd0123", &secret);
        assert_eq!(token_ok(&long), Some(10));
        let p = parse(&long, "abcdefghij").unwrap();
        assert_eq!(p.key_id, "AbCd0123");
        assert_eq!(p.body, &long[..long.len() - CRC_LEN]);
        assert!(parse(&long, "abcdefghi").is_none());
        // too short: no room for a prefix; one character missing; one extra
        assert_eq!(token_ok(b""), None);
        assert_eq!(token_ok(&t[1..]), None);
        assert_eq!(token_ok(&t[..t.len() - 1]), None);
        let mut extra = t.clone();
        extra.push(b'0');
        assert_eq!(token_ok(&extra), None);
        // the underscore must sit right after the prefix
        let mut no_us = t.clone();
        no_us[2] = b'x';
        assert_eq!(token_ok(&no_us), None);
        // a non-base62 byte in the tail fails even with a matching checksum
        let dash = token_of("ks", "AbCd-123", &secret);
        assert_eq!(token_ok(&dash), None);
        let under = token_of("ks", "AbCd_123", &secret);
        assert_eq!(token_ok(&under), None);
        // a bad prefix fails even with a matching checksum
        assert_eq!(token_ok(&token_of("Ks", "AbCd0123", &secret)), None);
        // the checksum covers the prefix: another prefix's checksum does not pass
        let mut moved = token_of("kt", "AbCd0123", &secret);
        moved[1] = b's';
        assert_eq!(token_ok(&moved), None);
        // every single-character change in the tail is caught by the checksum
        for i in 3..t.len() {
            let mut bad = t.clone();
            bad[i] = if bad[i] == b'Q' { b'R' } else { b'Q' };
            assert_eq!(token_ok(&bad), None, "position {i}");
        }
    }

    #[test]
    fn key_ids_are_eight_base62_characters() {
        assert!(key_id_ok("AbCd0123"));
        for bad in [
            "",
            "AbCd012",
            "AbCd01234",
            "AbCd-123",
            "AbCd 123",
            "AbCdé12",
        ] {
            assert!(!key_id_ok(bad), "{bad}");
        }
        let drawn = random_base62(1000).unwrap();
        assert_eq!(drawn.len(), 1000);
        assert!(drawn.iter().all(|&b| is_base62(b)));
        // every character of the alphabet turns up in a long draw, and only those
        let seen: std::collections::BTreeSet<u8> = drawn.iter().copied().collect();
        assert_eq!(seen.len(), 62);
        assert_eq!(random_base62(0).unwrap(), b"");
        assert_eq!(random_base62(65).unwrap().len(), 65);
    }

    #[test]
    fn fingerprints_scopes_owners_and_labels() {
        let hex = "ab".repeat(32);
        assert_eq!(normalize_fingerprint(&hex).unwrap(), hex);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(normalize_fingerprint(&colons).unwrap(), hex);
        for bad in [
            "ab".repeat(31),
            "ab".repeat(33),
            format!("{}zz", "ab".repeat(31)),
            format!("{} ", "ab".repeat(32)),
        ] {
            assert!(matches!(
                normalize_fingerprint(&bad),
                Err(CoreError::Invalid(_))
            ));
        }

        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_scopes(&v(&["write", "read", "write"])).unwrap(),
            v(&["read", "write"])
        );
        assert_eq!(normalize_scopes(&[]).unwrap(), Vec::<String>::new());
        let at_limit = v(&["s".repeat(128).as_str()]);
        assert!(normalize_scopes(&at_limit).is_ok());
        for bad in ["", "a b", "tab\t", "nl\n", &"s".repeat(129)] {
            assert!(normalize_scopes(&v(&[bad])).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..MAX_SCOPES).map(|i| format!("s{i}")).collect();
        assert_eq!(normalize_scopes(&many).unwrap().len(), MAX_SCOPES);
        let too_many: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect();
        assert!(normalize_scopes(&too_many)
            .unwrap_err()
            .to_string()
            .contains("at most 256"));

        assert!(validate_owner("alice").is_ok());
        for bad in ["", " alice", "al\nice"] {
            assert!(validate_owner(bad)
                .unwrap_err()
                .to_string()
                .starts_with("owner must"));
        }
        assert!(validate_label(&None).is_ok());
        assert!(validate_label(&Some("x".repeat(MAX_FIELD_BYTES))).is_ok());
        assert!(validate_label(&Some("x".repeat(MAX_FIELD_BYTES + 1))).is_err());
        assert!(validate_label(&Some("a\u{7}b".into())).is_err());
        assert!(validate_label(&Some(" spaces are fine ".into())).is_ok());
    }

    #[test]
    fn expiry_and_revocation_are_inclusive_of_their_instant() {
        let mut info = Record::decode(&sample().encode()).unwrap().info;
        info.expires_ms = Some(100);
        info.revoked_ms = Some(50);
        assert!(!info.expired_at(99) && info.expired_at(100));
        assert!(!info.revoked_at(49) && info.revoked_at(50));
        info.expires_ms = None;
        info.revoked_ms = None;
        assert!(!info.expired_at(i64::MAX) && !info.revoked_at(i64::MAX));
        assert!(now_ms() > 1_700_000_000_000);
    }

    fn sample() -> Record {
        Record {
            digest: [7; 32],
            info: KeyInfo {
                key_id: "abcdEFGH".into(),
                owner: "o".into(),
                scopes: vec!["a".into()],
                label: None,
                created_ms: 1,
                expires_ms: None,
                last_used_ms: Some(5),
                revoked_ms: None,
                client_cert: None,
                ttl_ms: None,
            },
        }
    }

    /// Records that decode to garbage are refused as a decryption failure: a wrong version, an
    /// option tag other than 0 or 1, too many scopes, bytes that are not UTF-8, trailing bytes.
    #[test]
    fn record_decoding_refuses_malformed_fields() {
        let enc = sample().encode();
        let back = Record::decode(&enc).unwrap();
        assert_eq!(back.info, sample().info);
        assert_eq!(back.digest, [7; 32]);
        let refused = |bytes: &[u8]| matches!(Record::decode(bytes), Err(CoreError::Decryption));
        let mut v = enc.clone();
        v[0] = RECORD_VERSION + 1;
        assert!(refused(&v));
        let mut trailing = enc.clone();
        trailing.push(0);
        assert!(refused(&trailing));
        // the label tag follows the single scope: version, digest, 3 strings, count
        let label_at = 1 + 32 + (4 + 8) + (4 + 1) + 4 + (4 + 1);
        assert_eq!(enc[label_at], 0);
        let mut tag = enc.clone();
        tag[label_at] = 2;
        assert!(refused(&tag));
        // created_ms then expires_ms's tag
        let mut tag = enc.clone();
        tag[label_at + 1 + 8] = 2;
        assert!(refused(&tag));
        // the scope count past the limit
        let count_at = 1 + 32 + (4 + 8) + (4 + 1);
        let mut many = enc.clone();
        many[count_at..count_at + 4].copy_from_slice(&((MAX_SCOPES + 1) as u32).to_be_bytes());
        assert!(refused(&many));
        // a scope that is not UTF-8
        let mut utf = enc.clone();
        utf[count_at + 4 + 4] = 0xff;
        assert!(refused(&utf));
        // optional strings and a ttl round-trip
        let mut full = sample();
        full.info.label = Some("label".into());
        full.info.client_cert = Some("cd".repeat(32));
        full.info.ttl_ms = Some(60_000);
        full.info.scopes = vec![];
        assert_eq!(Record::decode(&full.encode()).unwrap().info, full.info);
    }

    #[test]
    fn owner_index_decoding() {
        assert_eq!(ApiKeys::decode_index(b"").unwrap(), Vec::<String>::new());
        assert_eq!(
            ApiKeys::decode_index(b"AbCd0123zzzzzzzz").unwrap(),
            vec!["AbCd0123".to_string(), "zzzzzzzz".to_string()]
        );
        for bad in [&b"AbCd012"[..], b"AbCd0123z", b"AbCd-123", b"AbCd012\xff"] {
            assert!(
                matches!(ApiKeys::decode_index(bad), Err(CoreError::Decryption)),
                "{bad:?}"
            );
        }
    }

    /// Issue's argument checks, each before anything is written.
    #[test]
    fn issue_refuses_bad_arguments() {
        let ak = keys(&Keyring::generate().unwrap(), "issue-args");
        let refuse = |a: IssueArgs| match ak.issue(a) {
            Err(CoreError::Invalid(m)) => m,
            Err(e) => panic!("not Invalid: {e}"),
            Ok(_) => panic!("accepted"),
        };
        let mut a = args("alice", &["read"]);
        a.ttl = Some(Duration::from_micros(999));
        assert!(refuse(a).contains("at least one millisecond"));
        let mut a = args("alice", &["read"]);
        a.client_cert = Some("zz".into());
        assert!(refuse(a).contains("SHA-256 fingerprint"));
        let mut a = args("alice", &["read"]);
        a.label = Some("bell\u{7}".into());
        assert!(refuse(a).contains("label"));
        assert!(refuse(args(" alice", &[])).starts_with("owner must"));
        assert!(refuse(args("alice", &["two words"])).contains("scope"));
        assert!(ak.list("alice", true).unwrap().is_empty());
        // one millisecond is the shortest ttl, kept as given
        let mut a = args("alice", &[]);
        a.ttl = Some(Duration::from_millis(1));
        let issued = ak.issue(a).unwrap();
        assert_eq!(issued.info.ttl_ms, Some(1));
        assert_eq!(issued.info.expires_ms, Some(issued.info.created_ms + 1));
        // an unknown or malformed key id
        assert!(ak.get("AbCd0123").unwrap().is_none());
        assert!(matches!(ak.get("short"), Err(CoreError::Invalid(_))));
        assert!(matches!(ak.revoke("short"), Err(CoreError::Invalid(_))));
        assert!(!ak.revoke("AbCd0123").unwrap());
        assert!(matches!(
            ak.rotate("short", Duration::ZERO),
            Err(CoreError::InvalidApiKey { certificate: false })
        ));
        assert_eq!(ak.prefix(), "ks");
        assert_eq!(ak.namespace(), "apikeys");
    }
}
