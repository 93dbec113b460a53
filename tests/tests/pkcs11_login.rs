//! Login, PINs and token initialization through libmhsm_pkcs11.so: `C_InitToken` on the
//! uninitialized token (a new pool) and on a pool's token (emptying it), `C_InitPIN`,
//! `C_SetPIN`, `C_Login` / `C_LoginUser` / `C_Logout`, session states, the PIN flags of
//! `CK_TOKEN_INFO`, the wrong-PIN counter (persisted, lockout, the SO's reset), a forked
//! child (read-only), and pkcs11-tool doing the same.
//!
//! Tests here initialize and finalize the module, so they take turns. The process's
//! configuration (`MHSM_PKCS11_CONFIG`) allows 3 wrong PINs and PINs of 4 to 16 bytes.

mod pkcs11_common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use hsm_core::crypto::KeySpec;
use hsm_core::key::KeyOptions;
use hsm_core::names::{PageRequest, Tags};
use hsm_core::pin::{PinPolicy, PinRole};
use hsm_core::{PoolSettings, PoolUpdate};
use pkcs11_common::*;

const SO_PIN: &str = "so-secret";
const USER_PIN: &str = "1234";

/// The configured policy.
const POLICY: PinPolicy = PinPolicy {
    min_len: 4,
    max_len: 16,
    max_failures: 3,
};

/// The module, initialized for one test; finalized when dropped (even after a failure), so
/// the next test starts uninitialized.
struct Module {
    ctx: Pkcs11,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Module {
    fn drop(&mut self) {
        finalize();
    }
}

/// Takes the turn, writes the configuration once, initializes the module.
fn start() -> Module {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let _ = data_dir();
    static CONFIG: OnceLock<tempfile::TempPath> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(
            &mut file,
            b"[pin]\nmin_len = 4\nmax_len = 16\nmax_failures = 3\n",
        )
        .unwrap();
        let path = file.into_temp_path();
        // SAFETY: runs once, under the turn lock, before this process's first C_Initialize
        // that reads it; the other tests wait for the lock and nothing else reads the
        // environment concurrently.
        unsafe { std::env::set_var("MHSM_PKCS11_CONFIG", &path) };
        path
    });
    Module {
        ctx: init_ctx(),
        _turn: turn,
    }
}

fn init_ctx() -> Pkcs11 {
    let ctx = Pkcs11::new(module_path()).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    ctx
}

impl Module {
    /// Finalizes and initializes again (what persists must survive this).
    fn restart(&mut self) {
        assert_eq!(finalize(), CKR_OK);
        self.ctx = init_ctx();
    }

    /// Finalizes, runs `f` on the data directory with the core, initializes again.
    fn with_core(&mut self, f: impl FnOnce(&hsm_core::Hsm)) {
        assert_eq!(finalize(), CKR_OK);
        pkcs11_common::with_core(f);
        self.ctx = init_ctx();
    }

    fn slot_of(&self, label: &str) -> Slot {
        self.ctx
            .get_all_slots()
            .unwrap()
            .into_iter()
            .find(|s| self.ctx.get_token_info(*s).unwrap().label() == label)
            .unwrap_or_else(|| panic!("no slot for {label}"))
    }

    fn uninitialized(&self) -> Slot {
        self.slot_of("")
    }

    fn token(&self, slot: Slot) -> TokenInfo {
        self.ctx.get_token_info(slot).unwrap()
    }

    /// A new pool through `C_InitToken` on the uninitialized token; its slot.
    fn new_pool(&self, name: &str) -> Slot {
        self.ctx
            .init_token(self.uninitialized(), &pin(SO_PIN), name)
            .unwrap();
        self.slot_of(name)
    }

    /// A new pool with a user PIN: init token, SO login, init PIN, logout.
    fn new_pool_with_user(&self, name: &str) -> Slot {
        let slot = self.new_pool(name);
        let s = self.ctx.open_rw_session(slot).unwrap();
        s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
        s.init_pin(&pin(USER_PIN)).unwrap();
        s.logout().unwrap();
        slot
    }

    fn state(&self, s: &Session) -> SessionState {
        s.get_session_info().unwrap().session_state()
    }
}

fn pin(p: &str) -> AuthPin {
    AuthPin::from(p.to_string())
}

fn rv<T: std::fmt::Debug>(r: Result<T, Error>) -> RvError {
    match r {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("not a PKCS#11 error: {other:?}"),
    }
}

/// `C_Login` through the raw table, for what `cryptoki` cannot pass.
fn raw_login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: Option<&[u8]>) -> CK_RV {
    let (p, len) = match pin {
        Some(p) => (p.as_ptr() as *mut u8, p.len() as CK_ULONG),
        None => (std::ptr::null_mut(), 0),
    };
    // SAFETY: a valid PIN buffer of that length, or NULL.
    unsafe { raw().C_Login(session, user, p, len) }
}

