//! The binding layer: extract and validate arguments, release the GIL around I/O and heavy work,
//! call the core, convert results. No crypto or Redis logic lives here.

pub mod aio;
pub mod apikeys;
pub mod audit;
pub mod cert;
pub mod convert;
pub mod error;
pub mod keyring;
pub mod pylog;
pub mod redact;
pub mod secret;
pub mod vault;

use log::LevelFilter;
use pyo3::prelude::*;

/// Module set-up, run once at import.
pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // rustls is compiled without a default provider; without this the first TLS connect panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Rust logs go to Python's `logging` (logger objects cached, levels read live so a later
    // `setLevel` takes effect). TLS and Redis internals are chatty at DEBUG and could
    // echo connection details, so they are held to warnings.
    // Wrapped so that an exception a Python handler or filter raises reaches the caller as itself.
    pylog::install(
        pyo3_log::Logger::new(py, pyo3_log::Caching::Loggers)?
            .filter_target("rustls".to_owned(), LevelFilter::Warn)
            .filter_target("redis".to_owned(), LevelFilter::Warn)
            .filter_target("tokio".to_owned(), LevelFilter::Warn),
    );
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
