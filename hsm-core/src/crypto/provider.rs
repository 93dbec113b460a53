//! The crypto provider seam, in the manner of rustls' `CryptoProvider`.
//!
//! Everything cryptographic goes through a [`CryptoProvider`]: key generation, parsing key
//! material into a ready-to-use [`LoadedKey`], digests and random numbers. The rest of the
//! core never names a crypto crate, so a provider can be swapped without touching it.
//!
//! Providers may assume the core has run [`super::check`] on every call (algorithm fits the
//! key, input lengths are right), but must still fail cleanly, never panic, on bad input.

use std::fmt;
use std::sync::Arc;

use super::alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
use super::material::{KeyMaterial, KeySpec, PublicKey};
use crate::error::Result;
use crate::secret::SecretBytes;

/// A source of cryptography.
pub trait CryptoProvider: Send + Sync + fmt::Debug {
    /// A short name for logs and benchmarks (`rustcrypto`).
    fn name(&self) -> &'static str;

    /// Fills `out` from a cryptographically secure generator.
    fn fill_random(&self, out: &mut [u8]) -> Result<()>;

    /// Generates new key material (RSA keys with e = 65537).
    fn generate(&self, spec: KeySpec) -> Result<KeyMaterial>;

    /// Generates new key material together with the key loaded from it. Providers override
    /// this to skip parsing (and validating) what they have just made.
    fn generate_loaded(&self, spec: KeySpec) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
        let material = self.generate(spec)?;
        let key = self.load(&material)?;
        Ok((material, key))
    }

    /// Parses and validates key material into a ready-to-use key.
    ///
    /// Imported material is checked for consistency here (RSA: `p * q = n`, `d` matches `e`,
    /// CRT values computed when absent; EC: the scalar is in range; AES: a valid key length).
    fn load(&self, material: &KeyMaterial) -> Result<Arc<dyn LoadedKey>>;

    /// Parses a public key (for verification and encryption without the private part).
    /// Private operations on the result fail with `OperationNotPermitted`-like errors.
    fn load_public(&self, public: &PublicKey) -> Result<Arc<dyn LoadedKey>>;

    /// A streaming digest.
    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher>;

    /// Checks an HMAC tag under a key of any length (a JWT's shared secret, say), in constant
    /// time; a wrong tag is `Ok(false)`.
    fn verify_hmac(&self, hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool>;
}

/// A streaming digest computation.
pub trait Hasher: Send {
    /// Absorbs more input.
    fn update(&mut self, data: &[u8]);
    /// The digest.
    fn finish(self: Box<Self>) -> Vec<u8>;
}

/// A parsed key held by a provider: secret parts zeroized when it drops.
///
/// Each method does one primitive; the core checks policy and lengths before calling.
pub trait LoadedKey: Send + Sync {
    /// The key's type and size.
    fn spec(&self) -> KeySpec;

    /// True when the key holds private or secret material (false for public-only keys).
    fn has_private(&self) -> bool;

    /// The public half (None for symmetric keys).
    fn public_key(&self) -> Option<PublicKey>;

    /// Signs `input` (a digest, raw input or message, as the algorithm says).
    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>>;

    /// Verifies; `Ok(false)` for a wrong or malformed signature.
    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool>;

    /// Encrypts.
    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext>;

    /// Decrypts (AEAD input is `ciphertext || tag`). Failures are `DecryptionFailed`.
    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes>;

    /// Wraps `key` (raw key bytes).
    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>>;

    /// Unwraps; failures are `DecryptionFailed`.
    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes>;

    /// ECDH: the shared secret (the x coordinate) with a peer's SEC1-encoded point.
    fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes>;
}
