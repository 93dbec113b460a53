//! HMAC with SHA-1 and SHA-2, keyed by a symmetric key's bytes; generic secrets (HMAC keys
//! and nothing else).

use ::hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use super::{random, with_hash, wrong_family};
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::LoadedKey;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// Generates a generic secret of `bits` bits (the sizes [`KeySpec::validate_for_pool`] allows).
pub fn generate_secret(bits: u32) -> Result<KeyMaterial> {
    KeySpec::Secret { bits }.validate_for_pool()?;
    let mut key = SecretBytes::zeroed(bits as usize / 8);
    random::fill(key.expose_secret_mut())?;
    Ok(KeyMaterial::Secret(key))
}

/// A loaded generic secret: HMAC only.
pub struct SecretKey {
    key: SecretBytes,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({} bytes, [REDACTED])", self.key.len())
    }
}

impl SecretKey {
    /// Loads a generic secret's bytes (a length the core allows).
    pub fn new(key: &[u8]) -> Result<Self> {
        KeySpec::secret_of_len(key.len())
            .map_err(|_| Error::material("a generic secret of an unsupported length"))?;
        Ok(Self {
            key: SecretBytes::from_slice(key),
        })
    }
}

impl LoadedKey for SecretKey {
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

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        match alg {
            SignAlgorithm::Hmac { hash } => sign(*hash, self.key.expose_secret(), input),
            _ => Err(wrong_family("a signature other than HMAC", &self.spec())),
        }
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        match alg {
            SignAlgorithm::Hmac { hash } => {
                verify(*hash, self.key.expose_secret(), input, signature)
            }
            _ => Err(wrong_family("a signature other than HMAC", &self.spec())),
        }
    }

    fn encrypt(&self, _alg: &CipherAlgorithm, _plaintext: &[u8]) -> Result<Ciphertext> {
        Err(wrong_family("encryption", &self.spec()))
    }

    fn decrypt(&self, _alg: &CipherAlgorithm, _ciphertext: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("decryption", &self.spec()))
    }

    fn wrap(&self, _alg: &WrapAlgorithm, _key: &[u8]) -> Result<Vec<u8>> {
        Err(wrong_family("key wrapping", &self.spec()))
    }

    fn unwrap(&self, _alg: &WrapAlgorithm, _wrapped: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("key unwrapping", &self.spec()))
    }

    fn ecdh(&self, _peer_point: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("ECDH", &self.spec()))
    }
}

/// HMAC-`hash` of `message` under `key`.
pub fn sign(hash: HashAlg, key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    with_hash!(hash, D => {
        let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key)
            .map_err(|_| Error::internal("HMAC rejected the key length"))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

/// Checks an HMAC tag in constant time; a wrong tag (of any length) is `Ok(false)`.
pub fn verify(hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
    let expected = sign(hash, key, message)?;
    Ok(expected.ct_eq(tag).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 (key "Jefe").
    const MSG: &[u8] = b"what do ya want for nothing?";

    #[test]
    fn rfc4231_case_2() {
        let tag = sign(HashAlg::Sha256, b"Jefe", MSG).unwrap();
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let tag = sign(HashAlg::Sha512, b"Jefe", MSG).unwrap();
        assert_eq!(
            hex::encode(&tag),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        let tag = sign(HashAlg::Sha224, b"Jefe", MSG).unwrap();
        assert_eq!(
            hex::encode(&tag),
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"
        );
    }

    #[test]
    fn generic_secrets_mac_and_nothing_else() {
        let m = generate_secret(160).unwrap();
        assert_eq!(m.spec(), KeySpec::Secret { bits: 160 });
        assert_eq!(generate_secret(0).unwrap_err().code(), "BadParameter");
        assert_eq!(generate_secret(4104).unwrap_err().code(), "BadParameter");
        assert!(SecretKey::new(&[]).is_err());
        assert!(SecretKey::new(&[1; 513]).is_err());
        let key = SecretKey::new(b"Jefe").unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey(4 bytes, [REDACTED])");
        let hs256 = SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        };
        let tag = key.sign(&hs256, MSG).unwrap();
        assert_eq!(tag, sign(HashAlg::Sha256, b"Jefe", MSG).unwrap());
        assert!(key.verify(&hs256, MSG, &tag).unwrap());
        assert_eq!(
            key.sign(&SignAlgorithm::Cmac, MSG).unwrap_err().code(),
            "KeyTypeMismatch"
        );
        let gcm = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: vec![],
            tag_len: 16,
        };
        assert_eq!(
            key.encrypt(&gcm, MSG).unwrap_err().code(),
            "KeyTypeMismatch"
        );
        let kw = WrapAlgorithm::AesKw { key_bits: None };
        assert_eq!(
            key.wrap(&kw, &[0; 16]).unwrap_err().code(),
            "KeyTypeMismatch"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_tag() {
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let key = [7u8; 32];
            let tag = sign(hash, &key, b"msg").unwrap();
            assert_eq!(tag.len(), hash.output_len());
            assert!(verify(hash, &key, b"msg", &tag).unwrap());
            assert!(!verify(hash, &key, b"msh", &tag).unwrap());
            assert!(!verify(hash, &[8u8; 32], b"msg", &tag).unwrap());
            let mut bad = tag.clone();
            bad[0] ^= 1;
            assert!(!verify(hash, &key, b"msg", &bad).unwrap());
            assert!(!verify(hash, &key, b"msg", &tag[..tag.len() - 1]).unwrap());
            assert!(!verify(hash, &key, b"msg", &[]).unwrap());
        }
    }
}
