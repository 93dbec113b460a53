//! Property tests of the round trips, and of malformed input never panicking.

mod common;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use hsm_core::crypto::{
    CipherAlgorithm, Curve, HashAlg, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm, jwa,
};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, Pool, PoolSettings, SecretBytes};
use proptest::prelude::*;

/// One pool per crypto provider built in: every property holds on each.
fn pools() -> &'static [Pool] {
    static POOLS: OnceLock<Vec<Pool>> = OnceLock::new();
    POOLS.get_or_init(|| common::providers().into_iter().map(make_pool).collect())
}

fn make_pool(provider: &str) -> Pool {
    {
        let provider = hsm_core::crypto::provider_by_name(provider).unwrap();
        let hsm = Hsm::open(HsmConfig::in_memory().provider(provider)).unwrap();
        hsm.create_pool("props", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("props").unwrap();
        let all = KeyOptions {
            ops: Some(KeyOps::of(&[
                KeyOperation::Sign,
                KeyOperation::Verify,
                KeyOperation::Encrypt,
                KeyOperation::Decrypt,
                KeyOperation::WrapKey,
                KeyOperation::UnwrapKey,
            ])),
            ..KeyOptions::default()
        };
        pool.import_key("rsa", common::rsa2048(), &all).unwrap();
        for bits in [128, 192, 256] {
            pool.create_key(&format!("aes{bits}"), KeySpec::Aes { bits }, &all)
                .unwrap();
        }
        let ec = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify])),
            ..KeyOptions::default()
        };
        for (name, curve) in [
            ("p256", Curve::P256),
            ("p384", Curve::P384),
            ("p521", Curve::P521),
            ("k256", Curve::Secp256k1),
        ] {
            pool.create_key(name, KeySpec::Ec { curve }, &ec).unwrap();
        }
        pool
    }
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

