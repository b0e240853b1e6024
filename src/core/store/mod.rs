//! Where envelopes live: an in-process map (`memory://`) or Redis (single node or cluster).
//!
//! The store knows nothing of names or keys: it moves opaque byte keys and envelopes. Every
//! operation has a blocking form (for Python threads, the GIL released) and an async form.

pub mod memory;
pub mod redis;
pub mod url;

use std::time::Duration;

use super::error::Result;
pub use memory::MemoryStore;
pub use redis::RedisStore;

/// Expiry for a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    Never,
    After(Duration),
}

/// What PTTL said about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    Missing,
    Forever,
    Remaining(Duration),
}

/// Where a SCAN walk is; opaque to callers.
#[derive(Clone, Debug, Default)]
pub struct ScanState {
    pub(crate) started: bool,
    pub(crate) done: bool,
    /// Redis cursor (single node), or the index of the node being walked plus its cursor (cluster).
    pub(crate) cursor: u64,
    pub(crate) node: usize,
    /// The memory store resumes after the last key it returned.
    pub(crate) after: Option<Vec<u8>>,
}

impl ScanState {
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// A compare-and-swap write: replace `key`'s value with `new` only if it still is `old`, keeping TTL.
pub struct Swap {
    pub key: Vec<u8>,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// A handle on a store; cheap to clone. Redis clients are shared by every Vault in the process
/// that connects with the same settings (see [`RedisStore::shared`]).
#[derive(Clone)]
pub enum Store {
    Memory(std::sync::Arc<MemoryStore>),
    Redis(std::sync::Arc<RedisStore>),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Memory($s) => $e,
            Store::Redis($s) => $e,
        }
    };
}

impl Store {
    pub fn set_many(&self, items: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Result<()> {
        both!(self, s => s.set_many(items, expiry))
    }
    /// Values for `keys`, `None` where absent. A value longer than `max_len` comes back cut to
    /// `max_len + 1` bytes (so the caller can refuse it) without being read whole.
    pub fn get_many(&self, keys: &[Vec<u8>], max_len: usize) -> Result<Vec<Option<Vec<u8>>>> {
        both!(self, s => s.get_many(keys, max_len))
    }
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        both!(self, s => s.delete(key))
    }
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        both!(self, s => s.exists(key))
    }
    /// Write only if the key is absent (SET NX); true if written.
    pub fn add(&self, key: &[u8], value: &[u8], expiry: Expiry) -> Result<bool> {
        both!(self, s => s.add(key, value, expiry))
    }
    /// Give an existing key a new expiry; true if the key exists.
    pub fn touch(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        both!(self, s => s.touch(key, expiry))
    }
    pub fn ttl(&self, key: &[u8]) -> Result<Ttl> {
        both!(self, s => s.ttl(key))
    }
    pub fn delete_many(&self, keys: &[Vec<u8>]) -> Result<u64> {
        both!(self, s => s.delete_many(keys))
    }
    /// Returns how many swaps took effect.
    pub fn swap_many(&self, swaps: &[Swap]) -> Result<usize> {
        both!(self, s => s.swap_many(swaps))
    }

    pub async fn aset_many(&self, items: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Result<()> {
        match self {
            Store::Memory(s) => s.set_many(items, expiry),
            Store::Redis(s) => s.aset_many(items, expiry).await,
        }
    }
    pub async fn aget_many(
        &self,
        keys: &[Vec<u8>],
        max_len: usize,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        match self {
            Store::Memory(s) => s.get_many(keys, max_len),
            Store::Redis(s) => s.aget_many(keys, max_len).await,
        }
    }
    pub async fn adelete(&self, key: &[u8]) -> Result<bool> {
        match self {
            Store::Memory(s) => s.delete(key),
            Store::Redis(s) => s.adelete(key).await,
        }
    }
    pub async fn aexists(&self, key: &[u8]) -> Result<bool> {
        match self {
            Store::Memory(s) => s.exists(key),
            Store::Redis(s) => s.aexists(key).await,
        }
    }
    pub async fn aadd(&self, key: &[u8], value: &[u8], expiry: Expiry) -> Result<bool> {
        match self {
            Store::Memory(s) => s.add(key, value, expiry),
            Store::Redis(s) => s.aadd(key, value, expiry).await,
        }
    }
    pub async fn atouch(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        match self {
            Store::Memory(s) => s.touch(key, expiry),
            Store::Redis(s) => s.atouch(key, expiry).await,
        }
    }
    pub async fn adelete_many(&self, keys: &[Vec<u8>]) -> Result<u64> {
        match self {
            Store::Memory(s) => s.delete_many(keys),
            Store::Redis(s) => s.adelete_many(keys).await,
        }
    }
    pub async fn attl(&self, key: &[u8]) -> Result<Ttl> {
        match self {
            Store::Memory(s) => s.ttl(key),
            Store::Redis(s) => s.attl(key).await,
        }
    }
    pub async fn ascan(
        &self,
        prefix: &[u8],
        state: &mut ScanState,
        count: usize,
    ) -> Result<Vec<Vec<u8>>> {
        match self {
            Store::Memory(s) => s.scan(prefix, state, count),
            Store::Redis(s) => s.ascan(prefix, state, count).await,
        }
    }
    /// One compare-and-swap that also caps the key's remaining lifetime at `cap` (a key without
    /// an expiry gets one), atomically; true if it took effect.
    pub async fn aswap_capped(&self, swap: &Swap, cap: Duration) -> Result<bool> {
        match self {
            Store::Memory(s) => s.swap_capped(swap, cap),
            Store::Redis(s) => s.aswap_capped(swap, cap).await,
        }
    }
    /// Returns how many swaps took effect.
    pub async fn aswap_many(&self, swaps: &[Swap]) -> Result<usize> {
        match self {
            Store::Memory(s) => s.swap_many(swaps),
            Store::Redis(s) => s.aswap_many(swaps).await,
        }
    }
}
