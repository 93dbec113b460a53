//! Pools: lifecycle, settings, soft-delete, recovery and purge, on every storage engine.

mod common;

use common::{START, envs};
use hsm_core::crypto::{Curve, KeySpec};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::time::DAY;
use hsm_core::{PoolSettings, PoolUpdate};

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn create_get_list_update() {
    for env in envs() {
        let hsm = &env.hsm;
        let info = hsm
            .create_pool("second", PoolSettings::default(), tags(&[("team", "a")]))
            .unwrap();
        assert_eq!(info.name, "second");
        assert_eq!(info.settings.soft_delete_retention_days, 90);
        assert!(!info.settings.purge_protection);
        assert_eq!(info.created, START);
        assert_eq!(info.security_domain, hsm.security_domain());
        assert_eq!(hsm.get_pool("second").unwrap(), info);
        let names: Vec<_> = hsm
            .list_pools()
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["pool1", "second"], "{}", env.engine);

        env.clock.advance(10);
        let updated = hsm
            .update_pool(
                "second",
                &PoolUpdate {
                    soft_delete_retention_days: Some(7),
                    purge_protection: Some(true),
                    tags: Some(tags(&[("team", "b")])),
                },
            )
            .unwrap();
        assert_eq!(updated.settings.soft_delete_retention_days, 7);
        assert!(updated.settings.purge_protection);
        assert_eq!(updated.tags, tags(&[("team", "b")]));
        assert_eq!(updated.updated.0, START.0 + 10);
        assert_eq!(updated.created, START);
    }
}

#[test]
fn pool_names_differing_only_in_case_are_one_name() {
    for env in envs() {
        let hsm = &env.hsm;
        hsm.create_pool("Team-B", PoolSettings::default(), Tags::new())
            .unwrap();
        assert_eq!(hsm.name_in_use("team-b").as_deref(), Some("Team-B"));
        assert_eq!(hsm.name_in_use("Team-B").as_deref(), Some("Team-B"));
        assert_eq!(hsm.name_in_use("team-c"), None);
        let err = hsm
            .create_pool("TEAM-B", PoolSettings::default(), Tags::new())
            .unwrap_err();
        assert_eq!(err.code(), "Conflict");
        assert!(err.to_string().contains("'Team-B'"), "{err}");
        // A deleted pool keeps its name, in any case, until purged.
        hsm.delete_pool("Team-B").unwrap();
        assert_eq!(hsm.name_in_use("team-b").as_deref(), Some("Team-B"));
        let err = hsm
            .create_pool("team-b", PoolSettings::default(), Tags::new())
            .unwrap_err();
        assert!(err.to_string().contains("recover or purge"), "{err}");
    }
}

#[test]
fn bad_pool_input_is_refused() {
    for env in envs() {
        let hsm = &env.hsm;
        for bad in [
            "ab",
            "9lives",
            "with_underscore",
            "trailing-",
            &"x".repeat(25),
        ] {
            let err = hsm
                .create_pool(bad, PoolSettings::default(), Tags::new())
                .unwrap_err();
            assert_eq!(err.code(), "BadParameter", "{bad}");
        }
        for days in [0, 6, 91] {
            let s = PoolSettings {
                soft_delete_retention_days: days,
                purge_protection: false,
            };
            assert_eq!(
                hsm.create_pool("pool-x", s, Tags::new())
                    .unwrap_err()
                    .code(),
                "BadParameter"
            );
        }
        let many: Tags = (0..16).map(|i| (format!("t{i}"), String::new())).collect();
        assert_eq!(
            hsm.create_pool("pool-x", PoolSettings::default(), many)
                .unwrap_err()
                .code(),
            "BadParameter"
        );
        assert_eq!(
            hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
                .unwrap_err()
                .code(),
            "Conflict"
        );
        assert_eq!(hsm.pool("nope").unwrap_err().code(), "PoolNotFound");
        assert_eq!(hsm.get_pool("nope").unwrap_err().code(), "PoolNotFound");
        assert_eq!(
            hsm.update_pool("nope", &PoolUpdate::default())
                .unwrap_err()
                .code(),
            "PoolNotFound"
        );
        let bad_days = PoolUpdate {
            soft_delete_retention_days: Some(100),
            ..PoolUpdate::default()
        };
        assert_eq!(
            hsm.update_pool("pool1", &bad_days).unwrap_err().code(),
            "BadParameter"
        );
        assert_eq!(
            hsm.get_pool("pool1")
                .unwrap()
                .settings
                .soft_delete_retention_days,
            90
        );
    }
}

