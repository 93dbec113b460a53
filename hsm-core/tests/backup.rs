//! Backups of keys and pools: round trips, conflicts, domains and tampering.

mod common;

use std::sync::Arc;

use common::{envs, rsa2048};
use hsm_core::backup::RestoreMode;
use hsm_core::crypto::{Curve, KeySpec, jwa};
use hsm_core::key::{KeyOptions, KeyUpdate};
use hsm_core::names::{PageRequest, Tags};
use hsm_core::root::RootKeySource;
use hsm_core::time::ManualClock;
use hsm_core::{Hsm, HsmConfig, PoolSettings, SecretBytes};

fn other_domain() -> Hsm {
    let cfg =
        HsmConfig::in_memory().root_key(RootKeySource::Bytes(SecretBytes::from_slice(&[8; 32])));
    let hsm = Hsm::open(cfg).unwrap();
    hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
        .unwrap();
    hsm
}

#[test]
fn key_backup_restores_all_versions_into_another_pool() {
    for env in envs() {
        let hsm = &env.hsm;
        let pool = env.pool();
        let v1 = pool
            .import_key("rsa", rsa2048(), &KeyOptions::default())
            .unwrap();
        let v2 = pool.rotate_key("rsa").unwrap();
        pool.update_key(
            "rsa",
            Some(&v1.version),
            &KeyUpdate {
                enabled: Some(false),
                tags: Some([("t".to_string(), "1".to_string())].into()),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
        let rs256 = jwa::sign_algorithm("RS256").unwrap();
        let sig = pool.sign("rsa", None, &rs256, &[4; 32]).unwrap();
        let blob = pool.backup_key("rsa").unwrap();
        // The blob holds no plaintext material.
        let hsm_core::crypto::KeyMaterial::Rsa(parts) = rsa2048() else {
            unreachable!()
        };
        assert!(
            !blob
                .windows(32)
                .any(|w| w == &parts.d.expose_secret()[..32])
        );

        // Same pool: refused while the name exists, live or deleted.
        assert_eq!(pool.restore_key(&blob).unwrap_err().code(), "Conflict");
        pool.delete_key("rsa").unwrap();
        assert_eq!(pool.restore_key(&blob).unwrap_err().code(), "Conflict");
        pool.purge_deleted_key("rsa").unwrap();
        let restored = pool.restore_key(&blob).unwrap();
        assert_eq!(restored.version, v2.version);
        assert_eq!(restored.public_key, v2.public_key);
        assert!(pool.verify("rsa", None, &rs256, &[4; 32], &sig).unwrap());

        // Another pool of the same domain.
        hsm.create_pool("pool2", PoolSettings::default(), Tags::new())
            .unwrap();
        let p2 = hsm.pool("pool2").unwrap();
        p2.restore_key(&blob).unwrap();
        let versions = p2
            .list_versions("rsa", &PageRequest::default())
            .unwrap()
            .items;
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].version, v1.version);
        assert!(!versions[0].attributes.enabled);
        assert_eq!(versions[0].tags.get("t").map(String::as_str), Some("1"));
        assert!(p2.verify("rsa", None, &rs256, &[4; 32], &sig).unwrap());
        assert_eq!(
            p2.sign("rsa", Some(&v1.version), &rs256, &[4; 32])
                .unwrap_err()
                .code(),
            "KeyDisabled"
        );
        assert_eq!(p2.backup_key("nope").unwrap_err().code(), "KeyNotFound");
    }
}

#[test]
fn key_backup_refuses_other_domains_and_tampering() {
    let env = &envs()[0];
    let pool = env.pool();
    pool.create_key(
        "k",
        KeySpec::Ec { curve: Curve::P256 },
        &KeyOptions::default(),
    )
    .unwrap();
    let blob = pool.backup_key("k").unwrap();
    let other = other_domain();
    let code = other
        .pool("pool1")
        .unwrap()
        .restore_key(&blob)
        .unwrap_err()
        .code();
    assert_eq!(code, "SecurityDomainMismatch");

    pool.delete_key("k").unwrap();
    pool.purge_deleted_key("k").unwrap();
    for i in [0, 9, 30, blob.len() / 2, blob.len() - 1] {
        let mut t = blob.clone();
        t[i] ^= 0x20;
        let code = pool.restore_key(&t).unwrap_err().code();
        assert!(
            matches!(code, "BackupInvalid" | "SecurityDomainMismatch"),
            "byte {i}: {code}"
        );
    }
    assert_eq!(
        pool.restore_key(&blob[..blob.len() - 1])
            .unwrap_err()
            .code(),
        "BackupInvalid"
    );
    assert_eq!(pool.restore_key(b"").unwrap_err().code(), "BackupInvalid");
    assert_eq!(
        pool.restore_key(&[0; 100]).unwrap_err().code(),
        "BackupInvalid"
    );
    assert_eq!(pool.get_key("k", None).unwrap_err().code(), "KeyNotFound");
    pool.restore_key(&blob).unwrap();
}

