//! The Vault: names become opaque keys, secrets become envelopes bound to those keys, and a store
//! holds them. Blocking and async forms of every operation share all logic but the I/O.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::envelope::{self, OVERHEAD};
use super::error::{CoreError, Result};
use super::keyring::Keyring;
use super::naming::Namer;
use super::runtime::block_on;
use super::secret::SecretBytes;
use super::store::url::{self, Options, Target};
use super::store::{Expiry, MemoryStore, RedisStore, ScanState, Store, Swap, Ttl};

pub const DEFAULT_MAX_VALUE_SIZE: usize = 1024 * 1024;
pub const DEFAULT_REWRAP_BATCH: usize = 1000;

/// The TTL a caller asked for.
#[derive(Clone, Copy, Debug)]
pub enum TtlArg {
    /// Whatever the vault's `default_ttl` says.
    Default,
    /// Never expire.
    Never,
    After(Duration),
}

#[derive(Clone, Debug)]
pub struct VaultConfig {
    pub namespace: String,
    pub key_prefix: String,
    pub default_ttl: Option<Duration>,
    pub max_value_size: usize,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            namespace: "default".into(),
            key_prefix: "ks".into(),
            default_ttl: None,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
        }
    }
}

/// Progress of a rewrap, reported after every batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewrapStats {
    /// Keys of this namespace seen so far.
    pub scanned: u64,
    /// Values re-sealed under the primary key by this run.
    pub rewrapped: u64,
    /// Values already under the primary key (an earlier, interrupted run did them).
    pub current: u64,
    /// Values that changed between our read and our write: a concurrent writer won, which is right.
    pub raced: u64,
    /// Values no key in the ring can open; left untouched.
    pub failed: u64,
}

pub struct Vault {
    keyring: Keyring,
    namer: Namer,
    /// `None` once closed. Cloned out per call (two atomic counts) so no lock is held across I/O.
    store: RwLock<Option<Store>>,
    config: VaultConfig,
}

impl Vault {
    pub fn open(
        store_url: &str,
        options: &Options,
        keyring: Keyring,
        config: VaultConfig,
    ) -> Result<Self> {
        let parsed = url::parse(store_url)?;
        url::check_security(&parsed, options)?;
        if let Some(d) = config.default_ttl {
            check_ttl(d)?;
        }
        if config.max_value_size == 0 {
            return Err(CoreError::invalid("max_value_size must be positive"));
        }
        let namer = Namer::new(keyring.name_key(), &config.key_prefix, &config.namespace)?;
        let store = match parsed.target {
            Target::Memory { name: None } => Store::Memory(Arc::new(MemoryStore::new())),
            Target::Memory { name: Some(n) } => Store::Memory(MemoryStore::named(&n)),
            _ => Store::Redis(RedisStore::shared(&parsed, options)?),
        };
        Ok(Self {
            keyring,
            namer,
            store: RwLock::new(Some(store)),
            config,
        })
    }

