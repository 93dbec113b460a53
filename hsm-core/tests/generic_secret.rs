//! Generic secrets (`KeySpec::Secret`): HMAC keys of 1 to 512 bytes, on every storage engine
//! and crypto provider: generation, import, sealing across a reopen, backups, HMAC against
//! an independent implementation, and every other operation refused.

mod common;

use common::envs;
use hmac::{Hmac, KeyInit, Mac};
use hsm_core::crypto::{
    CipherAlgorithm, HashAlg, KeyKind, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm, check,
};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions, KeyUpdate};
use hsm_core::{KeyRef, SecretBytes};

const HS256: SignAlgorithm = SignAlgorithm::Hmac {
    hash: HashAlg::Sha256,
};

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn exportable() -> KeyOptions {
    KeyOptions {
        ops: Some(KeyOps::of(&[
            KeyOperation::Sign,
            KeyOperation::Verify,
            KeyOperation::Export,
        ])),
        exportable: true,
        ..KeyOptions::default()
    }
}

#[test]
fn generated_secrets_sign_and_verify_by_default() {
    for env in envs() {
        let pool = env.pool();
        for len in [1usize, 20, 64, 512] {
            let name = format!("s{len}");
            let spec = KeySpec::Secret {
                bits: len as u32 * 8,
            };
            let plain = pool
                .create_key(&format!("d{len}"), spec, &KeyOptions::default())
                .unwrap();
            assert_eq!(
                plain.ops,
                KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify]),
                "the table's defaults"
            );
            assert!(plain.attributes.generated);
            let info = pool.create_key(&name, spec, &exportable()).unwrap();
            assert_eq!(info.spec, spec);
            assert_eq!(info.spec.kind(), KeyKind::Oct);
            assert!(info.public_key.is_none());
            let tag = pool.sign(&name, None, &HS256, b"message").unwrap();
            assert!(pool.verify(&name, None, &HS256, b"message", &tag).unwrap());
            assert!(!pool.verify(&name, None, &HS256, b"massage", &tag).unwrap());
            // The tag is HMAC-SHA256 under the key's bytes (checked by the `hmac` crate).
            let (_, material) = pool.export_key(&name, None).unwrap();
            let KeyMaterial::Secret(bytes) = &material else {
                panic!("a generic secret exports as one, not {material:?}");
            };
            assert_eq!(bytes.len(), len);
            assert_eq!(tag, hmac_sha256(bytes.expose_secret(), b"message"));
            let sha512 = SignAlgorithm::Hmac {
                hash: HashAlg::Sha512,
            };
            assert_eq!(pool.sign(&name, None, &sha512, b"m").unwrap().len(), 64);
        }
    }
}

#[test]
fn imported_secrets_mac_as_rfc_4231_says() {
    // RFC 4231 test case 2: key "Jefe".
    for env in envs() {
        let pool = env.pool();
        let material = KeyMaterial::Secret(SecretBytes::from_slice(b"Jefe"));
        let info = pool
            .import_key("jefe", material, &KeyOptions::default())
            .unwrap();
        assert_eq!(info.spec, KeySpec::Secret { bits: 32 });
        assert!(!info.attributes.generated);
        let tag = pool
            .sign("jefe", None, &HS256, b"what do ya want for nothing?")
            .unwrap();
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "{}",
            env.provider
        );
    }
}

#[test]
fn lengths_outside_1_to_512_bytes_are_refused() {
    let env = &envs()[0];
    let pool = env.pool();
    for bits in [0, 4, 12, 513 * 8, u32::MAX] {
        let err = pool
            .create_key("bad", KeySpec::Secret { bits }, &KeyOptions::default())
            .unwrap_err();
        assert_eq!(err.code(), "BadParameter", "{bits} bits");
    }
    for len in [0, 513, 1024] {
        let material = KeyMaterial::Secret(SecretBytes::new(vec![1; len]));
        let err = pool
            .import_key("bad", material, &KeyOptions::default())
            .unwrap_err();
        assert_eq!(err.code(), "BadParameter", "{len} bytes");
    }
    assert_eq!(
        KeySpec::secret_of_len(513).unwrap_err().code(),
        "BadParameter"
    );
    assert!(KeySpec::secret_of_len(512).is_ok());
    // Nothing was made.
    assert_eq!(pool.get_key("bad", None).unwrap_err().code(), "KeyNotFound");
}

