//! The one operation API through pools: every algorithm, and every policy rule.

mod common;

use std::sync::Arc;

use common::{START, ec_material, envs, rsa2048};
use hsm_core::crypto::{
    CipherAlgorithm, Curve, HashAlg, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm, jwa,
};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions, KeyUpdate};
use hsm_core::time::UnixTime;
use hsm_core::{Pool, SecretBytes};

fn all_ops() -> Option<KeyOps> {
    use KeyOperation::*;
    Some(KeyOps::of(&[
        Sign, Verify, Encrypt, Decrypt, WrapKey, UnwrapKey, Derive,
    ]))
}

fn setup(pool: &Pool) {
    let with = |ops| KeyOptions {
        ops,
        ..KeyOptions::default()
    };
    let rsa_ops = Some(KeyOps::default_for(&KeySpec::Rsa { bits: 2048 }));
    pool.import_key("rsa", rsa2048(), &with(rsa_ops)).unwrap();
    let ec_ops = Some(KeyOps::of(&[
        KeyOperation::Sign,
        KeyOperation::Verify,
        KeyOperation::Derive,
    ]));
    for (name, curve) in [
        ("p256", Curve::P256),
        ("p384", Curve::P384),
        ("p521", Curve::P521),
        ("k256", Curve::Secp256k1),
    ] {
        pool.create_key(name, KeySpec::Ec { curve }, &with(ec_ops))
            .unwrap();
    }
    let aes_ops = Some(KeyOps::of(&[
        KeyOperation::Sign,
        KeyOperation::Verify,
        KeyOperation::Encrypt,
        KeyOperation::Decrypt,
        KeyOperation::WrapKey,
        KeyOperation::UnwrapKey,
    ]));
    for bits in [128, 192, 256] {
        pool.create_key(&format!("aes{bits}"), KeySpec::Aes { bits }, &with(aes_ops))
            .unwrap();
    }
    let _ = all_ops();
}

fn digest(alg: &str) -> Vec<u8> {
    let len = match &alg[2..] {
        "256" | "256K" => 32,
        "384" => 48,
        "512" => 64,
        _ => 32,
    };
    (0..len as u8).collect()
}

#[test]
fn every_jws_algorithm_signs_and_verifies() {
    for env in &common::provider_envs() {
        let pool = env.pool();
        setup(&pool);
        let cases = [
            ("RS256", "rsa"),
            ("RS384", "rsa"),
            ("RS512", "rsa"),
            ("PS256", "rsa"),
            ("PS384", "rsa"),
            ("PS512", "rsa"),
            ("ES256", "p256"),
            ("ES384", "p384"),
            ("ES512", "p521"),
            ("ES256K", "k256"),
            ("HS256", "aes256"),
            ("HS384", "aes128"),
            ("HS512", "aes192"),
        ];
        for (alg_name, key) in cases {
            let alg = jwa::sign_algorithm(alg_name).unwrap();
            let d = if alg_name.starts_with("HS") {
                b"any message".to_vec()
            } else {
                digest(alg_name)
            };
            let sig = pool
                .sign(key, None, &alg, &d)
                .unwrap_or_else(|e| panic!("{alg_name}: {e}"));
            if let Some(curve) = match key {
                "p256" | "k256" => Some(32),
                "p384" => Some(48),
                "p521" => Some(66),
                _ => None,
            } {
                assert_eq!(sig.len(), 2 * curve, "{alg_name} is raw r||s");
            }
            assert!(
                pool.verify(key, None, &alg, &d, &sig).unwrap(),
                "{alg_name}"
            );
            let mut bad = sig.clone();
            bad[sig.len() / 2] ^= 1;
            assert!(
                !pool.verify(key, None, &alg, &d, &bad).unwrap(),
                "{alg_name} tampered"
            );
            assert!(
                !pool.verify(key, None, &alg, &d, &sig[1..]).unwrap(),
                "{alg_name} short"
            );
            let mut other = d.clone();
            other[0] ^= 1;
            assert!(
                !pool.verify(key, None, &alg, &other, &sig).unwrap(),
                "{alg_name} other input"
            );
        }
    }
}

