//! The `pkcs11_login` suite: logins and session states, the wrong-PIN counter, `C_SetPIN`
//! and `C_InitPIN`, PINs set by the core, context-specific logins and `C_LoginUser`.

use super::*;

#[test]
fn logins_session_states_and_their_errors() {
    let m = start();
    let slot = m.new_pool("login-states");
    let rw = m.ctx.open_rw_session(slot).unwrap();
    assert_eq!(m.state(&rw), SessionState::RwPublic);
    // No user PIN yet.
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserPinNotInitialized
    );
    assert_eq!(rv(rw.logout()), RvError::UserNotLoggedIn);
    assert_eq!(rv(rw.init_pin(&pin(USER_PIN))), RvError::UserNotLoggedIn);

    // The SO.
    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(m.state(&rw), SessionState::RwSecurityOfficer);
    let rw2 = m.ctx.open_rw_session(slot).unwrap();
    assert_eq!(
        m.state(&rw2),
        SessionState::RwSecurityOfficer,
        "the login is the slot's"
    );
    assert_eq!(
        rv(m.ctx.open_ro_session(slot)),
        RvError::SessionReadWriteSoExists
    );
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::UserAlreadyLoggedIn
    );
    assert_eq!(
        rv(rw2.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserAnotherAlreadyLoggedIn
    );
    rw.init_pin(&pin(USER_PIN)).unwrap();
    assert!(m.token(slot).user_pin_initialized());
    rw2.logout().unwrap();
    assert_eq!(m.state(&rw), SessionState::RwPublic);

    // The user.
    let ro = m.ctx.open_ro_session(slot).unwrap();
    assert_eq!(m.state(&ro), SessionState::RoPublic);
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::SessionReadOnlyExists
    );
    ro.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(m.state(&ro), SessionState::RoUser);
    assert_eq!(m.state(&rw), SessionState::RwUser);
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserAlreadyLoggedIn
    );
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::UserAnotherAlreadyLoggedIn
    );
    // C_InitPIN is the SO's.
    assert_eq!(rv(rw.init_pin(&pin("5555"))), RvError::UserNotLoggedIn);

    // Bad arguments.
    let h = rw.handle();
    assert_eq!(raw_login(h, 7, Some(b"1234")), CKR_USER_TYPE_INVALID);
    assert_eq!(raw_login(h, CKU_USER, None), CKR_ARGUMENTS_BAD);
    assert_eq!(
        raw_login(0xdead, CKU_USER, Some(b"1234")),
        CKR_SESSION_HANDLE_INVALID
    );

    // Closing the slot's last session logs out.
    drop((ro, rw, rw2));
    let s = m.ctx.open_ro_session(slot).unwrap();
    assert_eq!(m.state(&s), SessionState::RoPublic);
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    // C_CloseAllSessions too.
    // SAFETY: a plain call.
    assert_eq!(unsafe { raw().C_CloseAllSessions(slot.id()) }, CKR_OK);
    std::mem::forget(s); // closed already
    let s = m.ctx.open_rw_session(slot).unwrap();
    assert_eq!(m.state(&s), SessionState::RwPublic);
    // And C_Logout.
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    s.logout().unwrap();
    assert_eq!(m.state(&s), SessionState::RwPublic);
    assert_eq!(rv(s.logout()), RvError::UserNotLoggedIn);
}

#[test]
fn a_login_ends_at_c_finalize() {
    let mut m = start();
    let slot = m.new_pool_with_user("login-finalize");
    let s = m.ctx.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let slot_id = slot.id();
    std::mem::forget(s); // its handle dies with the module
    m.restart();
    let h = raw_session(slot_id, false).unwrap();
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { raw().C_GetSessionInfo(h, &mut info) }, CKR_OK);
    assert_eq!(info.state, CKS_RO_PUBLIC_SESSION);
}

