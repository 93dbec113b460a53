//! Session management: `C_OpenSession`, `C_CloseSession`, `C_CloseAllSessions`,
//! `C_GetSessionInfo`; login: `C_Login`, `C_LoginUser`, `C_Logout`; the legacy parallel
//! functions; and, not yet, operation state.
//!
//! A login is the slot's, shared by all its sessions (see `state::login`); PINs are checked
//! and counted by the core (`hsm_core::pin`).

use cryptoki_sys::*;
use hsm_core::pin::PinRole;

use crate::entry::{cryptoki_fn, not_supported};
use crate::error::CoreResult;
use crate::ptr;
use crate::state::Module;
use crate::state::login::{self, LoginState};
use crate::state::slots::Token;

cryptoki_fn! {
    /// `C_OpenSession`: serial sessions only; the uninitialized token has none
    /// (`CKR_TOKEN_NOT_RECOGNIZED`, as SoftHSMv2). Notification callbacks are never called.
    /// A read-only session cannot open while the SO is logged in
    /// (`CKR_SESSION_READ_WRITE_SO_EXISTS`). Read-write sessions open on a write-protected
    /// token (a forked child's) too: many applications ask for one only to read, and writes
    /// are refused when they happen.
    pub fn C_OpenSession(
        slot_id: CK_SLOT_ID,
        flags: CK_FLAGS,
        application: CK_VOID_PTR,
        notify: CK_NOTIFY,
        out: CK_SESSION_HANDLE_PTR,
    ) with module {
        let _ = (application, notify);
        ptr::non_null(out)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
        }
        let slot = module.slots.get(slot_id)?;
        let Token::Pool { name } = &slot.token else {
            return Err(CKR_TOKEN_NOT_RECOGNIZED);
        };
        let pool = module.core.pool(name).ck()?;
        let rw = flags & CKF_RW_SESSION != 0;
        // The login table's lock makes the SO check and the opening one step.
        let logins = module.logins.lock();
        if !rw && logins.state(slot_id) == LoginState::So {
            return Err(CKR_SESSION_READ_WRITE_SO_EXISTS);
        }
        let handle = module.sessions.open(slot_id, pool, rw);
        drop(logins);
        tracing::debug!(session = handle, slot = slot_id, pool = %name, "session opened");
        // SAFETY: `phSession` is NULL or writable for a handle (caller's contract).
        unsafe { ptr::write(out, handle) }
    }
}