    pub fn config(&self) -> &VaultConfig {
        &self.config
    }
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
    pub(crate) fn store(&self) -> Result<Store> {
        self.store
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                CoreError::store(
                    super::error::StoreErrorKind::Connection,
                    "this vault is closed",
                )
            })
    }

    fn expiry(&self, ttl: TtlArg) -> Result<Expiry> {
        Ok(match ttl {
            TtlArg::Default => self.config.default_ttl.map_or(Expiry::Never, Expiry::After),
            TtlArg::Never => Expiry::Never,
            TtlArg::After(d) => {
                check_ttl(d)?;
                Expiry::After(d)
            }
        })
    }

    fn check_size(&self, secret: &[u8]) -> Result<()> {
        if secret.len() > self.config.max_value_size {
            return Err(CoreError::invalid(format!(
                "secret is {} bytes, over this vault's max_value_size of {} bytes",
                secret.len(),
                self.config.max_value_size
            )));
        }
        Ok(())
    }

    /// Name, check and seal a batch of writes.
    fn seal_items<'a, I>(&self, items: I) -> Result<Vec<(Vec<u8>, Vec<u8>)>>
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        items
            .into_iter()
            .map(|(name, secret)| {
                self.check_size(secret)?;
                let key = self.namer.key(name)?;
                let env = self.seal_for(&key, secret)?;
                Ok((key, env))
            })
            .collect()
    }

    fn keys(&self, names: &[&str]) -> Result<Vec<Vec<u8>>> {
        names.iter().map(|n| self.namer.key(n)).collect()
    }

    /// Open what the store returned; a value that fails to open is an error, never `None`.
    fn open_found(
        &self,
        keys: &[Vec<u8>],
        values: Vec<Option<Vec<u8>>>,
    ) -> Result<Vec<Option<SecretBytes>>> {
        if values.len() != keys.len() {
            return Err(CoreError::store(
                super::error::StoreErrorKind::Server,
                "Redis returned a short reply",
            ));
        }
        keys.iter()
            .zip(values)
            .map(|(k, v)| v.map(|env| self.open_for(k, &env)).transpose())
            .collect()
    }

    /// Seal `plaintext` for the slot `key`.
    fn seal_for(&self, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        self.keyring.seal(plaintext, &vault_context(key))
    }

    /// Open what the slot `key` held. Anything longer than we would ever write is refused unread
    /// (the store cut it at one byte over the limit).
    fn open_for(&self, key: &[u8], envelope: &[u8]) -> Result<SecretBytes> {
        if envelope.len() > self.max_envelope_size() {
            return Err(CoreError::Decryption);
        }
        self.keyring.open(envelope, &vault_context(key))
    }

    /// Like [`Self::open_found`], but with `skip` a value that fails to open becomes `Some(None)`.
    fn open_lenient(
        &self,
        keys: &[Vec<u8>],
        values: Vec<Option<Vec<u8>>>,
        skip: bool,
    ) -> Result<Vec<Option<Option<SecretBytes>>>> {
        if values.len() != keys.len() {
            return Err(CoreError::store(
                super::error::StoreErrorKind::Server,
                "Redis returned a short reply",
            ));
        }
        keys.iter()
            .zip(values)
            .map(|(k, v)| match v {
                None => Ok(None),
                Some(env) => match self.open_for(k, &env) {
                    Ok(p) => Ok(Some(Some(p))),
                    Err(CoreError::Decryption) if skip => Ok(Some(None)),
                    Err(e) => Err(e),
                },
            })
            .collect()
    }

    pub fn put(&self, name: &str, secret: &[u8], ttl: TtlArg) -> Result<()> {
        self.put_many(&[(name, secret)], ttl)
    }
    pub async fn aput(&self, name: &str, secret: &[u8], ttl: TtlArg) -> Result<()> {
        self.aput_many(&[(name, secret)], ttl).await
    }

    pub fn put_many(&self, items: &[(&str, &[u8])], ttl: TtlArg) -> Result<()> {
        let expiry = self.expiry(ttl)?;
        let sealed = self.seal_items(items.iter().copied())?;
        if sealed.is_empty() {
            return Ok(());
        }
        self.store()?.set_many(&sealed, expiry)
    }
    pub async fn aput_many(&self, items: &[(&str, &[u8])], ttl: TtlArg) -> Result<()> {
        let expiry = self.expiry(ttl)?;
        let sealed = self.seal_items(items.iter().copied())?;
        if sealed.is_empty() {
            return Ok(());
        }
        self.store()?.aset_many(&sealed, expiry).await
    }

    pub fn get(&self, name: &str) -> Result<Option<SecretBytes>> {
        Ok(self.get_many(&[name])?.pop().flatten())
    }
    pub async fn aget(&self, name: &str) -> Result<Option<SecretBytes>> {
        Ok(self.aget_many(&[name]).await?.pop().flatten())
    }

    /// One entry per name, `None` where the name is missing or expired.
    pub fn get_many(&self, names: &[&str]) -> Result<Vec<Option<SecretBytes>>> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values = self.store()?.get_many(&keys, self.max_envelope_size())?;
        self.open_found(&keys, values)
    }
    pub async fn aget_many(&self, names: &[&str]) -> Result<Vec<Option<SecretBytes>>> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values = self
            .store()?
            .aget_many(&keys, self.max_envelope_size())
            .await?;
        self.open_found(&keys, values)
    }

    /// One entry per name: `None` where missing; with `skip`, `Some(None)` where a value is present
    /// but fails to open (a cache counts that as a miss) instead of an error for the whole call.
    pub fn get_many_checked(
        &self,
        names: &[&str],
        skip: bool,
    ) -> Result<Vec<Option<Option<SecretBytes>>>> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.store()?;
        match store.get_many(&keys, self.max_envelope_size()) {
            Ok(values) => self.open_lenient(&keys, values, skip),
            // A key of another Redis type fails the whole read: find which, one key at a time.
            Err(CoreError::Decryption) if skip && keys.len() > 1 => keys
                .iter()
                .map(
                    |k| match store.get_many(std::slice::from_ref(k), self.max_envelope_size()) {
                        Ok(v) => Ok(self
                            .open_lenient(std::slice::from_ref(k), v, true)?
                            .pop()
                            .flatten()),
                        Err(CoreError::Decryption) => Ok(Some(None)),
                        Err(e) => Err(e),
                    },
                )
                .collect(),
            Err(CoreError::Decryption) if skip => Ok(vec![Some(None)]),
            Err(e) => Err(e),
        }
    }
    pub async fn aget_many_checked(
        &self,
        names: &[&str],
        skip: bool,
    ) -> Result<Vec<Option<Option<SecretBytes>>>> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.store()?;
        match store.aget_many(&keys, self.max_envelope_size()).await {
            Ok(values) => self.open_lenient(&keys, values, skip),
            Err(CoreError::Decryption) if skip && keys.len() > 1 => {
                let mut out = Vec::with_capacity(keys.len());
                for k in &keys {
                    out.push(
                        match store
                            .aget_many(std::slice::from_ref(k), self.max_envelope_size())
                            .await
                        {
                            Ok(v) => self
                                .open_lenient(std::slice::from_ref(k), v, true)?
                                .pop()
                                .flatten(),
                            Err(CoreError::Decryption) => Some(None),
                            Err(e) => return Err(e),
                        },
                    );
                }
                Ok(out)
            }
            Err(CoreError::Decryption) if skip => Ok(vec![Some(None)]),
            Err(e) => Err(e),
        }
    }

    /// Delete several names; returns how many existed.
    pub fn delete_many(&self, names: &[&str]) -> Result<u64> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(0);
        }
        self.store()?.delete_many(&keys)
    }
    pub async fn adelete_many(&self, names: &[&str]) -> Result<u64> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(0);
        }
        self.store()?.adelete_many(&keys).await
    }

    /// The next step of an `incr`: open the current envelope, add, seal again for the same slot.
    fn plan_incr(&self, key: &[u8], old: &[u8], delta: i64) -> Result<(Vec<u8>, i64)> {
        let plain = self.open_for(key, old)?;
        let n = parse_decimal(plain.expose())
            .ok_or_else(|| CoreError::invalid("incr: the stored value is not a decimal integer"))?;
        let sum = n.checked_add(delta).ok_or_else(|| {
            CoreError::invalid("incr: the result does not fit in a signed 64-bit integer")
        })?;
        let new = self.seal_for(key, sum.to_string().as_bytes())?;
        Ok((new, sum))
    }

    /// Add `delta` to the sealed decimal integer under `name`, atomically: a compare-and-swap on
    /// the envelope (keeping the TTL), retried when another writer got in first. `None` if missing.
    pub fn incr(&self, name: &str, delta: i64) -> Result<Option<i64>> {
        let key = self.namer.key(name)?;
        let store = self.store()?;
        let mut ours: Option<(Vec<u8>, i64)> = None;
        for attempt in 0..INCR_ATTEMPTS {
            let Some(old) = store
                .get_many(std::slice::from_ref(&key), self.max_envelope_size())?
                .pop()
                .flatten()
            else {
                return Ok(None);
            };
            if let Some(n) = already_ours(&ours, &old) {
                return Ok(Some(n));
            }
            let (new, sum) = self.plan_incr(&key, &old, delta)?;
            let swap = Swap {
                key: key.clone(),
                old,
                new,
            };
            if store.swap_many(std::slice::from_ref(&swap))? == 1 {
                return Ok(Some(sum));
            }
            ours = Some((swap.new, sum));
            if let Some(d) = incr_backoff(attempt) {
                std::thread::sleep(d);
            }
        }
        Err(incr_gave_up())
    }
    pub async fn aincr(&self, name: &str, delta: i64) -> Result<Option<i64>> {
        let key = self.namer.key(name)?;
        let store = self.store()?;
        let mut ours: Option<(Vec<u8>, i64)> = None;
        for attempt in 0..INCR_ATTEMPTS {
            let Some(old) = store
                .aget_many(std::slice::from_ref(&key), self.max_envelope_size())
                .await?
                .pop()
                .flatten()
            else {
                return Ok(None);
            };
            if let Some(n) = already_ours(&ours, &old) {
                return Ok(Some(n));
            }
            let (new, sum) = self.plan_incr(&key, &old, delta)?;
            let swap = Swap {
                key: key.clone(),
                old,
                new,
            };
            if store.aswap_many(std::slice::from_ref(&swap)).await? == 1 {
                return Ok(Some(sum));
            }
            ours = Some((swap.new, sum));
            if let Some(d) = incr_backoff(attempt) {
                tokio::time::sleep(d).await;
            }
        }
        Err(incr_gave_up())
    }

    /// Store only if `name` is absent (atomic on Redis: SET NX); true if stored.
    pub fn add(&self, name: &str, secret: &[u8], ttl: TtlArg) -> Result<bool> {
        let expiry = self.expiry(ttl)?;
        let (key, env) = self.seal_items([(name, secret)])?.remove(0);
        self.store()?.add(&key, &env, expiry)
    }
    pub async fn aadd(&self, name: &str, secret: &[u8], ttl: TtlArg) -> Result<bool> {
        let expiry = self.expiry(ttl)?;
        let (key, env) = self.seal_items([(name, secret)])?.remove(0);
        self.store()?.aadd(&key, &env, expiry).await
    }

    /// Set a new expiry on `name` (`Never` removes it); true if `name` exists.
    pub fn touch(&self, name: &str, ttl: TtlArg) -> Result<bool> {
        let expiry = self.expiry(ttl)?;
        self.store()?.touch(&self.namer.key(name)?, expiry)
    }
    pub async fn atouch(&self, name: &str, ttl: TtlArg) -> Result<bool> {
        let expiry = self.expiry(ttl)?;
        self.store()?.atouch(&self.namer.key(name)?, expiry).await
    }

    /// Delete every value of this namespace (SCAN + UNLINK in batches; never FLUSHDB). Returns
    /// how many were deleted.
    pub fn clear(&self) -> Result<u64> {
        // A bulk walk: the blocking form waits on the async one rather than repeating it.
        block_on(self.aclear())
    }
    pub async fn aclear(&self) -> Result<u64> {
        let store = self.store()?;
        let mut state = ScanState::default();
        let mut deleted = 0;
        while !state.is_done() {
            let keys = self.owned(
                store
                    .ascan(
                        self.namer.namespace_prefix(),
                        &mut state,
                        DEFAULT_REWRAP_BATCH,
                    )
                    .await?,
            );
            if !keys.is_empty() {
                deleted += store.adelete_many(&keys).await?;
            }
        }
        Ok(deleted)
    }

    /// Keep only keys of exactly our shape: a SCAN pattern match alone could include a longer key
    /// someone else wrote under our prefix.
    fn owned(&self, keys: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        keys.into_iter().filter(|k| self.namer.owns(k)).collect()
    }

    pub fn delete(&self, name: &str) -> Result<bool> {
        self.store()?.delete(&self.namer.key(name)?)
    }
    pub async fn adelete(&self, name: &str) -> Result<bool> {
        self.store()?.adelete(&self.namer.key(name)?).await
    }
    pub fn exists(&self, name: &str) -> Result<bool> {
        self.store()?.exists(&self.namer.key(name)?)
    }
    pub async fn aexists(&self, name: &str) -> Result<bool> {
        self.store()?.aexists(&self.namer.key(name)?).await
    }
    pub fn ttl(&self, name: &str) -> Result<Ttl> {
        self.store()?.ttl(&self.namer.key(name)?)
    }
    pub async fn attl(&self, name: &str) -> Result<Ttl> {
        self.store()?.attl(&self.namer.key(name)?).await
    }

    /// Work out the writes for one batch of a rewrap: every value not yet under the primary key is
    /// opened and sealed again for the same slot.
    fn plan_rewrap(
        &self,
        keys: Vec<Vec<u8>>,
        values: Vec<Option<Vec<u8>>>,
        stats: &mut RewrapStats,
    ) -> Vec<Swap> {
        let primary = self.keyring.primary_id();
        let mut swaps = Vec::new();
        for (key, value) in keys.into_iter().zip(values) {
            let Some(old) = value else { continue }; // expired or deleted since the SCAN
            stats.scanned += 1;
            if envelope::peek_key_id(&old) == Some(primary) {
                stats.current += 1;
                continue;
            }
            match self
                .open_for(&key, &old)
                .and_then(|p| self.seal_for(&key, p.expose()))
            {
                Ok(new) => swaps.push(Swap { key, old, new }),
                Err(_) => stats.failed += 1,
            }
        }
        swaps
    }

    fn finish_batch(stats: &mut RewrapStats, planned: usize, swapped: usize) {
        stats.rewrapped += swapped as u64;
        stats.raced += (planned - swapped) as u64;
    }

    /// Re-seal every value of this namespace under the primary key. Safe to interrupt and run again
    /// (values already current are skipped), safe beside live writers (each write is a
    /// compare-and-swap that keeps the key's TTL). `progress` runs after every batch and may stop
    /// the run by returning an error.
    pub fn rewrap(
        &self,
        batch: usize,
        progress: &mut (dyn FnMut(&RewrapStats) -> Result<()> + Send),
    ) -> Result<RewrapStats> {
        // The blocking form waits on the async one batch by batch, and calls `progress` outside
        // the runtime, so a callback may itself call blocking methods.
        let batch = batch.clamp(1, 100_000);
        let mut stats = RewrapStats::default();
        let mut state = ScanState::default();
        let store = self.store()?;
        while !state.is_done() {
            if block_on(self.rewrap_batch(&store, &mut state, batch, &mut stats))? {
                progress(&stats)?;
            }
        }
        log_rewrap(&stats);
        Ok(stats)
    }

    pub async fn arewrap(
        &self,
        batch: usize,
        progress: &mut (dyn FnMut(&RewrapStats) -> Result<()> + Send),
    ) -> Result<RewrapStats> {
        let batch = batch.clamp(1, 100_000);
        let mut stats = RewrapStats::default();
        let mut state = ScanState::default();
        let store = self.store()?;
        while !state.is_done() {
            if self
                .rewrap_batch(&store, &mut state, batch, &mut stats)
                .await?
            {
                progress(&stats)?;
            }
        }
        log_rewrap(&stats);
        Ok(stats)
    }

    /// One SCAN page of a rewrap; false if the page held none of our keys.
    async fn rewrap_batch(
        &self,
        store: &Store,
        state: &mut ScanState,
        batch: usize,
        stats: &mut RewrapStats,
    ) -> Result<bool> {
        let keys = self.owned(
            store
                .ascan(self.namer.namespace_prefix(), state, batch)
                .await?,
        );
        if keys.is_empty() {
            return Ok(false);
        }
        let values = store.aget_many(&keys, self.max_envelope_size()).await?;
        let swaps = self.plan_rewrap(keys, values, stats);
        let swapped = if swaps.is_empty() {
            0
        } else {
            store.aswap_many(&swaps).await?
        };
        Self::finish_batch(stats, swaps.len(), swapped);
        Ok(true)
    }

    /// Let go of the store; the shared client closes when its last Vault does.
    pub fn close(&self) {
        self.store.write().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Largest envelope this vault writes: what a reader may expect at most.
    pub fn max_envelope_size(&self) -> usize {
        self.config.max_value_size + OVERHEAD
    }
}

