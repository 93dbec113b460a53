//! The RustCrypto provider: every primitive of the provider seam on the pure-Rust RustCrypto
//! crates (`rsa`, `p256`/`p384`/`p521`/`k256`, `aes-gcm`, `aes-kw`, `cbc`, `ctr`, `cmac`,
//! `hmac`, `sha1`/`sha2`).
//!
//! One file per key family (`rsa.rs`, `ec.rs`, `aes.rs`, and `hmac.rs`: HMAC and generic
//! secrets), plus the
//! digests (`hash.rs`) and the system random generator (`random.rs`). The loaded keys keep their
//! secrets only in types that zeroize on drop, print `[REDACTED]` and cannot be cloned.
//!
//! Known limits of the crates, reported as errors rather than worked around:
//! - RSA-PSS needs the MGF1 hash to equal the message hash (the `rsa` crate has one digest
//!   parameter for both); other combinations are `UnsupportedAlgorithm`. OAEP has no such limit.
//! - RSAES-PKCS1-v1_5 decryption uses implicit rejection (the `rsa` crate's defence against
//!   Bleichenbacher/Marvin oracles): a ciphertext with bad padding decrypts to a deterministic
//!   synthetic message instead of failing, so it is not reported as `DecryptionFailed`.

mod aes;
pub(crate) mod ec;
mod hash;
mod hmac;
mod random;
pub(crate) mod rsa;

use std::sync::Arc;

use crate::crypto::alg::HashAlg;
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::{CryptoProvider, Hasher, LoadedKey};
use crate::error::{Error, Result};

/// The provider built on the RustCrypto crates.
#[derive(Debug, Default)]
pub struct RustCryptoProvider;

impl RustCryptoProvider {
    /// A new provider.
    pub fn new() -> Self {
        Self
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn fill_random(&self, out: &mut [u8]) -> Result<()> {
        random::fill(out)
    }

    fn generate(&self, spec: KeySpec) -> Result<KeyMaterial> {
        match spec {
            KeySpec::Rsa { bits } => rsa::generate(bits),
            KeySpec::Ec { curve } => ec::generate(curve),
            KeySpec::Aes { bits } => aes::generate(bits),
            KeySpec::Secret { bits } => hmac::generate_secret(bits),
        }
    }

    fn generate_loaded(&self, spec: KeySpec) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
        match spec {
            KeySpec::Rsa { bits } => {
                let key = rsa::RsaKey::generate(bits)?;
                Ok((KeyMaterial::Rsa(key.parts()?), Arc::new(key)))
            }
            KeySpec::Ec { curve } => ec::generate_loaded(curve),
            KeySpec::Aes { .. } | KeySpec::Secret { .. } => {
                let material = self.generate(spec)?;
                let key = self.load(&material)?;
                Ok((material, key))
            }
        }
    }

    fn load(&self, material: &KeyMaterial) -> Result<Arc<dyn LoadedKey>> {
        match material {
            KeyMaterial::Rsa(parts) => Ok(Arc::new(rsa::RsaKey::from_parts(parts)?)),
            KeyMaterial::Ec { curve, d } => ec::load(*curve, d),
            KeyMaterial::Aes(key) => Ok(Arc::new(aes::AesKey::new(key.expose_secret())?)),
            KeyMaterial::Secret(key) => Ok(Arc::new(hmac::SecretKey::new(key.expose_secret())?)),
        }
    }

    fn load_complete(&self, material: &KeyMaterial) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
        match material {
            KeyMaterial::Rsa(parts) => {
                let key = rsa::RsaKey::from_parts(parts)?;
                Ok((KeyMaterial::Rsa(key.parts()?), Arc::new(key)))
            }
            _ => Ok((material.duplicate(), self.load(material)?)),
        }
    }

    fn load_public(&self, public: &PublicKey) -> Result<Arc<dyn LoadedKey>> {
        match public {
            PublicKey::Rsa { n, e } => Ok(Arc::new(rsa::RsaKey::from_public(n, e)?)),
            PublicKey::Ec { curve, x, y } => ec::load_public(*curve, x, y),
        }
    }

    fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        hash::hasher(alg)
    }

    fn verify_hmac(&self, hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
        hmac::verify(hash, key, message, tag)
    }
}