#[test]
fn wrong_pins_are_counted_persist_lock_and_the_so_unlocks() {
    let mut m = start();
    let slot = m.new_pool_with_user("login-counter");
    let flags = |m: &Module| {
        let t = m.token(m.slot_of("login-counter"));
        (
            t.user_pin_count_low(),
            t.user_pin_final_try(),
            t.user_pin_locked(),
        )
    };
    assert_eq!(flags(&m), (false, false, false));
    let s = m.ctx.open_ro_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("0000")))),
        RvError::PinIncorrect
    );
    assert_eq!(flags(&m), (true, false, false), "one failure: count low");
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("0000")))),
        RvError::PinIncorrect
    );
    assert_eq!(flags(&m), (true, true, false), "one try left: final try");
    drop(s);

    // The counter is in the pool, not in the module's memory.
    m.restart();
    assert_eq!(flags(&m), (true, true, false));
    let slot = m.slot_of("login-counter");
    let s = m.ctx.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("0000")))),
        RvError::PinLocked
    );
    assert_eq!(flags(&m), (false, false, true), "locked");
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinLocked,
        "even the right PIN"
    );
    assert_eq!(
        rv(s.set_pin(&pin(USER_PIN), &pin("5678"))),
        RvError::PinLocked
    );

    // The SO resets it.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin("5678")).unwrap();
    s.logout().unwrap();
    assert_eq!(flags(&m), (false, false, false));
    s.login(UserType::User, Some(&pin("5678"))).unwrap();
    s.logout().unwrap();

    // A right PIN resets the counter.
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("0000")))),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin("5678"))).unwrap();
    assert_eq!(flags(&m), (false, false, false));
    s.logout().unwrap();

    // The SO PIN has a counter of its own.
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin("wrong-so")))),
        RvError::PinIncorrect
    );
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin("wrong-so")))),
        RvError::PinIncorrect
    );
    let t = m.token(slot);
    assert!(t.so_pin_count_low() && t.so_pin_final_try() && !t.so_pin_locked());
    assert!(!t.user_pin_count_low());
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    let t = m.token(slot);
    assert!(!t.so_pin_count_low() && !t.so_pin_final_try());
    s.logout().unwrap();
    for _ in 0..3 {
        let _ = s.login(UserType::So, Some(&pin("wrong-so")));
    }
    assert!(m.token(slot).so_pin_locked());
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::PinLocked
    );
    drop(s);
    assert_eq!(
        rv_hex(raw_init_token(
            slot.id(),
            SO_PIN.as_bytes(),
            "login-counter"
        )),
        rv_hex(CKR_PIN_LOCKED)
    );
}

#[test]
fn set_pin_changes_the_pin_of_whoever_is_logged_in() {
    let m = start();
    let slot = m.new_pool_with_user("login-setpin");
    let s = m.ctx.open_rw_session(slot).unwrap();

    // Logged in as the user.
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(
        rv(s.set_pin(&pin("0000"), &pin("4321"))),
        RvError::PinIncorrect
    );
    assert!(m.token(slot).user_pin_count_low(), "a wrong old PIN counts");
    assert_eq!(
        rv(s.set_pin(&pin(USER_PIN), &pin("123"))),
        RvError::PinLenRange
    );
    assert_eq!(
        rv(s.set_pin(&pin(USER_PIN), &pin("12345678901234567"))),
        RvError::PinLenRange
    );
    assert_eq!(
        rv(s.set_pin(&pin(USER_PIN), &pin("12\t34"))),
        RvError::PinInvalid
    );
    s.set_pin(&pin(USER_PIN), &pin("4321")).unwrap();
    assert!(
        !m.token(slot).user_pin_count_low(),
        "the new PIN starts afresh"
    );
    s.logout().unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin("4321"))).unwrap();
    s.logout().unwrap();

    // In a public read-write session: the user PIN.
    s.set_pin(&pin("4321"), &pin("9876")).unwrap();
    s.login(UserType::User, Some(&pin("9876"))).unwrap();
    s.logout().unwrap();

    // Logged in as the SO: the SO PIN.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.set_pin(&pin(SO_PIN), &pin("new-so-pin")).unwrap();
    s.logout().unwrap();
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::PinIncorrect
    );
    s.login(UserType::So, Some(&pin("new-so-pin"))).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin("9876"))).unwrap(); // the user PIN did not change
    s.logout().unwrap();

    // Read-only sessions cannot.
    let ro = m.ctx.open_ro_session(slot).unwrap();
    assert_eq!(
        rv(ro.set_pin(&pin("9876"), &pin("1111"))),
        RvError::SessionReadOnly
    );
    ro.login(UserType::User, Some(&pin("9876"))).unwrap();
    assert_eq!(
        rv(ro.set_pin(&pin("9876"), &pin("1111"))),
        RvError::SessionReadOnly
    );
    // NULL PINs.
    // SAFETY: NULL pointers the module must refuse.
    unsafe {
        assert_eq!(
            raw().C_SetPIN(
                s.handle(),
                std::ptr::null_mut(),
                0,
                b"1111".as_ptr() as *mut u8,
                4
            ),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw().C_InitPIN(s.handle(), std::ptr::null_mut(), 0),
            CKR_ARGUMENTS_BAD
        );
    }
}

