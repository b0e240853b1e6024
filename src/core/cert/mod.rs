//! Client certificates forwarded by a TLS-terminating proxy: header decoding, X.509 fields, chain
//! verification and a bounded cache, for the Django middleware and the FastAPI dependency.

pub mod fuzzing;
pub mod header;
pub mod parse;
pub mod verify;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use lru::LruCache;
use sha2::{Digest, Sha256};

pub use header::MAX_HEADER_LEN;
pub use parse::Fields;

/// The header formats we read, one per proxy family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proxy {
    Nginx,
    Envoy,
    Traefik,
    Alb,
    Apache,
    Rfc9440,
}

impl Proxy {
    pub const ALL: [Proxy; 6] = [
        Proxy::Nginx,
        Proxy::Envoy,
        Proxy::Traefik,
        Proxy::Alb,
        Proxy::Apache,
        Proxy::Rfc9440,
    ];

    /// The name users write (`from_header(value, "nginx")`).
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Nginx => "nginx",
            Proxy::Envoy => "envoy",
            Proxy::Traefik => "traefik",
            Proxy::Alb => "alb",
            Proxy::Apache => "apache",
            Proxy::Rfc9440 => "rfc9440",
        }
    }

    pub fn from_name(name: &str) -> Option<Proxy> {
        Proxy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Why a certificate was refused. Every variant has a fixed text: nothing from the header, the
/// certificate or the bundle ever reaches a message (headers come from untrusted peers, and error
/// messages end up in logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Empty,
    TooLarge,
    Undecodable,
    NotCertificate,
    TrailingData,
    EnvoyNoCert,
    EnvoyHashMismatch,
    ChainNotAccepted,
    NoCertificate,
    BundlePem,
    BundleUnusable,
    Expired,
    NotYetValid,
    UnknownIssuer,
    UnsupportedVersion,
    NotForClientAuth,
    BadSignature,
    CaAsLeaf,
    ChainInvalid,
}

impl Reason {
    pub fn text(self) -> &'static str {
        match self {
            Reason::Empty => "the header is empty or says no certificate was sent",
            Reason::TooLarge => "the header is larger than 16 KiB",
            Reason::Undecodable => "the header could not be decoded",
            Reason::NotCertificate => "the header does not hold an X.509 certificate",
            Reason::TrailingData => "the certificate is followed by unexpected data",
            Reason::EnvoyNoCert => "the last XFCC element has no Cert= field",
            Reason::EnvoyHashMismatch => {
                "the XFCC Hash= does not match the SHA-256 of the certificate"
            }
            Reason::ChainNotAccepted => "a separate chain header is only read for rfc9440",
            Reason::NoCertificate => "no PEM certificate found",
            Reason::BundlePem => "a PEM certificate block could not be decoded",
            Reason::BundleUnusable => "the CA bundle holds no usable CA certificate",
            Reason::Expired => "the certificate has expired",
            Reason::NotYetValid => "the certificate is not yet valid",
            Reason::UnknownIssuer => "the certificate does not chain to a trusted CA",
            Reason::UnsupportedVersion => "the certificate is not X.509 v3",
            Reason::NotForClientAuth => "the certificate is not valid for client authentication",
            Reason::BadSignature => "a signature in the chain is invalid",
            Reason::CaAsLeaf => "a CA certificate was presented as the client certificate",
            Reason::ChainInvalid => "the certificate chain is invalid",
        }
    }
}

/// The one certificate error: which step failed, and the proxy format being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertError {
    pub proxy: Proxy,
    pub reason: Reason,
    /// Where it happened: reading the header, the CA bundle, or verifying.
    pub stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Header,
    Bundle,
    Verify,
}

impl CertError {
    pub fn new(proxy: Proxy, reason: Reason) -> Self {
        Self {
            proxy,
            reason,
            stage: Stage::Header,
        }
    }
    fn in_bundle(mut self) -> Self {
        self.stage = Stage::Bundle;
        self
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Stage::Header => write!(
                f,
                "invalid client certificate header ({} format): {}",
                self.proxy.name(),
                self.reason.text()
            ),
            Stage::Bundle => write!(f, "unusable CA bundle: {}", self.reason.text()),
            Stage::Verify => write!(
                f,
                "client certificate verification failed: {}",
                self.reason.text()
            ),
        }
    }
}

