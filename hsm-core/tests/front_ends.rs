//! What the core keeps for its front ends: attributes that follow a key, provenance, a
//! change counter, clearing a pool, and read-only handles.

mod common;

use common::{envs, rsa2048};
use hsm_core::backup::RestoreMode;
use hsm_core::crypto::{Curve, KeySpec, jwa};
use hsm_core::key::KeyOptions;
use hsm_core::pin::PinRole;
use hsm_core::{PoolSettings, PoolUpdate};

#[test]
fn extra_attributes_follow_the_key() {
    for mut env in envs() {
        let pool = env.pool();
        pool.create_key(
            "k",
            KeySpec::Ec { curve: Curve::P256 },
            &KeyOptions::default(),
        )
        .unwrap();
        let info = pool.set_key_extra("k", "CKA_ID", Some(&[1, 2, 3])).unwrap();
        assert_eq!(
            info.extra.get("CKA_ID").map(Vec::as_slice),
            Some(&[1u8, 2, 3][..])
        );
        pool.set_key_extra("k", "CKA_LABEL.alt", Some(b"")).unwrap();
        // Through rotation, soft-delete, recovery, backup and restore, and a reopen.
        pool.rotate_key("k").unwrap();
        pool.delete_key("k").unwrap();
        assert_eq!(pool.get_deleted_key("k").unwrap().extra.len(), 2);
        pool.recover_deleted_key("k").unwrap();
        let blob = pool.backup_key("k").unwrap();
        pool.delete_key("k").unwrap();
        pool.purge_deleted_key("k").unwrap();
        pool.restore_key(&blob).unwrap();
        drop(pool);
        env.reopen();
        let pool = env.pool();
        let info = pool.get_key("k", None).unwrap();
        assert_eq!(
            info.extra.get("CKA_ID").map(Vec::as_slice),
            Some(&[1u8, 2, 3][..])
        );
        // Removal and bad input.
        let info = pool.set_key_extra("k", "CKA_LABEL.alt", None).unwrap();
        assert_eq!(info.extra.len(), 1);
        for bad in ["", "a b", "a/b", &"x".repeat(65)] {
            assert_eq!(
                pool.set_key_extra("k", bad, Some(b"v")).unwrap_err().code(),
                "BadParameter"
            );
        }
        assert_eq!(
            pool.set_key_extra("k", "big", Some(&[0; 4097]))
                .unwrap_err()
                .code(),
            "BadParameter"
        );
        for i in 0..31 {
            pool.set_key_extra("k", &format!("a{i}"), Some(b"v"))
                .unwrap();
        }
        assert_eq!(
            pool.set_key_extra("k", "one-too-many", Some(b"v"))
                .unwrap_err()
                .code(),
            "BadParameter"
        );
        assert_eq!(
            pool.set_key_extra("nope", "a", Some(b"v"))
                .unwrap_err()
                .code(),
            "KeyNotFound"
        );
    }
}

