//! The aws-lc provider: the provider seam on AWS-LC through `aws-lc-rs` (built with the
//! `aws-lc` feature), several times faster than the RustCrypto provider for RSA and ECDSA, and
//! with constant-time RSA (no Marvin timing advisory, unlike the `rsa` crate).
//!
//! One file per key family (`rsa.rs`, `ec.rs`, `aes.rs`), like the RustCrypto provider. Each
//! loaded key holds the parsed aws-lc key and, for whatever aws-lc-rs cannot do, delegates that
//! one operation to the RustCrypto provider's key (built eagerly for RSA, where it also
//! validates imported material exactly as the other provider does, lazily for EC). Delegated:
//! - RSA: raw RSA, PKCS#1 v1.5 signatures with SHA-1/SHA-224 or arbitrary (non-DigestInfo)
//!   input, PSS with a salt other than the hash length or an MGF1 hash other than the message
//!   hash or SHA-1/SHA-224, OAEP with MGF1 differing from the label hash or SHA-224, and every
//!   operation of keys under 2048 bits;
//! - EC: secp256k1 keys entirely, ECDH, and raw ECDSA input on P-521 whose value does not fit
//!   512 bits;
//! - AES: CBC, ECB, CTR, key wrap, CMAC, and GCM decryption with tags shorter than 16 bytes.
//!
//! Errors (bad lengths, wrong families, constraints) come from the same code as the RustCrypto
//! provider's: a request the fast path does not take as it is goes to the delegate, which
//! answers exactly as it would alone. Two differences remain, both documented where they are:
//! RSAES-PKCS1-v1_5 decryption reports bad padding as `DecryptionFailed` (AWS-LC has no implicit
//! rejection), and ECDSA nonces are random rather than RFC 6979 hedged.
//!
//! Secrets: AWS-LC wipes key objects when it frees them (`OPENSSL_free` cleanses), and every
//! byte copy made here lives in `Zeroizing` or [`SecretBytes`](crate::secret::SecretBytes).

mod aes;
mod ec;
mod rsa;

use std::sync::Arc;

use aws_lc_rs::{digest, hmac};

use crate::crypto::alg::HashAlg;
use crate::crypto::material::{Curve, KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::{CryptoProvider, Hasher, LoadedKey};
use crate::crypto::rustcrypto::RustCryptoProvider;
use crate::error::{Error, Result};

/// The provider built on aws-lc-rs, with the RustCrypto provider for what it lacks.
#[derive(Debug, Default)]
pub struct AwsLcProvider {
    fallback: RustCryptoProvider,
}

impl AwsLcProvider {
    /// A new provider.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CryptoProvider for AwsLcProvider {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn fill_random(&self, out: &mut [u8]) -> Result<()> {
        fill(out)
    }

    fn generate(&self, spec: KeySpec) -> Result<KeyMaterial> {
        Ok(self.generate_loaded(spec)?.0)
    }

    fn generate_loaded(&self, spec: KeySpec) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
        match spec {
            KeySpec::Rsa { bits } if rsa::fast_size(bits) => rsa::generate_loaded(bits),
            KeySpec::Ec { curve } if curve != Curve::Secp256k1 => ec::generate_loaded(curve),
            KeySpec::Aes { bits } if matches!(bits, 128 | 192 | 256) => {
                let mut key = crate::secret::SecretBytes::zeroed(bits as usize / 8);
                fill(key.expose_secret_mut())?;
                let loaded: Arc<dyn LoadedKey> = Arc::new(aes::AesKey::new(key.expose_secret())?);
                Ok((KeyMaterial::Aes(key), loaded))
            }
            // Sizes and curves aws-lc-rs does not make (and the errors for invalid ones).
            _ => self.fallback.generate_loaded(spec),
        }
    }

    fn load(&self, material: &KeyMaterial) -> Result<Arc<dyn LoadedKey>> {
        match material {
            KeyMaterial::Rsa(parts) => rsa::load(parts),
            KeyMaterial::Ec { curve, d } if *curve != Curve::Secp256k1 => ec::load(*curve, d),
            KeyMaterial::Aes(key) => Ok(Arc::new(aes::AesKey::new(key.expose_secret())?)),
            KeyMaterial::Ec { .. } => self.fallback.load(material),
        }
    }

    fn load_public(&self, public: &PublicKey) -> Result<Arc<dyn LoadedKey>> {
        match public {
            PublicKey::Rsa { n, e } => rsa::load_public(n, e),
            PublicKey::Ec { curve, x, y } if *curve != Curve::Secp256k1 => {
                ec::load_public(*curve, x, y)
            }
            PublicKey::Ec { .. } => self.fallback.load_public(public),
        }
    }

    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        Box::new(ContextHasher(digest::Context::new(digest_alg(alg))))
    }

    fn verify_hmac(&self, hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
        let key = hmac::Key::new(hmac_alg(hash), key);
        Ok(hmac::verify(&key, message, tag).is_ok())
    }
}

/// Fills `out` from AWS-LC's generator.
fn fill(out: &mut [u8]) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    aws_lc_rs::rand::fill(out).map_err(|_| Error::RandomFailure)
}

/// A streaming digest on an aws-lc-rs context.
struct ContextHasher(digest::Context);

impl Hasher for ContextHasher {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

/// The aws-lc-rs digest of a [`HashAlg`].
fn digest_alg(alg: HashAlg) -> &'static digest::Algorithm {
    match alg {
        HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha224 => &digest::SHA224,
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    }
}

/// The aws-lc-rs HMAC of a [`HashAlg`].
fn hmac_alg(alg: HashAlg) -> hmac::Algorithm {
    match alg {
        HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha224 => hmac::HMAC_SHA224,
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    }
}

/// A digest value handed to aws-lc-rs as if it had computed it (the core has checked the
/// length; `None` when it does not fit the algorithm).
fn import_digest(alg: HashAlg, value: &[u8]) -> Option<digest::Digest> {
    digest::Digest::import_less_safe(value, digest_alg(alg)).ok()
}

#[cfg(test)]
mod tests;
