//! Byte buffers that hold secrets: wiped on drop, never printed, compared in constant time.

use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Plaintext secret bytes. Debug prints `[redacted]`; there is no Display on purpose.
#[derive(Clone, Default)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }
    /// The plaintext. Callers must not log or keep copies longer than needed.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub(crate) fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Constant-time equality (length is not hidden: it is visible in the envelope anyway).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.len() == other.len() && bool::from(self.0.as_slice().ct_eq(other))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A fixed 32-byte key, wiped on drop.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct KeyBytes(pub(crate) [u8; 32]);

impl KeyBytes {
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_bytes() {
        let s = SecretBytes::from_slice(b"hunter2-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let k = KeyBytes([7u8; 32]);
        assert_eq!(format!("{k:?}"), "[redacted]");
    }

    #[test]
    fn constant_time_equality() {
        let s = SecretBytes::from_slice(b"abc");
        assert!(s.ct_eq(b"abc"));
        assert!(!s.ct_eq(b"abd"));
        assert!(!s.ct_eq(b"ab"));
        assert!(!s.ct_eq(b"abcd"));
    }

    #[test]
    fn lengths_and_mutation() {
        let mut s = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        s.expose_mut()[0] = 9;
        assert_eq!(s.expose(), &[9, 2, 3]);
        let empty = SecretBytes::default();
        assert_eq!(empty.len(), 0);
        assert!(empty.is_empty());
        assert!(empty.ct_eq(b""));
        assert_eq!(KeyBytes([5u8; 32]).expose(), &[5u8; 32]);
    }
}