#[test]
fn same_root_key_in_another_directory_is_the_same_domain() {
    let root = || RootKeySource::Bytes(SecretBytes::from_slice(&[3; 32]));
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = Hsm::open(HsmConfig::new(a_dir.path()).root_key(root())).unwrap();
    let b = Hsm::open(HsmConfig::new(b_dir.path()).root_key(root())).unwrap();
    assert_eq!(a.security_domain(), b.security_domain());
    for h in [&a, &b] {
        h.create_pool("pool", PoolSettings::default(), Tags::new())
            .unwrap();
    }
    let info = a
        .pool("pool")
        .unwrap()
        .create_key("k", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
        .unwrap();
    let blob = a.pool("pool").unwrap().backup_key("k").unwrap();
    assert_eq!(
        b.pool("pool").unwrap().restore_key(&blob).unwrap().version,
        info.version
    );
}

#[test]
fn pool_backup_and_restore() {
    for env in envs() {
        let hsm = &env.hsm;
        let pool = env.pool();
        pool.create_key(
            "live",
            KeySpec::Ec { curve: Curve::P521 },
            &KeyOptions::default(),
        )
        .unwrap();
        pool.rotate_key("live").unwrap();
        pool.create_key("aes", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        pool.create_key("gone", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        let deleted = pool.delete_key("gone").unwrap();
        let es512 = jwa::sign_algorithm("ES512").unwrap();
        let sig = pool.sign("live", None, &es512, &[1; 64]).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("backup-1");
        let manifest = hsm.backup_pool("pool1", &target).unwrap();
        assert_eq!(manifest.keys, 3);
        assert_eq!(manifest.security_domain, hsm.security_domain());
        assert_eq!(
            hsm.backup_pool("pool1", &target).unwrap_err().code(),
            "Conflict"
        );

        let info = hsm
            .restore_pool(&target, "copy", RestoreMode::IntoEmpty)
            .unwrap();
        assert_eq!(info.name, "copy");
        let copy = hsm.pool("copy").unwrap();
        assert!(copy.verify("live", None, &es512, &[1; 64], &sig).unwrap());
        assert_eq!(
            copy.list_versions("live", &PageRequest::default())
                .unwrap()
                .items
                .len(),
            2
        );
        assert_eq!(
            copy.get_deleted_key("gone").unwrap().deletion,
            deleted.deletion
        );
        assert_eq!(
            copy.list_keys(&PageRequest::default()).unwrap().items.len(),
            2
        );
        // Restoring over a pool with keys is refused; into an empty existing pool works.
        assert_eq!(
            hsm.restore_pool(&target, "pool1", RestoreMode::IntoEmpty)
                .unwrap_err()
                .code(),
            "Conflict"
        );
        hsm.create_pool("empty", PoolSettings::default(), Tags::new())
            .unwrap();
        hsm.restore_pool(&target, "empty", RestoreMode::IntoEmpty)
            .unwrap();
        assert!(hsm.pool("empty").unwrap().get_key("aes", None).is_ok());

        // Another domain cannot read it; a tampered blob is refused.
        let other = other_domain();
        assert_eq!(
            other
                .restore_pool(&target, "x-pool", RestoreMode::IntoEmpty)
                .unwrap_err()
                .code(),
            "SecurityDomainMismatch"
        );
        let blob_path = target.join(hsm_core::backup::POOL_BLOB_FILE);
        let mut blob = std::fs::read(&blob_path).unwrap();
        let mid = blob.len() / 2;
        blob[mid] ^= 1;
        std::fs::write(&blob_path, &blob).unwrap();
        assert_eq!(
            hsm.restore_pool(&target, "third", RestoreMode::IntoEmpty)
                .unwrap_err()
                .code(),
            "BackupInvalid"
        );
        assert_eq!(hsm.get_pool("third").unwrap_err().code(), "PoolNotFound");
        assert_eq!(
            hsm.restore_pool(&dir.path().join("missing"), "third", RestoreMode::IntoEmpty)
                .unwrap_err()
                .code(),
            "BackupInvalid"
        );
    }
}

#[test]
fn backups_survive_reopen_of_the_hsm() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let blob;
    {
        let hsm = common::open_dir(dir.path(), &clock);
        hsm.create_pool("pool", PoolSettings::default(), Tags::new())
            .unwrap();
        let p = hsm.pool("pool").unwrap();
        p.create_key(
            "k",
            KeySpec::Ec { curve: Curve::P256 },
            &KeyOptions::default(),
        )
        .unwrap();
        blob = p.backup_key("k").unwrap();
        p.delete_key("k").unwrap();
        p.purge_deleted_key("k").unwrap();
    }
    let hsm = Hsm::open(HsmConfig::new(dir.path()).clock(Arc::new(clock))).unwrap();
    hsm.pool("pool").unwrap().restore_key(&blob).unwrap();
}

#[test]
fn full_restore_replaces_and_selective_restore_picks_one_key() {
    for env in envs() {
        let hsm = &env.hsm;
        let pool = env.pool();
        let es256 = jwa::sign_algorithm("ES256").unwrap();
        let a = pool
            .create_key(
                "a",
                KeySpec::Ec { curve: Curve::P256 },
                &KeyOptions::default(),
            )
            .unwrap();
        pool.create_key("b", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        pool.put_document("note", "kept", b"from the backup")
            .unwrap();
        let sig = pool.sign("a", None, &es256, &[2; 32]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("full");
        hsm.backup_pool("pool1", &backup).unwrap();

        // Things change after the backup.
        pool.rotate_key("a").unwrap();
        pool.create_key("later", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        pool.delete_key("b").unwrap();
        pool.put_document("note", "later", b"after the backup")
            .unwrap();

        // Selective restore of a live key replaces it with the backup's, versions and all
        // (as the service does): the rotation made after the backup is gone.
        let rotated = pool.get_key("a", None).unwrap().version;
        assert_ne!(rotated, a.version);
        let back = hsm.restore_key_from_backup(&backup, "pool1", "a").unwrap();
        assert_eq!(back.version, a.version);
        assert_eq!(pool.get_key("a", None).unwrap().version, a.version);
        assert_eq!(
            pool.get_key("a", Some(&rotated)).unwrap_err().code(),
            "KeyVersionNotFound"
        );
        assert!(pool.verify("a", None, &es256, &[2; 32], &sig).unwrap());
        // A deleted key holding the name is not replaced: recover or purge it first.
        assert_eq!(
            hsm.restore_key_from_backup(&backup, "pool1", "b")
                .unwrap_err()
                .code(),
            "Conflict"
        );
        assert_eq!(
            hsm.restore_key_from_backup(&backup, "pool1", "zz")
                .unwrap_err()
                .code(),
            "KeyNotFound"
        );
        hsm.create_pool("other", PoolSettings::default(), Tags::new())
            .unwrap();
        let one = hsm.restore_key_from_backup(&backup, "other", "a").unwrap();
        assert_eq!(one.version, a.version);
        let other = hsm.pool("other").unwrap();
        assert!(other.verify("a", None, &es256, &[2; 32], &sig).unwrap());
        assert_eq!(other.get_key("b", None).unwrap_err().code(), "KeyNotFound");

        // Full restore over the changed pool: back to the backup's state.
        assert_eq!(
            hsm.restore_pool(&backup, "pool1", RestoreMode::IntoEmpty)
                .unwrap_err()
                .code(),
            "Conflict"
        );
        hsm.restore_pool(&backup, "pool1", RestoreMode::Replace)
            .unwrap();
        let pool = env.pool();
        assert_eq!(pool.get_key("a", None).unwrap().version, a.version);
        assert_eq!(
            pool.list_versions("a", &PageRequest::default())
                .unwrap()
                .items
                .len(),
            1
        );
        assert!(
            pool.get_key("b", None).is_ok(),
            "deleted after the backup, back again"
        );
        assert_eq!(
            pool.get_key("later", None).unwrap_err().code(),
            "KeyNotFound"
        );
        assert_eq!(pool.get_document("note", "later").unwrap(), None);
        assert_eq!(
            pool.get_document("note", "kept")
                .unwrap()
                .unwrap()
                .as_slice(),
            b"from the backup"
        );
        assert!(pool.verify("a", None, &es256, &[2; 32], &sig).unwrap());
    }
}

#[test]
fn replaced_state_survives_reopen() {
    let mut env = envs().pop().unwrap();
    let pool = env.pool();
    pool.create_key(
        "a",
        KeySpec::Ec { curve: Curve::P256 },
        &KeyOptions::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    env.hsm.backup_pool("pool1", &dir.path().join("b")).unwrap();
    pool.rotate_key("a").unwrap();
    pool.create_key("gone", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
        .unwrap();
    env.hsm
        .restore_pool(&dir.path().join("b"), "pool1", RestoreMode::Replace)
        .unwrap();
    drop(pool);
    env.reopen();
    let pool = env.pool();
    assert_eq!(
        pool.list_versions("a", &PageRequest::default())
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        pool.get_key("gone", None).unwrap_err().code(),
        "KeyNotFound"
    );
}
