//! The C ABI of libmhsm_pkcs11.so called directly, for what the `cryptoki` crate cannot
//! express: every function of both tables before and after `C_Initialize`, the locking
//! arguments, NULL pointers, the interface entry points and the tables' versions.
//!
//! Tests here change the module's global state (initialize / finalize), so they take turns.

mod pkcs11_common;

use std::ffi::c_void;
use std::ptr::null_mut as null;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki_sys::*;
use pkcs11_common::*;

/// Takes turns; creates the pools once, before the module first opens the directory.
fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    static POOLS: OnceLock<()> = OnceLock::new();
    let guard = TURN.lock().unwrap_or_else(|e| e.into_inner());
    POOLS.get_or_init(|| create_pools(&["alpha"]));
    guard
}

/// Finalizes at the end of a test, even a failed one, so the next starts uninitialized.
struct Finalize;
impl Drop for Finalize {
    fn drop(&mut self) {
        finalize();
    }
}

/// Calls a function pointer with every argument zero: NULL pointers, 0 handles and flags,
/// no callback.
trait CallZeroed {
    fn call_zeroed(self) -> CK_RV;
}

macro_rules! call_zeroed {
    ($($a:ident),*) => {
        impl<$($a: Copy),*> CallZeroed for unsafe extern "C" fn($($a),*) -> CK_RV {
            fn call_zeroed(self) -> CK_RV {
                // SAFETY: every argument type of a PKCS#11 function is an integer, a raw
                // pointer or an optional callback, for which all-zero is valid (0, NULL, None);
                // the module must cope with NULL where the spec forbids it.
                unsafe { self($(std::mem::zeroed::<$a>()),*) }
            }
        }
    };
}
call_zeroed!(A);
call_zeroed!(A, B);
call_zeroed!(A, B, C);
call_zeroed!(A, B, C, D);
call_zeroed!(A, B, C, D, E);
call_zeroed!(A, B, C, D, E, F);
call_zeroed!(A, B, C, D, E, F, G);
call_zeroed!(A, B, C, D, E, F, G, H);
call_zeroed!(A, B, C, D, E, F, G, H, I);

/// Every function of the 3.0 table (a superset of the 2.40 one) but `C_Initialize` and
/// `C_Finalize`, called with zero arguments: (name, rv).
fn sweep() -> Vec<(&'static str, CK_RV)> {
    let t = table_3_0();
    let mut out = Vec::new();
    macro_rules! each {
        ($($f:ident),* $(,)?) => {
            $(out.push((stringify!($f), t.$f.expect(concat!(stringify!($f), " missing")).call_zeroed()));)*
        };
    }
    each!(
        C_GetInfo,
        C_GetFunctionList,
        C_GetSlotList,
        C_GetSlotInfo,
        C_GetTokenInfo,
        C_GetMechanismList,
        C_GetMechanismInfo,
        C_InitToken,
        C_InitPIN,
        C_SetPIN,
        C_OpenSession,
        C_CloseSession,
        C_CloseAllSessions,
        C_GetSessionInfo,
        C_GetOperationState,
        C_SetOperationState,
        C_Login,
        C_Logout,
        C_CreateObject,
        C_CopyObject,
        C_DestroyObject,
        C_GetObjectSize,
        C_GetAttributeValue,
        C_SetAttributeValue,
        C_FindObjectsInit,
        C_FindObjects,
        C_FindObjectsFinal,
        C_EncryptInit,
        C_Encrypt,
        C_EncryptUpdate,
        C_EncryptFinal,
        C_DecryptInit,
        C_Decrypt,
        C_DecryptUpdate,
        C_DecryptFinal,
        C_DigestInit,
        C_Digest,
        C_DigestUpdate,
        C_DigestKey,
        C_DigestFinal,
        C_SignInit,
        C_Sign,
        C_SignUpdate,
        C_SignFinal,
        C_SignRecoverInit,
        C_SignRecover,
        C_VerifyInit,
        C_Verify,
        C_VerifyUpdate,
        C_VerifyFinal,
        C_VerifyRecoverInit,
        C_VerifyRecover,
        C_DigestEncryptUpdate,
        C_DecryptDigestUpdate,
        C_SignEncryptUpdate,
        C_DecryptVerifyUpdate,
        C_GenerateKey,
        C_GenerateKeyPair,
        C_WrapKey,
        C_UnwrapKey,
        C_DeriveKey,
        C_SeedRandom,
        C_GenerateRandom,
        C_GetFunctionStatus,
        C_CancelFunction,
        C_WaitForSlotEvent,
        C_GetInterfaceList,
        C_GetInterface,
        C_LoginUser,
        C_SessionCancel,
        C_MessageEncryptInit,
        C_EncryptMessage,
        C_EncryptMessageBegin,
        C_EncryptMessageNext,
        C_MessageEncryptFinal,
        C_MessageDecryptInit,
        C_DecryptMessage,
        C_DecryptMessageBegin,
        C_DecryptMessageNext,
        C_MessageDecryptFinal,
        C_MessageSignInit,
        C_SignMessage,
        C_SignMessageBegin,
        C_SignMessageNext,
        C_MessageSignFinal,
        C_MessageVerifyInit,
        C_VerifyMessage,
        C_VerifyMessageBegin,
        C_VerifyMessageNext,
        C_MessageVerifyFinal,
    );
    out
}

