//! A key resolved for one operation (`PoolApi::resolve`, `OpKey`): it does only that
//! operation, and it stands (`is_current`) until the pool changes or its validity window
//! closes; and deferred maintenance: reads leave due purges to the caller.

mod common;

use std::sync::Arc;

use hsm_core::crypto::{CipherAlgorithm, KeySpec, SignAlgorithm};
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
