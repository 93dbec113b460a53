//! The composite provider: a fast [`PartialProvider`] (aws-lc) first, and a full
//! [`CryptoProvider`] (RustCrypto) for whatever the fast one passes on, per key and per
//! operation. Neither provider knows the other; this is the only place they meet.
//!
//! How a key is made:
//! - Generated: by the fast half when it makes that spec, else by the full one.
//! - Private material: RSA goes through the full provider first, which validates it (so the
//!   composite accepts exactly the keys the full provider accepts) and computes absent CRT
//!   values the fast half needs; EC and AES go to the fast half, and to the full provider
//!   when the fast half does not take them (its errors are then the answer).
//! - Public keys: the full provider parses and checks them first, then the fast half.
//!
//! The full provider's key is made at once where it was needed above, otherwise on the
//! first operation the fast key passes on (from a zeroizing copy of the material), so a key
//! used only on the fast path never costs a second parse. A key the fast half has nothing
//! for is the full provider's key as it is.

use std::sync::{Arc, OnceLock};

use super::alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
use super::material::{KeyMaterial, KeySpec, PublicKey};
use super::provider::{CryptoProvider, Hasher, LoadedKey, PartialKey, PartialProvider};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// A fast provider with a full one behind it.
#[derive(Debug)]
pub struct Composite {
    fast: Box<dyn PartialProvider>,
    full: Arc<dyn CryptoProvider>,
}

impl Composite {
    /// `fast` first, `full` for the rest.
    pub fn new(fast: Box<dyn PartialProvider>, full: Arc<dyn CryptoProvider>) -> Self {
        Self { fast, full }
    }

    /// A composite key whose full half is `full` (already made) or made from `source`.
    fn key(
        &self,
        fast: Arc<dyn PartialKey>,
        full: Option<Arc<dyn LoadedKey>>,
        source: Option<KeyMaterial>,
    ) -> Arc<dyn LoadedKey> {
        let cell = OnceLock::new();
        if let Some(full) = full {
            let _ = cell.set(full);
        }
        Arc::new(CompositeKey {
            fast,
            full: cell,
            source,
            provider: Arc::clone(&self.full),
        })
    }
}

impl CryptoProvider for Composite {
    fn name(&self) -> &'static str {
        self.fast.name()
    }

    fn fill_random(&self, out: &mut [u8]) -> Result<()> {
        self.fast.fill_random(out)
    }

    fn generate(&self, spec: KeySpec) -> Result<KeyMaterial> {
        Ok(self.generate_loaded(spec)?.0)
    }

    fn generate_loaded(&self, spec: KeySpec) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
        match self.fast.generate(spec) {
            Some(made) => {
                let (material, fast) = made?;
                let key = self.key(fast, None, Some(material.duplicate()));
                Ok((material, key))
            }
            None => self.full.generate_loaded(spec),
        }
    }

    fn load(&self, material: &KeyMaterial) -> Result<Arc<dyn LoadedKey>> {
        if let KeyMaterial::Rsa(_) = material {
            let (complete, full) = self.full.load_complete(material)?;
            return match self.fast.load(&complete) {
                Some(fast) => Ok(self.key(fast?, Some(full), None)),
                None => Ok(full),
            };
        }
        match self.fast.load(material) {
            Some(fast) => Ok(self.key(fast?, None, Some(material.duplicate()))),
            None => self.full.load(material),
        }
    }

    fn load_public(&self, public: &PublicKey) -> Result<Arc<dyn LoadedKey>> {
        let full = self.full.load_public(public)?;
        match self.fast.load_public(public) {
            Some(fast) => Ok(self.key(fast?, Some(full), None)),
            None => Ok(full),
        }
    }

    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        self.fast.hasher(alg)
    }

    fn verify_hmac(&self, hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
        self.fast.verify_hmac(hash, key, message, tag)
    }
}

/// A key of both halves: the fast key, and the full provider's key of the same material.
struct CompositeKey {
    fast: Arc<dyn PartialKey>,
    full: OnceLock<Arc<dyn LoadedKey>>,
    /// What the full key is made from on first use (None once it was made at load).
    source: Option<KeyMaterial>,
    provider: Arc<dyn CryptoProvider>,
}

impl CompositeKey {
    /// The full provider's key, made on first use.
    fn full(&self) -> Result<&Arc<dyn LoadedKey>> {
        if let Some(full) = self.full.get() {
            return Ok(full);
        }
        let source = self
            .source
            .as_ref()
            .ok_or_else(|| Error::internal("a composite key without its full half"))?;
        // Two threads may both make it; one is kept, the other dropped (and zeroized).
        let _ = self.full.set(self.provider.load(source)?);
        self.full
            .get()
            .ok_or_else(|| Error::internal("a composite key without its full half"))
    }
}

impl LoadedKey for CompositeKey {
    fn spec(&self) -> KeySpec {
        self.fast.spec()
    }

    fn has_private(&self) -> bool {
        self.fast.has_private()
    }