/// The functions that answer without an initialized module.
const ANYTIME: [&str; 3] = ["C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface"];

/// The functions this increment implements (besides `C_Initialize` and `C_Finalize`).
const IMPLEMENTED: &[&str] = &[
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetInterfaceList",
    "C_GetInterface",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_InitPIN",
    "C_SetPIN",
    // C_WaitForSlotEvent is left out: with zero flags (blocking) it is not supported.
    "C_OpenSession",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_GetSessionInfo",
    "C_GetFunctionStatus",
    "C_CancelFunction",
    "C_Login",
    "C_LoginUser",
    "C_Logout",
    "C_DigestInit",
    "C_Digest",
    "C_DigestUpdate",
    "C_DigestFinal",
    "C_SeedRandom",
    "C_GenerateRandom",
    "C_Initialize",
    "C_CreateObject",
    "C_CopyObject",
    "C_DestroyObject",
    "C_GetObjectSize",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_DigestKey",
    "C_SignInit",
    "C_Sign",
    "C_SignUpdate",
    "C_SignFinal",
    "C_VerifyInit",
    "C_Verify",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_EncryptInit",
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_EncryptFinal",
    "C_DecryptInit",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_DecryptFinal",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
];

#[test]
fn every_function_exists_and_answers_not_initialized_before_c_initialize() {
    let _turn = serial();
    let results = sweep();
    assert_eq!(
        results.len(),
        90,
        "every 3.0 entry but C_Initialize and C_Finalize"
    );
    for (name, rv) in &results {
        if ANYTIME.contains(name) {
            // NULL out pointers.
            assert_eq!(*rv, CKR_ARGUMENTS_BAD, "{name}");
        } else {
            assert_eq!(*rv, CKR_CRYPTOKI_NOT_INITIALIZED, "{name}: {}", rv_hex(*rv));
        }
    }
    assert_eq!(finalize(), CKR_CRYPTOKI_NOT_INITIALIZED);
    // The 2.40 table has the same functions where both have them.
    let (t2, t3) = (table(), table_3_0());
    assert_eq!(
        t2.C_OpenSession.map(|f| f as usize),
        t3.C_OpenSession.map(|f| f as usize)
    );
    assert_eq!(
        t2.C_GenerateRandom.map(|f| f as usize),
        t3.C_GenerateRandom.map(|f| f as usize)
    );
    assert!(t2.C_WaitForSlotEvent.is_some() && t2.C_GetFunctionStatus.is_some());
}