fn log_rewrap(s: &RewrapStats) {
    log::info!(
        "rewrap finished: {} scanned, {} re-sealed, {} already current, {} changed by other writers",
        s.scanned,
        s.rewrapped,
        s.current,
        s.raced
    );
    if s.failed > 0 {
        log::warn!("rewrap: {} value(s) could not be opened with any key in the keyring and were left as they are", s.failed);
    }
}

/// Domain label in front of every Vault context (the Redis key): an app that seals data of its own
/// with `keyring.seal` under a context it chose, even a Redis key, can never produce a value the
/// Vault accepts, because `keyring.seal`/`open` refuse contexts that start with this label.
pub const VAULT_CONTEXT_LABEL: &[u8] = b"keyseal vault\0";

/// Whether a caller-chosen context would enter the Vault's domain (see [`VAULT_CONTEXT_LABEL`]).
pub fn is_reserved_context(context: &[u8]) -> bool {
    context.starts_with(VAULT_CONTEXT_LABEL)
}

pub(crate) fn vault_context(key: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(VAULT_CONTEXT_LABEL.len() + key.len());
    c.extend_from_slice(VAULT_CONTEXT_LABEL);
    c.extend_from_slice(key);
    c
}

/// Compare-and-swap rounds an `incr` tries before it reports contention as an error.
const INCR_ATTEMPTS: u32 = 10_000;

