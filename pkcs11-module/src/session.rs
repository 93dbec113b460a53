//! Session management: `C_OpenSession`, `C_CloseSession`, `C_CloseAllSessions`,
//! `C_GetSessionInfo`; the legacy parallel functions; and, not yet, login and operation
//! state.

use cryptoki_sys::*;

use crate::entry::{cryptoki_fn, not_supported};
use crate::error::CoreResult;
use crate::ptr;
use crate::state::slots::Token;

cryptoki_fn! {
    /// `C_OpenSession`: serial sessions only; the uninitialized token has none
    /// (`CKR_TOKEN_NOT_RECOGNIZED`, as SoftHSMv2). Notification callbacks are never called.
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
        let pool = module.core.hsm().pool(name).ck()?;
        let handle = module.sessions.open(slot_id, pool, flags & CKF_RW_SESSION != 0);
        tracing::debug!(session = handle, slot = slot_id, pool = %name, "session opened");
        ptr::write(out, handle)
    }
}

cryptoki_fn! {
    /// `C_CloseSession`.
    pub fn C_CloseSession(session: CK_SESSION_HANDLE) with module {
        module.sessions.close(session)
    }
}

cryptoki_fn! {
    /// `C_CloseAllSessions`: every session of one slot.
    pub fn C_CloseAllSessions(slot_id: CK_SLOT_ID) with module {
        module.slots.get(slot_id)?;
        module.sessions.close_slot(slot_id);
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_GetSessionInfo`.
    pub fn C_GetSessionInfo(session: CK_SESSION_HANDLE, out: CK_SESSION_INFO_PTR) with module {
        let session = module.sessions.get(session)?;
        ptr::write(out, session.info())
    }
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
    C_Login(session: CK_SESSION_HANDLE, user_type: CK_USER_TYPE, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG);
    C_Logout(session: CK_SESSION_HANDLE);
    C_LoginUser(
        session: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        pin: CK_UTF8CHAR_PTR,
        pin_len: CK_ULONG,
        username: CK_UTF8CHAR_PTR,
        username_len: CK_ULONG,
    );
    C_SessionCancel(session: CK_SESSION_HANDLE, flags: CK_FLAGS);
}
