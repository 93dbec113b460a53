//! A key resolved for one operation (`PoolApi::resolve`, `OpKey`): it does only that
//! operation, and it stands (`is_current`) until the pool changes or its validity window
//! closes; and deferred maintenance: reads leave due purges to the caller.

mod common;

use std::sync::Arc;

use hsm_core::crypto::{CipherAlgorithm, Curve, HashAlg, KeySpec, SignAlgorithm};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions, KeyUpdate};
use hsm_core::{Error, OpKey, PoolApi};

fn hs256() -> SignAlgorithm {
    SignAlgorithm::Hmac {
        hash: hsm_core::crypto::HashAlg::Sha256,
    }
}

fn aes_key(pool: &hsm_core::Pool, name: &str) -> hsm_core::key::KeyInfo {
    let opts = KeyOptions {
        ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify])),
        ..KeyOptions::default()
    };
    pool.create_key(name, KeySpec::Aes { bits: 256 }, &opts)
        .unwrap()
}

#[test]
fn a_resolved_key_does_its_operation_only() {
    for env in common::provider_envs() {
        let pool = env.pool();
        let info = aes_key(&pool, "k");
        let key: Arc<dyn OpKey> = PoolApi::resolve(&pool, &info, KeyOperation::Sign).unwrap();
        assert_eq!(key.version(), info.version);
        assert_eq!(key.spec(), KeySpec::Aes { bits: 256 });
        let mac = key.sign(&hs256(), b"data").unwrap();
        // The same MAC as the pool's own call.
        assert_eq!(mac, pool.sign("k", None, &hs256(), b"data").unwrap());
        let err = key.verify(&hs256(), b"data", &mac).unwrap_err();
        assert!(matches!(err, Error::Internal { .. }), "{err:?}");
        let cbc = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv: [0; 16],
            padding: true,
        };
        assert!(key.encrypt(&cbc, b"x").is_err());
        // Resolving checks the key's operations.
        let refused = PoolApi::resolve(&pool, &info, KeyOperation::Encrypt).unwrap_err();
        assert!(
            matches!(refused, Error::OperationNotPermitted { .. }),
            "{refused:?}"
        );
    }
}

#[test]
fn a_resolved_key_stands_until_the_pool_changes() {
    for env in common::provider_envs() {
        let pool = env.pool();
        let info = aes_key(&pool, "k");
        let key = PoolApi::resolve(&pool, &info, KeyOperation::Sign).unwrap();
        assert!(key.is_current());
        // Signing and reading change nothing.
        key.sign(&hs256(), b"data").unwrap();
        pool.get_key("k", None).unwrap();
        assert!(key.is_current());
        // Any change of the pool does: here another key.
        aes_key(&pool, "other");
        assert!(!key.is_current());

        let key = PoolApi::resolve(&pool, &info, KeyOperation::Sign).unwrap();
        pool.update_key(
            "k",
            None,
            &KeyUpdate {
                enabled: Some(false),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
        assert!(!key.is_current());
        let disabled = PoolApi::resolve(&pool, &info, KeyOperation::Sign).unwrap_err();
        assert!(
            matches!(disabled, Error::KeyDisabled { .. }),
            "{disabled:?}"
        );
    }
}

#[test]
fn a_resolved_key_lapses_with_its_validity_window() {
    for env in common::provider_envs() {
        let pool = env.pool();
        aes_key(&pool, "k");
        let expires = env.clock_now().plus_days(1);
        let info = pool
            .update_key(
                "k",
                None,
                &KeyUpdate {
                    expires: Some(Some(expires)),
                    ..KeyUpdate::default()
                },
            )
            .unwrap();
        let key = PoolApi::resolve(&pool, &info, KeyOperation::Sign).unwrap();
        assert!(key.is_current());
        env.clock.advance_days(2);
        assert!(!key.is_current());
        let expired = PoolApi::resolve(&pool, &info, KeyOperation::Sign).unwrap_err();
        assert!(matches!(expired, Error::KeyExpired { .. }), "{expired:?}");
    }
}

#[test]
fn deferred_maintenance_leaves_due_purges_to_the_caller() {
    for env in common::provider_envs() {
        let pool = env.pool();
        aes_key(&pool, "k");
        pool.delete_key("k").unwrap();
        env.hsm.defer_maintenance();
        assert!(!env.hsm.maintenance_due("pool1"));
        // Past the retention (90 days by default) the purge is due.
        env.clock.advance_days(91);
        assert!(env.hsm.maintenance_due("pool1"));
        // Reads do not run it: the deleted key is still there.
        assert!(pool.get_deleted_key("k").is_ok());
        assert!(env.hsm.maintenance_due("pool1"));
        // The caller does.
        env.hsm.maintain().unwrap();
        assert!(!env.hsm.maintenance_due("pool1"));
        let gone = pool.get_deleted_key("k").unwrap_err();
        assert!(matches!(gone, Error::DeletedKeyNotFound { .. }), "{gone:?}");
    }
}

#[test]
fn without_deferral_a_read_runs_due_maintenance() {
    for env in common::provider_envs() {
        let pool = env.pool();
        aes_key(&pool, "k");
        pool.delete_key("k").unwrap();
        env.clock.advance_days(91);
        let gone = pool.get_deleted_key("k").unwrap_err();
        assert!(matches!(gone, Error::DeletedKeyNotFound { .. }), "{gone:?}");
    }
}

/// `encrypt_into` writes what `encrypt` returns, in PKCS#11's layout (data, then the tag),
/// straight into a caller's buffer, with either provider; it refuses what would lose the
/// output or part of it.
#[test]
fn encrypting_into_a_buffer_writes_what_encrypt_returns() {
    for env in common::provider_envs() {
        let pool = env.pool();
        let opts = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Encrypt, KeyOperation::Decrypt])),
            ..KeyOptions::default()
        };
        let info = pool
            .create_key("k", KeySpec::Aes { bits: 256 }, &opts)
            .unwrap();
        let key = PoolApi::resolve(&pool, &info, KeyOperation::Encrypt).unwrap();
        let plaintext: Vec<u8> = (0..100u8).collect();
        for tag_len in [16, 12] {
            let gcm = CipherAlgorithm::AesGcm {
                key_bits: None,
                iv: Some(vec![7; 12]),
                aad: b"header".to_vec(),
                tag_len,
            };
            let expected = key.encrypt(&gcm, &plaintext).unwrap().into_data_with_tag();
            // A larger buffer: only the start is written.
            let mut out = vec![0xee; plaintext.len() + 40];
            let n = key.encrypt_into(&gcm, &plaintext, &mut out).unwrap();
            assert_eq!(n, plaintext.len() + tag_len);
            assert_eq!(&out[..n], &expected[..]);
            assert!(out[n..].iter().all(|b| *b == 0xee));
            // One byte short.
            let mut short = vec![0; n - 1];
            let err = key.encrypt_into(&gcm, &plaintext, &mut short).unwrap_err();
            assert!(matches!(err, Error::InvalidInputLength { .. }), "{err:?}");
        }
        // CBC goes through the default (encrypt, then copy).
        let cbc = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv: [3; 16],
            padding: true,
        };
        let expected = key.encrypt(&cbc, &plaintext).unwrap().into_data_with_tag();
        let mut out = vec![0; 112];
        assert_eq!(key.encrypt_into(&cbc, &plaintext, &mut out).unwrap(), 112);
        assert_eq!(out, expected);
        // A generated IV would be lost: refused.
        let no_iv = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: vec![],
            tag_len: 16,
        };
        let err = key.encrypt_into(&no_iv, &plaintext, &mut out).unwrap_err();
        assert!(matches!(err, Error::BadParameter { .. }), "{err:?}");
        // Resolved for encryption only, as `encrypt`.
        let dec = PoolApi::resolve(&pool, &info, KeyOperation::Decrypt).unwrap();
        assert!(dec.encrypt_into(&cbc, &plaintext, &mut out).is_err());
    }
}