fn jws() -> impl Strategy<Value = (&'static str, &'static str, usize)> {
    prop_oneof![
        Just(("RS256", "rsa", 32)),
        Just(("PS384", "rsa", 48)),
        Just(("RS512", "rsa", 64)),
        Just(("ES256", "p256", 32)),
        Just(("ES384", "p384", 48)),
        Just(("ES512", "p521", 64)),
        Just(("ES256K", "k256", 32)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_verify((alg, key, len) in jws(), seed in any::<[u8; 64]>()) {
        for pool in pools() {
        let alg = jwa::sign_algorithm(alg).unwrap();
        let digest = &seed[..len];
        let sig = pool.sign(key, None, &alg, digest).unwrap();
        prop_assert!(pool.verify(key, None, &alg, digest, &sig).unwrap());
        }
    }

    #[test]
    fn hmac_and_raw_ecdsa_round_trip(msg in proptest::collection::vec(any::<u8>(), 1..300)) {
        for pool in pools() {
        for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let alg = SignAlgorithm::Hmac { hash };
            let mac = pool.sign("aes256", None, &alg, &msg).unwrap();
            prop_assert_eq!(mac.len(), hash.output_len());
            prop_assert!(pool.verify("aes256", None, &alg, &msg, &mac).unwrap());
        }
        let raw = SignAlgorithm::Ecdsa { hash: None, curve: None };
        let sig = pool.sign("p521", None, &raw, &msg).unwrap();
        prop_assert!(pool.verify("p521", None, &raw, &msg, &sig).unwrap());
        }
    }

    #[test]
    fn encrypt_then_decrypt(
        plaintext in proptest::collection::vec(any::<u8>(), 0..600),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
        iv in any::<[u8; 16]>(),
        bits in prop_oneof![Just(128u32), Just(192), Just(256)],
    ) {
        for pool in pools() {
        let key = format!("aes{bits}");
        let algs = [
            CipherAlgorithm::AesGcm { key_bits: Some(bits), iv: None, aad: aad.clone(), tag_len: 16 },
            CipherAlgorithm::AesCbc { key_bits: None, iv, padding: true },
            CipherAlgorithm::AesCtr { counter_block: iv, counter_bits: 64 },
        ];
        for alg in algs {
            let ct = pool.encrypt(&key, None, &alg, &plaintext).unwrap();
            let dec = match &alg {
                CipherAlgorithm::AesGcm { key_bits, aad, tag_len, .. } => CipherAlgorithm::AesGcm {
                    key_bits: *key_bits, iv: ct.iv.clone(), aad: aad.clone(), tag_len: *tag_len,
                },
                other => other.clone(),
            };
            let pt = pool.decrypt(&key, None, &dec, &ct.data_with_tag()).unwrap();
            prop_assert_eq!(pt.expose_secret(), &plaintext[..]);
        }
        let oaep = CipherAlgorithm::RsaOaep { hash: HashAlg::Sha256, mgf1: HashAlg::Sha256, label: aad.clone() };
        let short = &plaintext[..plaintext.len().min(190)];
        let ct = pool.encrypt("rsa", None, &oaep, short).unwrap();
        prop_assert_eq!(pool.decrypt("rsa", None, &oaep, &ct.data).unwrap().expose_secret().to_vec(), short);
        }
    }

    #[test]
    fn wrap_then_unwrap(blocks in 2usize..16, extra in 1usize..70, fill in any::<u8>()) {
        for pool in pools() {
        let kw_key: Vec<u8> = (0..blocks * 8).map(|i| fill ^ i as u8).collect();
        let kw = WrapAlgorithm::AesKw { key_bits: None };
        let w = pool.wrap_key("aes128", None, &kw, &kw_key).unwrap();
        prop_assert_eq!(w.len(), kw_key.len() + 8);
        prop_assert_eq!(pool.unwrap_key("aes128", None, &kw, &w).unwrap().expose_secret().to_vec(), &kw_key[..]);
        let kwp_key: Vec<u8> = (0..extra).map(|i| fill.wrapping_add(i as u8)).collect();
        let kwp = WrapAlgorithm::AesKwp { key_bits: Some(256) };
        let w = pool.wrap_key("aes256", None, &kwp, &kwp_key).unwrap();
        prop_assert_eq!(pool.unwrap_key("aes256", None, &kwp, &w).unwrap().expose_secret().to_vec(), &kwp_key[..]);
        let oaep = jwa::wrap_algorithm("RSA-OAEP").unwrap();
        let w = pool.wrap_key("rsa", None, &oaep, &kwp_key).unwrap();
        prop_assert_eq!(pool.unwrap_key("rsa", None, &oaep, &w).unwrap().expose_secret().to_vec(), &kwp_key[..]);
        }
    }

    #[test]
    fn backup_then_restore(
        tags in proptest::collection::btree_map("[a-z]{1,8}", "[a-z0-9]{0,12}", 0..15),
        enabled in any::<bool>(),
        versions in 1usize..4,
        curve in prop_oneof![Just(Curve::P256), Just(Curve::P384), Just(Curve::Secp256k1)],
    ) {
        for pool in pools() {
        let name = unique("bk");
        let opts = KeyOptions { tags: Some(tags.clone()), enabled: Some(enabled), ..KeyOptions::default() };
        pool.create_key(&name, KeySpec::Ec { curve }, &opts).unwrap();
        for _ in 1..versions {
            pool.rotate_key(&name).unwrap();
        }
        let before = pool.list_versions(&name, &Default::default()).unwrap().items;
        let blob = pool.backup_key(&name).unwrap();
        pool.delete_key(&name).unwrap();
        pool.purge_deleted_key(&name).unwrap();
        pool.restore_key(&blob).unwrap();
        let after = pool.list_versions(&name, &Default::default()).unwrap().items;
        prop_assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            prop_assert_eq!(&b.version, &a.version);
            prop_assert_eq!(&b.public_key, &a.public_key);
            prop_assert_eq!(&b.tags, &a.tags);
            prop_assert_eq!(b.attributes.enabled, a.attributes.enabled);
        }
        }
    }

    #[test]
    fn export_then_import(bytes in any::<[u8; 32]>(), bits in prop_oneof![Just(16usize), Just(24), Just(32)], curve in prop_oneof![Just(Curve::P256), Just(Curve::P521)]) {
        for pool in pools() {
        let opts = KeyOptions {
            exportable: true,
            ops: Some(KeyOps::of(&[KeyOperation::Encrypt, KeyOperation::Decrypt, KeyOperation::Export])),
            ..KeyOptions::default()
        };
        let name = unique("ex");
        pool.import_key(&name, KeyMaterial::Aes(SecretBytes::from_slice(&bytes[..bits])), &opts).unwrap();
        let (_, material) = pool.export_key(&name, None).unwrap();
        let copy = unique("im");
        pool.import_key(&copy, material, &opts).unwrap();
        let gcm = CipherAlgorithm::AesGcm { key_bits: None, iv: None, aad: vec![], tag_len: 16 };
        let ct = pool.encrypt(&name, None, &gcm, b"same key").unwrap();
        let dec = CipherAlgorithm::AesGcm { key_bits: None, iv: ct.iv.clone(), aad: vec![], tag_len: 16 };
        prop_assert_eq!(pool.decrypt(&copy, None, &dec, &ct.data_with_tag()).unwrap().expose_secret().to_vec(), b"same key");

        let ec_opts = KeyOptions {
            exportable: true,
            ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Export])),
            ..KeyOptions::default()
        };
        let ec = unique("exec");
        let made = pool.create_key(&ec, KeySpec::Ec { curve }, &ec_opts).unwrap();
        let (_, material) = pool.export_key(&ec, None).unwrap();
        let back = pool.import_key(&unique("imec"), material, &ec_opts).unwrap();
        prop_assert_eq!(made.public_key, back.public_key);
        }
    }

    #[test]
    fn malformed_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for pool in pools() {
        let _ = KeyMaterial::decode(&bytes);
        let _ = pool.restore_key(&bytes);
        let mut blob = b"MHSMKEY1".to_vec();
        blob.extend_from_slice(&bytes);
        let _ = pool.restore_key(&blob);
        let _ = pool.verify("p256", None, &jwa::sign_algorithm("ES256").unwrap(), &[0; 32], &bytes);
        let _ = pool.verify("rsa", None, &jwa::sign_algorithm("PS256").unwrap(), &[0; 32], &bytes);
        let _ = pool.decrypt("rsa", None, &jwa::cipher_algorithm("RSA1_5", None, None).unwrap(), &bytes);
        let _ = pool.unwrap_key("aes128", None, &WrapAlgorithm::AesKwp { key_bits: None }, &bytes);
        let _ = pool.derive_ecdh("p256", None, &bytes);
        let _ = KeyMaterial::from_pkcs8_der(&bytes);
        let _ = hsm_core::crypto::PublicKey::from_spki_der(&bytes);
        }
    }
}
