//! Holders for secret bytes: zeroized on drop, never printed.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// Secret bytes (key material, plaintext, shared secrets).
///
/// Zeroized on drop; `Debug` prints `[REDACTED]`; no `Clone`, no `Serialize`.
/// Reading the bytes is explicit: [`SecretBytes::expose_secret`].
#[derive(Default, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are zeroized when this value drops.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }

    /// A zero-filled secret of `len` bytes, to be filled in place.
    pub fn zeroed(len: usize) -> Self {
        Self::new(vec![0; len])
    }

    /// The secret bytes. Every call site is a place where a secret is used.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Mutable access, for filling a buffer in place.
    pub fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// An explicit copy (secret holders do not implement `Clone`).
    pub fn duplicate(&self) -> Self {
        Self::from_slice(&self.0)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED]; {} bytes)", self.0.len())
    }
}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from_slice(b"hunter2-hunter2");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn duplicate_is_equal_and_independent() {
        let a = SecretBytes::from_slice(&[1, 2, 3]);
        let mut b = a.duplicate();
        b.expose_secret_mut()[0] = 9;
        assert_eq!(a.expose_secret(), &[1, 2, 3]);
        assert_eq!(b.expose_secret(), &[9, 2, 3]);
    }
}