impl std::error::Error for CertError {}

/// A parsed client certificate with the intermediates its header carried.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientCert {
    pub proxy: Proxy,
    pub der: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
    pub fields: Fields,
}

impl ClientCert {
    /// Decodes and parses a header value, with no cache.
    pub fn parse_header(
        value: &str,
        chain: Option<&str>,
        proxy: Proxy,
    ) -> Result<ClientCert, CertError> {
        let decoded = header::decode(value, chain, proxy)?;
        let fields = parse::parse(&decoded.leaf).map_err(|r| CertError::new(proxy, r))?;
        for der in &decoded.chain {
            // Intermediates must at least be certificates; their trust is verify()'s business.
            parse::parse(der).map_err(|r| CertError::new(proxy, r))?;
        }
        Ok(ClientCert {
            proxy,
            der: decoded.leaf,
            chain: decoded.chain,
            fields,
        })
    }

    /// Verifies the chain up to a root of `ca_bundle_pem`, and validity, at `at` (Unix seconds).
    pub fn verify(&self, ca_bundle_pem: &str, at: u64) -> Result<(), CertError> {
        let roots = header::pem_bundle(ca_bundle_pem)?;
        verify::verify(&self.der, &self.chain, &roots, at).map_err(|reason| CertError {
            proxy: self.proxy,
            reason,
            stage: if reason == Reason::BundleUnusable {
                Stage::Bundle
            } else {
                Stage::Verify
            },
        })
    }

    /// True when `now` (Unix seconds) lies inside notBefore..=notAfter.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.fields.not_before <= now && now <= self.fields.not_after
    }
}

/// Parsed certificates kept, so a client sending the same header on every request is parsed once.
pub const CACHE_CAPACITY: usize = 1024;

type Key = [u8; 32];

static CACHE: LazyLock<Mutex<LruCache<Key, Arc<ClientCert>>>> = LazyLock::new(|| {
    Mutex::new(LruCache::new(
        NonZeroUsize::new(CACHE_CAPACITY).expect("non-zero"),
    ))
});

/// The cache key: SHA-256 over the format and the exact header bytes, so a collision (and with it
/// a client getting another client's identity) is out of reach; lengths keep the fields apart.
fn cache_key(value: &str, chain: Option<&str>, proxy: Proxy) -> Key {
    let mut h = Sha256::new();
    h.update([proxy as u8]);
    h.update((value.len() as u64).to_be_bytes());
    h.update(value.as_bytes());
    match chain {
        Some(c) => {
            h.update([1]);
            h.update(c.as_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

/// Decodes and parses a header value through the process-wide LRU cache. Failures are not cached
/// (they are cheap to recompute, and caching them would let garbage evict good entries).
pub fn from_header(
    value: &str,
    chain: Option<&str>,
    proxy: Proxy,
) -> Result<Arc<ClientCert>, CertError> {
    if value.len() > MAX_HEADER_LEN || chain.is_some_and(|c| c.len() > MAX_HEADER_LEN) {
        return Err(CertError::new(proxy, Reason::TooLarge));
    }
    let key = cache_key(value, chain, proxy);
    if let Some(hit) = lock().get(&key) {
        return Ok(Arc::clone(hit));
    }
    let cert = Arc::new(ClientCert::parse_header(value, chain, proxy)?);
    lock().put(key, Arc::clone(&cert));
    Ok(cert)
}

/// A cache hit only (None on a miss or an oversized value): a hit costs one SHA-256 and a lock,
/// so the binding answers it without releasing the GIL and parses misses with it released.
pub fn cached(value: &str, chain: Option<&str>, proxy: Proxy) -> Option<Arc<ClientCert>> {
    if value.len() > MAX_HEADER_LEN || chain.is_some_and(|c| c.len() > MAX_HEADER_LEN) {
        return None;
    }
    lock().get(&cache_key(value, chain, proxy)).map(Arc::clone)
}

/// Empties the cache (for tests and benchmarks of the uncached path).
pub fn cache_clear() {
    lock().clear();
}

/// How many entries the cache holds.
pub fn cache_len() -> usize {
    lock().len()
}

fn lock() -> std::sync::MutexGuard<'static, LruCache<Key, Arc<ClientCert>>> {
    // A panic while holding the lock cannot leave the LRU half-updated in a way that matters: recover.
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}
