//! The one error type of the core; the binding layer maps each variant to a Python exception.

use std::fmt;

/// What went wrong talking to the store, so callers can tell a retryable fault from a bad setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The server could not be reached, or the connection broke.
    Connection,
    /// The server refused our credentials, or the user lacks a permission.
    Auth,
    /// No answer within the configured timeout.
    Timeout,
    /// The server answered with an error.
    Server,
}

#[derive(Debug)]
pub enum CoreError {
    /// Any failure to open an envelope. Deliberately carries nothing: which check failed, and the
    /// input bytes, are both useful to an attacker and useless to a legitimate caller.
    Decryption,
    /// A setting that is unsafe, inconsistent or missing.
    Config(String),
    /// A bad argument value (a name, a TTL, a size); maps to `ValueError`.
    Invalid(String),
    /// The backing store failed. The message never holds credentials or payloads.
    Store {
        kind: StoreErrorKind,
        message: String,
    },
    /// An API key failed verification. One fixed message whatever the reason; `certificate`
    /// says only that the key is bound to another (or an absent) client certificate, which
    /// frameworks answer with 403 rather than 401.
    InvalidApiKey { certificate: bool },
    /// A valid API key lacks these scopes (their names only).
    InsufficientScope(Vec<String>),
}

/// The fixed text of every API key verification failure.
pub const INVALID_API_KEY: &str = "invalid API key";

pub type Result<T> = std::result::Result<T, CoreError>;

/// The fixed text of every decryption failure.
pub const DECRYPTION_FAILED: &str =
    "decryption failed: the data is corrupt, was tampered with, belongs to another slot, or no key in the keyring can open it";

impl CoreError {
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
    pub fn store(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self::Store {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decryption => f.write_str(DECRYPTION_FAILED),
            Self::Config(m) | Self::Invalid(m) => f.write_str(m),
            Self::Store { message, .. } => f.write_str(message),
            Self::InvalidApiKey { .. } => f.write_str(INVALID_API_KEY),
            Self::InsufficientScope(missing) => {
                write!(f, "API key lacks required scope(s): {}", missing.join(", "))
            }
        }
    }
}

impl std::error::Error for CoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_fixed_text_or_the_message() {
        assert_eq!(CoreError::Decryption.to_string(), DECRYPTION_FAILED);
        assert_eq!(CoreError::config("bad setting").to_string(), "bad setting");
        assert_eq!(CoreError::invalid("bad value").to_string(), "bad value");
        let e = CoreError::store(StoreErrorKind::Timeout, "no answer in 2 s");
        assert_eq!(e.to_string(), "no answer in 2 s");
        assert!(matches!(
            e,
            CoreError::Store {
                kind: StoreErrorKind::Timeout,
                ..
            }
        ));
        for certificate in [false, true] {
            assert_eq!(
                CoreError::InvalidApiKey { certificate }.to_string(),
                INVALID_API_KEY
            );
        }
        let scopes = CoreError::InsufficientScope(vec!["admin".into(), "write".into()]);
        assert_eq!(
            scopes.to_string(),
            "API key lacks required scope(s): admin, write"
        );
    }
}
