//! Slot and token management: `C_GetSlotList`, `C_GetSlotInfo`, `C_GetTokenInfo`,
//! `C_WaitForSlotEvent`, `C_GetMechanismList`, `C_GetMechanismInfo`; token initialization
//! and PINs: `C_InitToken`, `C_InitPIN`, `C_SetPIN`.
//!
//! `C_InitToken` on the uninitialized token creates a pool named by the label, with the
//! configured PIN policy and the SO PIN given; the next slot list shows the pool in a slot of
//! its own and the uninitialized token again. On a pool's token it empties the pool (see
//! `docs/ARCHITECTURE.md` for what that erases). The module never creates a pool otherwise.

use crate::state::PoolHandle;
use cryptoki_sys::*;
use hsm_core::crypto::HashAlg;
use hsm_core::pin::{PinRole, PinStatus};

use crate::entry::cryptoki_fn;
use crate::error::CoreResult;
use crate::general::{MANUFACTURER, library_version};
use crate::mechanism::{self, MECHANISMS};
use crate::ptr;
use crate::state::Module;
use crate::state::login;
use crate::state::slots::{Slot, Token};

/// The hardware version shown for every slot and token.
const HARDWARE_VERSION: CK_VERSION = CK_VERSION { major: 1, minor: 0 };

cryptoki_fn! {
    /// `C_GetSlotList`: every slot has a token, so `token_present` changes nothing. Asking
    /// for the length (NULL list) rebuilds the list from the pools (remote mode: the last
    /// list stands while the server does not answer).
    pub fn C_GetSlotList(token_present: CK_BBOOL, list: CK_SLOT_ID_PTR, count: CK_ULONG_PTR) with module {
        let _ = token_present;
        ptr::non_null(count)?;
        if list.is_null()
            && let Err(rv) = module.slots.refresh(&module.core, &module.config)
        {
            // C_GetSlotList may not answer CKR_DEVICE_ERROR: while the server is away the
            // last list stands (its tokens answer CKR_DEVICE_ERROR themselves).
            if module.core.remote_url().is_none() {
                return Err(rv);
            }
            tracing::debug!(rv, "slot list kept: the server did not answer");
        }
        let ids: Vec<CK_SLOT_ID> = module.slots.list().iter().map(|s| s.id).collect();
        // SAFETY: `pulCount` is readable and writable, `pSlotList` NULL or room for
        // `*pulCount` ids (caller's contract for C_GetSlotList).
        unsafe { ptr::out_list(&ids, list, count) }
    }
}

cryptoki_fn! {
    /// `C_GetSlotInfo`.
    pub fn C_GetSlotInfo(slot_id: CK_SLOT_ID, out: CK_SLOT_INFO_PTR) with module {
        let slot = module.slots.get(slot_id)?;
        let description = match &slot.token {
            Token::Pool { name } => format!("mhsm pool {name}"),
            Token::Uninitialized => "mhsm slot for a new pool".to_string(),
        };
        let info = CK_SLOT_INFO {
            slotDescription: ptr::padded(&description),
            manufacturerID: ptr::padded(MANUFACTURER),
            flags: CKF_TOKEN_PRESENT,
            hardwareVersion: HARDWARE_VERSION,
            firmwareVersion: library_version(),
        };
        // SAFETY: `pInfo` is NULL or writable for a CK_SLOT_INFO (caller's contract).
        unsafe { ptr::write(out, info) }
    }
}

cryptoki_fn! {
    /// `C_GetTokenInfo`. PIN flags and lengths come from the pool (its PINs and PIN policy);
    /// the uninitialized token shows the configured lengths. A pool made outside PKCS#11
    /// without PINs shows its user PIN as not initialized.
    pub fn C_GetTokenInfo(slot_id: CK_SLOT_ID, out: CK_TOKEN_INFO_PTR) with module {
        let slot = module.slots.get(slot_id)?;
        ptr::non_null(out)?;
        let info = token_info(module, &slot)?;
        // SAFETY: `pInfo` is NULL or writable for a CK_TOKEN_INFO (caller's contract).
        unsafe { ptr::write(out, info) }
    }
}

/// The `CK_TOKEN_INFO` flags of a user or SO PIN: (initialized, count low, final try,
/// locked).
fn pin_flags(status: &PinStatus, flags: [CK_FLAGS; 4]) -> CK_FLAGS {
    let [initialized, count_low, final_try, locked] = flags;
    let mut out = 0;
    if status.initialized {
        out |= initialized;
    }
    if status.locked {
        out |= locked;
    } else {
        if status.failures > 0 {
            out |= count_low;
        }
        if status.initialized && status.remaining == 1 {
            out |= final_try;
        }
    }
    out
}

