//! The `pkcs11_login` suite: `C_InitToken` on the uninitialized token (a new pool) and on
//! a pool's token (emptying it), and what it refuses.

use super::*;

#[test]
fn init_token_creates_a_pool_and_a_fresh_uninitialized_slot_appears() {
    let mut m = start();
    let uninit = m.uninitialized();
    let t = m.token(uninit);
    assert!(!t.token_initialized() && !t.user_pin_initialized());
    assert_eq!(
        (t.min_pin_length(), t.max_pin_length()),
        (4, 16),
        "from the config"
    );
    let before = m.ctx.get_all_slots().unwrap().len();

    m.ctx
        .init_token(uninit, &pin(SO_PIN), "login-created")
        .unwrap();
    let slots = m.ctx.get_all_slots().unwrap();
    assert_eq!(slots.len(), before + 1);
    let slot = m.slot_of("login-created");
    assert_ne!(slot, uninit);
    let t = m.token(slot);
    assert!(t.token_initialized() && t.login_required() && t.rng());
    assert!(!t.user_pin_initialized(), "no user PIN until C_InitPIN");
    assert!(!t.user_pin_count_low() && !t.so_pin_count_low() && !t.write_protected());
    assert_eq!((t.min_pin_length(), t.max_pin_length()), (4, 16));
    // The uninitialized token is there again, in the same slot.
    let again = m.token(uninit);
    assert!(!again.token_initialized());
    assert_eq!(again.label(), "");
    assert_eq!(
        rv(m.ctx.open_ro_session(uninit)),
        RvError::TokenNotRecognized
    );
    // The SO PIN works.
    let s = m.ctx.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(m.state(&s), SessionState::RwSecurityOfficer);
    drop(s);

    // The pool is in the data directory with the configured PIN policy.
    m.with_core(|hsm| {
        let pool = hsm.pool("login-created").unwrap();
        assert_eq!(pool.pin_policy().unwrap(), POLICY);
        assert!(pool.pin_status(PinRole::So).unwrap().initialized);
        assert!(!pool.pin_status(PinRole::User).unwrap().initialized);
    });
    assert!(m.token(m.slot_of("login-created")).token_initialized());
}