fn raw_session(slot: CK_SLOT_ID, rw: bool) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let mut h = 0;
    let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
    // SAFETY: valid pointers.
    match unsafe { raw().C_OpenSession(slot, flags, std::ptr::null_mut(), None, &mut h) } {
        CKR_OK => Ok(h),
        rv => Err(rv),
    }
}

fn raw_token_flags(slot: CK_SLOT_ID) -> Result<CK_FLAGS, CK_RV> {
    let mut info = CK_TOKEN_INFO::default();
    // SAFETY: a valid out pointer.
    match unsafe { raw().C_GetTokenInfo(slot, &mut info) } {
        CKR_OK => Ok(info.flags),
        rv => Err(rv),
    }
}

/// `C_InitToken` through the raw table with a blank-padded label.
fn raw_init_token(slot: CK_SLOT_ID, pin: &[u8], label: &str) -> CK_RV {
    let mut l = [b' '; 32];
    l[..label.len()].copy_from_slice(label.as_bytes());
    // SAFETY: a valid PIN buffer and a 32-byte label.
    unsafe {
        raw().C_InitToken(
            slot,
            pin.as_ptr() as *mut u8,
            pin.len() as CK_ULONG,
            l.as_mut_ptr(),
        )
    }
}

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

/// Forks; the child runs `f` and exits 0 on success. Returns the child's exit status.
fn in_child(f: impl FnOnce() -> Result<(), String>) -> i32 {
    // SAFETY: fork() in a test process whose other tests wait for the turn lock; the child
    // only calls the module and ends with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(Ok(())) => 0,
            Ok(Err(message)) => {
                eprintln!("child: {message}");
                1
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child killed: {status:#x}");
    libc::WEXITSTATUS(status)
}

fn child(pool_slot: CK_SLOT_ID, uninit: CK_SLOT_ID) -> Result<(), String> {
    let expect = |what: &str, got: CK_RV, want: CK_RV| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what}: got {got:#x}, want {want:#x}"))
        }
    };
    expect("C_Initialize", initialize(), CKR_OK)?;
    if remote() {
        return remote_child(pool_slot);
    }
    let flags = raw_token_flags(pool_slot).map_err(|rv| format!("C_GetTokenInfo: {rv:#x}"))?;
    if flags & CKF_WRITE_PROTECTED == 0 || flags & CKF_USER_PIN_INITIALIZED == 0 {
        return Err(format!("token flags {flags:#x}"));
    }
    let s = raw_session(pool_slot, true).map_err(|rv| format!("C_OpenSession: {rv:#x}"))?;
    // A wrong PIN cannot be counted here: refused as a write.
    expect(
        "wrong PIN",
        raw_login(s, CKU_USER, Some(b"0000")),
        CKR_TOKEN_WRITE_PROTECTED,
    )?;
    // The right one needs no write.
    expect(
        "right PIN",
        raw_login(s, CKU_USER, Some(USER_PIN.as_bytes())),
        CKR_OK,
    )?;
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: a valid out pointer.
    expect(
        "C_GetSessionInfo",
        unsafe { raw().C_GetSessionInfo(s, &mut info) },
        CKR_OK,
    )?;
    expect("session state", info.state, CKS_RW_USER_FUNCTIONS)?;
    // SAFETY: valid PIN buffers.
    let set = unsafe {
        raw().C_SetPIN(
            s,
            USER_PIN.as_ptr() as *mut u8,
            4,
            b"5678".as_ptr() as *mut u8,
            4,
        )
    };
    expect("C_SetPIN", set, CKR_TOKEN_WRITE_PROTECTED)?;
    expect(
        "C_InitToken",
        raw_init_token(uninit, SO_PIN.as_bytes(), "login-child"),
        CKR_TOKEN_WRITE_PROTECTED,
    )?;
    expect("C_Finalize", finalize(), CKR_OK)?;
    Ok(())
}

/// Remote mode: the child is one more client of the server, with nothing to adopt read-only.
/// Its wrong PIN is counted by the server and its right PIN clears the count again, so the
/// parent's checks below hold in both modes.
fn remote_child(pool_slot: CK_SLOT_ID) -> Result<(), String> {
    let expect = |what: &str, got: CK_RV, want: CK_RV| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what}: got {got:#x}, want {want:#x}"))
        }
    };
    let flags = raw_token_flags(pool_slot).map_err(|rv| format!("C_GetTokenInfo: {rv:#x}"))?;
    if flags & CKF_WRITE_PROTECTED != 0 || flags & CKF_USER_PIN_INITIALIZED == 0 {
        return Err(format!("token flags {flags:#x}"));
    }
    let s = raw_session(pool_slot, true).map_err(|rv| format!("C_OpenSession: {rv:#x}"))?;
    expect(
        "wrong PIN",
        raw_login(s, CKU_USER, Some(b"0000")),
        CKR_PIN_INCORRECT,
    )?;
    let flags = raw_token_flags(pool_slot).map_err(|rv| format!("C_GetTokenInfo: {rv:#x}"))?;
    if flags & CKF_USER_PIN_COUNT_LOW == 0 {
        return Err(format!(
            "the failure is not counted: token flags {flags:#x}"
        ));
    }
    expect(
        "right PIN",
        raw_login(s, CKU_USER, Some(USER_PIN.as_bytes())),
        CKR_OK,
    )?;
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: a valid out pointer.
    expect(
        "C_GetSessionInfo",
        unsafe { raw().C_GetSessionInfo(s, &mut info) },
        CKR_OK,
    )?;
    expect("session state", info.state, CKS_RW_USER_FUNCTIONS)?;
    expect("C_Finalize", finalize(), CKR_OK)?;
    Ok(())
}