#[test]
fn purge_protection_never_turns_off() {
    for env in envs() {
        let hsm = &env.hsm;
        let on = PoolUpdate {
            purge_protection: Some(true),
            ..PoolUpdate::default()
        };
        hsm.update_pool("pool1", &on).unwrap();
        let off = PoolUpdate {
            purge_protection: Some(false),
            ..PoolUpdate::default()
        };
        assert_eq!(
            hsm.update_pool("pool1", &off).unwrap_err().code(),
            "BadParameter"
        );
        assert!(hsm.get_pool("pool1").unwrap().settings.purge_protection);
    }
}

#[test]
fn deleted_pool_is_recoverable_with_its_keys() {
    for env in envs() {
        let hsm = &env.hsm;
        let pool = env.pool();
        pool.create_key(
            "k",
            KeySpec::Ec { curve: Curve::P256 },
            &KeyOptions::default(),
        )
        .unwrap();
        let deleted = hsm.delete_pool("pool1").unwrap();
        let d = deleted.deletion.clone().unwrap();
        assert_eq!(d.deleted_on, START);
        assert_eq!(d.scheduled_purge.0, START.0 + 90 * DAY);
        assert_eq!(hsm.pool("pool1").unwrap_err().code(), "PoolNotFound");
        // An old handle stops working too.
        assert_eq!(pool.get_key("k", None).unwrap_err().code(), "PoolNotFound");
        assert!(hsm.list_pools().unwrap().is_empty());
        assert_eq!(hsm.list_deleted_pools().unwrap().len(), 1);
        assert_eq!(hsm.get_deleted_pool("pool1").unwrap().deletion, Some(d));
        assert_eq!(
            hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
                .unwrap_err()
                .code(),
            "Conflict"
        );
        assert_eq!(hsm.delete_pool("pool1").unwrap_err().code(), "PoolNotFound");

        let back = hsm.recover_pool("pool1").unwrap();
        assert_eq!(back.deletion, None);
        assert_eq!(
            hsm.recover_pool("pool1").unwrap_err().code(),
            "DeletedPoolNotFound"
        );
        assert_eq!(env.pool().get_key("k", None).unwrap().name, "k");
        assert_eq!(pool.get_key("k", None).unwrap().name, "k");
    }
}

#[test]
fn purge_and_automatic_purge_of_pools() {
    for env in envs() {
        let hsm = &env.hsm;
        // Explicit purge without protection.
        hsm.delete_pool("pool1").unwrap();
        hsm.purge_pool("pool1").unwrap();
        assert_eq!(
            hsm.get_deleted_pool("pool1").unwrap_err().code(),
            "DeletedPoolNotFound"
        );
        assert_eq!(
            hsm.purge_pool("pool1").unwrap_err().code(),
            "DeletedPoolNotFound"
        );
        // The name is free again, with a new, empty key space.
        hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
            .unwrap();
        assert!(
            env.pool()
                .list_keys(&Default::default())
                .unwrap()
                .items
                .is_empty()
        );

        // Under purge protection, purge waits for the retention; then it happens by itself.
        let protected = PoolSettings {
            soft_delete_retention_days: 7,
            purge_protection: true,
        };
        hsm.create_pool("guarded", protected, Tags::new()).unwrap();
        hsm.pool("guarded")
            .unwrap()
            .create_key("k", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        hsm.delete_pool("guarded").unwrap();
        let err = hsm.purge_pool("guarded").unwrap_err();
        assert_eq!(err.code(), "PurgeProtected");
        env.clock.advance(7 * DAY - 1);
        assert_eq!(
            hsm.purge_pool("guarded").unwrap_err().code(),
            "PurgeProtected"
        );
        assert!(hsm.get_deleted_pool("guarded").is_ok());
        env.clock.advance(1);
        assert_eq!(
            hsm.get_deleted_pool("guarded").unwrap_err().code(),
            "DeletedPoolNotFound"
        );
        assert!(hsm.list_deleted_pools().unwrap().is_empty());
    }
}

#[test]
fn pools_persist_across_reopen() {
    let mut env = envs().pop().unwrap();
    assert_eq!(env.engine, "sled");
    env.hsm
        .create_pool("kept", PoolSettings::default(), tags(&[("a", "1")]))
        .unwrap();
    env.hsm
        .create_pool("gone", PoolSettings::default(), Tags::new())
        .unwrap();
    env.hsm.delete_pool("gone").unwrap();
    let domain = env.hsm.security_domain().to_string();
    env.reopen();
    assert_eq!(env.hsm.security_domain(), domain);
    assert_eq!(env.hsm.get_pool("kept").unwrap().tags, tags(&[("a", "1")]));
    assert!(env.hsm.get_deleted_pool("gone").is_ok());
    // A purge that came due while closed happens at open.
    env.clock.advance_days(91);
    env.reopen();
    assert_eq!(
        env.hsm.get_deleted_pool("gone").unwrap_err().code(),
        "DeletedPoolNotFound"
    );
}