    fn public_key(&self) -> Option<PublicKey> {
        self.fast.public_key()
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        match self.fast.sign(alg, input) {
            Some(answer) => answer,
            None => self.full()?.sign(alg, input),
        }
    }

    fn sign_into(&self, alg: &SignAlgorithm, input: &[u8], out: &mut [u8]) -> Result<usize> {
        match self.fast.sign_into(alg, input, out) {
            Some(answer) => answer,
            None => self.full()?.sign_into(alg, input, out),
        }
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        match self.fast.verify(alg, input, signature) {
            Some(answer) => answer,
            None => self.full()?.verify(alg, input, signature),
        }
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        match self.fast.encrypt(alg, plaintext) {
            Some(answer) => answer,
            None => self.full()?.encrypt(alg, plaintext),
        }
    }

    fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        match self.fast.encrypt_into(alg, plaintext, out) {
            Some(answer) => answer,
            None => self.full()?.encrypt_into(alg, plaintext, out),
        }
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        match self.fast.decrypt(alg, ciphertext) {
            Some(answer) => answer,
            None => self.full()?.decrypt(alg, ciphertext),
        }
    }

    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        match self.fast.wrap(alg, key) {
            Some(answer) => answer,
            None => self.full()?.wrap(alg, key),
        }
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        match self.fast.unwrap(alg, wrapped) {
            Some(answer) => answer,
            None => self.full()?.unwrap(alg, wrapped),
        }
    }

    fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        self.full()?.ecdh(peer_point)
    }
}

#[cfg(all(test, feature = "aws-lc"))]
mod aws_lc_tests;

#[cfg(test)]
mod tests {
    use parking_lot::Mutex;

    use super::*;
    use crate::crypto::material::{Curve, RsaPrivateParts};
    use crate::crypto::rustcrypto::{RustCryptoProvider, test_keys};

    /// What the fake fast half answers HMAC with: no real tag can be this.
    const FAST: &[u8] = b"fast";

    /// A fast half that makes and loads AES keys and answers only HMAC signing, and records
    /// whether the RSA material it was handed had its CRT values.
    #[derive(Debug, Default)]
    struct Fake {
        rsa_complete: Mutex<Vec<bool>>,
    }

    struct FakeKey(KeySpec);

    impl PartialKey for FakeKey {
        fn spec(&self) -> KeySpec {
            self.0
        }
        fn has_private(&self) -> bool {
            true
        }
        fn public_key(&self) -> Option<PublicKey> {
            None
        }
        fn sign(&self, alg: &SignAlgorithm, _input: &[u8]) -> Option<Result<Vec<u8>>> {
            matches!(alg, SignAlgorithm::Hmac { .. }).then(|| Ok(FAST.to_vec()))
        }
    }

