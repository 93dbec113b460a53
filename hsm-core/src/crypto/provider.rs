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

    /// Loads material as [`load`](Self::load) does (same checks, same errors) and gives it
    /// back complete: RSA with its CRT values, computed when absent. For a
    /// [`Composite`](super::composite::Composite), whose fast half needs every component.
    fn load_complete(&self, material: &KeyMaterial) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
        Ok((material.duplicate(), self.load(material)?))
    }

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

    /// Signs into `out` and returns the signature's length; `out` holds at least
    /// [`check::signature_len`](super::check::signature_len) bytes. The default signs and
    /// copies; a provider may write in place.
    fn sign_into(&self, alg: &SignAlgorithm, input: &[u8], out: &mut [u8]) -> Result<usize> {
        super::shared::copy_out(&self.sign(alg, input)?, out)
    }

    /// Verifies; `Ok(false)` for a wrong or malformed signature.
    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool>;

    /// Encrypts.
    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext>;

    /// Encrypts into `out`, in PKCS#11's layout (the data, then an AEAD tag; no IV: the
    /// algorithm names it), and returns the length written; `out` holds at least
    /// [`check::ciphertext_len`](super::check::ciphertext_len) bytes. The default encrypts
    /// and copies; a provider may write in place.
    fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        self.encrypt(alg, plaintext)?.copy_into(out)
    }

    /// Decrypts (AEAD input is `ciphertext || tag`). Failures are `DecryptionFailed`.
    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes>;

    /// Wraps `key` (raw key bytes).
    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>>;

    /// Unwraps; failures are `DecryptionFailed`.
    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes>;

    /// ECDH: the shared secret (the x coordinate) with a peer's SEC1-encoded point.
    fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes>;
}

/// A provider that does part of the seam, fast, and passes the rest on: the first half of a
/// [`Composite`](super::composite::Composite), which asks a full [`CryptoProvider`] for
/// whatever this one answers `None` to (an algorithm, a key size or curve, or input it does
/// not take as it is). It never answers with an error what the full provider would answer
/// differently, so a caller cannot tell which half answered, save for speed.
pub trait PartialProvider: Send + Sync + fmt::Debug {
    /// The composite's name (`aws-lc`).
    fn name(&self) -> &'static str;

    /// Fills `out` from a cryptographically secure generator.
    fn fill_random(&self, out: &mut [u8]) -> Result<()>;

    /// A streaming digest.
    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher>;

    /// Checks an HMAC tag in constant time (see [`CryptoProvider::verify_hmac`]).
    fn verify_hmac(&self, hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool>;

    /// New material with its fast key; `None` for specs it does not make (or invalid ones).
    fn generate(&self, spec: KeySpec) -> Option<Result<(KeyMaterial, Arc<dyn PartialKey>)>>;

    /// The fast key of material; `None` when it has none for it, and for material it would
    /// refuse (the full provider then answers, with its errors). RSA material arrives
    /// validated and complete (with its CRT values).
    fn load(&self, material: &KeyMaterial) -> Option<Result<Arc<dyn PartialKey>>>;

    /// The fast key of a public key the full provider has already accepted; `None` when it
    /// has none for it.
    fn load_public(&self, public: &PublicKey) -> Option<Result<Arc<dyn PartialKey>>>;
}

/// A key of a [`PartialProvider`]: each operation answers `None` when the full provider's key
/// must do it (as it would alone, errors included).
pub trait PartialKey: Send + Sync {
    /// The key's type and size.
    fn spec(&self) -> KeySpec;

    /// True when the key holds private or secret material.
    fn has_private(&self) -> bool;

    /// The public half (None for symmetric keys).
    fn public_key(&self) -> Option<PublicKey>;

    /// Signs, or `None`.
    fn sign(&self, _alg: &SignAlgorithm, _input: &[u8]) -> Option<Result<Vec<u8>>> {
        None
    }

    /// Signs into `out` as [`LoadedKey::sign_into`], or `None`. The default is this key's
    /// [`PartialKey::sign`] and a copy: what this half signs, it signs into a buffer too
    /// (answering `None` here would hand every signature to the full provider).
    fn sign_into(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize>> {
        let signature = self.sign(alg, input)?;
        Some(signature.and_then(|s| super::shared::copy_out(&s, out)))
    }

    /// Verifies, or `None`.
    fn verify(
        &self,
        _alg: &SignAlgorithm,
        _input: &[u8],
        _signature: &[u8],
    ) -> Option<Result<bool>> {
        None
    }

    /// Encrypts, or `None`.
    fn encrypt(&self, _alg: &CipherAlgorithm, _plaintext: &[u8]) -> Option<Result<Ciphertext>> {
        None
    }

    /// Encrypts into `out` as [`LoadedKey::encrypt_into`], or `None`. The default is this
    /// key's [`PartialKey::encrypt`] and a copy, as for [`PartialKey::sign_into`].
    fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize>> {
        let ciphertext = self.encrypt(alg, plaintext)?;
        Some(ciphertext.and_then(|c| c.copy_into(out)))
    }

    /// Decrypts, or `None`.
    fn decrypt(&self, _alg: &CipherAlgorithm, _ciphertext: &[u8]) -> Option<Result<SecretBytes>> {
        None
    }

    /// Wraps, or `None`.
    fn wrap(&self, _alg: &WrapAlgorithm, _key: &[u8]) -> Option<Result<Vec<u8>>> {
        None
    }

    /// Unwraps, or `None`.
    fn unwrap(&self, _alg: &WrapAlgorithm, _wrapped: &[u8]) -> Option<Result<SecretBytes>> {
        None
    }
}