#[test]
fn init_token_refuses_bad_labels_and_pins_and_creates_nothing() {
    let m = start();
    let uninit = m.uninitialized().id();
    m.new_pool("login-taken");
    let count = m.ctx.get_all_slots().unwrap().len();
    for (label, pin, want) in [
        ("x", SO_PIN.as_bytes(), CKR_ARGUMENTS_BAD),
        ("under_score", SO_PIN.as_bytes(), CKR_ARGUMENTS_BAD),
        ("login-taken", SO_PIN.as_bytes(), CKR_FUNCTION_FAILED),
        ("login-short", b"123".as_slice(), CKR_PIN_LEN_RANGE),
        ("login-long", &[b'1'; 17], CKR_PIN_LEN_RANGE),
        ("login-ctrl", b"12\x0734", CKR_PIN_INVALID),
    ] {
        assert_eq!(
            rv_hex(raw_init_token(uninit, pin, label)),
            rv_hex(want),
            "{label}"
        );
    }
    // NULL PIN or label.
    let mut label = [b' '; 32];
    // SAFETY: NULL pointers the module must refuse; a valid label.
    unsafe {
        assert_eq!(
            raw().C_InitToken(uninit, std::ptr::null_mut(), 0, label.as_mut_ptr()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw().C_InitToken(uninit, SO_PIN.as_ptr() as *mut u8, 9, std::ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
    }
    assert_eq!(
        rv_hex(raw_init_token(999_999, b"so-secret", "login-x")),
        rv_hex(CKR_SLOT_ID_INVALID)
    );
    assert_eq!(
        m.ctx.get_all_slots().unwrap().len(),
        count,
        "no pool was made"
    );
}

#[test]
fn reinitializing_a_pool_empties_it_with_the_right_so_pin() {
    let mut m = start();
    m.new_pool_with_user("login-reinit");
    m.with_core(|hsm| {
        let pool = hsm.pool("login-reinit").unwrap();
        pool.create_key("k1", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        pool.create_key("k2", KeySpec::Aes { bits: 128 }, &KeyOptions::default())
            .unwrap();
        pool.delete_key("k2").unwrap();
    });
    let slot = m.slot_of("login-reinit");
    let id = slot.id();

    // Sessions open: refused.
    let s = m.ctx.open_ro_session(slot).unwrap();
    assert_eq!(
        rv(m.ctx.init_token(slot, &pin(SO_PIN), "login-reinit")),
        RvError::SessionExists
    );
    drop(s);
    // A wrong SO PIN: refused, and counted.
    assert_eq!(
        rv(m.ctx.init_token(slot, &pin("wrong-so"), "login-reinit")),
        RvError::PinIncorrect
    );
    assert!(m.token(slot).so_pin_count_low());
    // Another label: pools cannot be renamed.
    assert_eq!(
        rv(m.ctx.init_token(slot, &pin(SO_PIN), "login-renamed")),
        RvError::ArgumentsBad
    );
    // Right.
    m.ctx
        .init_token(slot, &pin(SO_PIN), "login-reinit")
        .unwrap();
    let t = m.token(slot);
    assert!(t.token_initialized() && !t.user_pin_initialized() && !t.so_pin_count_low());
    assert_eq!(m.slot_of("login-reinit").id(), id, "same pool, same slot");
    let s = m.ctx.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserPinNotInitialized
    );
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    drop(s);

    // The keys are gone for good: neither live nor deleted; the policy stayed.
    m.with_core(|hsm| {
        let pool = hsm.pool("login-reinit").unwrap();
        assert!(
            pool.list_keys(&PageRequest::default())
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            pool.list_deleted_keys(&PageRequest::default())
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(pool.pin_policy().unwrap(), POLICY);
    });
}

#[test]
fn reinitializing_is_refused_under_purge_protection_and_without_an_so_pin() {
    let mut m = start();
    m.new_pool("login-protected");
    m.with_core(|hsm| {
        let pool = hsm.pool("login-protected").unwrap();
        pool.create_key("k", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        let update = PoolUpdate {
            purge_protection: Some(true),
            ..PoolUpdate::default()
        };
        hsm.update_pool("login-protected", &update).unwrap();
        // A pool made outside PKCS#11 without PINs.
        hsm.create_pool("login-nopins", PoolSettings::default(), Tags::new())
            .unwrap();
    });
    let slot = m.slot_of("login-protected");
    // The core's Conflict (its keys cannot be erased).
    assert_eq!(
        rv(m.ctx.init_token(slot, &pin(SO_PIN), "login-protected")),
        RvError::FunctionFailed
    );
    let slot = m.slot_of("login-nopins");
    let t = m.token(slot);
    assert!(t.token_initialized() && !t.user_pin_initialized());
    assert_eq!(
        rv(m.ctx.init_token(slot, &pin(SO_PIN), "login-nopins")),
        RvError::PinIncorrect
    );
    let s = m.ctx.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::PinIncorrect
    );
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserPinNotInitialized
    );
    drop(s);
    m.with_core(|hsm| {
        let pool = hsm.pool("login-protected").unwrap();
        assert_eq!(
            pool.list_keys(&PageRequest::default()).unwrap().items.len(),
            1
        );
        assert_eq!(
            hsm.pool("login-nopins").unwrap().pin_policy().unwrap(),
            PinPolicy::default(),
            "a pool made elsewhere keeps the core's default policy"
        );
    });
    // Its token shows that policy's lengths.
    let t = m.token(m.slot_of("login-nopins"));
    assert_eq!((t.min_pin_length(), t.max_pin_length()), (4, 255));
}
