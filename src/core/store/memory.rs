//! The embedded store behind `memory://`: a process-local ordered map with real expiries.
//!
//! For development, tests and the demo. Ordered (a BTreeMap) so SCAN can resume after the last key
//! it returned, the way Redis resumes from a cursor.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use super::{Expiry, ScanState, Swap, Ttl};
use crate::core::error::Result;

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

fn deadline(now: Instant, expiry: Expiry) -> Option<Instant> {
    match expiry {
        Expiry::Never => None,
        Expiry::After(d) => Some(now + d),
    }
}

/// Writes between two sweeps at the least; otherwise one sweep per as many writes as there are
/// entries, which keeps the sweep O(1) amortised per write.
const SWEEP_MIN_WRITES: usize = 1024;

#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<Vec<u8>, Entry>>,
    /// Writes since the last sweep of expired entries. Reads expire what they touch; entries
    /// nobody reads again are freed by the sweep, so a stream of short-lived writes stays bounded.
    writes: AtomicUsize,
    /// Writes that trigger the next sweep: as many as the entries the last sweep left (at least
    /// [`SWEEP_MIN_WRITES`]), so the map holds at most about twice its live entries plus that.
    sweep_after: AtomicUsize,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Entry>> {
        // A panic while holding the lock cannot leave the map half-written (every update is a
        // single insert or remove), so a poisoned lock is safe to reuse.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count `n` writes; sweep out every expired entry once enough have happened.
    fn wrote(&self, map: &mut BTreeMap<Vec<u8>, Entry>, n: usize, now: Instant) {
        let w = self.writes.fetch_add(n, Ordering::Relaxed) + n;
        if w >= self
            .sweep_after
            .load(Ordering::Relaxed)
            .max(SWEEP_MIN_WRITES)
        {
            self.writes.store(0, Ordering::Relaxed);
            map.retain(|_, e| e.live(now));
            self.sweep_after.store(map.len(), Ordering::Relaxed);
        }
    }

    fn live<'a>(
        map: &'a mut BTreeMap<Vec<u8>, Entry>,
        key: &[u8],
        now: Instant,
    ) -> Option<&'a mut Entry> {
        if map.get(key).is_some_and(|e| !e.live(now)) {
            map.remove(key);
        }
        map.get_mut(key)
    }

    pub fn set_many(&self, items: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Result<()> {
        let now = Instant::now();
        let expires = deadline(now, expiry);
        let mut map = self.lock();
        for (k, v) in items {
            map.insert(
                k.clone(),
                Entry {
                    value: v.clone(),
                    expires,
                },
            );
        }
        self.wrote(&mut map, items.len(), now);
        Ok(())
    }

    pub fn get_many(&self, keys: &[Vec<u8>], max_len: usize) -> Result<Vec<Option<Vec<u8>>>> {
        let now = Instant::now();
        let mut map = self.lock();
        Ok(keys
            .iter()
            .map(|k| {
                Self::live(&mut map, k, now)
                    .map(|e| e.value[..e.value.len().min(max_len.saturating_add(1))].to_vec())
            })
            .collect())
    }

    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        let now = Instant::now();
        Ok(self.lock().remove(key).is_some_and(|e| e.live(now)))
    }

    pub fn add(&self, key: &[u8], value: &[u8], expiry: Expiry) -> Result<bool> {
        let now = Instant::now();
        let mut map = self.lock();
        if Self::live(&mut map, key, now).is_some() {
            return Ok(false);
        }
        map.insert(
            key.to_vec(),
            Entry {
                value: value.to_vec(),
                expires: deadline(now, expiry),
            },
        );
        self.wrote(&mut map, 1, now);
        Ok(true)
    }

    pub fn touch(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        let now = Instant::now();
        Ok(Self::live(&mut self.lock(), key, now)
            .map(|e| e.expires = deadline(now, expiry))
            .is_some())
    }

    pub fn delete_many(&self, keys: &[Vec<u8>]) -> Result<u64> {
        let now = Instant::now();
        let mut map = self.lock();
        let deleted = keys
            .iter()
            .filter(|k| map.remove(k.as_slice()).is_some_and(|e| e.live(now)))
            .count() as u64;
        Ok(deleted)
    }

    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(Self::live(&mut self.lock(), key, Instant::now()).is_some())
    }

    pub fn ttl(&self, key: &[u8]) -> Result<Ttl> {
        let now = Instant::now();
        Ok(match Self::live(&mut self.lock(), key, now) {
            None => Ttl::Missing,
            Some(Entry { expires: None, .. }) => Ttl::Forever,
            Some(Entry {
                expires: Some(t), ..
            }) => Ttl::Remaining(t.saturating_duration_since(now)),
        })
    }

    pub fn scan(&self, prefix: &[u8], state: &mut ScanState, count: usize) -> Result<Vec<Vec<u8>>> {
        let now = Instant::now();
        let mut map = self.lock();
        let start = match &state.after {
            Some(k) => Bound::Excluded(k.clone()),
            None => Bound::Included(prefix.to_vec()),
        };
        let mut out = Vec::new();
        let mut expired = Vec::new();
        let mut last = None;
        let mut iter = map.range((start, Bound::Unbounded));
        for (k, e) in iter.by_ref() {
            if !k.starts_with(prefix) {
                state.done = true;
                break;
            }
            last = Some(k.clone());
            if e.live(now) {
                out.push(k.clone());
            } else {
                expired.push(k.clone());
            }
            if out.len() >= count.max(1) {
                break;
            }
        }
        // Expired entries the walk passed are freed now (`clear()` walks the whole namespace).
        for k in &expired {
            map.remove(k);
        }
        state.started = true;
        if last.is_none() {
            state.done = true;
        }
        state.after = last;
        Ok(out)
    }

    pub fn swap_many(&self, swaps: &[Swap]) -> Result<usize> {
        let now = Instant::now();
        let mut map = self.lock();
        let mut done = 0;
        for s in swaps {
            if let Some(e) = Self::live(&mut map, &s.key, now) {
                if e.value == s.old {
                    e.value = s.new.clone();
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    /// One compare-and-swap, then the key's remaining lifetime capped at `cap` (a key without an
    /// expiry gets one); true if the swap took effect.
    pub fn swap_capped(&self, swap: &Swap, cap: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(e) = Self::live(&mut map, &swap.key, now) else {
            return Ok(false);
        };
        if e.value != swap.old {
            return Ok(false);
        }
        e.value = swap.new.clone();
        let limit = now + cap;
        if e.expires.is_none_or(|t| t > limit) {
            e.expires = Some(limit);
        }
        Ok(true)
    }

    pub fn close(&self) {}

    /// The process-wide store called `name`, created on first use.
    pub fn named(name: &str) -> Arc<MemoryStore> {
        static NAMED: LazyLock<Mutex<HashMap<String, Arc<MemoryStore>>>> =
            LazyLock::new(Default::default);
        NAMED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expired_entries_nobody_reads_are_swept() {
        let m = MemoryStore::new();
        for i in 0..5000u32 {
            m.set_many(
                &[(i.to_be_bytes().to_vec(), b"v".to_vec())],
                Expiry::After(Duration::from_millis(1)),
            )
            .unwrap();
            if i % 1000 == 0 {
                std::thread::sleep(Duration::from_millis(3));
            }
        }
        std::thread::sleep(Duration::from_millis(3));
        for i in 0..(2 * SWEEP_MIN_WRITES as u32) {
            m.set_many(
                &[(format!("k{i}").into_bytes(), b"v".to_vec())],
                Expiry::Never,
            )
            .unwrap();
        }
        // Every 1 ms entry is gone from the map itself, not only hidden from reads.
        assert_eq!(m.lock().len(), 2 * SWEEP_MIN_WRITES);
    }

    #[test]
    fn expiry_scan_and_swap() {
        let m = MemoryStore::new();
        m.set_many(
            &[
                (b"p:a".to_vec(), b"1".to_vec()),
                (b"p:b".to_vec(), b"2".to_vec()),
            ],
            Expiry::Never,
        )
        .unwrap();
        m.set_many(&[(b"q:c".to_vec(), b"3".to_vec())], Expiry::Never)
            .unwrap();
        m.set_many(
            &[(b"p:gone".to_vec(), b"x".to_vec())],
            Expiry::After(Duration::from_millis(1)),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(m.ttl(b"p:gone").unwrap(), Ttl::Missing);
        assert_eq!(m.ttl(b"p:a").unwrap(), Ttl::Forever);
        let mut st = ScanState::default();
        let mut seen = Vec::new();
        while !st.is_done() {
            seen.extend(m.scan(b"p:", &mut st, 1).unwrap());
        }
        assert_eq!(seen, vec![b"p:a".to_vec(), b"p:b".to_vec()]);
        let n = m
            .swap_many(&[
                Swap {
                    key: b"p:a".to_vec(),
                    old: b"1".to_vec(),
                    new: b"10".to_vec(),
                },
                Swap {
                    key: b"p:b".to_vec(),
                    old: b"stale".to_vec(),
                    new: b"20".to_vec(),
                },
            ])
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            m.get_many(&[b"p:a".to_vec(), b"p:b".to_vec()], 100)
                .unwrap(),
            vec![Some(b"10".to_vec()), Some(b"2".to_vec())]
        );
    }
}