#[test]
fn provenance_and_the_change_counter() {
    let env = &envs()[0];
    let pool = env.pool();
    let g0 = pool.generation();
    let made = pool
        .create_key("made", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
        .unwrap();
    assert!(made.attributes.generated);
    let g1 = pool.generation();
    assert!(g1 > g0);
    let imported = pool
        .import_key("imported", rsa2048(), &KeyOptions::default())
        .unwrap();
    assert!(!imported.attributes.generated);
    assert!(
        pool.rotate_key("imported").unwrap().attributes.generated,
        "a rotation makes a version here"
    );
    let g2 = pool.generation();
    assert!(g2 > g1);
    // Reads and crypto do not count.
    pool.get_key("made", None).unwrap();
    pool.list_keys(&Default::default()).unwrap();
    assert_eq!(pool.generation(), g2);
    pool.put_document("note", "n", b"x").unwrap();
    assert!(pool.generation() > g2);
    let g3 = pool.generation();
    env.hsm
        .update_pool(
            "pool1",
            &PoolUpdate {
                tags: Some([("a".to_string(), "b".to_string())].into()),
                ..PoolUpdate::default()
            },
        )
        .unwrap();
    assert!(pool.generation() > g3, "settings count");
}

#[test]
fn changes_since_names_each_changed_key_and_document_once() {
    for env in envs() {
        let pool = env.pool();
        let aes = KeySpec::Aes { bits: 128 };
        pool.create_key("a", aes, &KeyOptions::default()).unwrap();
        pool.create_key("b", aes, &KeyOptions::default()).unwrap();
        let g0 = pool.generation();
        let none = pool.changes_since(g0).unwrap().expect("current");
        assert_eq!(none.generation, g0);
        assert!(none.keys.is_empty() && none.documents.is_empty());

        pool.rotate_key("a").unwrap();
        pool.set_key_extra("a", "x", Some(b"1")).unwrap();
        pool.delete_key("b").unwrap();
        pool.create_key("c", aes, &KeyOptions::default()).unwrap();
        pool.put_document("note", "n", b"x").unwrap();
        pool.put_document("note", "gone", b"y").unwrap();
        pool.delete_document("note", "gone").unwrap();
        let ch = pool.changes_since(g0).unwrap().expect("in the log");
        assert_eq!(ch.generation, pool.generation());
        let keys: Vec<(&str, Option<&str>)> = ch
            .keys
            .iter()
            .map(|(n, i)| (n.as_str(), i.as_ref().map(|i| i.version.as_str())))
            .collect();
        let a = pool.get_key("a", None).unwrap();
        let c = pool.get_key("c", None).unwrap();
        assert_eq!(
            keys,
            [
                ("a", Some(a.version.as_str())),
                ("b", None),
                ("c", Some(c.version.as_str()))
            ]
        );
        assert_eq!(ch.keys[0].1.as_ref().unwrap().extra["x"], b"1");
        let docs: Vec<(&str, &str, Option<&[u8]>)> = ch
            .documents
            .iter()
            .map(|(k, i, v)| (k.as_str(), i.as_str(), v.as_deref().map(Vec::as_slice)))
            .collect();
        assert_eq!(
            docs,
            [("note", "gone", None), ("note", "n", Some(&b"x"[..]))]
        );

        // Only what came after the generation asked about.
        let g1 = pool.generation();
        pool.recover_deleted_key("b").unwrap();
        let ch = pool.changes_since(g1).unwrap().unwrap();
        assert_eq!(ch.keys.len(), 1);
        assert_eq!(ch.keys[0].0, "b");
        assert!(ch.keys[0].1.is_some(), "recovered: live again");

        // A generation from the future, or from before a change the log does not itemize
        // (the pool's settings), has no answer: the caller reads the pool whole.
        assert!(pool.changes_since(pool.generation() + 1).unwrap().is_none());
        let g2 = pool.generation();
        env.hsm
            .update_pool(
                "pool1",
                &PoolUpdate {
                    tags: Some([("t".to_string(), "v".to_string())].into()),
                    ..PoolUpdate::default()
                },
            )
            .unwrap();
        assert!(pool.changes_since(g2).unwrap().is_none());
        let g3 = pool.generation();
        assert!(pool.changes_since(g3).unwrap().unwrap().keys.is_empty());
    }
}

#[test]
fn the_change_log_forgets_old_generations() {
    let env = &envs()[0];
    let pool = env.pool();
    let g0 = pool.generation();
    for i in 0..4100 {
        pool.put_document("note", &format!("n{i}"), b"x").unwrap();
    }
    assert!(pool.changes_since(g0).unwrap().is_none(), "too far back");
    let recent = pool.generation() - 10;
    assert_eq!(
        pool.changes_since(recent).unwrap().unwrap().documents.len(),
        10
    );
}

#[test]
fn clearing_a_pool() {
    for env in envs() {
        let hsm = &env.hsm;
        let pool = env.pool();
        pool.create_key("a", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        pool.create_key("b", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        pool.delete_key("b").unwrap();
        pool.put_document("note", "n", b"x").unwrap();
        // What governs the pool survives: access control, PIN policy, SO PIN.
        let admin = "00000000-0000-0000-0000-0000000000aa";
        hsm_core::rbac::make_strict(&pool, &[admin]).unwrap();
        let policy = hsm_core::pin::PinPolicy {
            min_len: 6,
            max_len: 8,
            max_failures: 3,
        };
        pool.set_pin_policy(&policy).unwrap();
        pool.set_pin(PinRole::So, b"so-pin-1").unwrap();
        pool.set_pin(PinRole::User, b"user-pin").unwrap();
        assert_eq!(pool.clear().unwrap(), 2);
        assert_eq!(
            hsm_core::rbac::mode(&pool).unwrap(),
            hsm_core::rbac::Mode::Strict
        );
        assert_eq!(pool.pin_policy().unwrap(), policy);
        pool.verify_pin(PinRole::So, b"so-pin-1").unwrap();
        assert!(
            !pool.pin_status(PinRole::User).unwrap().initialized,
            "the user PIN goes"
        );
        assert!(
            pool.list_keys(&Default::default())
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            pool.list_deleted_keys(&Default::default())
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(pool.get_document("note", "n").unwrap(), None);
        // The names are free again.
        pool.create_key("b", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        // Under purge protection, a pool with keys is not cleared.
        hsm.create_pool(
            "guarded",
            PoolSettings {
                soft_delete_retention_days: 7,
                purge_protection: true,
            },
            Default::default(),
        )
        .unwrap();
        let guarded = hsm.pool("guarded").unwrap();
        assert_eq!(
            guarded.clear().unwrap(),
            0,
            "an empty protected pool may be cleared"
        );
        guarded
            .create_key("k", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        assert_eq!(guarded.clear().unwrap_err().code(), "Conflict");
        assert!(guarded.get_key("k", None).is_ok());
    }
}

#[test]
fn read_only_handles_read_and_refuse_writes() {
    let env = envs().pop().unwrap();
    let hsm = &env.hsm;
    let pool = env.pool();
    pool.create_key(
        "k",
        KeySpec::Ec { curve: Curve::P256 },
        &KeyOptions::default(),
    )
    .unwrap();
    pool.delete_key("k").unwrap();
    pool.recover_deleted_key("k").unwrap();
    hsm.set_read_only();
    assert!(hsm.is_read_only());
    let es256 = jwa::sign_algorithm("ES256").unwrap();
    let sig = pool.sign("k", None, &es256, &[1; 32]).unwrap();
    assert!(pool.verify("k", None, &es256, &[1; 32], &sig).unwrap());
    assert_eq!(
        pool.create_key("x", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap_err()
            .code(),
        "ReadOnly"
    );
    assert_eq!(
        pool.put_document("n", "n", b"x").unwrap_err().code(),
        "ReadOnly"
    );
    assert_eq!(
        hsm.create_pool("another", PoolSettings::default(), Default::default())
            .unwrap_err()
            .code(),
        "ReadOnly"
    );
    assert_eq!(hsm.delete_pool("pool1").unwrap_err().code(), "ReadOnly");
    let dir = tempfile::tempdir().unwrap();
    hsm.backup_pool("pool1", &dir.path().join("b")).unwrap();
    assert_eq!(
        hsm.restore_pool(&dir.path().join("b"), "copy1", RestoreMode::IntoEmpty)
            .unwrap_err()
            .code(),
        "ReadOnly"
    );
    // Time passing does not make a read-only handle purge or rotate.
    pool.delete_key("k").unwrap_err();
    env.clock.advance_days(400);
    hsm.maintain().unwrap();
    assert!(pool.get_key("k", None).is_ok());
}

#[test]
fn in_memory_keys_obey_the_same_rules() {
    use hsm_core::SecretBytes;
    use hsm_core::crypto::{CipherAlgorithm, KeyMaterial};
    use hsm_core::key::{KeyOperation, KeyOps};
    let env = &envs()[0];
    let hsm = &env.hsm;
    let es256 = jwa::sign_algorithm("ES256").unwrap();
    let signer = hsm
        .generate_ephemeral(
            KeySpec::Ec { curve: Curve::P256 },
            KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify]),
            false,
        )
        .unwrap();
    assert!(signer.generated() && signer.has_private());
    let sig = signer.sign(&es256, &[5; 32]).unwrap();
    assert!(signer.verify(&es256, &[5; 32], &sig).unwrap());
    assert_eq!(
        signer.sign(&es256, &[5; 31]).unwrap_err().code(),
        "InvalidInputLength"
    );
    assert_eq!(
        signer
            .sign(&jwa::sign_algorithm("RS256").unwrap(), &[5; 32])
            .unwrap_err()
            .code(),
        "KeyTypeMismatch"
    );
    assert_eq!(signer.export().unwrap_err().code(), "OperationNotPermitted");
    // Its public half as a public-only key verifies, and cannot sign.
    let public = hsm
        .public_ephemeral(
            &signer.public_key().unwrap(),
            KeyOps::of(&[KeyOperation::Verify]),
        )
        .unwrap();
    assert!(public.verify(&es256, &[5; 32], &sig).unwrap());
    assert_eq!(
        public.sign(&es256, &[5; 32]).unwrap_err().code(),
        "OperationNotPermitted"
    );
    assert!(
        hsm.public_ephemeral(
            &signer.public_key().unwrap(),
            KeyOps::of(&[KeyOperation::Sign])
        )
        .is_err()
    );
    // An imported, exportable AES key: encrypt, export.
    let mut aes = hsm
        .import_ephemeral(
            KeyMaterial::Aes(SecretBytes::from_slice(&[4; 16])),
            KeyOps::of(&[
                KeyOperation::Encrypt,
                KeyOperation::Decrypt,
                KeyOperation::Export,
            ]),
            true,
        )
        .unwrap();
    assert!(!aes.generated());
    let ecb = CipherAlgorithm::AesEcb;
    let ct = aes.encrypt(&ecb, &[0; 16]).unwrap();
    assert_eq!(
        aes.decrypt(&ecb, &ct.data).unwrap().expose_secret(),
        &[0; 16]
    );
    match aes.export().unwrap() {
        KeyMaterial::Aes(k) => assert_eq!(k.expose_secret(), &[4; 16]),
        other => panic!("{other:?}"),
    }
    aes.set_ops(KeyOps::of(&[KeyOperation::Decrypt])).unwrap();
    assert_eq!(
        aes.encrypt(&ecb, &[0; 16]).unwrap_err().code(),
        "OperationNotPermitted"
    );
    assert!(aes.set_ops(KeyOps::of(&[KeyOperation::Derive])).is_err());
    assert!(!format!("{aes:?}").contains("04040404"));
    assert_eq!(
        hsm.generate_ephemeral(KeySpec::Aes { bits: 64 }, KeyOps::NONE, false)
            .unwrap_err()
            .code(),
        "BadParameter"
    );
}

#[test]
fn a_new_key_only_creation_writes_its_attributes_in_one_step() {
    for env in envs() {
        let pool = env.pool();
        let opts = KeyOptions {
            new_key_only: true,
            extra: [("ck.id".to_string(), vec![7u8; 20])].into(),
            ..KeyOptions::default()
        };
        let info = pool
            .create_key("fresh", KeySpec::Ec { curve: Curve::P256 }, &opts)
            .unwrap();
        assert_eq!(info.extra["ck.id"], vec![7u8; 20]);
        // A second creation under the name is refused, live or deleted; a plain one rotates.
        let again = pool.create_key("fresh", KeySpec::Ec { curve: Curve::P256 }, &opts);
        assert_eq!(again.unwrap_err().code(), "Conflict");
        pool.create_key(
            "fresh",
            KeySpec::Ec { curve: Curve::P256 },
            &KeyOptions::default(),
        )
        .unwrap();
        let (generation, keys) = pool.snapshot_keys().unwrap();
        assert_eq!(generation, pool.generation());
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys[0].extra["ck.id"],
            vec![7u8; 20],
            "the new version keeps them"
        );
        pool.delete_key("fresh").unwrap();
        let deleted = pool.create_key("fresh", KeySpec::Ec { curve: Curve::P256 }, &opts);
        assert_eq!(deleted.unwrap_err().code(), "Conflict");
        // Bad attribute names are refused before anything is generated.
        let bad = KeyOptions {
            extra: [("a b".to_string(), vec![1])].into(),
            ..KeyOptions::default()
        };
        let err = pool.create_key("other", KeySpec::Aes { bits: 256 }, &bad);
        assert_eq!(err.unwrap_err().code(), "BadParameter");
        assert_eq!(
            pool.get_key("other", None).unwrap_err().code(),
            "KeyNotFound"
        );
    }
}
