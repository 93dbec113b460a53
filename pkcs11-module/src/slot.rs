//! Slot and token management: `C_GetSlotList`, `C_GetSlotInfo`, `C_GetTokenInfo`,
//! `C_WaitForSlotEvent`, `C_GetMechanismList`, `C_GetMechanismInfo` (and, not yet,
//! `C_InitToken`, `C_InitPIN`, `C_SetPIN`).

use cryptoki_sys::*;
use hsm_core::crypto::HashAlg;

use crate::entry::{cryptoki_fn, not_supported};
use crate::error::CoreResult;
use crate::general::{MANUFACTURER, library_version};
use crate::mechanism::{self, MECHANISMS};
use crate::ptr;
use crate::state::Module;
use crate::state::slots::{Slot, Token};

/// The hardware version shown for every slot and token.
const HARDWARE_VERSION: CK_VERSION = CK_VERSION { major: 1, minor: 0 };

cryptoki_fn! {
    /// `C_GetSlotList`: every slot has a token, so `token_present` changes nothing. Asking
    /// for the length (NULL list) rebuilds the list from the pools.
    pub fn C_GetSlotList(token_present: CK_BBOOL, list: CK_SLOT_ID_PTR, count: CK_ULONG_PTR) with module {
        let _ = token_present;
        ptr::non_null(count)?;
        if list.is_null() {
            module.slots.refresh(module.core.hsm(), &module.config)?;
        }
        let ids: Vec<CK_SLOT_ID> = module.slots.list().iter().map(|s| s.id).collect();
        ptr::out_list(&ids, list, count)
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
        ptr::write(
            out,
            CK_SLOT_INFO {
                slotDescription: ptr::padded(&description),
                manufacturerID: ptr::padded(MANUFACTURER),
                flags: CKF_TOKEN_PRESENT,
                hardwareVersion: HARDWARE_VERSION,
                firmwareVersion: library_version(),
            },
        )
    }
}

cryptoki_fn! {
    /// `C_GetTokenInfo`. The user PIN shows as not initialized until PINs exist.
    pub fn C_GetTokenInfo(slot_id: CK_SLOT_ID, out: CK_TOKEN_INFO_PTR) with module {
        let slot = module.slots.get(slot_id)?;
        ptr::non_null(out)?;
        ptr::write(out, token_info(module, &slot)?)
    }
}

fn token_info(module: &Module, slot: &Slot) -> Result<CK_TOKEN_INFO, CK_RV> {
    let hsm = module.core.hsm();
    let (label, serial, flags) = match &slot.token {
        Token::Pool { name } => {
            hsm.get_pool(name).ck()?;
            let id = hsm.digest(
                HashAlg::Sha256,
                format!("mhsm-token:{}:{name}", hsm.security_domain()).as_bytes(),
            );
            let serial: String = id[..8].iter().map(|b| format!("{b:02x}")).collect();
            (
                name.as_str(),
                serial,
                CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_CLOCK_ON_TOKEN,
            )
        }
        Token::Uninitialized => (
            "",
            "0".repeat(16),
            CKF_RNG | CKF_LOGIN_REQUIRED | CKF_CLOCK_ON_TOKEN,
        ),
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
        ulMaxPinLen: CK_ULONG::from(module.config.pin.max_len),
        ulMinPinLen: CK_ULONG::from(module.config.pin.min_len),
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
        ptr::out_list(&types, list, count)
    }
}

cryptoki_fn! {
    /// `C_GetMechanismInfo`.
    pub fn C_GetMechanismInfo(slot_id: CK_SLOT_ID, mechanism: CK_MECHANISM_TYPE, out: CK_MECHANISM_INFO_PTR) with module {
        module.slots.get(slot_id)?;
        let info = mechanism::info(mechanism).ok_or(CKR_MECHANISM_INVALID)?;
        ptr::write(out, info)
    }
}

not_supported! {
    C_InitToken(slot_id: CK_SLOT_ID, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG, label: CK_UTF8CHAR_PTR);
    C_InitPIN(session: CK_SESSION_HANDLE, pin: CK_UTF8CHAR_PTR, pin_len: CK_ULONG);
    C_SetPIN(
        session: CK_SESSION_HANDLE,
        old_pin: CK_UTF8CHAR_PTR,
        old_len: CK_ULONG,
        new_pin: CK_UTF8CHAR_PTR,
        new_len: CK_ULONG,
    );
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
