//! PINs: salted slow hashes, a persisted failure counter, lockout and reset.

mod common;

use common::envs;
use hsm_core::pin::{PinPolicy, PinRole};

#[test]
fn set_verify_count_lock_and_reset() {
    for mut env in envs() {
        let pool = env.pool();
        let policy = PinPolicy {
            max_failures: 3,
            ..PinPolicy::default()
        };
        pool.set_pin_policy(&policy).unwrap();
        let status = pool.pin_status(PinRole::User).unwrap();
        assert!(!status.initialized);
        assert_eq!(
            pool.verify_pin(PinRole::User, b"1234").unwrap_err().code(),
            "PinNotInitialized"
        );

        pool.set_pin(PinRole::So, b"so-secret").unwrap();
        pool.set_pin(PinRole::User, b"1234").unwrap();
        pool.verify_pin(PinRole::User, b"1234").unwrap();
        let err = pool.verify_pin(PinRole::User, b"9999").unwrap_err();
        assert_eq!(err.code(), "PinIncorrect");
        assert!(err.to_string().contains('2'), "{err}");
        assert_eq!(pool.pin_status(PinRole::User).unwrap().failures, 1);
        // A right PIN resets the counter.
        pool.verify_pin(PinRole::User, b"1234").unwrap();
        assert_eq!(pool.pin_status(PinRole::User).unwrap().failures, 0);

        assert_eq!(
            pool.verify_pin(PinRole::User, b"0000").unwrap_err().code(),
            "PinIncorrect"
        );
        assert_eq!(
            pool.verify_pin(PinRole::User, b"0000").unwrap_err().code(),
            "PinIncorrect"
        );
        // The counter survives a restart.
        drop(pool);
        env.reopen();
        let pool = env.pool();
        assert_eq!(pool.pin_status(PinRole::User).unwrap().remaining, 1);
        assert_eq!(
            pool.verify_pin(PinRole::User, b"0000").unwrap_err().code(),
            "PinLocked"
        );
        let locked = pool.pin_status(PinRole::User).unwrap();
        assert!(locked.locked && locked.remaining == 0);
        // Locked: even the right PIN is refused.
        assert_eq!(
            pool.verify_pin(PinRole::User, b"1234").unwrap_err().code(),
            "PinLocked"
        );
        // The SO's own PIN is unaffected; the SO resets the user PIN.
        pool.verify_pin(PinRole::So, b"so-secret").unwrap();
        pool.set_pin(PinRole::User, b"5678").unwrap();
        pool.verify_pin(PinRole::User, b"5678").unwrap();
        assert!(!pool.pin_status(PinRole::User).unwrap().locked);

        pool.clear_pin(PinRole::User).unwrap();
        assert!(!pool.pin_status(PinRole::User).unwrap().initialized);
    }
}

#[test]
fn pins_are_checked_and_never_stored_in_the_clear() {
    let env = envs().pop().unwrap();
    let pool = env.pool();
    for bad in [
        &b"123"[..],
        &[b'1'; 256][..],
        b"12\n34",
        &[0xff, 0xfe, 0x41, 0x42][..],
    ] {
        assert_eq!(
            pool.set_pin(PinRole::User, bad).unwrap_err().code(),
            "PinInvalid"
        );
    }
    pool.set_pin(PinRole::User, b"correct horse battery")
        .unwrap();
    let doc = pool.get_document("pin", "user").unwrap().unwrap();
    assert!(
        !doc.windows(7).any(|w| w == b"correct"),
        "the hash, not the PIN"
    );
    // Many threads trying wrong PINs at once: every failure is counted.
    let policy = PinPolicy {
        max_failures: 1000,
        ..PinPolicy::default()
    };
    pool.set_pin_policy(&policy).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    let _ = pool.verify_pin(PinRole::User, b"wrong-pin");
                }
            });
        }
    });
    assert_eq!(pool.pin_status(PinRole::User).unwrap().failures, 20);
}

#[test]
fn the_pin_policy_is_the_pools() {
    let mut env = envs().pop().unwrap();
    let pool = env.pool();
    assert_eq!(pool.pin_policy().unwrap(), PinPolicy::default());
    let strict = PinPolicy {
        min_len: 8,
        max_len: 16,
        max_failures: 2,
    };
    pool.set_pin_policy(&strict).unwrap();
    assert_eq!(
        pool.set_pin(PinRole::User, b"short").unwrap_err().code(),
        "PinInvalid"
    );
    pool.set_pin(PinRole::User, b"long-enough").unwrap();
    for bad in [
        PinPolicy {
            min_len: 0,
            ..strict
        },
        PinPolicy {
            min_len: 9,
            max_len: 8,
            ..strict
        },
        PinPolicy {
            max_len: 256,
            ..strict
        },
        PinPolicy {
            max_failures: 0,
            ..strict
        },
    ] {
        assert_eq!(
            pool.set_pin_policy(&bad).unwrap_err().code(),
            "BadParameter"
        );
    }
    drop(pool);
    env.reopen();
    assert_eq!(env.pool().pin_policy().unwrap(), strict);
    assert_eq!(env.pool().pin_status(PinRole::User).unwrap().remaining, 2);
}