/// Runs `$body` with `$d` bound to the RustCrypto digest type of a [`HashAlg`].
macro_rules! with_hash {
    ($alg:expr, $d:ident => $body:expr) => {
        match $alg {
            $crate::crypto::alg::HashAlg::Sha1 => {
                type $d = ::sha1::Sha1;
                $body
            }
            $crate::crypto::alg::HashAlg::Sha224 => {
                type $d = ::sha2::Sha224;
                $body
            }
            $crate::crypto::alg::HashAlg::Sha256 => {
                type $d = ::sha2::Sha256;
                $body
            }
            $crate::crypto::alg::HashAlg::Sha384 => {
                type $d = ::sha2::Sha384;
                $body
            }
            $crate::crypto::alg::HashAlg::Sha512 => {
                type $d = ::sha2::Sha512;
                $body
            }
        }
    };
}
pub(crate) use with_hash;

/// The error for a private operation on a public-only key.
pub(crate) fn private_key_needed(operation: &str) -> Error {
    Error::key_type(format!(
        "{operation} needs a private key; this key holds only the public part"
    ))
}

/// The error for an algorithm that does not fit the key's family.
pub(crate) fn wrong_family(what: &str, spec: &KeySpec) -> Error {
    Error::key_type(format!("{what} is not possible with {spec}"))
}

