//! Keys: create, import, versions, lists, updates, rotation, soft-delete, recovery and purge,
//! on every storage engine.

mod common;

use common::{START, ec_material, envs, rsa2048};
use hsm_core::crypto::{Curve, KeyKind, KeyMaterial, KeySpec, PublicKey};
use hsm_core::key::rotation::IsoDuration;
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions, KeyUpdate, RecoveryLevel, RotationPolicy};
use hsm_core::names::{PageRequest, Tags, validate_version};
use hsm_core::time::{DAY, UnixTime};
use hsm_core::{PoolSettings, PoolUpdate, SecretBytes};

fn ec256() -> KeySpec {
    KeySpec::Ec { curve: Curve::P256 }
}

#[test]
fn create_every_supported_type() {
    let env = &envs()[0];
    let pool = env.pool();
    let specs = [
        KeySpec::Rsa { bits: 2048 },
        KeySpec::Ec { curve: Curve::P256 },
        KeySpec::Ec { curve: Curve::P384 },
        KeySpec::Ec { curve: Curve::P521 },
        KeySpec::Ec {
            curve: Curve::Secp256k1,
        },
        KeySpec::Aes { bits: 128 },
        KeySpec::Aes { bits: 192 },
        KeySpec::Aes { bits: 256 },
    ];
    for (i, spec) in specs.into_iter().enumerate() {
        let info = pool
            .create_key(&format!("k{i}"), spec, &KeyOptions::default())
            .unwrap();
        assert_eq!(info.spec, spec);
        assert!(validate_version(&info.version));
        assert!(info.attributes.enabled);
        assert!(!info.attributes.exportable);
        assert_eq!(info.attributes.created, START);
        assert_eq!(info.ops, KeyOps::default_for(&spec));
        assert_eq!(info.recoverable_days, 90);
        assert_eq!(info.recovery_level, RecoveryLevel::RecoverablePurgeable);
        match (spec.kind(), &info.public_key) {
            (KeyKind::Rsa, Some(PublicKey::Rsa { n, e })) => {
                assert_eq!(n.len(), 256);
                assert_eq!(e, &[1, 0, 1]);
            }
            (KeyKind::Ec, Some(PublicKey::Ec { curve, x, y })) => {
                assert_eq!(KeySpec::Ec { curve: *curve }, spec);
                assert_eq!(x.len(), curve.field_len());
                assert_eq!(y.len(), curve.field_len());
            }
            (KeyKind::Oct, None) => {}
            other => panic!("unexpected public part {other:?}"),
        }
    }
}