#[test]
fn after_c_initialize_every_function_answers_and_the_rest_are_not_supported() {
    let _turn = serial();
    assert_eq!(initialize(), CKR_OK);
    let _fin = Finalize;
    for (name, rv) in sweep() {
        if IMPLEMENTED.contains(&name) {
            assert_ne!(rv, CKR_FUNCTION_NOT_SUPPORTED, "{name} is implemented");
            assert_ne!(rv, CKR_CRYPTOKI_NOT_INITIALIZED, "{name}");
            assert_ne!(
                rv, CKR_GENERAL_ERROR,
                "{name} must not panic on NULL arguments"
            );
        } else {
            assert_eq!(rv, CKR_FUNCTION_NOT_SUPPORTED, "{name}: {}", rv_hex(rv));
        }
    }
}

extern "C" fn create_mutex(_: *mut *mut c_void) -> CK_RV {
    MUTEX_CALLS.fetch_add(1, Ordering::SeqCst);
    CKR_GENERAL_ERROR
}
extern "C" fn mutex_op(_: *mut c_void) -> CK_RV {
    MUTEX_CALLS.fetch_add(1, Ordering::SeqCst);
    CKR_GENERAL_ERROR
}
static MUTEX_CALLS: AtomicUsize = AtomicUsize::new(0);

fn init_with(args: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
    // SAFETY: a valid CK_C_INITIALIZE_ARGS.
    unsafe { raw().C_Initialize(args as *mut CK_C_INITIALIZE_ARGS as *mut c_void) }
}

fn args(flags: CK_FLAGS, callbacks: [bool; 4]) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: callbacks[0].then_some(create_mutex as _),
        DestroyMutex: callbacks[1].then_some(mutex_op as _),
        LockMutex: callbacks[2].then_some(mutex_op as _),
        UnlockMutex: callbacks[3].then_some(mutex_op as _),
        flags,
        pReserved: std::ptr::null_mut(),
    }
}

fn is_initialized() -> bool {
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out pointer.
    match unsafe { raw().C_GetInfo(&mut info) } {
        CKR_OK => true,
        CKR_CRYPTOKI_NOT_INITIALIZED => false,
        rv => panic!("C_GetInfo: {}", rv_hex(rv)),
    }
}