/// Keys shared by the unit tests of this provider (RSA generation is slow: once per binary).
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use crate::crypto::material::KeyMaterial;

    /// One RSA-2048 key for all unit tests.
    pub fn rsa2048() -> &'static KeyMaterial {
        static KEY: OnceLock<KeyMaterial> = OnceLock::new();
        KEY.get_or_init(|| super::rsa::generate(2048).expect("RSA-2048 generation"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::material::Curve;

    #[test]
    fn provider_dispatches_generate_and_load() {
        let p = RustCryptoProvider::new();
        assert_eq!(p.name(), "rustcrypto");
        for spec in [
            KeySpec::Ec { curve: Curve::P256 },
            KeySpec::Aes { bits: 192 },
            KeySpec::Secret { bits: 256 },
        ] {
            let m = p.generate(spec).unwrap();
            assert_eq!(m.spec(), spec);
            let k = p.load(&m).unwrap();
            assert_eq!(k.spec(), spec);
            assert!(k.has_private());
        }
        assert_eq!(
            p.generate(KeySpec::Aes { bits: 100 }).unwrap_err().code(),
            "BadParameter"
        );
    }

    /// The crate types that hold key material (or key schedules) while this provider works
    /// wipe themselves when dropped, with the features enabled in `Cargo.toml`.
    #[test]
    fn secret_holding_crate_types_zeroize_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<::aes::Aes128>();
        wiped_on_drop::<::aes::Aes192>();
        wiped_on_drop::<::aes::Aes256>();
        wiped_on_drop::<aes_gcm::AesGcm<::aes::Aes256, ::aes::cipher::consts::U12>>();
        wiped_on_drop::<cbc::Decryptor<::aes::Aes128>>();
        wiped_on_drop::<ctr::Ctr64BE<::aes::Aes128>>();
        // CMAC and HMAC keep key-derived state in these cores (the wrappers carry no marker).
        wiped_on_drop::<cmac::block_api::CmacCore<::aes::Aes128>>();
        wiped_on_drop::<sha1::block_api::Sha1Core>();
        wiped_on_drop::<sha2::block_api::Sha256VarCore>();
        wiped_on_drop::<sha2::block_api::Sha512VarCore>();
        wiped_on_drop::<::rsa::PrivateKey>();
        wiped_on_drop::<ecdsa::SigningKey<p256::NistP256>>();
        wiped_on_drop::<ecdsa::SigningKey<p384::NistP384>>();
        wiped_on_drop::<ecdsa::SigningKey<p521::NistP521>>();
        wiped_on_drop::<ecdsa::SigningKey<k256::Secp256k1>>();
        wiped_on_drop::<elliptic_curve::SecretKey<p256::NistP256>>();
        wiped_on_drop::<elliptic_curve::ecdh::SharedSecret<p256::NistP256>>();
        wiped_on_drop::<zeroize::Zeroizing<Vec<u8>>>();
    }

    /// Every operation of every key type, called directly with odd lengths and parameters
    /// (the core's checks bypassed), returns an error or a value: never a panic.
    /// A key of each kind (RSA, EC on three curves, AES, generic secrets of the extreme
    /// sizes) and the public halves.
    fn keys_of_every_kind() -> Vec<Arc<dyn LoadedKey>> {
        let p = RustCryptoProvider::new();
        let mut keys: Vec<Arc<dyn LoadedKey>> = vec![p.load(test_keys::rsa2048()).unwrap()];
        for spec in [
            KeySpec::Ec { curve: Curve::P256 },
            KeySpec::Ec { curve: Curve::P521 },
            KeySpec::Ec {
                curve: Curve::Secp256k1,
            },
            KeySpec::Aes { bits: 128 },
            KeySpec::Aes { bits: 256 },
            KeySpec::Secret { bits: 8 },
            KeySpec::Secret { bits: 4096 },
        ] {
            keys.push(p.load(&p.generate(spec).unwrap()).unwrap());
        }
        let publics: Vec<_> = keys
            .iter()
            .filter_map(|k| k.public_key())
            .map(|pk| p.load_public(&pk).unwrap())
            .collect();
        keys.extend(publics);
        keys
    }

    /// Signature algorithms of every family, with hashes and salt lengths that fit no key.
    fn odd_sign_algorithms() -> Vec<crate::crypto::alg::SignAlgorithm> {
        use crate::crypto::alg::SignAlgorithm;

        let hashes = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512];
        let mut sign_algs = vec![
            SignAlgorithm::Cmac,
            SignAlgorithm::RsaPkcs1v15 { hash: None },
            SignAlgorithm::RsaRaw,
        ];
        for hash in hashes {
            sign_algs.push(SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) });
            sign_algs.push(SignAlgorithm::Hmac { hash });
            sign_algs.push(SignAlgorithm::Ecdsa {
                hash: Some(hash),
                curve: None,
            });
            for salt_len in [0, 32, 300, usize::MAX] {
                sign_algs.push(SignAlgorithm::RsaPss {
                    hash,
                    mgf1: hash,
                    salt_len,
                });
            }
        }
        sign_algs.push(SignAlgorithm::Ecdsa {
            hash: None,
            curve: Some(Curve::P384),
        });
        sign_algs
    }

    /// Cipher algorithms of every family, with IVs, tags, key sizes and counters that fit no
    /// key.
    fn odd_cipher_algorithms() -> Vec<crate::crypto::alg::CipherAlgorithm> {
        use crate::crypto::alg::CipherAlgorithm;

        let hashes = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512];
        let mut cipher_algs = vec![
            CipherAlgorithm::RsaPkcs1v15,
            CipherAlgorithm::RsaRaw,
            CipherAlgorithm::AesEcb,
        ];
        for hash in hashes {
            cipher_algs.push(CipherAlgorithm::RsaOaep {
                hash,
                mgf1: HashAlg::Sha1,
                label: vec![1; 3],
            });
        }
        for (iv, tag_len) in [
            (None, 16),
            (Some(vec![0; 12]), 12),
            (Some(vec![0; 3]), 16),
            (None, 0),
            (Some(vec![0; 12]), 100),
        ] {
            cipher_algs.push(CipherAlgorithm::AesGcm {
                key_bits: None,
                iv,
                aad: vec![2; 5],
                tag_len,
            });
        }
        for padding in [true, false] {
            cipher_algs.push(CipherAlgorithm::AesCbc {
                key_bits: Some(192),
                iv: [0; 16],
                padding,
            });
            cipher_algs.push(CipherAlgorithm::AesCbc {
                key_bits: None,
                iv: [0xff; 16],
                padding,
            });
        }
        for counter_bits in [0, 32, 64, 128, 200] {
            cipher_algs.push(CipherAlgorithm::AesCtr {
                counter_block: [0xff; 16],
                counter_bits,
            });
        }
        cipher_algs
    }

    #[test]
    fn no_input_makes_a_provider_panic() {
        use crate::crypto::alg::WrapAlgorithm;

        let keys = keys_of_every_kind();
        let sign_algs = odd_sign_algorithms();
        let cipher_algs = odd_cipher_algorithms();
        let wrap_algs = [
            WrapAlgorithm::RsaPkcs1v15,
            WrapAlgorithm::RsaOaep {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha256,
                label: vec![],
            },
            WrapAlgorithm::AesKw { key_bits: None },
            WrapAlgorithm::AesKwp {
                key_bits: Some(128),
            },
        ];

        let lengths = [
            0usize, 1, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 65, 66, 67, 133, 245, 256, 257,
            1000,
        ];
        for key in &keys {
            for len in lengths {
                let input = vec![0xa5u8; len];
                for alg in &sign_algs {
                    let _ = key.sign(alg, &input);
                    let _ = key.verify(alg, &input, &input);
                    let _ = key.verify(alg, &[0; 32], &input);
                }
                for alg in &cipher_algs {
                    let _ = key.encrypt(alg, &input);
                    let _ = key.decrypt(alg, &input);
                }
                for alg in &wrap_algs {
                    let _ = key.wrap(alg, &input);
                    let _ = key.unwrap(alg, &input);
                }
                let _ = key.ecdh(&input);
                let mut point = input.clone();
                if let Some(first) = point.first_mut() {
                    *first = 4;
                }
                let _ = key.ecdh(&point);
            }
        }
    }

    #[test]
    fn fill_random_fills() {
        let p = RustCryptoProvider::new();
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        p.fill_random(&mut a).unwrap();
        p.fill_random(&mut b).unwrap();
        assert_ne!(a, [0; 32]);
        assert_ne!(a, b);
        p.fill_random(&mut []).unwrap();
    }

    /// The output lengths the core's checks announce (PKCS#11's length queries answer with
    /// them, before any work) are the lengths this provider produces.
    #[test]
    fn announced_output_lengths_are_the_real_ones() {
        use crate::crypto::alg::{CipherAlgorithm, SignAlgorithm, WrapAlgorithm};
        use crate::crypto::check;

        let p = RustCryptoProvider::new();
        let mut keys: Vec<Arc<dyn LoadedKey>> = vec![p.load(test_keys::rsa2048()).unwrap()];
        for spec in [
            KeySpec::Ec { curve: Curve::P256 },
            KeySpec::Ec { curve: Curve::P384 },
            KeySpec::Ec { curve: Curve::P521 },
            KeySpec::Aes { bits: 128 },
            KeySpec::Aes { bits: 256 },
            KeySpec::Secret { bits: 160 },
        ] {
            keys.push(p.load(&p.generate(spec).unwrap()).unwrap());
        }
        let mut sign_algs = vec![SignAlgorithm::Cmac, SignAlgorithm::RsaRaw];
        for hash in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha512] {
            sign_algs.push(SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) });
            sign_algs.push(SignAlgorithm::RsaPss {
                hash,
                mgf1: hash,
                salt_len: hash.output_len(),
            });
            sign_algs.push(SignAlgorithm::Ecdsa {
                hash: Some(hash),
                curve: None,
            });
            sign_algs.push(SignAlgorithm::Hmac { hash });
        }
        let cipher_algs = [
            CipherAlgorithm::RsaPkcs1v15,
            CipherAlgorithm::RsaRaw,
            CipherAlgorithm::RsaOaep {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha1,
                label: vec![],
            },
            CipherAlgorithm::AesEcb,
            CipherAlgorithm::AesCbc {
                key_bits: None,
                iv: [3; 16],
                padding: true,
            },
            CipherAlgorithm::AesCbc {
                key_bits: None,
                iv: [3; 16],
                padding: false,
            },
            CipherAlgorithm::AesCtr {
                counter_block: [1; 16],
                counter_bits: 32,
            },
            CipherAlgorithm::AesGcm {
                key_bits: None,
                iv: Some(vec![7; 12]),
                aad: vec![1],
                tag_len: 12,
            },
        ];
        let wrap_algs = [
            WrapAlgorithm::RsaPkcs1v15,
            WrapAlgorithm::AesKw { key_bits: None },
            WrapAlgorithm::AesKwp { key_bits: None },
        ];
        let mut checked = 0;
        for key in &keys {
            let spec = key.spec();
            for len in [0usize, 1, 16, 20, 31, 32, 33, 64, 100, 256] {
                let input = vec![0x5au8; len];
                for alg in &sign_algs {
                    if check::sign(&spec, alg, len).is_ok() {
                        let sig = key.sign(alg, &input).unwrap();
                        assert_eq!(sig.len(), check::signature_len(&spec, alg).unwrap());
                        checked += 1;
                    }
                }
                for alg in &cipher_algs {
                    if check::encrypt(&spec, alg, len).is_ok() {
                        let ct = key.encrypt(alg, &input).unwrap().data_with_tag();
                        assert_eq!(ct.len(), check::ciphertext_len(&spec, alg, len).unwrap());
                        let pt = key.decrypt(alg, &ct).unwrap();
                        assert_eq!(pt.expose_secret(), input.as_slice());
                        assert!(
                            pt.len() <= check::plaintext_max_len(&spec, alg, ct.len()).unwrap()
                        );
                        checked += 1;
                    }
                }
                for alg in &wrap_algs {
                    if check::wrap(&spec, alg, len).is_ok() {
                        let wrapped = key.wrap(alg, &input).unwrap();
                        assert_eq!(wrapped.len(), check::wrapped_len(&spec, alg, len).unwrap());
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }
}

#[cfg(test)]
mod generate_loaded_tests {
    use super::*;
    use crate::crypto::alg::SignAlgorithm;
    use crate::crypto::material::Curve;

    /// The key handed back with fresh material is the key the material loads to.
    #[test]
    fn generated_key_matches_its_material() {
        let p = RustCryptoProvider::new();
        let specs = [
            KeySpec::Rsa { bits: 2048 },
            KeySpec::Ec { curve: Curve::P256 },
            KeySpec::Ec { curve: Curve::P521 },
            KeySpec::Aes { bits: 192 },
            KeySpec::Secret { bits: 168 },
        ];
        for spec in specs {
            let (material, key) = p.generate_loaded(spec).unwrap();
            assert_eq!(material.spec(), spec);
            assert_eq!(key.spec(), spec);
            let reloaded = p.load(&material).unwrap();
            assert_eq!(key.public_key(), reloaded.public_key(), "{spec:?}");
            let (alg, input) = match spec {
                KeySpec::Rsa { .. } => (SignAlgorithm::RsaPkcs1v15 { hash: None }, vec![1; 35]),
                KeySpec::Ec { .. } => (
                    SignAlgorithm::Ecdsa {
                        hash: None,
                        curve: None,
                    },
                    vec![1; 32],
                ),
                KeySpec::Aes { .. } => (SignAlgorithm::Cmac, vec![1; 32]),
                KeySpec::Secret { .. } => (
                    SignAlgorithm::Hmac {
                        hash: crate::crypto::alg::HashAlg::Sha256,
                    },
                    vec![1; 32],
                ),
            };
            let sig = key.sign(&alg, &input).unwrap();
            assert!(reloaded.verify(&alg, &input, &sig).unwrap(), "{spec:?}");
        }
    }
}