#[test]
fn a_secret_does_nothing_but_mac() {
    for env in envs() {
        let pool = env.pool();
        let spec = KeySpec::Secret { bits: 160 };
        // Operations the type cannot have are refused when asked for, at creation and later.
        for op in [
            KeyOperation::Encrypt,
            KeyOperation::Decrypt,
            KeyOperation::WrapKey,
            KeyOperation::UnwrapKey,
            KeyOperation::Derive,
        ] {
            let opts = KeyOptions {
                ops: Some(KeyOps::of(&[KeyOperation::Sign, op])),
                ..KeyOptions::default()
            };
            assert_eq!(
                pool.create_key("s", spec, &opts).unwrap_err().code(),
                "BadParameter"
            );
        }
        pool.create_key("s", spec, &KeyOptions::default()).unwrap();
        let widen = KeyUpdate {
            ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Encrypt])),
            ..KeyUpdate::default()
        };
        assert_eq!(
            pool.update_key("s", None, &widen).unwrap_err().code(),
            "BadParameter"
        );
        // The operations themselves: not permitted by its operations...
        let gcm = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: vec![],
            tag_len: 16,
        };
        assert_eq!(
            pool.encrypt("s", None, &gcm, b"x").unwrap_err().code(),
            "OperationNotPermitted"
        );
        let kw = WrapAlgorithm::AesKwp { key_bits: None };
        assert_eq!(
            pool.wrap_key("s", None, &kw, &[1; 16]).unwrap_err().code(),
            "OperationNotPermitted"
        );
        // ...and by its type, the same error as any other key-type mismatch.
        assert_eq!(
            check::encrypt(&spec, &gcm, 1).unwrap_err().code(),
            "KeyTypeMismatch"
        );
        assert_eq!(
            check::wrap(&spec, &kw, 16).unwrap_err().code(),
            "KeyTypeMismatch"
        );
        assert_eq!(
            pool.sign("s", None, &SignAlgorithm::Cmac, b"x")
                .unwrap_err()
                .code(),
            "KeyTypeMismatch"
        );
        let es256 = SignAlgorithm::Ecdsa {
            hash: Some(HashAlg::Sha256),
            curve: None,
        };
        assert_eq!(
            pool.sign("s", None, &es256, &[0; 32]).unwrap_err().code(),
            "KeyTypeMismatch"
        );
        // An in-memory secret, asked to encrypt with every operation it can have.
        let mut key = env
            .hsm
            .generate_ephemeral(spec, KeyOps::all_for(&spec), false)
            .unwrap();
        assert!(key.set_ops(KeyOps::of(&[KeyOperation::Encrypt])).is_err());
        assert_eq!(key.sign(&HS256, b"x").unwrap().len(), 32);
        assert_eq!(
            key.encrypt(&gcm, b"x").unwrap_err().code(),
            "OperationNotPermitted"
        );
    }
}

#[test]
fn secrets_are_sealed_and_read_back_after_a_reopen() {
    for mut env in envs().into_iter().filter(|e| e.dir.is_some()) {
        let pool = env.pool();
        pool.create_key("gen", KeySpec::Secret { bits: 168 }, &KeyOptions::default())
            .unwrap();
        pool.import_key(
            "imp",
            KeyMaterial::Secret(SecretBytes::from_slice(&[0x42; 33])),
            &KeyOptions::default(),
        )
        .unwrap();
        pool.create_key("aes", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        let before = pool.sign("gen", None, &HS256, b"m").unwrap();
        drop(pool);
        env.reopen();
        let pool = env.pool();
        assert_eq!(
            pool.get_key("gen", None).unwrap().spec,
            KeySpec::Secret { bits: 168 }
        );
        assert_eq!(pool.sign("gen", None, &HS256, b"m").unwrap(), before);
        assert_eq!(
            pool.sign("imp", None, &HS256, b"m").unwrap(),
            hmac_sha256(&[0x42; 33], b"m")
        );
        // AES keys stay AES keys beside them.
        assert_eq!(
            pool.get_key("aes", None).unwrap().spec,
            KeySpec::Aes { bits: 256 }
        );
    }
}

#[test]
fn secrets_survive_backup_and_restore() {
    for env in envs() {
        let pool = env.pool();
        pool.create_key("s", KeySpec::Secret { bits: 256 }, &KeyOptions::default())
            .unwrap();
        let tag = pool.sign("s", None, &HS256, b"backed up").unwrap();
        let blob = pool.backup_key("s").unwrap();
        pool.delete_key("s").unwrap();
        pool.purge_deleted_key("s").unwrap();
        let restored = pool.restore_key(&blob).unwrap();
        assert_eq!(restored.spec, KeySpec::Secret { bits: 256 });
        assert_eq!(
            restored.ops,
            KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify])
        );
        assert!(
            pool.verify("s", None, &HS256, b"backed up", &tag).unwrap(),
            "{} {}",
            env.engine,
            env.provider
        );
    }
}

#[test]
fn a_secret_is_wrapped_raw_under_an_aes_key() {
    for env in envs() {
        let pool = env.pool();
        pool.import_key(
            "target",
            KeyMaterial::Secret(SecretBytes::from_slice(&[9; 20])),
            &exportable(),
        )
        .unwrap();
        pool.create_key("kek", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        let kwp = WrapAlgorithm::AesKwp { key_bits: None };
        let target_spec = KeySpec::Secret { bits: 160 };
        assert_eq!(hsm_core::pool::wrap_form_len_bound(&target_spec), 20);
        let bound =
            hsm_core::pool::wrapped_len_bound(&KeySpec::Aes { bits: 256 }, &kwp, &target_spec)
                .unwrap();
        let wrapped = pool
            .wrap_stored_key(
                KeyRef {
                    name: "kek",
                    version: None,
                },
                &kwp,
                KeyRef {
                    name: "target",
                    version: None,
                },
            )
            .unwrap();
        assert_eq!(wrapped.len(), bound);
        let raw = pool.unwrap_key("kek", None, &kwp, &wrapped).unwrap();
        assert_eq!(raw.expose_secret(), &[9; 20]);
        // A secret never wraps.
        assert_eq!(
            pool.wrap_stored_key(
                KeyRef {
                    name: "target",
                    version: None,
                },
                &kwp,
                KeyRef {
                    name: "kek",
                    version: None,
                },
            )
            .unwrap_err()
            .code(),
            "OperationNotPermitted"
        );
        assert_eq!(
            hsm_core::pool::wrapped_len_bound(&target_spec, &kwp, &KeySpec::Aes { bits: 128 })
                .unwrap_err()
                .code(),
            "KeyTypeMismatch"
        );
    }
}