/// `sign_into` writes what `sign` returns straight into a caller's buffer, with either
/// provider: HMAC (which the aws-lc provider writes in place) for every hash, ECDSA through
/// the default (sign, then copy); a short buffer and a key resolved for another operation
/// are refused.
#[test]
fn signing_into_a_buffer_writes_what_sign_returns() {
    for env in common::provider_envs() {
        let pool = env.pool();
        let sign_only = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify])),
            ..KeyOptions::default()
        };
        let message: Vec<u8> = (0..=255u8).collect();
        let secret = pool
            .create_key("mac", KeySpec::Secret { bits: 256 }, &sign_only)
            .unwrap();
        let key = PoolApi::resolve(&pool, &secret, KeyOperation::Sign).unwrap();
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let alg = SignAlgorithm::Hmac { hash };
            let expected = key.sign(&alg, &message).unwrap();
            assert_eq!(expected.len(), hash.output_len());
            let mut out = vec![0xee; expected.len() + 8];
            let n = key.sign_into(&alg, &message, &mut out).unwrap();
            assert_eq!(&out[..n], &expected[..], "{hash}");
            assert!(out[n..].iter().all(|b| *b == 0xee));
            let mut short = vec![0; n - 1];
            let err = key.sign_into(&alg, &message, &mut short).unwrap_err();
            assert!(matches!(err, Error::InvalidInputLength { .. }), "{err:?}");
        }
        // ECDSA signatures differ each time: the one written verifies.
        let ec = pool
            .create_key("ec", KeySpec::Ec { curve: Curve::P256 }, &sign_only)
            .unwrap();
        let signer = PoolApi::resolve(&pool, &ec, KeyOperation::Sign).unwrap();
        let alg = SignAlgorithm::Ecdsa {
            hash: Some(HashAlg::Sha256),
            curve: None,
        };
        let digest = env.hsm.digest(HashAlg::Sha256, &message);
        let mut out = [0u8; 64];
        assert_eq!(signer.sign_into(&alg, &digest, &mut out).unwrap(), 64);
        let verifier = PoolApi::resolve(&pool, &ec, KeyOperation::Verify).unwrap();
        assert!(verifier.verify(&alg, &digest, &out).unwrap());
        // Resolved for verification only, as `sign`.
        assert!(verifier.sign_into(&alg, &digest, &mut out).is_err());
    }
}
