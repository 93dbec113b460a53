//! The aws-lc provider: the provider seam on AWS-LC through `aws-lc-rs` (built with the
//! `aws-lc` feature), several times faster than the RustCrypto provider for RSA and ECDSA, and
//! with constant-time RSA (no Marvin timing advisory, unlike the `rsa` crate).
//!
//! One file per key family (`rsa.rs`, `ec.rs`, `aes.rs`, `secret.rs`), like the RustCrypto provider. This is
//! a [`PartialProvider`]: it answers what AWS-LC does well and passes the rest on (`None`), and
//! [`Composite`](crate::crypto::composite::Composite) gives that to the RustCrypto provider,
//! which this module never names. Passed on:
//! - RSA: raw RSA, PKCS#1 v1.5 signatures with SHA-1/SHA-224 or arbitrary (non-DigestInfo)
//!   input, PSS with a salt other than the hash length or an MGF1 hash other than the message
//!   hash or SHA-1/SHA-224, OAEP with MGF1 differing from the label hash or SHA-224, and every
//!   operation of keys under 2048 bits;
//! - EC: secp256k1 keys entirely, ECDH, and raw ECDSA input on P-521 whose value does not fit
//!   512 bits;
//! - AES: CBC, ECB, CTR, key wrap with 192-bit keys, CMAC, and GCM decryption with tags
//!   shorter than 16 bytes;
//! - generic secrets: everything but HMAC (which the RustCrypto key refuses);
//! - anything whose parameters or lengths it does not take as they are, so that errors come
//!   from one place. Two differences remain, both documented where they are: RSAES-PKCS1-v1_5
//!   decryption reports bad padding as `DecryptionFailed` (AWS-LC has no implicit
//!   rejection), and ECDSA nonces are random rather than RFC 6979 hedged.
//!
//! Secrets: AWS-LC wipes key objects when it frees them (`OPENSSL_free` cleanses), and every
//! byte copy made here lives in `Zeroizing` or [`SecretBytes`](crate::secret::SecretBytes).

mod aes;
mod ec;
mod rsa;
mod secret;

use std::sync::Arc;

use aws_lc_rs::{digest, hmac};

use crate::crypto::alg::{HashAlg, SignAlgorithm};
use crate::crypto::material::{Curve, KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::{Hasher, PartialKey, PartialProvider};
use crate::error::{Error, Result};

/// The provider built on aws-lc-rs (the fast half of the `aws-lc` composite).
#[derive(Debug, Default)]
pub struct AwsLcProvider;

impl AwsLcProvider {
    /// A new provider.
    pub fn new() -> Self {
        Self
    }
}

impl PartialProvider for AwsLcProvider {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn fill_random(&self, out: &mut [u8]) -> Result<()> {
        fill(out)
    }

    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        Box::new(ContextHasher(digest::Context::new(digest_alg(alg))))
    }

    fn verify_hmac(&self, hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
        let key = hmac::Key::new(hmac_alg(hash), key);
        Ok(hmac::verify(&key, message, tag).is_ok())
    }

    fn generate(&self, spec: KeySpec) -> Option<Result<(KeyMaterial, Arc<dyn PartialKey>)>> {
        match spec {
            KeySpec::Rsa { bits } if rsa::fast_size(bits) => Some(rsa::generate(bits)),
            KeySpec::Ec { curve } if curve != Curve::Secp256k1 => Some(ec::generate(curve)),
            KeySpec::Aes { bits } if matches!(bits, 128 | 192 | 256) => Some(aes::generate(bits)),
            KeySpec::Secret { .. } if spec.validate_for_pool().is_ok() => {
                Some(secret::generate(spec.bits()))
            }
            // Sizes and curves aws-lc-rs does not make (and invalid ones).
            _ => None,
        }
    }

    fn load(&self, material: &KeyMaterial) -> Option<Result<Arc<dyn PartialKey>>> {
        match material {
            KeyMaterial::Rsa(parts) => rsa::load(parts),
            KeyMaterial::Ec { curve, d } if *curve != Curve::Secp256k1 => ec::load(*curve, d),
            KeyMaterial::Ec { .. } => None,
            KeyMaterial::Aes(key) => {
                let key = aes::AesKey::new(key.expose_secret())?;
                Some(Ok(Arc::new(key)))
            }
            KeyMaterial::Secret(key) => {
                let key = secret::SecretKey::new(key.expose_secret())?;
                Some(Ok(Arc::new(key)))
            }
        }
    }

    fn load_public(&self, public: &PublicKey) -> Option<Result<Arc<dyn PartialKey>>> {
        match public {
            PublicKey::Rsa { n, e } => rsa::load_public(n, e),
            PublicKey::Ec { curve, x, y } if *curve != Curve::Secp256k1 => {
                ec::load_public(*curve, x, y)
            }
            PublicKey::Ec { .. } => None,
        }
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

/// The HMAC keys of one secret (an AES key's bytes, a generic secret), one per hash, each
/// keyed when first used (its inner and outer pads hashed once) and kept: a MAC then costs
/// only its message's blocks. Dropped (and cleansed by aws-lc) with the loaded key.
#[derive(Default)]
pub(crate) struct HmacKeys([std::sync::OnceLock<hmac::Key>; 5]);

impl HmacKeys {
    /// The key for `alg` under `secret` (always the same secret for one `HmacKeys`), or
    /// `None` when `alg` is not an HMAC.
    fn key(&self, secret: &[u8], alg: &SignAlgorithm) -> Option<&hmac::Key> {
        let SignAlgorithm::Hmac { hash } = alg else {
            return None;
        };
        let slot = match hash {
            HashAlg::Sha1 => 0,
            HashAlg::Sha224 => 1,
            HashAlg::Sha256 => 2,
            HashAlg::Sha384 => 3,
            HashAlg::Sha512 => 4,
        };
        Some(self.0[slot].get_or_init(|| hmac::Key::new(hmac_alg(*hash), secret)))
    }

    /// The MAC of `input`, when `alg` is an HMAC.
    pub(crate) fn sign(
        &self,
        secret: &[u8],
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Option<Result<Vec<u8>>> {
        let key = self.key(secret, alg)?;
        Some(Ok(hmac::sign(key, input).as_ref().to_vec()))
    }

    /// Writes the MAC of `input` into `out` and returns its length, when `alg` is an HMAC.
    pub(crate) fn sign_into(
        &self,
        secret: &[u8],
        alg: &SignAlgorithm,
        input: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize>> {
        let key = self.key(secret, alg)?;
        Some(super::shared::copy_out(
            hmac::sign(key, input).as_ref(),
            out,
        ))
    }

    /// Whether `signature` is the MAC of `input` (compared in constant time), when `alg` is
    /// an HMAC.
    pub(crate) fn verify(
        &self,
        secret: &[u8],
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Option<Result<bool>> {
        let key = self.key(secret, alg)?;
        Some(Ok(hmac::verify(key, input, signature).is_ok()))
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