#[test]
fn init_pin_checks_the_new_pin() {
    let m = start();
    let slot = m.new_pool("login-initpin");
    let s = m.ctx.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_eq!(rv(s.init_pin(&pin("12"))), RvError::PinLenRange);
    assert_eq!(rv(s.init_pin(&pin("12\n34"))), RvError::PinInvalid);
    assert!(!m.token(slot).user_pin_initialized());
    s.init_pin(&pin("abcd")).unwrap();
    assert!(m.token(slot).user_pin_initialized());
}

#[test]
fn pins_set_by_the_creating_tool_work() {
    let mut m = start();
    m.with_core(|hsm| {
        hsm.create_pool("login-tool", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("login-tool").unwrap();
        pool.set_pin(PinRole::So, SO_PIN.as_bytes()).unwrap();
        pool.set_pin(PinRole::User, USER_PIN.as_bytes()).unwrap();
    });
    let slot = m.slot_of("login-tool");
    assert!(m.token(slot).user_pin_initialized());
    let s = m.ctx.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(m.state(&s), SessionState::RoUser);
}

#[test]
fn context_specific_login_and_login_user() {
    let m = start();
    let slot = m.new_pool_with_user("login-context");
    let s = m.ctx.open_ro_session(slot).unwrap();
    let h = s.handle();
    assert_eq!(
        raw_login(h, CKU_CONTEXT_SPECIFIC, Some(b"1234")),
        CKR_USER_NOT_LOGGED_IN
    );
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(
        raw_login(h, CKU_CONTEXT_SPECIFIC, Some(b"1234")),
        CKR_OPERATION_NOT_INITIALIZED
    );
    // A digest uses no key: nothing to authenticate.
    let mut mech = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: a valid mechanism.
    assert_eq!(unsafe { raw().C_DigestInit(h, &mut mech) }, CKR_OK);
    assert_eq!(
        raw_login(h, CKU_CONTEXT_SPECIFIC, Some(b"1234")),
        CKR_OPERATION_NOT_INITIALIZED
    );
    s.logout().unwrap();

    // C_LoginUser (3.0): without a username it is C_Login; with one, not supported.
    let t = table_3_0();
    let login_user = t.C_LoginUser.unwrap();
    let user_pin = USER_PIN.as_bytes();
    // SAFETY: valid buffers with their lengths, or NULL.
    unsafe {
        assert_eq!(
            login_user(
                h,
                CKU_USER,
                user_pin.as_ptr() as *mut u8,
                4,
                b"bob".as_ptr() as *mut u8,
                3
            ),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            login_user(
                h,
                CKU_USER,
                user_pin.as_ptr() as *mut u8,
                4,
                std::ptr::null_mut(),
                0
            ),
            CKR_OK
        );
    }
    assert_eq!(m.state(&s), SessionState::RoUser);
}
