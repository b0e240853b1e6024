//! The Vault: names become opaque keys, secrets become envelopes bound to those keys, and a store
//! holds them. Blocking and async forms of every operation share all logic but the I/O.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::envelope::{self, OVERHEAD};
use super::error::{CoreError, Result};
use super::keyring::Keyring;
use super::naming::Namer;
use super::runtime::runtime;
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
    fn store(&self) -> Result<Store> {
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
                let env = self.keyring.seal(secret, &key)?;
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
            .map(|(k, v)| v.map(|env| self.keyring.open(&env, k)).transpose())
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
        let values = self.store()?.get_many(&keys)?;
        self.open_found(&keys, values)
    }
    pub async fn aget_many(&self, names: &[&str]) -> Result<Vec<Option<SecretBytes>>> {
        let keys = self.keys(names)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values = self.store()?.aget_many(&keys).await?;
        self.open_found(&keys, values)
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
        runtime().block_on(self.aclear())
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
                .keyring
                .open(&old, &key)
                .and_then(|p| self.keyring.seal(p.expose(), &key))
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
        // A bulk walk: the blocking form waits on the async one rather than repeating it.
        runtime().block_on(self.arewrap(batch, progress))
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
            let keys = self.owned(
                store
                    .ascan(self.namer.namespace_prefix(), &mut state, batch)
                    .await?,
            );
            if keys.is_empty() {
                continue;
            }
            let values = store.aget_many(&keys).await?;
            let swaps = self.plan_rewrap(keys, values, &mut stats);
            let swapped = if swaps.is_empty() {
                0
            } else {
                store.aswap_many(&swaps).await?
            };
            Self::finish_batch(&mut stats, swaps.len(), swapped);
            progress(&stats)?;
        }
        log_rewrap(&stats);
        Ok(stats)
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

fn check_ttl(d: Duration) -> Result<()> {
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