#[test]
fn a_forked_child_logs_in_but_cannot_write() {
    let mut m = start();
    let slot = m.new_pool_with_user("login-fork").id();
    let uninit = m.uninitialized().id();
    assert_eq!(
        in_child(|| child(slot, uninit)),
        0,
        "see the child's stderr"
    );
    // Nothing changed for the parent: no pool made, no failure counted, the PIN is the same.
    let t = m.token(m.slot_of("login-fork"));
    assert!(!t.write_protected() && !t.user_pin_count_low());
    assert!(
        m.ctx
            .get_all_slots()
            .unwrap()
            .iter()
            .all(|s| m.token(*s).label() != "login-child")
    );
    let s = m.ctx.open_rw_session(m.slot_of("login-fork")).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    drop(s);
    m.restart();
    assert!(!m.token(m.slot_of("login-fork")).user_pin_count_low());
}

// pkcs11-tool, another process, on a directory this process never opens.

fn pkcs11_tool(dir: &Path, args: &[&str]) -> Output {
    let exe = ["/usr/bin/pkcs11-tool", "/usr/local/bin/pkcs11-tool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("pkcs11-tool is missing: run ./scripts/test-all, which installs opensc");
    Command::new(exe)
        .arg("--module")
        .arg(module_path())
        .args(args)
        .env("MHSM_DATA_DIR", dir)
        .env_remove("MHSM_PKCS11_CONFIG")
        .env_remove("MHSM_LOG")
        .output()
        .expect("run pkcs11-tool")
}

fn ok(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pkcs11-tool {what} failed:\n{text}");
    text
}

#[test]
fn pkcs11_tool_inits_a_token_and_a_pin_and_logs_in() {
    let dir = dir_with_pools(&[]);
    let d = dir.path();
    // A server always serves a pool (its default one), so in remote mode the uninitialized
    // token is not the only slot: name it (slot 0, its default id, in both modes).
    let slot: &[&str] = if remote() { &["--slot", "0"] } else { &[] };
    let out = ok(
        pkcs11_tool(
            d,
            &[
                slot,
                &[
                    "--init-token",
                    "--label",
                    "tooltoken",
                    "--so-pin",
                    "87654321",
                ],
            ]
            .concat(),
        ),
        "--init-token",
    );
    assert!(out.contains("successfully initialized"), "{out}");
    let out = ok(pkcs11_tool(d, &["--list-slots"]), "--list-slots");
    assert!(out.contains("token label        : tooltoken"), "{out}");
    assert!(
        out.contains("mhsm slot for a new pool"),
        "a fresh uninitialized slot:\n{out}"
    );

    let out = ok(
        pkcs11_tool(
            d,
            &[
                "--token-label",
                "tooltoken",
                "--init-pin",
                "--login",
                "--login-type",
                "so",
                "--so-pin",
                "87654321",
                "--pin",
                "1234",
            ],
        ),
        "--init-pin",
    );
    assert!(out.contains("User PIN successfully initialized"), "{out}");
    let out = ok(
        pkcs11_tool(d, &["--list-token-slots"]),
        "--list-token-slots",
    );
    assert!(out.contains("PIN initialized"), "{out}");

    // A login (the random numbers come after it; pkcs11-tool stops if C_Login fails).
    let login = ["--token-label", "tooltoken", "--login", "--pin"];
    let rand = ["--generate-random", "16"];
    let out = pkcs11_tool(d, &[&login[..], &["1234"], &rand[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 16);
    let out = pkcs11_tool(d, &[&login[..], &["9999"], &rand[..]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CKR_PIN_INCORRECT"));
    let out = ok(
        pkcs11_tool(d, &["--list-token-slots"]),
        "--list-token-slots",
    );
    assert!(out.contains("user PIN count low"), "{out}");

    // Change the PIN, and log in with the new one.
    ok(
        pkcs11_tool(
            d,
            &[&login[..], &["1234", "--change-pin", "--new-pin", "4321"]].concat(),
        ),
        "--change-pin",
    );
    let out = pkcs11_tool(d, &[&login[..], &["4321"], &rand[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