    impl PartialProvider for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn fill_random(&self, out: &mut [u8]) -> Result<()> {
            out.fill(7);
            Ok(())
        }
        fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
            RustCryptoProvider::new().hasher(alg)
        }
        fn verify_hmac(&self, _: HashAlg, _: &[u8], _: &[u8], _: &[u8]) -> Result<bool> {
            Ok(false)
        }
        fn generate(&self, spec: KeySpec) -> Option<Result<(KeyMaterial, Arc<dyn PartialKey>)>> {
            let KeySpec::Aes { bits: 256 } = spec else {
                return None;
            };
            let material = KeyMaterial::Aes(SecretBytes::new(vec![7; 32]));
            Some(Ok((material, Arc::new(FakeKey(spec)))))
        }
        fn load(&self, material: &KeyMaterial) -> Option<Result<Arc<dyn PartialKey>>> {
            match material {
                KeyMaterial::Rsa(parts) => {
                    let complete = parts.dp.is_some() && parts.dq.is_some() && parts.qi.is_some();
                    self.rsa_complete.lock().push(complete);
                    Some(Ok(Arc::new(FakeKey(material.spec()))))
                }
                KeyMaterial::Aes(_) => Some(Ok(Arc::new(FakeKey(material.spec())))),
                KeyMaterial::Ec { .. } | KeyMaterial::Secret(_) => None,
            }
        }
        fn load_public(&self, public: &PublicKey) -> Option<Result<Arc<dyn PartialKey>>> {
            let spec = match public {
                PublicKey::Ec { curve, .. } => KeySpec::Ec { curve: *curve },
                PublicKey::Rsa { .. } => KeySpec::Rsa { bits: 2048 },
            };
            Some(Ok(Arc::new(FakeKey(spec))))
        }
    }

    fn composite() -> (Arc<Fake>, Composite) {
        let fake = Arc::new(Fake::default());
        let fast: Box<dyn PartialProvider> = Box::new(SharedFake(Arc::clone(&fake)));
        (
            fake,
            Composite::new(fast, Arc::new(RustCryptoProvider::new())),
        )
    }

    /// The fake behind an `Arc`, so the test can read what it recorded.
    #[derive(Debug)]
    struct SharedFake(Arc<Fake>);

    impl PartialProvider for SharedFake {
        fn name(&self) -> &'static str {
            self.0.name()
        }
        fn fill_random(&self, out: &mut [u8]) -> Result<()> {
            self.0.fill_random(out)
        }
        fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
            self.0.hasher(alg)
        }
        fn verify_hmac(&self, h: HashAlg, k: &[u8], m: &[u8], t: &[u8]) -> Result<bool> {
            self.0.verify_hmac(h, k, m, t)
        }
        fn generate(&self, spec: KeySpec) -> Option<Result<(KeyMaterial, Arc<dyn PartialKey>)>> {
            self.0.generate(spec)
        }
        fn load(&self, material: &KeyMaterial) -> Option<Result<Arc<dyn PartialKey>>> {
            self.0.load(material)
        }
        fn load_public(&self, public: &PublicKey) -> Option<Result<Arc<dyn PartialKey>>> {
            self.0.load_public(public)
        }
    }

    #[test]
    fn each_operation_goes_to_the_half_that_takes_it() {
        let (_, c) = composite();
        assert_eq!(c.name(), "fake");
        let (material, key) = c.generate_loaded(KeySpec::Aes { bits: 256 }).unwrap();
        let hmac = SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        };
        assert_eq!(key.sign(&hmac, b"m").unwrap(), FAST);
        // Into a buffer too: the fast half's own `sign`, not the full provider.
        let mut out = [0u8; 8];
        let n = key.sign_into(&hmac, b"m", &mut out).unwrap();
        assert_eq!(&out[..n], FAST);
        // CBC is passed on: the full provider's key of the same material answers, made now.
        let cbc = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv: [1; 16],
            padding: true,
        };
        let full = RustCryptoProvider::new().load(&material).unwrap();
        assert_eq!(
            key.encrypt(&cbc, b"message").unwrap(),
            full.encrypt(&cbc, b"message").unwrap()
        );
        let mut out = [0u8; 16];
        assert_eq!(key.encrypt_into(&cbc, b"message", &mut out).unwrap(), 16);
        assert_eq!(out[..], full.encrypt(&cbc, b"message").unwrap().data[..]);
        // A spec the fast half does not make is the full provider's alone.
        let (_, k128) = c.generate_loaded(KeySpec::Aes { bits: 128 }).unwrap();
        assert_ne!(k128.sign(&hmac, b"m").unwrap(), FAST);
        // So is material it does not load (EC here), errors included.
        let ec = RustCryptoProvider::new()
            .generate(KeySpec::Ec { curve: Curve::P256 })
            .unwrap();
        let ec_key = c.load(&ec).unwrap();
        let ecdsa = SignAlgorithm::Ecdsa {
            hash: Some(HashAlg::Sha256),
            curve: None,
        };
        let sig = ec_key.sign(&ecdsa, &[3; 32]).unwrap();
        let public = RustCryptoProvider::new()
            .load_public(&ec_key.public_key().unwrap())
            .unwrap();
        assert!(public.verify(&ecdsa, &[3; 32], &sig).unwrap());
        let bad = KeyMaterial::Ec {
            curve: Curve::P256,
            d: SecretBytes::new(vec![0; 32]),
        };
        assert_eq!(
            c.load(&bad).err().map(|e| e.code()),
            RustCryptoProvider::new().load(&bad).err().map(|e| e.code())
        );
    }

    #[test]
    fn rsa_material_is_checked_and_completed_before_the_fast_half_sees_it() {
        let (fake, c) = composite();
        let KeyMaterial::Rsa(parts) = test_keys::rsa2048() else {
            unreachable!()
        };
        let bare = KeyMaterial::Rsa(RsaPrivateParts {
            n: parts.n.clone(),
            e: parts.e.clone(),
            d: parts.d.duplicate(),
            p: parts.p.duplicate(),
            q: parts.q.duplicate(),
            dp: None,
            dq: None,
            qi: None,
        });
        c.load(&bare).unwrap();
        assert_eq!(*fake.rsa_complete.lock(), vec![true]);
        // An inconsistent key is refused by the full provider; the fast half never sees it.
        let mut d = parts.d.expose_secret().to_vec();
        d[10] ^= 1;
        let wrong = KeyMaterial::Rsa(RsaPrivateParts {
            n: parts.n.clone(),
            e: parts.e.clone(),
            d: SecretBytes::new(d),
            p: parts.p.duplicate(),
            q: parts.q.duplicate(),
            dp: None,
            dq: None,
            qi: None,
        });
        assert_eq!(
            c.load(&wrong).err().map(|e| e.code()),
            Some("InvalidKeyMaterial")
        );
        assert_eq!(fake.rsa_complete.lock().len(), 1);
    }

    #[test]
    fn public_keys_are_checked_by_the_full_provider_first() {
        let (_, c) = composite();
        // Not on the curve: the fake would take it, the full provider refuses it.
        let off_curve = PublicKey::Ec {
            curve: Curve::P256,
            x: vec![1; 32],
            y: vec![2; 32],
        };
        assert!(c.load_public(&off_curve).is_err());
    }
}