fn token_info(module: &Module, slot: &Slot) -> Result<CK_TOKEN_INFO, CK_RV> {
    let hsm = module.core.hsm();
    let mut flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_CLOCK_ON_TOKEN;
    if module.core.is_read_only() {
        flags |= CKF_WRITE_PROTECTED;
    }
    let (label, serial, policy) = match &slot.token {
        Token::Pool { name } => {
            let pool = module.core.pool(name).ck()?;
            let id = hsm.digest(
                HashAlg::Sha256,
                format!("mhsm-token:{}:{name}", module.core.identity()).as_bytes(),
            );
            let serial: String = id[..8].iter().map(|b| format!("{b:02x}")).collect();
            flags |= CKF_TOKEN_INITIALIZED;
            flags |= pin_flags(
                &pool.pin_status(PinRole::User).ck()?,
                [
                    CKF_USER_PIN_INITIALIZED,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                ],
            );
            flags |= pin_flags(
                &pool.pin_status(PinRole::So).ck()?,
                [
                    0,
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                ],
            );
            (name.as_str(), serial, pool.pin_policy().ck()?)
        }
        Token::Uninitialized => ("", "0".repeat(16), module.config.pin.policy()),
    };
    let (sessions, rw_sessions) = module.sessions.count(slot.id);
    Ok(CK_TOKEN_INFO {
        label: ptr::padded(label),
        manufacturerID: ptr::padded(MANUFACTURER),
        model: ptr::padded("managed HSM pool"),
        serialNumber: ptr::padded(&serial),
        flags,
        ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
        ulSessionCount: sessions as CK_ULONG,
        ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
        ulRwSessionCount: rw_sessions as CK_ULONG,
        ulMaxPinLen: policy.max_len as CK_ULONG,
        ulMinPinLen: policy.min_len as CK_ULONG,
        ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
        ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
        ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
        ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
        hardwareVersion: HARDWARE_VERSION,
        firmwareVersion: library_version(),
        utcTime: utc_time(hsm.now().0),
    })
}

/// `YYYYMMDDhhmmss00` for a Unix time (the core's clock, the one key validity follows).
fn utc_time(unix: i64) -> [u8; 16] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    ptr::padded(&text)
}

cryptoki_fn! {
    /// `C_WaitForSlotEvent`: slots change only through this module, so there is never an
    /// event; blocking waits are not supported.
    pub fn C_WaitForSlotEvent(flags: CK_FLAGS, slot: CK_SLOT_ID_PTR, reserved: CK_VOID_PTR) with _module {
        let _ = slot;
        if !reserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if flags & CKF_DONT_BLOCK != 0 {
            Err(CKR_NO_EVENT)
        } else {
            Err(CKR_FUNCTION_NOT_SUPPORTED)
        }
    }
}

cryptoki_fn! {
    /// `C_GetMechanismList`: the same list for every token.
    pub fn C_GetMechanismList(slot_id: CK_SLOT_ID, list: CK_MECHANISM_TYPE_PTR, count: CK_ULONG_PTR) with module {
        module.slots.get(slot_id)?;
        let types: Vec<CK_MECHANISM_TYPE> = MECHANISMS.iter().map(|(m, _)| *m).collect();
        // SAFETY: `pulCount` is NULL or readable and writable, `pMechanismList` NULL or room
        // for `*pulCount` types (caller's contract for C_GetMechanismList).
        unsafe { ptr::out_list(&types, list, count) }
    }
}

cryptoki_fn! {
    /// `C_GetMechanismInfo`.
    pub fn C_GetMechanismInfo(slot_id: CK_SLOT_ID, mechanism: CK_MECHANISM_TYPE, out: CK_MECHANISM_INFO_PTR) with module {
        module.slots.get(slot_id)?;
        let info = mechanism::info(mechanism).ok_or(CKR_MECHANISM_INVALID)?;
        // SAFETY: `pInfo` is NULL or writable for a CK_MECHANISM_INFO (caller's contract).
        unsafe { ptr::write(out, info) }
    }
}

cryptoki_fn! {
    /// `C_InitToken`: the label (32 blank-padded bytes) names the pool.
    ///
    /// On the uninitialized token: creates that pool (an invalid name is
    /// `CKR_ARGUMENTS_BAD`; a name taken by a live or deleted pool is the core's `Conflict`,
    /// `CKR_FUNCTION_FAILED`), gives it the configured PIN policy and the SO PIN, and
    /// refreshes the slot list. On a pool's token: refused while the application has sessions
    /// on it (`CKR_SESSION_EXISTS`); the label must be the pool's name (pools cannot be
    /// renamed: `CKR_ARGUMENTS_BAD`); the SO PIN must be right; then the pool is emptied
    /// (`Pool::clear`, refused under purge protection while it holds keys), keeping its PIN
    /// policy and SO PIN, without a user PIN.
    pub fn C_InitToken(slot_id: CK_SLOT_ID, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG, label: CK_UTF8CHAR_PTR) with module {
        let slot = module.slots.get(slot_id)?;
        // SAFETY: `pPin` is NULL or `ulPinLen` bytes (caller's contract for C_InitToken).
        let pin = unsafe { ptr::pin(pin, pin_len) }?;
        ptr::non_null(label)?;
        // SAFETY: `pLabel` is non-NULL, so 32 bytes (caller's contract for C_InitToken).
        let label = unsafe { ptr::slice(label, 32) }?;
        let Ok(label) = std::str::from_utf8(label) else {
            tracing::warn!(slot = slot_id, "C_InitToken: the label is not UTF-8");
            return Err(CKR_ARGUMENTS_BAD);
        };
        let label = label.trim_end_matches([' ', '\0']);
        match &slot.token {
            Token::Uninitialized => create_pool(module, label, pin),
            Token::Pool { name } => reinitialize(module, slot_id, name, label, pin),
        }
    }
}