#[test]
fn unsupported_sizes_and_bad_names_are_refused() {
    let env = &envs()[0];
    let pool = env.pool();
    for spec in [
        KeySpec::Rsa { bits: 1024 },
        KeySpec::Rsa { bits: 2049 },
        KeySpec::Aes { bits: 512 },
    ] {
        assert_eq!(
            pool.create_key("k", spec, &KeyOptions::default())
                .unwrap_err()
                .code(),
            "BadParameter"
        );
    }
    for name in ["", "a_b", "a/b", &"k".repeat(128)] {
        assert_eq!(
            pool.create_key(name, ec256(), &KeyOptions::default())
                .unwrap_err()
                .code(),
            "BadParameter"
        );
    }
    let wrong_ops = KeyOptions {
        ops: Some(KeyOps::of(&[KeyOperation::Encrypt])),
        ..KeyOptions::default()
    };
    assert_eq!(
        pool.create_key("k", ec256(), &wrong_ops)
            .unwrap_err()
            .code(),
        "BadParameter"
    );
    let window = KeyOptions {
        not_before: Some(UnixTime(10)),
        expires: Some(UnixTime(5)),
        ..KeyOptions::default()
    };
    assert_eq!(
        pool.create_key("k", ec256(), &window).unwrap_err().code(),
        "BadParameter"
    );
    let many_tags = KeyOptions {
        tags: Some((0..16).map(|i| (i.to_string(), "v".into())).collect()),
        ..KeyOptions::default()
    };
    assert_eq!(
        pool.create_key("k", ec256(), &many_tags)
            .unwrap_err()
            .code(),
        "BadParameter"
    );
    assert!(
        pool.list_keys(&PageRequest::default())
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn versions_latest_and_lists() {
    for env in envs() {
        let pool = env.pool();
        let v1 = pool
            .create_key("k", ec256(), &KeyOptions::default())
            .unwrap();
        env.clock.advance(1);
        let v2 = pool
            .create_key("k", ec256(), &KeyOptions::default())
            .unwrap();
        env.clock.advance(1);
        let v3 = pool.rotate_key("k").unwrap();
        assert_ne!(v1.version, v2.version);
        assert_ne!(v1.public_key, v2.public_key);
        assert_eq!(pool.get_key("k", None).unwrap(), v3);
        assert_eq!(pool.get_key("k", Some("")).unwrap(), v3);
        assert_eq!(pool.get_key("k", Some(&v1.version)).unwrap(), v1);
        assert_eq!(
            pool.get_key("k", Some("0123456789abcdef0123456789abcdef"))
                .unwrap_err()
                .code(),
            "KeyVersionNotFound"
        );
        assert_eq!(
            pool.get_key("nope", None).unwrap_err().code(),
            "KeyNotFound"
        );

        let versions = pool.list_versions("k", &PageRequest::first(2)).unwrap();
        assert_eq!(versions.items, vec![v1.clone(), v2.clone()]);
        let rest = pool
            .list_versions(
                "k",
                &PageRequest {
                    max: Some(2),
                    token: versions.next.clone(),
                },
            )
            .unwrap();
        assert_eq!(rest.items, vec![v3.clone()]);
        assert_eq!(rest.next, None);

        for i in 0..30 {
            pool.create_key(
                &format!("n{i:02}"),
                KeySpec::Aes { bits: 128 },
                &KeyOptions::default(),
            )
            .unwrap();
        }
        let mut names = Vec::new();
        let mut req = PageRequest::first(7);
        loop {
            let page = pool.list_keys(&req).unwrap();
            assert!(page.items.len() <= 7);
            names.extend(page.items.into_iter().map(|k| k.name));
            match page.next {
                Some(t) => req.token = Some(t),
                None => break,
            }
        }
        let mut want: Vec<String> = (0..30).map(|i| format!("n{i:02}")).collect();
        want.insert(0, "k".into());
        assert_eq!(names, want, "{}", env.engine);
        let bad = PageRequest {
            max: None,
            token: Some("not-a-token".into()),
        };
        assert_eq!(pool.list_keys(&bad).unwrap_err().code(), "BadParameter");
    }
}

#[test]
fn update_attributes_ops_tags_and_policies() {
    for env in envs() {
        let pool = env.pool();
        let v1 = pool
            .create_key("k", ec256(), &KeyOptions::default())
            .unwrap();
        let v2 = pool.rotate_key("k").unwrap();
        env.clock.advance(5);
        let tags: Tags = [("env".to_string(), "test".to_string())].into();
        let up = pool
            .update_key(
                "k",
                Some(&v1.version),
                &KeyUpdate {
                    enabled: Some(false),
                    expires: Some(Some(UnixTime(START.0 + 1000))),
                    ops: Some(KeyOps::of(&[KeyOperation::Verify])),
                    tags: Some(tags.clone()),
                    release_policy: Some(Some(b"{\"anyOf\":[]}".to_vec())),
                    ..KeyUpdate::default()
                },
            )
            .unwrap();
        assert!(!up.attributes.enabled);
        assert_eq!(up.attributes.updated.0, START.0 + 5);
        assert_eq!(up.attributes.created, START);
        assert_eq!(up.version, v1.version);
        // The other version's attributes are untouched; key-level fields are shared.
        let latest = pool.get_key("k", None).unwrap();
        assert_eq!(latest.version, v2.version);
        assert!(latest.attributes.enabled);
        assert_eq!(latest.attributes.expires, None);
        assert_eq!(latest.tags, tags);
        assert_eq!(latest.ops, KeyOps::of(&[KeyOperation::Verify]));
        assert_eq!(
            latest.release_policy.as_deref(),
            Some(&b"{\"anyOf\":[]}"[..])
        );

        let policy = RotationPolicy {
            lifetime_actions: vec![],
            expiry_time: Some(IsoDuration::parse("P60D").unwrap()),
            created: UnixTime(0),
            updated: UnixTime(0),
        };
        let with_policy = pool.set_rotation_policy("k", Some(policy.clone())).unwrap();
        let stored = with_policy.rotation_policy.unwrap();
        assert_eq!(stored.expiry_time, policy.expiry_time);
        assert_eq!(stored.created.0, START.0 + 5, "the core stamps the policy");

        // Bad updates change nothing.
        let bad = [
            KeyUpdate {
                exportable: Some(true),
                ..KeyUpdate::default()
            },
            KeyUpdate {
                ops: Some(KeyOps::of(&[KeyOperation::Decrypt])),
                ..KeyUpdate::default()
            },
            KeyUpdate {
                not_before: Some(Some(UnixTime(START.0 + 2000))),
                expires: Some(Some(UnixTime(START.0 + 1000))),
                ..KeyUpdate::default()
            },
            KeyUpdate {
                tags: Some((0..16).map(|i| (i.to_string(), String::new())).collect()),
                ..KeyUpdate::default()
            },
        ];
        for u in bad {
            assert_eq!(
                pool.update_key("k", None, &u).unwrap_err().code(),
                "BadParameter",
                "{u:?}"
            );
        }
        assert_eq!(pool.get_key("k", None).unwrap().tags, tags);
        assert_eq!(
            pool.update_key("nope", None, &KeyUpdate::default())
                .unwrap_err()
                .code(),
            "KeyNotFound"
        );
    }
}

#[test]
fn soft_delete_recover_and_purge() {
    for env in envs() {
        let pool = env.pool();
        let created = pool
            .create_key("k", ec256(), &KeyOptions::default())
            .unwrap();
        let old = pool.rotate_key("k").unwrap();
        env.clock.advance(3);
        let deleted = pool.delete_key("k").unwrap();
        let d = deleted.deletion.clone().unwrap();
        assert_eq!(d.deleted_on.0, START.0 + 3);
        assert_eq!(d.scheduled_purge.0, START.0 + 3 + 90 * DAY);
        assert_eq!(d.recovery_id, "deletedkeys/k");
        assert_eq!(pool.get_key("k", None).unwrap_err().code(), "KeyNotFound");
        assert_eq!(pool.delete_key("k").unwrap_err().code(), "KeyNotFound");
        assert!(
            pool.list_keys(&PageRequest::default())
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(pool.get_deleted_key("k").unwrap(), deleted);
        assert_eq!(
            pool.list_deleted_keys(&PageRequest::default())
                .unwrap()
                .items,
            vec![deleted]
        );
        // The name stays taken while the key is recoverable.
        assert_eq!(
            pool.create_key("k", ec256(), &KeyOptions::default())
                .unwrap_err()
                .code(),
            "Conflict"
        );
        assert_eq!(
            pool.sign(
                "k",
                None,
                &hsm_core::crypto::jwa::sign_algorithm("ES256").unwrap(),
                &[0; 32]
            )
            .unwrap_err()
            .code(),
            "KeyNotFound"
        );

        let back = pool.recover_deleted_key("k").unwrap();
        assert_eq!(back.version, old.version);
        assert_eq!(back.deletion, None);
        assert_eq!(
            pool.get_key("k", Some(&created.version)).unwrap().version,
            created.version
        );
        assert_eq!(
            pool.recover_deleted_key("k").unwrap_err().code(),
            "DeletedKeyNotFound"
        );

        pool.delete_key("k").unwrap();
        pool.purge_deleted_key("k").unwrap();
        assert_eq!(
            pool.get_deleted_key("k").unwrap_err().code(),
            "DeletedKeyNotFound"
        );
        assert_eq!(
            pool.purge_deleted_key("k").unwrap_err().code(),
            "DeletedKeyNotFound"
        );
        // Gone for good: the name starts afresh.
        let fresh = pool
            .create_key("k", ec256(), &KeyOptions::default())
            .unwrap();
        assert_eq!(
            pool.list_versions("k", &PageRequest::default())
                .unwrap()
                .items,
            vec![fresh]
        );
        // Purging a live key is not a thing.
        assert_eq!(
            pool.purge_deleted_key("k").unwrap_err().code(),
            "DeletedKeyNotFound"
        );
    }
}

#[test]
fn purge_protection_and_automatic_purge_of_keys() {
    for mut env in envs() {
        let update = PoolUpdate {
            soft_delete_retention_days: Some(7),
            purge_protection: Some(true),
            tags: None,
        };
        env.hsm.update_pool("pool1", &update).unwrap();
        let pool = env.pool();
        let info = pool
            .create_key("k", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        assert_eq!(info.recovery_level, RecoveryLevel::CustomizedRecoverable);
        assert_eq!(info.recoverable_days, 7);
        pool.create_key("other", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        pool.delete_key("k").unwrap();
        let err = pool.purge_deleted_key("k").unwrap_err();
        assert_eq!(err.code(), "PurgeProtected");
        assert!(err.to_string().contains('k'));
        env.clock.advance(7 * DAY - 1);
        assert_eq!(
            pool.purge_deleted_key("k").unwrap_err().code(),
            "PurgeProtected"
        );
        assert!(pool.get_deleted_key("k").is_ok());
        env.clock.advance(1);
        // Due now: purged on the next call, without anyone asking.
        assert_eq!(
            pool.get_deleted_key("k").unwrap_err().code(),
            "DeletedKeyNotFound"
        );
        assert!(pool.get_key("other", None).is_ok());
        drop(pool); // a handle keeps the HSM (and its directory lock) alive
        env.reopen();
        let pool = env.pool();
        assert_eq!(
            pool.get_deleted_key("k").unwrap_err().code(),
            "DeletedKeyNotFound"
        );
        assert!(pool.get_key("other", None).is_ok());
    }
}

#[test]
fn import_known_material_and_refuse_bad_material() {
    for env in envs() {
        let pool = env.pool();
        let rsa = pool
            .import_key("rsa", rsa2048(), &KeyOptions::default())
            .unwrap();
        assert_eq!(rsa.spec, KeySpec::Rsa { bits: 2048 });
        let ec = pool
            .import_key("ec", ec_material(Curve::P384), &KeyOptions::default())
            .unwrap();
        // Same scalar, same public key.
        let again = pool
            .import_key("ec2", ec_material(Curve::P384), &KeyOptions::default())
            .unwrap();
        assert_eq!(ec.public_key, again.public_key);
        let aes = KeyMaterial::Aes(SecretBytes::from_slice(&[5; 32]));
        assert_eq!(
            pool.import_key("aes", aes, &KeyOptions::default())
                .unwrap()
                .spec,
            KeySpec::Aes { bits: 256 }
        );

        let bad = [
            KeyMaterial::Aes(SecretBytes::from_slice(&[5; 20])),
            KeyMaterial::Ec {
                curve: Curve::P256,
                d: SecretBytes::from_slice(&[0; 32]),
            },
            KeyMaterial::Ec {
                curve: Curve::P256,
                d: SecretBytes::from_slice(&[0xff; 32]),
            },
        ];
        for m in bad {
            let code = pool
                .import_key("bad", m, &KeyOptions::default())
                .unwrap_err()
                .code();
            assert!(
                matches!(code, "BadParameter" | "InvalidKeyMaterial"),
                "{code}"
            );
        }
        // An RSA key whose primes do not match its modulus.
        let KeyMaterial::Rsa(mut parts) = rsa2048() else {
            unreachable!()
        };
        let mut q = parts.q.expose_secret().to_vec();
        let last = q.len() - 1;
        q[last] ^= 2;
        parts.q = SecretBytes::new(q);
        assert_eq!(
            pool.import_key("bad", KeyMaterial::Rsa(parts), &KeyOptions::default())
                .unwrap_err()
                .code(),
            "InvalidKeyMaterial"
        );
        assert_eq!(pool.get_key("bad", None).unwrap_err().code(), "KeyNotFound");
    }
}

#[test]
fn export_needs_exportable_and_the_export_operation() {
    for env in envs() {
        let pool = env.pool();
        let exportable = KeyOptions {
            exportable: true,
            ops: Some(KeyOps::of(&[KeyOperation::Encrypt, KeyOperation::Export])),
            ..KeyOptions::default()
        };
        let material = KeyMaterial::Aes(SecretBytes::from_slice(&[9; 16]));
        pool.import_key("yes", material, &exportable).unwrap();
        let (info, out) = pool.export_key("yes", None).unwrap();
        assert!(info.attributes.exportable);
        match out {
            KeyMaterial::Aes(k) => assert_eq!(k.expose_secret(), &[9; 16]),
            other => panic!("{other:?}"),
        }
        let not_exportable = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Export])),
            ..KeyOptions::default()
        };
        pool.create_key("no", ec256(), &not_exportable).unwrap();
        assert_eq!(
            pool.export_key("no", None).unwrap_err().code(),
            "NotExportable"
        );
        let no_op = KeyOptions {
            exportable: true,
            ..KeyOptions::default()
        };
        pool.create_key("noop", ec256(), &no_op).unwrap();
        assert_eq!(
            pool.export_key("noop", None).unwrap_err().code(),
            "OperationNotPermitted"
        );
        pool.update_key(
            "yes",
            None,
            &KeyUpdate {
                enabled: Some(false),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
        assert_eq!(
            pool.export_key("yes", None).unwrap_err().code(),
            "KeyDisabled"
        );
    }
}

#[test]
fn keys_persist_across_reopen() {
    let mut env = envs().pop().unwrap();
    let pool = env.pool();
    let a = pool
        .create_key("a", ec256(), &KeyOptions::default())
        .unwrap();
    let a2 = pool.rotate_key("a").unwrap();
    let b = pool
        .import_key("b", rsa2048(), &KeyOptions::default())
        .unwrap();
    pool.delete_key("b").unwrap();
    let tags: Tags = [("x".to_string(), "y".to_string())].into();
    pool.update_key(
        "a",
        Some(&a.version),
        &KeyUpdate {
            enabled: Some(false),
            tags: Some(tags.clone()),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
    drop(pool);
    env.reopen();
    let pool = env.pool();
    let got = pool.get_key("a", None).unwrap();
    assert_eq!(got, pool.get_key("a", Some(&a2.version)).unwrap());
    assert_eq!(got.public_key, a2.public_key);
    assert_eq!(got.tags, tags);
    assert!(
        !pool
            .get_key("a", Some(&a.version))
            .unwrap()
            .attributes
            .enabled
    );
    assert_eq!(pool.get_deleted_key("b").unwrap().version, b.version);
    let es256 = hsm_core::crypto::jwa::sign_algorithm("ES256").unwrap();
    let sig = pool.sign("a", None, &es256, &[1; 32]).unwrap();
    assert!(pool.verify("a", None, &es256, &[1; 32], &sig).unwrap());
    let _ = PoolSettings::default();
}
