//! The crypto providers against each other: a data directory written under one opens and
//! signs under the other, and what one signs or encrypts the other verifies or decrypts.

mod common;

use std::sync::Arc;

use common::{START, open_dir_with, providers};
use hsm_core::PoolSettings;
use hsm_core::crypto::{CipherAlgorithm, Curve, HashAlg, KeySpec, jwa};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};
use hsm_core::names::Tags;
use hsm_core::time::ManualClock;

fn all_ops() -> KeyOptions {
    KeyOptions {
        ops: Some(KeyOps::of(&[
            KeyOperation::Sign,
            KeyOperation::Verify,
            KeyOperation::Encrypt,
            KeyOperation::Decrypt,
        ])),
        ..KeyOptions::default()
    }
}

#[test]
fn a_data_directory_moves_between_providers() {
    let names = providers();
    if names.len() < 2 {
        eprintln!("one provider built: nothing to compare");
        return;
    }
    for (writer, reader) in [(names[0], names[1]), (names[1], names[0])] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(START);
        let cases = [
            ("rsa", KeySpec::Rsa { bits: 2048 }, "RS256", 32),
            ("rsapss", KeySpec::Rsa { bits: 2048 }, "PS256", 32),
            ("p256", KeySpec::Ec { curve: Curve::P256 }, "ES256", 32),
            ("p384", KeySpec::Ec { curve: Curve::P384 }, "ES384", 48),
            ("p521", KeySpec::Ec { curve: Curve::P521 }, "ES512", 64),
            (
                "k256",
                KeySpec::Ec {
                    curve: Curve::Secp256k1,
                },
                "ES256K",
                32,
            ),
        ];
        let digest = |len: usize| (0..len as u8).collect::<Vec<u8>>();
        let mut signatures = Vec::new();
        let ciphertext;
        {
            let hsm = open_dir_with(dir.path(), &clock, writer);
            assert_eq!(hsm.provider().name(), writer);
            hsm.create_pool("moving", PoolSettings::default(), Tags::new())
                .unwrap();
            let pool = hsm.pool("moving").unwrap();
            for (name, spec, alg, len) in cases {
                let opts = if matches!(spec, KeySpec::Rsa { .. }) {
                    all_ops()
                } else {
                    KeyOptions::default()
                };
                pool.create_key(name, spec, &opts).unwrap();
                let alg = jwa::sign_algorithm(alg).unwrap();
                signatures.push(pool.sign(name, None, &alg, &digest(len)).unwrap());
            }
            pool.create_key("aes", KeySpec::Aes { bits: 256 }, &all_ops())
                .unwrap();
            let gcm = CipherAlgorithm::AesGcm {
                key_bits: Some(256),
                iv: Some(vec![3; 12]),
                aad: b"aad".to_vec(),
                tag_len: 16,
            };
            ciphertext = pool
                .encrypt("aes", None, &gcm, b"across providers")
                .unwrap();
        }
        let hsm = open_dir_with(dir.path(), &clock, reader);
        assert_eq!(hsm.provider().name(), reader);
        let pool = hsm.pool("moving").unwrap();
        for ((name, _, alg, len), sig) in cases.iter().zip(&signatures) {
            let alg = jwa::sign_algorithm(alg).unwrap();
            assert!(
                pool.verify(name, None, &alg, &digest(*len), sig).unwrap(),
                "{writer} -> {reader}: {name}"
            );
            let again = pool.sign(name, None, &alg, &digest(*len)).unwrap();
            assert!(
                pool.verify(name, None, &alg, &digest(*len), &again)
                    .unwrap()
            );
        }
        let gcm = CipherAlgorithm::AesGcm {
            key_bits: Some(256),
            iv: ciphertext.iv.clone(),
            aad: b"aad".to_vec(),
            tag_len: 16,
        };
        let plain = pool
            .decrypt("aes", None, &gcm, &ciphertext.data_with_tag())
            .unwrap();
        assert_eq!(plain.expose_secret(), b"across providers");
        let oaep = CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha256,
            label: vec![],
        };
        let ct = pool.encrypt("rsa", None, &oaep, b"k").unwrap();
        assert_eq!(
            pool.decrypt("rsa", None, &oaep, &ct.data)
                .unwrap()
                .expose_secret(),
            b"k"
        );
    }
}

#[test]
fn each_provider_is_chosen_by_name_and_unknown_names_fail() {
    for name in providers() {
        let p = hsm_core::crypto::provider_by_name(name).unwrap();
        assert_eq!(p.name(), name);
    }
    let err = hsm_core::crypto::provider_by_name("openssl").unwrap_err();
    assert_eq!(err.code(), "BadParameter");
    assert!(err.to_string().contains("rustcrypto"), "{err}");
    let _: Arc<dyn hsm_core::crypto::CryptoProvider> = hsm_core::crypto::default_provider();
}
