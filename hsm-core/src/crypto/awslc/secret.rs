//! Generic secrets: HMAC with aws-lc-rs; everything else is passed on (the RustCrypto key
//! refuses it with the core's error).

use std::sync::Arc;

use super::{HmacKeys, fill};
use crate::crypto::alg::SignAlgorithm;
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::PartialKey;
use crate::error::Result;
use crate::secret::SecretBytes;

/// Generates a generic secret of `bits` bits (checked by the caller), as material and loaded.
pub fn generate(bits: u32) -> Result<(KeyMaterial, Arc<dyn PartialKey>)> {
    let mut key = SecretBytes::zeroed(bits as usize / 8);
    fill(key.expose_secret_mut())?;
    let loaded = SecretKey {
        key: key.duplicate(),
        hmac: HmacKeys::default(),
    };
    Ok((KeyMaterial::Secret(key), Arc::new(loaded)))
}

/// A loaded generic secret: its bytes and their HMAC keys.
pub struct SecretKey {
    key: SecretBytes,
    hmac: HmacKeys,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({} bytes, aws-lc, [REDACTED])", self.key.len())
    }
}

impl SecretKey {
    /// Loads a generic secret's bytes of a length the core allows, else `None` (the full
    /// provider refuses them, with its error).
    pub fn new(key: &[u8]) -> Option<Self> {
        KeySpec::secret_of_len(key.len()).ok()?;
        Some(Self {
            key: SecretBytes::from_slice(key),
            hmac: HmacKeys::default(),
        })
    }
}

impl PartialKey for SecretKey {
    fn spec(&self) -> KeySpec {
        KeySpec::Secret {
            bits: (self.key.len() * 8) as u32,
        }
    }

    fn has_private(&self) -> bool {
        true
    }

    fn public_key(&self) -> Option<PublicKey> {
        None
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Option<Result<Vec<u8>>> {
        self.hmac.sign(self.key.expose_secret(), alg, input)
    }

    fn sign_into(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize>> {
        self.hmac
            .sign_into(self.key.expose_secret(), alg, input, out)
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Option<Result<bool>> {
        self.hmac
            .verify(self.key.expose_secret(), alg, input, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::alg::{CipherAlgorithm, HashAlg};

    #[test]
    fn hmac_here_the_rest_passed_on() {
        assert!(SecretKey::new(&[]).is_none());
        assert!(SecretKey::new(&[1; 513]).is_none());
        // RFC 4231 test case 2.
        let key = SecretKey::new(b"Jefe").unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey(4 bytes, aws-lc, [REDACTED])");
        assert_eq!(key.spec(), KeySpec::Secret { bits: 32 });
        let hs256 = SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        };
        let tag = key
            .sign(&hs256, b"what do ya want for nothing?")
            .unwrap()
            .unwrap();
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(key.sign(&SignAlgorithm::Cmac, b"x").is_none());
        assert!(key.encrypt(&CipherAlgorithm::AesEcb, &[0; 16]).is_none());
        let (material, loaded) = generate(160).unwrap();
        assert_eq!(material.spec(), KeySpec::Secret { bits: 160 });
        assert_eq!(loaded.spec(), KeySpec::Secret { bits: 160 });
    }
}
