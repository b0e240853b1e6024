//! Redaction engine: known secret values and a catalogue of token formats, replaced in place.

use std::sync::{LazyLock, RwLock};

/// Process-wide set of known secret values, fed by every revealed `Secret`.
static KNOWN: LazyLock<RwLock<Vec<Vec<u8>>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Register a secret value with the process-wide redactor.
pub fn add_known_secret(value: &[u8]) {
    if value.is_empty() {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|v| v == value) {
        known.push(value.to_vec());
    }
}
