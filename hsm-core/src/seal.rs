//! Sealing records at rest: AES-256-GCM with the record's identity as associated data.
//!
//! A sealed value is `version (1) || nonce (12) || ciphertext || tag (16)`. The associated
//! data names what the value is (for key material: pool, key name and version), so a record
//! moved to another place in the store fails authentication instead of being accepted.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// An AES-256-GCM key used to seal records. `Debug` is redacted.
pub(crate) struct SealKey(Aes256Gcm);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey([REDACTED])")
    }
}

impl SealKey {
    /// A sealing key from 32 secret bytes.
    pub(crate) fn new(key: &SecretBytes) -> Result<SealKey> {
        Aes256Gcm::new_from_slice(key.expose_secret())
            .map(SealKey)
            .map_err(|_| Error::internal("sealing keys are 32 bytes"))
    }

    /// Derives a purpose-bound sealing key from a root secret with HKDF-SHA256.
    pub(crate) fn derive(root: &SecretBytes, purpose: &str) -> Result<SealKey> {
        SealKey::new(&derive_secret(root, purpose, 32)?)
    }

    /// Encrypts and authenticates `plaintext`, bound to `aad`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| Error::RandomFailure)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        let mut body = out.split_off(out.len());
        body.reserve_exact(plaintext.len() + TAG_LEN);
        body.extend_from_slice(plaintext);
        self.0
            .encrypt_in_place(&Nonce::from(nonce), aad, &mut body)
            .map_err(|_| Error::internal("sealing failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Checks and decrypts a sealed value. `None` when it fails authentication.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<SecretBytes> {
        let (&version, rest) = sealed.split_first()?;
        if version != SEAL_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        // Decrypted in place: the buffer only shrinks, so the plaintext is never copied
        // outside the zeroizing holder it lands in.
        let mut plain = body.to_vec();
        let ok = self
            .0
            .decrypt_in_place(&Nonce::from(nonce), aad, &mut plain)
            .is_ok();
        let plain = SecretBytes::new(plain);
        ok.then_some(plain)
    }
}

/// Derives `len` secret bytes bound to `purpose` from `root` (HKDF-SHA256, no salt).
pub(crate) fn derive_secret(root: &SecretBytes, purpose: &str, len: usize) -> Result<SecretBytes> {
    let hk = Hkdf::<Sha256>::new(None, root.expose_secret());
    let mut out = SecretBytes::zeroed(len);
    hk.expand(purpose.as_bytes(), out.expose_secret_mut())
        .map_err(|_| Error::internal("HKDF output too long"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealKey {
        SealKey::new(&SecretBytes::from_slice(&[byte; 32])).unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let k = key(1);
        let sealed = k.seal(b"k/pool/name", b"secret").unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 6 + 16);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            k.open(b"k/pool/name", &sealed).unwrap().expose_secret(),
            b"secret"
        );
        assert!(k.open(b"k/pool/other", &sealed).is_none(), "swapped record");
        assert!(key(2).open(b"k/pool/name", &sealed).is_none(), "wrong key");
    }

    #[test]
    fn every_tampering_is_caught() {
        let k = key(3);
        let sealed = k.seal(b"aad", b"payload bytes").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x40;
            assert!(k.open(b"aad", &t).is_none(), "flip at {i}");
        }
        for cut in 0..sealed.len() {
            assert!(k.open(b"aad", &sealed[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn nonces_differ() {
        let k = key(4);
        assert_ne!(k.seal(b"", b"x").unwrap(), k.seal(b"", b"x").unwrap());
    }

    #[test]
    fn derivation_is_bound_to_purpose() {
        let root = SecretBytes::from_slice(&[9; 32]);
        let a = derive_secret(&root, "a", 32).unwrap();
        let b = derive_secret(&root, "b", 32).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(
            a.expose_secret(),
            derive_secret(&root, "a", 32).unwrap().expose_secret()
        );
    }
}