/// `C_InitToken` on the uninitialized token.
fn create_pool(module: &Module, name: &str, so_pin: &[u8]) -> Result<(), CK_RV> {
    if let Err(e) = hsm_core::names::validate_pool_name(name) {
        tracing::warn!(label = name, error = %e, "C_InitToken: the label is not a valid pool name");
        return Err(CKR_ARGUMENTS_BAD);
    }
    let policy = module.config.pin.policy();
    login::check_new_pin(&policy, so_pin)?;
    if let Err(e) = module.core.create_token_pool(name, &policy, so_pin) {
        tracing::warn!(pool = name, error = %e, "C_InitToken: cannot create the pool");
        return Err(crate::error::rv(&e));
    }
    tracing::info!(pool = name, "C_InitToken: pool created");
    module.slots.refresh(&module.core, &module.config)
}

/// `C_InitToken` on a pool's token.
fn reinitialize(
    module: &Module,
    slot_id: CK_SLOT_ID,
    name: &str,
    label: &str,
    so_pin: &[u8],
) -> Result<(), CK_RV> {
    if module.sessions.count(slot_id).0 > 0 {
        return Err(CKR_SESSION_EXISTS);
    }
    if label != name {
        tracing::warn!(
            pool = name,
            label,
            "C_InitToken: a pool cannot be renamed; pass its name as the label"
        );
        return Err(CKR_ARGUMENTS_BAD);
    }
    let pool = module.core.pool(name).ck()?;
    login::verify(&pool, PinRole::So, so_pin)?;
    let erased = {
        // Sessions open under the login table's lock: none can open on the slot while the
        // check holds and the pool is emptied.
        let _logins = module.logins.lock();
        if module.sessions.count(slot_id).0 > 0 {
            return Err(CKR_SESSION_EXISTS);
        }
        pool.clear().ck()?
    };
    // `clear` kept the PIN policy, the SO PIN and the pool's access control.
    tracing::info!(pool = name, keys = erased, "C_InitToken: pool emptied");
    Ok(())
}

cryptoki_fn! {
    /// `C_InitPIN`: the SO, logged in, sets the user PIN (which also unlocks a locked one).
    pub fn C_InitPIN(session: CK_SESSION_HANDLE, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG) with module, session {
        // SAFETY: `pPin` is NULL or `ulPinLen` bytes (caller's contract for C_InitPIN).
        let pin = unsafe { ptr::pin(pin, pin_len) }?;
        if !module.logins.so_logged_in(session.slot_id) {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        if !session.rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        login::check_new_pin(&session.pool.pin_policy().ck()?, pin)?;
        session.pool.set_pin(PinRole::User, pin).ck()?;
        tracing::info!(pool = %session.pool.name(), "C_InitPIN: user PIN set");
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_SetPIN`: changes the PIN of whoever is logged in, after checking the old one (a
    /// wrong one counts); in a public session, the user PIN (PKCS#11 2.40). Read-write
    /// sessions only.
    pub fn C_SetPIN(
        session: CK_SESSION_HANDLE,
        old_pin: CK_UTF8CHAR_PTR,
        old_len: CK_ULONG,
        new_pin: CK_UTF8CHAR_PTR,
        new_len: CK_ULONG,
    ) with module, session {
        // SAFETY: `pOldPin` and `pNewPin` are NULL or as long as their lengths say (caller's
        // contract for C_SetPIN).
        let old_pin = unsafe { ptr::pin(old_pin, old_len) }?;
        // SAFETY: as above.
        let new_pin = unsafe { ptr::pin(new_pin, new_len) }?;
        if !session.rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        let role = login::role_of(module.logins.state(session.slot_id)).unwrap_or(PinRole::User);
        set_pin(&session.pool, role, old_pin, new_pin)
    }
}

/// Checks the new PIN, then the old one, then sets the new one.
fn set_pin(pool: &PoolHandle, role: PinRole, old_pin: &[u8], new_pin: &[u8]) -> Result<(), CK_RV> {
    login::check_new_pin(&pool.pin_policy().ck()?, new_pin)?;
    login::verify(pool, role, old_pin)?;
    pool.set_pin(role, new_pin).ck()?;
    tracing::info!(pool = %pool.name(), role = ?role, "C_SetPIN: PIN changed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_format() {
        assert_eq!(&utc_time(0), b"1970010100000000");
        assert_eq!(&utc_time(951_782_400 + 3661), b"2000022901010100");
        assert_eq!(&utc_time(1_700_000_000), b"2023111422132000");
    }
}