#[test]
fn c_initialize_follows_the_locking_rules() {
    let _turn = serial();
    let _fin = Finalize;
    // NULL: fine; twice: already initialized; C_Finalize(NULL) then again: not initialized.
    assert_eq!(initialize(), CKR_OK);
    assert_eq!(initialize(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    let mut x = 0u8;
    // SAFETY: any pointer; the module must refuse it without reading.
    assert_eq!(
        unsafe { raw().C_Finalize(&mut x as *mut u8 as *mut c_void) },
        CKR_ARGUMENTS_BAD
    );
    assert!(is_initialized(), "a refused C_Finalize changes nothing");
    assert_eq!(finalize(), CKR_OK);
    assert_eq!(finalize(), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert!(!is_initialized());

    // What p11-kit, NSS, OpenSSL and Java pass; and no flags at all.
    for flags in [CKF_OS_LOCKING_OK, 0] {
        assert_eq!(init_with(&mut args(flags, [false; 4])), CKR_OK);
        assert!(is_initialized());
        assert_eq!(finalize(), CKR_OK);
    }

    // Non-NULL pReserved: refused, without reading it.
    let mut a = args(CKF_OS_LOCKING_OK, [false; 4]);
    a.pReserved = std::ptr::dangling_mut::<c_void>();
    assert_eq!(init_with(&mut a), CKR_ARGUMENTS_BAD);
    assert!(!is_initialized());

    // Some but not all callbacks: refused, whatever the flags.
    for callbacks in [
        [true, false, false, false],
        [true, true, false, false],
        [false, true, true, true],
        [false, false, false, true],
    ] {
        for flags in [0, CKF_OS_LOCKING_OK] {
            assert_eq!(
                init_with(&mut args(flags, callbacks)),
                CKR_ARGUMENTS_BAD,
                "{callbacks:?}"
            );
            assert!(!is_initialized());
        }
    }

    // Only the application's mutexes: the module cannot use them.
    assert_eq!(init_with(&mut args(0, [true; 4])), CKR_CANT_LOCK);
    assert!(!is_initialized());

    // Callbacks and OS locking: the module uses OS locking and never calls them.
    assert_eq!(init_with(&mut args(CKF_OS_LOCKING_OK, [true; 4])), CKR_OK);
    let _ = slot_ids();
    assert_eq!(finalize(), CKR_OK);
    assert_eq!(MUTEX_CALLS.load(Ordering::SeqCst), 0);

    // "The application's threads may not be used": p11-kit passes it (with OS locking) to
    // every module; the module's threads are its storage engine's own, so it is accepted, as
    // SoftHSMv2 does.
    assert_eq!(
        init_with(&mut args(
            CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK,
            [true; 4]
        )),
        CKR_OK
    );
    assert_eq!(finalize(), CKR_OK);

    // And it still initializes afterwards (the directory was released by each finalize).
    assert_eq!(initialize(), CKR_OK);
    assert!(slot_ids().len() >= 2);
}

#[test]
fn interfaces_function_lists_and_info() {
    let _turn = serial();
    let raw = raw();

    interface_list(raw);
    get_interface(raw);
    let (t2, t3) = (table(), table_3_0());
    assert_eq!((t2.version.major, t2.version.minor), (2, 40));
    assert_eq!((t3.version.major, t3.version.minor), (3, 0));

    // C_GetInfo: each table reports its own version; fields blank-padded.
    assert_eq!(initialize(), CKR_OK);
    let _fin = Finalize;
    let mut info2: CK_INFO = unsafe { std::mem::zeroed() };
    let mut info3: CK_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointers; NULL is refused.
    unsafe {
        assert_eq!(t2.C_GetInfo.unwrap()(&mut info2), CKR_OK);
        assert_eq!(t3.C_GetInfo.unwrap()(&mut info3), CKR_OK);
        assert_eq!(
            t3.C_GetInfo.unwrap()(std::ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
    }
    assert_eq!(
        (info2.cryptokiVersion.major, info2.cryptokiVersion.minor),
        (2, 40)
    );
    assert_eq!(
        (info3.cryptokiVersion.major, info3.cryptokiVersion.minor),
        (3, 0)
    );
    for info in [&info2, &info3] {
        assert_eq!(&info.manufacturerID[..6], b"mhsm  ");
        assert!(
            info.manufacturerID
                .iter()
                .chain(&info.libraryDescription)
                .all(|b| *b != 0)
        );
        assert_eq!(*info.manufacturerID.last().unwrap(), b' ');
        assert_eq!(field(&info.libraryDescription), "mhsm managed HSM emulator");
        assert_eq!(info.flags, 0);
        assert_eq!(
            (info.libraryVersion.major, info.libraryVersion.minor),
            (0, 1)
        );
    }
}

/// `C_GetInterfaceList`: the two-call convention, 3.0 first, both "PKCS 11".
fn interface_list(raw: &Pkcs11) {
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers for every call below.
    unsafe {
        assert_eq!(
            raw.C_GetInterfaceList(std::ptr::null_mut(), std::ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw.C_GetInterfaceList(std::ptr::null_mut(), &mut count),
            CKR_OK
        );
        assert_eq!(count, 2);
        let mut list: [CK_INTERFACE; 2] = std::mem::zeroed();
        count = 1;
        assert_eq!(
            raw.C_GetInterfaceList(list.as_mut_ptr(), &mut count),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(count, 2);
        assert_eq!(
            raw.C_GetInterfaceList(list.as_mut_ptr(), &mut count),
            CKR_OK
        );
        let versions: Vec<(u8, u8)> = list
            .iter()
            .map(|i| {
                assert_eq!(
                    std::ffi::CStr::from_ptr(i.pInterfaceName as *const _).to_bytes(),
                    b"PKCS 11"
                );
                assert_eq!(i.flags, 0);
                let v = (*(i.pFunctionList as *const CK_FUNCTION_LIST)).version;
                (v.major, v.minor)
            })
            .collect();
        assert_eq!(versions, [(3, 0), (2, 40)]);
    }
}

/// `C_GetInterface`: by name and version, default 3.0; refusals. `C_GetFunctionList`: the
/// 2.40 table.
fn get_interface(raw: &Pkcs11) {
    // SAFETY: valid pointers for every call below.
    unsafe {
        let name = c"PKCS 11".as_ptr() as *mut u8;
        let version_of = |iface: *mut CK_INTERFACE| {
            let v = (*((*iface).pFunctionList as *const CK_FUNCTION_LIST)).version;
            (v.major, v.minor)
        };
        let mut iface: *mut CK_INTERFACE = std::ptr::null_mut();
        assert_eq!(
            raw.C_GetInterface(std::ptr::null_mut(), std::ptr::null_mut(), &mut iface, 0),
            CKR_OK
        );
        assert_eq!(version_of(iface), (3, 0));
        let mut v240 = CK_VERSION {
            major: 2,
            minor: 40,
        };
        assert_eq!(raw.C_GetInterface(name, &mut v240, &mut iface, 0), CKR_OK);
        assert_eq!(version_of(iface), (2, 40));
        let mut v31 = CK_VERSION { major: 3, minor: 1 };
        assert_eq!(
            raw.C_GetInterface(name, &mut v31, &mut iface, 0),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw.C_GetInterface(
                c"PKCS 12".as_ptr() as *mut u8,
                std::ptr::null_mut(),
                &mut iface,
                0
            ),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw.C_GetInterface(
                name,
                std::ptr::null_mut(),
                &mut iface,
                CKF_INTERFACE_FORK_SAFE
            ),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw.C_GetInterface(name, std::ptr::null_mut(), std::ptr::null_mut(), 0),
            CKR_ARGUMENTS_BAD
        );

        // C_GetFunctionList: the 2.40 table.
        assert_eq!(
            raw.C_GetFunctionList(std::ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
    }
}

#[test]
fn null_pointers_bad_handles_and_session_flags() {
    let _turn = serial();
    assert_eq!(initialize(), CKR_OK);
    let _fin = Finalize;
    let raw = raw();
    let slots = slot_ids();
    let pool_slot = slots[0];
    let bad_slot: CK_SLOT_ID = 0x7777_7777_7777;
    slot_functions_refuse_nulls_and_bad_slots(raw, pool_slot, bad_slot);
    let h = open_session_flags(raw, &slots, pool_slot, bad_slot);
    session_functions_refuse_nulls(raw, h);
    bad_session_handles_and_slot_events(raw, h);
}

/// NULL out pointers and a slot that does not exist, before any session.
fn slot_functions_refuse_nulls_and_bad_slots(
    raw: &Pkcs11,
    pool_slot: CK_SLOT_ID,
    bad_slot: CK_SLOT_ID,
) {
    // SAFETY: every pointer below is NULL or valid for what the function writes.
    unsafe {
        let mut count: CK_ULONG = 0;
        assert_eq!(raw.C_GetSlotList(1, null(), null()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetSlotInfo(pool_slot, null()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GetTokenInfo(pool_slot, null()), CKR_ARGUMENTS_BAD);
        assert_eq!(
            raw.C_GetMechanismList(pool_slot, null(), null()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw.C_GetMechanismInfo(pool_slot, CKM_SHA256, null()),
            CKR_ARGUMENTS_BAD
        );
        let mut slot_info: CK_SLOT_INFO = std::mem::zeroed();
        let mut token_info: CK_TOKEN_INFO = std::mem::zeroed();
        let mut mech_info: CK_MECHANISM_INFO = std::mem::zeroed();
        assert_eq!(
            raw.C_GetSlotInfo(bad_slot, &mut slot_info),
            CKR_SLOT_ID_INVALID
        );
        assert_eq!(
            raw.C_GetTokenInfo(bad_slot, &mut token_info),
            CKR_SLOT_ID_INVALID
        );
        assert_eq!(
            raw.C_GetMechanismList(bad_slot, null(), &mut count),
            CKR_SLOT_ID_INVALID
        );
        assert_eq!(
            raw.C_GetMechanismInfo(bad_slot, CKM_SHA256, &mut mech_info),
            CKR_SLOT_ID_INVALID
        );
        assert_eq!(raw.C_CloseAllSessions(bad_slot), CKR_SLOT_ID_INVALID);
        assert_eq!(
            raw.C_GetMechanismInfo(pool_slot, CKM_MD5, &mut mech_info),
            CKR_MECHANISM_INVALID
        );
    }
}

/// Sessions: the out pointer, the serial flag, the slot, the uninitialized token. Returns a session opened on the pool's slot.
fn open_session_flags(
    raw: &Pkcs11,
    slots: &[CK_SLOT_ID],
    pool_slot: CK_SLOT_ID,
    bad_slot: CK_SLOT_ID,
) -> CK_SESSION_HANDLE {
    // SAFETY: every pointer below is NULL or valid for what the function writes.
    unsafe {
        // Sessions: the out pointer, the serial flag, the slot, the uninitialized token.
        let mut h: CK_SESSION_HANDLE = 0;
        assert_eq!(
            raw.C_OpenSession(pool_slot, CKF_SERIAL_SESSION, null(), None, null()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            raw.C_OpenSession(pool_slot, 0, null(), None, &mut h),
            CKR_SESSION_PARALLEL_NOT_SUPPORTED
        );
        assert_eq!(
            raw.C_OpenSession(pool_slot, CKF_RW_SESSION, null(), None, &mut h),
            CKR_SESSION_PARALLEL_NOT_SUPPORTED
        );
        assert_eq!(
            raw.C_OpenSession(bad_slot, CKF_SERIAL_SESSION, null(), None, &mut h),
            CKR_SLOT_ID_INVALID
        );
        let uninitialized = *slots.last().unwrap();
        assert_eq!(
            raw.C_OpenSession(uninitialized, CKF_SERIAL_SESSION, null(), None, &mut h),
            CKR_TOKEN_NOT_RECOGNIZED
        );
        assert_eq!(
            raw.C_OpenSession(pool_slot, CKF_SERIAL_SESSION, null(), None, &mut h),
            CKR_OK
        );
        assert_ne!(h, CK_INVALID_HANDLE);
        h
    }
}

/// NULL where the session's functions write or read; the error ends the operation.
fn session_functions_refuse_nulls(raw: &Pkcs11, h: CK_SESSION_HANDLE) {
    // SAFETY: every pointer below is NULL or valid for what the function writes.
    unsafe {
        let mut count: CK_ULONG = 0;
        // NULL where the session's functions write or read.
        assert_eq!(raw.C_GetSessionInfo(h, null()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_DigestInit(h, null()), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GenerateRandom(h, null(), 16), CKR_ARGUMENTS_BAD);
        assert_eq!(raw.C_GenerateRandom(h, null(), 0), CKR_OK);
        assert_eq!(raw.C_SeedRandom(h, null(), 4), CKR_ARGUMENTS_BAD);
        let mut mech = CK_MECHANISM {
            mechanism: CKM_SHA256,
            pParameter: null(),
            ulParameterLen: 0,
        };
        assert_eq!(raw.C_DigestInit(h, &mut mech), CKR_OK);
        let mut data = *b"abc";
        assert_eq!(
            raw.C_Digest(h, data.as_mut_ptr(), 3, null(), null()),
            CKR_ARGUMENTS_BAD
        );
        // That error ended the operation.
        assert_eq!(
            raw.C_DigestFinal(h, null(), &mut count),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(raw.C_DigestInit(h, &mut mech), CKR_OK);
        assert_eq!(raw.C_DigestUpdate(h, null(), 5), CKR_ARGUMENTS_BAD);
        assert_eq!(
            raw.C_DigestFinal(h, null(), &mut count),
            CKR_OPERATION_NOT_INITIALIZED
        );
    }
}

/// Handles that do not exist; `C_WaitForSlotEvent`; closing the session, once.
fn bad_session_handles_and_slot_events(raw: &Pkcs11, h: CK_SESSION_HANDLE) {
    // SAFETY: every pointer below is NULL or valid for what the function writes.
    unsafe {
        let mut data = *b"abc";
        let mut mech = CK_MECHANISM {
            mechanism: CKM_SHA256,
            pParameter: null(),
            ulParameterLen: 0,
        };
        // Handles that do not exist.
        let mut session_info: CK_SESSION_INFO = std::mem::zeroed();
        let bad: CK_SESSION_HANDLE = 0xdead_beef;
        assert_eq!(
            raw.C_GetSessionInfo(bad, &mut session_info),
            CKR_SESSION_HANDLE_INVALID
        );
        assert_eq!(raw.C_CloseSession(bad), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(
            raw.C_GenerateRandom(bad, data.as_mut_ptr(), 3),
            CKR_SESSION_HANDLE_INVALID
        );
        assert_eq!(raw.C_DigestInit(bad, &mut mech), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_GetFunctionStatus(bad), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(raw.C_GetFunctionStatus(h), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(raw.C_CancelFunction(h), CKR_FUNCTION_NOT_PARALLEL);

        // C_WaitForSlotEvent: no event without blocking; blocking is not supported.
        let mut slot: CK_SLOT_ID = 0;
        assert_eq!(
            raw.C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null()),
            CKR_NO_EVENT
        );
        assert_eq!(
            raw.C_WaitForSlotEvent(0, &mut slot, null()),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            raw.C_WaitForSlotEvent(
                CKF_DONT_BLOCK,
                &mut slot,
                std::ptr::dangling_mut::<c_void>()
            ),
            CKR_ARGUMENTS_BAD
        );

        // Closing: once.
        assert_eq!(raw.C_CloseSession(h), CKR_OK);
        assert_eq!(raw.C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(
            raw.C_GetSessionInfo(h, &mut session_info),
            CKR_SESSION_HANDLE_INVALID
        );
    }
}

#[test]
fn sessions_do_not_survive_finalize() {
    let _turn = serial();
    assert_eq!(initialize(), CKR_OK);
    let _fin = Finalize;
    let raw = raw();
    let slot = slot_ids()[0];
    let mut h: CK_SESSION_HANDLE = 0;
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    unsafe {
        let rw = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        assert_eq!(
            raw.C_OpenSession(slot, rw, std::ptr::null_mut(), None, &mut h),
            CKR_OK
        );
        // Used once, so this thread's recent lookup holds it.
        assert_eq!(raw.C_GetSessionInfo(h, &mut info), CKR_OK);
        assert_eq!(finalize(), CKR_OK);
        assert_eq!(
            raw.C_GetSessionInfo(h, &mut info),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(initialize(), CKR_OK);
        assert_eq!(
            raw.C_GetSessionInfo(h, &mut info),
            CKR_SESSION_HANDLE_INVALID
        );
        // The new module numbers its sessions from the start again: the same handle now
        // names a read-only session, never the finalized read-write one.
        let mut again: CK_SESSION_HANDLE = 0;
        assert_eq!(
            raw.C_OpenSession(
                slot,
                CKF_SERIAL_SESSION,
                std::ptr::null_mut(),
                None,
                &mut again
            ),
            CKR_OK
        );
        assert_eq!(again, h);
        assert_eq!(raw.C_GetSessionInfo(h, &mut info), CKR_OK);
        assert_eq!(info.flags & CKF_RW_SESSION, 0);
    }
}
