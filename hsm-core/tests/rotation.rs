//! Rotation policies: stored, checked, and acted on when the clock reaches their time.

mod common;

use common::{START, envs};
use hsm_core::crypto::{Curve, KeySpec};
use hsm_core::key::rotation::{IsoDuration, LifetimeAction, RotationAction, Trigger};
use hsm_core::key::{KeyOptions, RotationPolicy};
use hsm_core::names::PageRequest;
use hsm_core::time::{DAY, UnixTime};

fn policy(trigger: Trigger, expiry: Option<&str>) -> RotationPolicy {
    RotationPolicy {
        lifetime_actions: vec![LifetimeAction {
            trigger,
            action: RotationAction::Rotate,
        }],
        expiry_time: expiry.map(|e| IsoDuration::parse(e).unwrap()),
        created: UnixTime(0),
        updated: UnixTime(0),
    }
}

fn versions(pool: &hsm_core::Pool, name: &str) -> usize {
    pool.list_versions(name, &PageRequest::default())
        .unwrap()
        .items
        .len()
}

#[test]
fn keys_rotate_when_their_policy_says() {
    for mut env in envs() {
        let pool = env.pool();
        let spec = KeySpec::Ec { curve: Curve::P256 };
        pool.create_key("auto", spec, &KeyOptions::default())
            .unwrap();
        pool.create_key("manual", spec, &KeyOptions::default())
            .unwrap();
        let after = Trigger::AfterCreate(IsoDuration::parse("P30D").unwrap());
        pool.set_rotation_policy("auto", Some(policy(after, Some("P90D"))))
            .unwrap();

        env.clock.advance(30 * DAY - 1);
        assert_eq!(versions(&pool, "auto"), 1, "not yet");
        env.clock.advance(1);
        assert_eq!(
            versions(&pool, "auto"),
            2,
            "rotated at 30 days, by the next call"
        );
        let latest = pool.get_key("auto", None).unwrap();
        assert_eq!(latest.attributes.created.0, START.0 + 30 * DAY);
        assert_eq!(
            latest.attributes.expires,
            Some(UnixTime(START.0 + 120 * DAY)),
            "expiry time applied"
        );
        assert_eq!(versions(&pool, "manual"), 1, "keys without a policy stay");

        // The schedule restarts from the new version, and survives a reopen.
        drop(pool);
        env.reopen();
        let pool = env.pool();
        env.clock.advance(30 * DAY);
        assert_eq!(versions(&pool, "auto"), 3);

        // A manual rotation follows the policy's expiry time too.
        let manual = pool.rotate_key("auto").unwrap();
        assert_eq!(
            manual.attributes.expires,
            Some(UnixTime(env.clock_now().0 + 90 * DAY))
        );

        // Deleted keys do not rotate; clearing the policy stops rotation.
        pool.delete_key("auto").unwrap();
        env.clock.advance(31 * DAY);
        pool.recover_deleted_key("auto").unwrap();
        let n = versions(&pool, "auto");
        pool.set_rotation_policy("auto", None).unwrap();
        env.clock.advance(365 * DAY);
        assert_eq!(versions(&pool, "auto"), n);
    }
}

#[test]
fn rotation_before_expiry() {
    let env = &envs()[0];
    let pool = env.pool();
    let opts = KeyOptions {
        expires: Some(UnixTime(START.0 + 60 * DAY)),
        ..KeyOptions::default()
    };
    pool.create_key("exp", KeySpec::Aes { bits: 128 }, &opts)
        .unwrap();
    let before = Trigger::BeforeExpiry(IsoDuration::parse("P10D").unwrap());
    pool.set_rotation_policy("exp", Some(policy(before, None)))
        .unwrap();
    env.clock.advance(50 * DAY - 1);
    assert_eq!(versions(&pool, "exp"), 1);
    env.clock.advance(1);
    assert_eq!(versions(&pool, "exp"), 2);
    // The new version has no expiry (the policy sets none), so no further rotation.
    env.clock.advance(400 * DAY);
    assert_eq!(versions(&pool, "exp"), 2);
}

#[test]
fn invalid_policies_are_refused() {
    let env = &envs()[0];
    let pool = env.pool();
    pool.create_key("k", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
        .unwrap();
    let too_soon = policy(
        Trigger::AfterCreate(IsoDuration::parse("P1D").unwrap()),
        None,
    );
    assert_eq!(
        pool.set_rotation_policy("k", Some(too_soon))
            .unwrap_err()
            .code(),
        "BadParameter"
    );
    assert_eq!(pool.get_key("k", None).unwrap().rotation_policy, None);
    let p = policy(
        Trigger::AfterCreate(IsoDuration::parse("P8D").unwrap()),
        None,
    );
    assert_eq!(
        pool.set_rotation_policy("nope", Some(p))
            .unwrap_err()
            .code(),
        "KeyNotFound"
    );
}
