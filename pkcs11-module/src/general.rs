//! General-purpose functions: `C_Initialize`, `C_Finalize`, `C_GetInfo`, and the entry
//! points that hand out the function tables (`C_GetFunctionList`, and PKCS#11 3.0's
//! `C_GetInterfaceList` / `C_GetInterface`).

use cryptoki_sys::*;

use crate::entry::cryptoki_fn;
use crate::ptr;
use crate::state;
use crate::tables::{FUNCTION_LIST, INTERFACE_NAME, INTERFACE_VERSIONS, INTERFACES};

/// The manufacturer shown in `CK_INFO`, `CK_SLOT_INFO` and `CK_TOKEN_INFO`.
pub(crate) const MANUFACTURER: &str = "mhsm";

/// This crate's version as a `CK_VERSION`.
pub(crate) fn library_version() -> CK_VERSION {
    CK_VERSION {
        major: env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0),
        minor: env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0),
    }
}

cryptoki_fn! {
    /// `C_Initialize`: checks the locking arguments the spec's way, then opens the core over
    /// the data directory. The module always locks with OS primitives, and is thread-safe
    /// whatever the arguments say.
    pub fn C_Initialize(init_args: CK_VOID_PTR) always {
        // SAFETY: `pInitArgs` is NULL or points to a CK_C_INITIALIZE_ARGS (PKCS#11 caller's
        // contract for C_Initialize).
        if let Some(args) = unsafe { ptr::read_opt(init_args as *const CK_C_INITIALIZE_ARGS) } {
            if !args.pReserved.is_null() {
                return Err(CKR_ARGUMENTS_BAD);
            }
            let given = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ]
            .into_iter()
            .filter(|g| *g)
            .count();
            if given != 0 && given != 4 {
                return Err(CKR_ARGUMENTS_BAD);
            }
            // Only the application's mutexes would do: the module cannot use them.
            if given == 4 && args.flags & CKF_OS_LOCKING_OK == 0 {
                return Err(CKR_CANT_LOCK);
            }
            // CKF_LIBRARY_CANT_CREATE_OS_THREADS is accepted, as SoftHSMv2 does: p11-kit (and
            // so GnuTLS) passes it to every module, and the only threads are the storage
            // engine's own, which never call into the application.
        }
        state::initialize()
    }
}

cryptoki_fn! {
    /// `C_Finalize`: closes every session and the core. In a forked child, never touches
    /// what the parent owns.
    pub fn C_Finalize(reserved: CK_VOID_PTR) with _module {
        if !reserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        state::finalize()
    }
}

fn info(version: CK_VERSION) -> CK_INFO {
    CK_INFO {
        cryptokiVersion: version,
        manufacturerID: ptr::padded(MANUFACTURER),
        flags: 0,
        libraryDescription: ptr::padded("mhsm managed HSM emulator"),
        libraryVersion: library_version(),
    }
}

cryptoki_fn! {
    /// `C_GetInfo` of the 2.40 table (and of the exported symbol): Cryptoki 2.40.
    pub fn C_GetInfo(out: CK_INFO_PTR) with _module {
        // SAFETY: `pInfo` is NULL or writable for a CK_INFO (caller's contract).
        unsafe { ptr::write(out, info(FUNCTION_LIST.version)) }
    }
}

cryptoki_fn! {
    /// `C_GetInfo` of the 3.0 table: Cryptoki 3.0.
    fn C_GetInfo_v3(out: CK_INFO_PTR) with _module {
        // SAFETY: `pInfo` is NULL or writable for a CK_INFO (caller's contract).
        unsafe { ptr::write(out, info(crate::tables::FUNCTION_LIST_3_0.version)) }
    }
}

cryptoki_fn! {
    /// `C_GetFunctionList`: the 2.40 table.
    pub fn C_GetFunctionList(out: CK_FUNCTION_LIST_PTR_PTR) always {
        let list = &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
        // SAFETY: `ppFunctionList` is NULL or writable for a pointer (caller's contract).
        unsafe { ptr::write(out, list) }
    }
}

cryptoki_fn! {
    /// `C_GetInterfaceList`: the 3.0 and 2.40 interfaces, both named "PKCS 11".
    pub fn C_GetInterfaceList(list: CK_INTERFACE_PTR, count: CK_ULONG_PTR) always {
        // SAFETY: `pulCount` is NULL or readable and writable, and `pInterfacesList` NULL or
        // room for `*pulCount` CK_INTERFACEs (caller's contract for C_GetInterfaceList).
        unsafe { ptr::out_list(&INTERFACES.0, list, count) }
    }
}

cryptoki_fn! {
    /// `C_GetInterface`: the first interface matching the name (NULL: any), the version
    /// (NULL: any; the 3.0 one comes first) and the flags asked for.
    pub fn C_GetInterface(
        name: CK_UTF8CHAR_PTR,
        version: CK_VERSION_PTR,
        out: CK_INTERFACE_PTR_PTR,
        flags: CK_FLAGS,
    ) always {
        ptr::non_null(out)?;
        // SAFETY: `pInterfaceName` is NULL or a NUL-terminated string (caller's contract).
        if let Some(name) = unsafe { ptr::c_str(name) }
            && name.to_bytes_with_nul() != INTERFACE_NAME
        {
            return Err(CKR_ARGUMENTS_BAD);
        }
        // SAFETY: `pVersion` is NULL or points to a CK_VERSION (caller's contract).
        let version = unsafe { ptr::read_opt(version) };
        let found = INTERFACES.0.iter().zip(INTERFACE_VERSIONS).find(|(i, v)| {
            version.is_none_or(|want| want.major == v.major && want.minor == v.minor)
                && i.flags & flags == flags
        });
        match found {
            // SAFETY: `ppInterface` is non-NULL (checked above) and writable for a pointer
            // (caller's contract).
            Some((i, _)) => unsafe { ptr::write(out, i as *const CK_INTERFACE as *mut CK_INTERFACE) },
            None => Err(CKR_ARGUMENTS_BAD),
        }
    }
}
