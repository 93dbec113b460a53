//! Login, PINs and token initialization through libmhsm_pkcs11.so: `C_InitToken` on the
//! uninitialized token (a new pool) and on a pool's token (emptying it), `C_InitPIN`,
//! `C_SetPIN`, `C_Login` / `C_LoginUser` / `C_Logout`, session states, the PIN flags of
//! `CK_TOKEN_INFO`, the wrong-PIN counter (persisted, lockout, the SO's reset), a forked
//! child (read-only), and pkcs11-tool doing the same.
//!
//! Tests here initialize and finalize the module, so they take turns. The process's
//! configuration (`MHSM_PKCS11_CONFIG`) allows 3 wrong PINs and PINs of 4 to 16 bytes.

mod pkcs11_common;

// The suite's sections, one file each under `pkcs11_login/` (explicit paths: the same lines
// must resolve when `pkcs11_login_remote.rs` compiles this file as its module `suite`).
#[path = "pkcs11_login/logins.rs"]
mod logins;
#[path = "pkcs11_login/processes.rs"]
mod processes;
#[path = "pkcs11_login/tokens.rs"]
mod tokens;

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
