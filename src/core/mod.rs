//! Pure-Rust core of keyseal: keys, envelopes, naming, stores and redaction. No Python in here.
#![forbid(unsafe_code)]

pub mod apikey;
pub mod audit;
pub mod cert;
pub mod envelope;
pub mod error;
pub mod keyring;
pub mod naming;
pub mod redact;
pub mod runtime;
pub mod secret;
pub mod store;
pub mod vault;

pub use error::{CoreError, Result, StoreErrorKind};