/// A swap that reported failure may still have landed (a reply lost to a broken connection, then
/// a retry that found our own value): our envelope, with its random nonce, is proof of that.
fn already_ours(ours: &Option<(Vec<u8>, i64)>, current: &[u8]) -> Option<i64> {
    ours.as_ref()
        .filter(|(env, _)| env.as_slice() == current)
        .map(|(_, n)| *n)
}

/// After a lost race: go again at once a few times, then wait a short random while, so that
/// writers that keep colliding spread out instead of retrying in lock step.
fn incr_backoff(attempt: u32) -> Option<Duration> {
    if attempt < 3 {
        return None;
    }
    let cap_us = 50u64 << attempt.min(6); // 0.4 ms up to 3.2 ms
    let r = u64::from(getrandom::u32().unwrap_or(0));
    Some(Duration::from_micros(r % cap_us))
}

fn incr_gave_up() -> CoreError {
    CoreError::store(
        super::error::StoreErrorKind::Server,
        "incr: gave up after too many conflicting concurrent writes",
    )
}

/// An ASCII decimal integer, `-?[0-9]+`, that fits in an i64.
fn parse_decimal(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// The longest TTL accepted: 100 years. Far below what Redis's PX can hold with the current time
/// added (about 292 million years in milliseconds), so no store ever wraps or rejects it; longer
/// asks are refused the same way on every store, not clamped (use no expiry instead).
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

fn check_ttl(d: Duration) -> Result<()> {
    if d > MAX_TTL {
        return Err(CoreError::invalid(format!(
            "ttl must be at most 100 years ({} seconds); use None for no expiry",
            MAX_TTL.as_secs()
        )));
    }
    if d.is_zero() {
        return Err(CoreError::invalid(
            "ttl must be positive (use None for no expiry)",
        ));
    }
    if d.as_millis() < 1 {
        return Err(CoreError::invalid("ttl must be at least one millisecond"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(ns: &str, ring: &Keyring) -> Vault {
        Vault::open(
            "memory://",
            &Options::default(),
            ring.clone(),
            VaultConfig {
                namespace: ns.into(),
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn shared(store: &str, ring: &Keyring) -> Vault {
        let url = format!("memory://{store}");
        Vault::open(
            &url,
            &Options::default(),
            ring.clone(),
            VaultConfig {
                namespace: "t".into(),
                ..Default::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn put_get_delete_and_missing() {
        let v = vault("t", &Keyring::generate().unwrap());
        v.put("a", b"one", TtlArg::Default).unwrap();
        assert_eq!(v.get("a").unwrap().unwrap().expose(), b"one");
        assert!(v.get("b").unwrap().is_none());
        assert!(v.delete("a").unwrap());
        assert!(!v.delete("a").unwrap());
        assert!(v.put("", b"x", TtlArg::Default).is_err());
        assert!(v.put("a", b"x", TtlArg::After(Duration::ZERO)).is_err());
    }

    #[test]
    fn add_touch_and_clear_stay_in_their_namespace() {
        let ring = Keyring::generate().unwrap();
        let a = shared("clear-test", &ring);
        let b = Vault::open(
            "memory://clear-test",
            &Options::default(),
            ring.clone(),
            VaultConfig {
                namespace: "other".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(a.add("k", b"1", TtlArg::Default).unwrap());
        assert!(!a.add("k", b"2", TtlArg::Default).unwrap());
        assert_eq!(a.get("k").unwrap().unwrap().expose(), b"1");
        assert!(a
            .touch("k", TtlArg::After(Duration::from_secs(60)))
            .unwrap());
        assert!(matches!(a.ttl("k").unwrap(), Ttl::Remaining(d) if d <= Duration::from_secs(60)));
        assert!(a.touch("k", TtlArg::Never).unwrap());
        assert_eq!(a.ttl("k").unwrap(), Ttl::Forever);
        assert!(!a.touch("missing", TtlArg::Never).unwrap());
        for i in 0..30 {
            a.put(&format!("n{i}"), b"v", TtlArg::Default).unwrap();
        }
        b.put("keep", b"v", TtlArg::Default).unwrap();
        assert_eq!(a.clear().unwrap(), 31);
        assert!(a.get("n3").unwrap().is_none());
        assert_eq!(b.get("keep").unwrap().unwrap().expose(), b"v");
    }

    #[test]
    fn rewrap_moves_everything_to_the_primary_and_is_idempotent() {
        let r1 = Keyring::generate().unwrap();
        let v1 = shared("rewrap-test", &r1);
        for i in 0..25 {
            v1.put(&format!("n{i}"), format!("v{i}").as_bytes(), TtlArg::Never)
                .unwrap();
        }
        // A redeploy with a rotated ring: the same shared store, a new Vault.
        let r2 = r1.rotated().unwrap();
        let v2 = shared("rewrap-test", &r2);
        let mut calls = 0;
        let s = v2
            .rewrap(7, &mut |_| {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            (s.scanned, s.rewrapped, s.current, s.failed),
            (25, 25, 0, 0)
        );
        assert!(calls >= 4);
        let again = v2.rewrap(7, &mut |_| Ok(())).unwrap();
        assert_eq!((again.rewrapped, again.current), (0, 25));
        let r3 = r2
            .without(&super::super::keyring::key_id_hex(&r1.primary_id()))
            .unwrap();
        let v3 = shared("rewrap-test", &r3);
        for i in 0..25 {
            assert_eq!(
                v3.get(&format!("n{i}")).unwrap().unwrap().expose(),
                format!("v{i}").as_bytes()
            );
        }
    }

    /// Values no key of the ring opens are counted as failed and left alone (found by mutation
    /// testing: nothing checked the count).
    #[test]
    fn rewrap_counts_what_it_cannot_open() {
        let r1 = Keyring::generate().unwrap();
        let v1 = shared("rewrap-failed", &r1);
        for i in 0..5 {
            v1.put(&format!("n{i}"), b"old", TtlArg::Never).unwrap();
        }
        // The same naming key (it outlives rotation), but the key that sealed them is gone.
        let r2 = r1.rotated().unwrap();
        let r3 = r2
            .without(&super::super::keyring::key_id_hex(&r1.primary_id()))
            .unwrap();
        let v3 = shared("rewrap-failed", &r3);
        let s = v3.rewrap(100, &mut |_| Ok(())).unwrap();
        assert_eq!((s.scanned, s.rewrapped, s.current, s.failed), (5, 0, 0, 5));
        assert_eq!(v1.get("n0").unwrap().unwrap().expose(), b"old");
    }
}
