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

    /// Appends `more` (a multi-part input gathered piece by piece). When the buffer must grow,
    /// the bytes move to a new allocation and the old one is zeroized, so no copy is left
    /// behind in freed memory (as a plain `Vec` growing in place would).
    pub fn extend_from_slice(&mut self, more: &[u8]) {
        let needed = self.0.len().saturating_add(more.len());
        if needed > self.0.capacity() {
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(self.0.capacity() * 2)));
            grown.extend_from_slice(&self.0);
            // The old allocation is zeroized as it drops here.
            self.0 = grown;
        }
        self.0.extend_from_slice(more);
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
    fn extend_keeps_the_bytes_in_order_and_grows_without_reallocating_in_place() {
        let mut s = SecretBytes::default();
        for i in 0..100u8 {
            s.extend_from_slice(&[i, i]);
            // Growth only ever happens through a fresh allocation of at least the need.
            assert!(s.0.capacity() >= s.len());
        }
        let want: Vec<u8> = (0..100u8).flat_map(|i| [i, i]).collect();
        assert_eq!(s.expose_secret(), want.as_slice());
        s.extend_from_slice(&[]);
        assert_eq!(s.len(), 200);
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