#[test]
fn pkcs11_style_signatures() {
    for env in &common::provider_envs() {
        let pool = env.pool();
        setup(&pool);
        // RSA PKCS#1 v1.5 over a caller's DigestInfo equals RS256 over the digest.
        let d = digest("RS256");
        let mut digest_info = vec![
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        digest_info.extend_from_slice(&d);
        let raw = pool
            .sign(
                "rsa",
                None,
                &SignAlgorithm::RsaPkcs1v15 { hash: None },
                &digest_info,
            )
            .unwrap();
        let rs256 = pool
            .sign("rsa", None, &jwa::sign_algorithm("RS256").unwrap(), &d)
            .unwrap();
        assert_eq!(raw, rs256, "PKCS#1 v1.5 is deterministic");
        // PSS with an explicit salt length, and with a zero salt.
        for salt_len in [0, 20, 32] {
            let alg = SignAlgorithm::RsaPss {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha256,
                salt_len,
            };
            let sig = pool.sign("rsa", None, &alg, &d).unwrap();
            assert!(
                pool.verify("rsa", None, &alg, &d, &sig).unwrap(),
                "salt {salt_len}"
            );
        }
        // ECDSA over raw input of any length (CKM_ECDSA).
        let raw_ecdsa = SignAlgorithm::Ecdsa {
            hash: None,
            curve: None,
        };
        for len in [1, 20, 32, 64, 100] {
            let input = vec![0x5a; len];
            let sig = pool.sign("p384", None, &raw_ecdsa, &input).unwrap();
            assert!(
                pool.verify("p384", None, &raw_ecdsa, &input, &sig).unwrap(),
                "len {len}"
            );
        }
        // AES-CMAC.
        let mac = pool
            .sign("aes128", None, &SignAlgorithm::Cmac, b"message")
            .unwrap();
        assert_eq!(mac.len(), 16);
        assert!(
            pool.verify("aes128", None, &SignAlgorithm::Cmac, b"message", &mac)
                .unwrap()
        );
        assert!(
            !pool
                .verify("aes128", None, &SignAlgorithm::Cmac, b"massage", &mac)
                .unwrap()
        );
    }
}

#[test]
fn every_encryption_algorithm_round_trips() {
    for env in &common::provider_envs() {
        let pool = env.pool();
        setup(&pool);
        let iv16 = Some(vec![7u8; 16]);
        let cases = [
            ("RSA1_5", "rsa", 100),
            ("RSA-OAEP", "rsa", 100),
            ("RSA-OAEP-256", "rsa", 100),
            ("A128GCM", "aes128", 1000),
            ("A192GCM", "aes192", 0),
            ("A256GCM", "aes256", 4096),
            ("A128CBC", "aes128", 64),
            ("A192CBC", "aes192", 16),
            ("A256CBC", "aes256", 0),
            ("A128CBCPAD", "aes128", 5),
            ("A192CBCPAD", "aes192", 16),
            ("A256CBCPAD", "aes256", 1000),
        ];
        for (name, key, len) in cases {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let aad = name.ends_with("GCM").then(|| b"header".to_vec());
            let alg = jwa::cipher_algorithm(
                name,
                iv16.clone().filter(|_| name.contains("CBC")),
                aad.clone(),
            )
            .unwrap();
            let ct = pool
                .encrypt(key, None, &alg, &plaintext)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if name.ends_with("GCM") {
                assert_eq!(
                    ct.iv.as_ref().map(Vec::len),
                    Some(12),
                    "{name} generates a 12-byte IV"
                );
                assert_eq!(
                    ct.tag.as_ref().map(Vec::len),
                    Some(16),
                    "{name} gives a 16-byte tag"
                );
            }
            let dec_alg = jwa::cipher_algorithm(name, ct.iv.clone().or(iv16.clone()), aad).unwrap();
            let pt = pool
                .decrypt(key, None, &dec_alg, &ct.data_with_tag())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(pt.expose_secret(), &plaintext[..], "{name}");
            if !ct.data_with_tag().is_empty() && !name.starts_with("RSA") {
                let mut bad = ct.data_with_tag();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                if name.ends_with("GCM") || name.ends_with("PAD") {
                    match pool.decrypt(key, None, &dec_alg, &bad) {
                        Err(e) => assert_eq!(e.code(), "DecryptionFailed", "{name}"),
                        Ok(p) => assert_ne!(p.expose_secret(), &plaintext[..], "{name}"),
                    }
                }
            }
        }
        // Two GCM encryptions never share an IV.
        let gcm = jwa::cipher_algorithm("A256GCM", None, None).unwrap();
        let a = pool.encrypt("aes256", None, &gcm, b"x").unwrap();
        let b = pool.encrypt("aes256", None, &gcm, b"x").unwrap();
        assert_ne!(a.iv, b.iv);
        // Tampered RSA-OAEP fails without detail.
        let oaep = jwa::cipher_algorithm("RSA-OAEP-256", None, None).unwrap();
        let mut ct = pool.encrypt("rsa", None, &oaep, b"secret").unwrap().data;
        ct[10] ^= 1;
        assert_eq!(
            pool.decrypt("rsa", None, &oaep, &ct).unwrap_err().code(),
            "DecryptionFailed"
        );
    }
}

#[test]
fn ecb_ctr_wrap_unwrap_and_ecdh() {
    for env in &common::provider_envs() {
        let pool = env.pool();
        setup(&pool);
        let ecb = CipherAlgorithm::AesEcb;
        let ct = pool.encrypt("aes128", None, &ecb, &[1; 32]).unwrap();
        assert_eq!(&ct.data[..16], &ct.data[16..], "ECB");
        assert_eq!(
            pool.decrypt("aes128", None, &ecb, &ct.data)
                .unwrap()
                .expose_secret(),
            &[1; 32]
        );
        let ctr = CipherAlgorithm::AesCtr {
            counter_block: [0; 16],
            counter_bits: 128,
        };
        let ct = pool.encrypt("aes256", None, &ctr, b"counter mode").unwrap();
        assert_eq!(ct.data.len(), 12);
        assert_eq!(
            pool.decrypt("aes256", None, &ctr, &ct.data)
                .unwrap()
                .expose_secret(),
            b"counter mode"
        );

        let cek = [0x11u8; 32];
        for (name, key) in [
            ("A128KW", "aes128"),
            ("A192KW", "aes192"),
            ("A256KW", "aes256"),
            ("CKM_AES_KEY_WRAP", "aes128"),
            ("CKM_AES_KEY_WRAP_PAD", "aes256"),
            ("RSA-OAEP", "rsa"),
            ("RSA-OAEP-256", "rsa"),
            ("RSA1_5", "rsa"),
        ] {
            let alg = jwa::wrap_algorithm(name).unwrap();
            let wrapped = pool.wrap_key(key, None, &alg, &cek).unwrap();
            if name.ends_with("KW") || name == "CKM_AES_KEY_WRAP" {
                assert_eq!(wrapped.len(), 40, "{name}");
            }
            assert_eq!(
                pool.unwrap_key(key, None, &alg, &wrapped)
                    .unwrap()
                    .expose_secret(),
                &cek,
                "{name}"
            );
        }
        // KWP wraps odd lengths; a tampered wrap fails.
        let kwp = WrapAlgorithm::AesKwp { key_bits: None };
        let mut wrapped = pool.wrap_key("aes192", None, &kwp, &[3; 7]).unwrap();
        assert_eq!(wrapped.len(), 16);
        assert_eq!(
            pool.unwrap_key("aes192", None, &kwp, &wrapped)
                .unwrap()
                .expose_secret(),
            &[3; 7]
        );
        wrapped[0] ^= 1;
        assert_eq!(
            pool.unwrap_key("aes192", None, &kwp, &wrapped)
                .unwrap_err()
                .code(),
            "DecryptionFailed"
        );

        // ECDH: both sides derive the same secret.
        pool.import_key(
            "peer",
            ec_material(Curve::P256),
            &KeyOptions {
                ops: Some(KeyOps::of(&[KeyOperation::Derive])),
                ..KeyOptions::default()
            },
        )
        .unwrap();
        let p = |name| {
            pool.get_key(name, None)
                .unwrap()
                .public_key
                .unwrap()
                .ec_point_uncompressed()
                .unwrap()
        };
        let s1 = pool.derive_ecdh("p256", None, &p("peer")).unwrap();
        let s2 = pool.derive_ecdh("peer", None, &p("p256")).unwrap();
        assert_eq!(s1.expose_secret(), s2.expose_secret());
        assert_eq!(s1.len(), 32);
        let code = pool
            .derive_ecdh("p256", None, &p("p384"))
            .unwrap_err()
            .code();
        assert_eq!(code, "BadParameter");
        assert_eq!(
            pool.derive_ecdh("aes128", None, &p("peer"))
                .unwrap_err()
                .code(),
            "OperationNotPermitted"
        );
    }
}

#[test]
fn policy_rules_are_enforced() {
    for env in &common::provider_envs() {
        let pool = env.pool();
        setup(&pool);
        let es256 = jwa::sign_algorithm("ES256").unwrap();
        let d = [9u8; 32];
        let code = |r: hsm_core::Result<Vec<u8>>| r.unwrap_err().code();

        // Algorithm against key type, size and curve; input sizes.
        assert_eq!(code(pool.sign("rsa", None, &es256, &d)), "KeyTypeMismatch");
        assert_eq!(code(pool.sign("p384", None, &es256, &d)), "KeyTypeMismatch");
        assert_eq!(
            code(pool.sign("p256", None, &es256, &d[..31])),
            "InvalidInputLength"
        );
        let a128 = jwa::cipher_algorithm("A128GCM", None, None).unwrap();
        assert_eq!(
            pool.encrypt("aes256", None, &a128, b"x")
                .unwrap_err()
                .code(),
            "KeyTypeMismatch"
        );
        let oaep = jwa::cipher_algorithm("RSA-OAEP", None, None).unwrap();
        assert_eq!(
            pool.encrypt("rsa", None, &oaep, &[0; 215])
                .unwrap_err()
                .code(),
            "InvalidInputLength"
        );
        assert_eq!(
            pool.decrypt("rsa", None, &oaep, &[0; 10])
                .unwrap_err()
                .code(),
            "InvalidInputLength"
        );

        // Allowed operations.
        assert_eq!(
            pool.encrypt("p256", None, &oaep, b"x").unwrap_err().code(),
            "OperationNotPermitted"
        );
        pool.update_key(
            "p256",
            None,
            &KeyUpdate {
                ops: Some(KeyOps::of(&[KeyOperation::Verify])),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
        assert_eq!(
            code(pool.sign("p256", None, &es256, &d)),
            "OperationNotPermitted"
        );

        // Disabled versions; a specific older version still works when enabled.
        let v1 = pool.get_key("p384", None).unwrap().version;
        let es384 = jwa::sign_algorithm("ES384").unwrap();
        pool.rotate_key("p384").unwrap();
        pool.update_key(
            "p384",
            None,
            &KeyUpdate {
                enabled: Some(false),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
        assert_eq!(
            code(pool.sign("p384", None, &es384, &[0; 48])),
            "KeyDisabled"
        );
        let sig = pool.sign("p384", Some(&v1), &es384, &[0; 48]).unwrap();
        assert_eq!(
            pool.verify("p384", None, &es384, &[0; 48], &sig)
                .unwrap_err()
                .code(),
            "KeyDisabled"
        );
        assert!(
            pool.verify("p384", Some(&v1), &es384, &[0; 48], &sig)
                .unwrap()
        );

        // Validity window: no signing before nbf or after exp; verifying still works.
        let window = KeyOptions {
            not_before: Some(UnixTime(START.0 + 100)),
            expires: Some(UnixTime(START.0 + 200)),
            ..KeyOptions::default()
        };
        pool.create_key("timed", KeySpec::Ec { curve: Curve::P256 }, &window)
            .unwrap();
        assert_eq!(code(pool.sign("timed", None, &es256, &d)), "KeyNotYetValid");
        env.clock.advance(100);
        let sig = pool.sign("timed", None, &es256, &d).unwrap();
        env.clock.advance(100);
        assert_eq!(code(pool.sign("timed", None, &es256, &d)), "KeyExpired");
        assert!(pool.verify("timed", None, &es256, &d, &sig).unwrap());

        // Unknown keys and versions.
        assert_eq!(code(pool.sign("nope", None, &es256, &d)), "KeyNotFound");
        assert_eq!(
            code(pool.sign(
                "timed",
                Some("00000000000000000000000000000000"),
                &es256,
                &d
            )),
            "KeyVersionNotFound"
        );
    }
}

#[test]
fn random_and_digests() {
    for env in &common::provider_envs() {
        let a = env.hsm.random(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, env.hsm.random(32).unwrap());
        assert!(env.hsm.random(0).unwrap().is_empty());
        assert_eq!(env.hsm.random(2 << 20).unwrap_err().code(), "BadParameter");
        assert_eq!(
            hex::encode(env.hsm.digest(HashAlg::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = env.hsm.hasher(HashAlg::Sha384);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), env.hsm.digest(HashAlg::Sha384, b"abc"));
    }
}

#[test]
fn many_threads_sign_with_one_key() {
    let env = &envs()[1];
    let pool = Arc::new(env.pool());
    pool.create_key(
        "shared",
        KeySpec::Ec { curve: Curve::P256 },
        &KeyOptions::default(),
    )
    .unwrap();
    let alg = jwa::sign_algorithm("ES256").unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let pool = pool.clone();
            let alg = alg.clone();
            std::thread::spawn(move || {
                for i in 0..50u8 {
                    let d = [t as u8 ^ i; 32];
                    let sig = pool.sign("shared", None, &alg, &d).unwrap();
                    assert!(pool.verify("shared", None, &alg, &d, &sig).unwrap());
                }
            })
        })
        .collect();
    // Writers go on meanwhile.
    for i in 0..10 {
        pool.create_key(
            &format!("w{i}"),
            KeySpec::Aes { bits: 128 },
            &KeyOptions::default(),
        )
        .unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    let _ = (KeyMaterial::Aes(SecretBytes::from_slice(&[0; 16])), ());
}

#[test]
fn the_hsm_and_its_pools_are_shared_across_threads() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<hsm_core::Hsm>();
    send_sync::<Pool>();
}

#[test]
fn outside_keys_hmac_and_public_key_verification() {
    for env in &common::provider_envs() {
        let hsm = &env.hsm;
        // RFC 4231 test case 2.
        let key = SecretBytes::from_slice(b"Jefe");
        let tag = hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
            .unwrap();
        let msg = b"what do ya want for nothing?";
        assert!(hsm.verify_hmac(HashAlg::Sha256, &key, msg, &tag).unwrap());
        assert!(
            !hsm.verify_hmac(HashAlg::Sha256, &key, b"other", &tag)
                .unwrap()
        );
        assert!(
            !hsm.verify_hmac(HashAlg::Sha256, &key, msg, &tag[..31])
                .unwrap()
        );

        let pool = env.pool();
        pool.import_key("rsa", rsa2048(), &KeyOptions::default())
            .unwrap();
        let rs256 = jwa::sign_algorithm("RS256").unwrap();
        let sig = pool.sign("rsa", None, &rs256, &[3; 32]).unwrap();
        let public = pool.get_key("rsa", None).unwrap().public_key.unwrap();
        assert!(
            hsm.verify_with_public_key(&public, &rs256, &[3; 32], &sig)
                .unwrap()
        );
        assert!(
            !hsm.verify_with_public_key(&public, &rs256, &[4; 32], &sig)
                .unwrap()
        );
        assert_eq!(
            hsm.verify_with_public_key(
                &public,
                &jwa::sign_algorithm("ES256").unwrap(),
                &[3; 32],
                &sig
            )
            .unwrap_err()
            .code(),
            "KeyTypeMismatch"
        );
    }
}