cryptoki_fn! {
    /// `C_CloseSession`; closing the slot's last session logs out of its token.
    pub fn C_CloseSession(session: CK_SESSION_HANDLE) with module {
        let mut logins = module.logins.lock();
        let slot_id = module.sessions.close(session)?;
        if module.sessions.count(slot_id).0 == 0 {
            logins.set(slot_id, LoginState::Public);
        }
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_CloseAllSessions`: every session of one slot, and so its login.
    pub fn C_CloseAllSessions(slot_id: CK_SLOT_ID) with module {
        module.slots.get(slot_id)?;
        let mut logins = module.logins.lock();
        module.sessions.close_slot(slot_id);
        logins.set(slot_id, LoginState::Public);
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_GetSessionInfo`: the state follows the slot's login.
    pub fn C_GetSessionInfo(session: CK_SESSION_HANDLE, out: CK_SESSION_INFO_PTR) with module, session {
        ptr::non_null(out)?;
        let state = module.logins.state(session.slot_id);
        // SAFETY: `pInfo` is NULL or writable for a CK_SESSION_INFO (caller's contract).
        unsafe { ptr::write(out, session.info(state)) }
    }
}

cryptoki_fn! {
    /// `C_Login`: the SO or the user logs in to the session's token (all its sessions), or
    /// `CKU_CONTEXT_SPECIFIC` authenticates the key operation in progress in this session.
    pub fn C_Login(session: CK_SESSION_HANDLE, user_type: CK_USER_TYPE, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG) with module {
        // SAFETY: `pPin`/`ulPinLen` as C_Login's caller passed them.
        unsafe { log_in(module, session, user_type, pin, pin_len) }
    }
}

cryptoki_fn! {
    /// `C_LoginUser` (3.0): tokens here have no named users. Without a username (NULL or
    /// empty) it is `C_Login`; with one it answers `CKR_FUNCTION_NOT_SUPPORTED`, on which
    /// callers fall back to `C_Login`.
    pub fn C_LoginUser(
        session: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        pin: CK_UTF8CHAR_PTR,
        pin_len: CK_ULONG,
        username: CK_UTF8CHAR_PTR,
        username_len: CK_ULONG,
    ) with module {
        if !username.is_null() && username_len != 0 {
            module.sessions.get(session)?;
            tracing::debug!("C_LoginUser: tokens have no named users; log in without a username");
            return Err(CKR_FUNCTION_NOT_SUPPORTED);
        }
        // SAFETY: `pPin`/`ulPinLen` as C_LoginUser's caller passed them.
        unsafe { log_in(module, session, user_type, pin, pin_len) }
    }
}

cryptoki_fn! {
    /// `C_Logout`: ends the slot's login (`CKR_USER_NOT_LOGGED_IN` when there is none).
    pub fn C_Logout(session: CK_SESSION_HANDLE) with module, session {
        module.logins.logout(session.slot_id)?;
        tracing::debug!(slot = session.slot_id, "logged out");
        Ok(())
    }
}

/// `C_Login` and `C_LoginUser`.
///
/// # Safety
/// `pin` is NULL or points to `pin_len` bytes (the PKCS#11 caller's contract for `pPin`).
#[allow(unsafe_code)]
unsafe fn log_in(
    module: &Module,
    handle: CK_SESSION_HANDLE,
    user_type: CK_USER_TYPE,
    pin: CK_UTF8CHAR_PTR,
    pin_len: CK_ULONG,
) -> Result<(), CK_RV> {
    let session = module.sessions.get(handle)?;
    // SAFETY: `pin` and `pin_len` meet `ptr::pin`'s contract, by this function's.
    let pin = unsafe { ptr::pin(pin, pin_len) }?;
    let slot_id = session.slot_id;
    let (want, role) = match user_type {
        CKU_SO => (LoginState::So, PinRole::So),
        CKU_USER => (LoginState::User, PinRole::User),
        CKU_CONTEXT_SPECIFIC => {
            // Re-authentication for one operation with a CKA_ALWAYS_AUTHENTICATE key.
            if !module.logins.user_logged_in(slot_id) {
                return Err(CKR_USER_NOT_LOGGED_IN);
            }
            if !session.ops.lock().any_key_operation_active() {
                return Err(CKR_OPERATION_NOT_INITIALIZED);
            }
            login::verify(&session.pool, PinRole::User, pin)?;
            session.set_context_auth();
            tracing::debug!(session = handle, "context-specific login");
            return Ok(());
        }
        _ => return Err(CKR_USER_TYPE_INVALID),
    };
    // Checked before the PIN (a refused login must not count a failure) and again after it
    // (the PIN is hashed without the lock; another thread may have logged in meanwhile).
    let allowed = |logins: &login::LoginGuard<'_>| -> Result<(), CK_RV> {
        match (logins.state(slot_id), want) {
            (LoginState::Public, _) => {}
            (current, want) if current == want => return Err(CKR_USER_ALREADY_LOGGED_IN),
            _ => return Err(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
        }
        if want == LoginState::So {
            let (all, rw) = module.sessions.count(slot_id);
            if all > rw {
                return Err(CKR_SESSION_READ_ONLY_EXISTS);
            }
        }
        Ok(())
    };
    allowed(&module.logins.lock())?;
    login::verify(&session.pool, role, pin)?;
    let mut logins = module.logins.lock();
    allowed(&logins)?;
    logins.set(slot_id, want);
    tracing::info!(slot = slot_id, pool = %session.pool.name(), role = ?role, "logged in");
    Ok(())
}

cryptoki_fn! {
    /// `C_GetFunctionStatus`: a legacy function; the spec's answer is
    /// `CKR_FUNCTION_NOT_PARALLEL`.
    pub fn C_GetFunctionStatus(session: CK_SESSION_HANDLE) with module {
        module.sessions.get(session)?;
        Err(CKR_FUNCTION_NOT_PARALLEL)
    }
}

cryptoki_fn! {
    /// `C_CancelFunction`: a legacy function; the spec's answer is
    /// `CKR_FUNCTION_NOT_PARALLEL`.
    pub fn C_CancelFunction(session: CK_SESSION_HANDLE) with module {
        module.sessions.get(session)?;
        Err(CKR_FUNCTION_NOT_PARALLEL)
    }
}

not_supported! {
    C_GetOperationState(session: CK_SESSION_HANDLE, state: CK_BYTE_PTR, state_len: CK_ULONG_PTR);
    C_SetOperationState(
        session: CK_SESSION_HANDLE,
        state: CK_BYTE_PTR,
        state_len: CK_ULONG,
        encryption_key: CK_OBJECT_HANDLE,
        authentication_key: CK_OBJECT_HANDLE,
    );
    C_SessionCancel(session: CK_SESSION_HANDLE, flags: CK_FLAGS);
}
