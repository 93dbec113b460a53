//! Shared helpers of the PKCS#11 tests: finding the built module, a fresh data directory per
//! test process, raw access to the exported C functions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings};

/// The built `libmhsm_pkcs11.so`: `MHSM_PKCS11_MODULE` if set, else the one cargo built
/// beside this test binary (the tests crate depends on the module, so cargo builds the
/// cdylib into `deps/` before the tests; `CARGO_TARGET_DIR` and profiles need no care).
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MHSM_PKCS11_MODULE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("exe dir");
    let candidates = [
        deps.join("libmhsm_pkcs11.so"),
        deps.join("deps/libmhsm_pkcs11.so"),
        deps.parent()
            .map(|p| p.join("libmhsm_pkcs11.so"))
            .unwrap_or_default(),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("libmhsm_pkcs11.so not found near {}", exe.display()))
}

/// The `pkcs11_probe` helper binary (built by cargo with the tests).
pub fn probe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pkcs11_probe"))
}

/// This process's data directory: fresh, and named in `MHSM_DATA_DIR` before the module is
/// first initialized. Every test binary is its own process, so each gets its own.
pub fn data_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: runs once, before any test of this process loads the module (every test
        // goes through this function first); nothing else sets the environment.
        unsafe {
            std::env::set_var("MHSM_DATA_DIR", dir.path());
            std::env::remove_var("MHSM_PKCS11_CONFIG");
        }
        dir
    })
    .path()
}

/// Opens a data directory with the core, waiting a moment if this process only just let go
/// of it (sled releases its lock a little after the last handle drops).
pub fn open_hsm(dir: &Path) -> Hsm {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Hsm::open(HsmConfig::new(dir)) {
            Err(hsm_core::Error::StoreLocked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
}

/// Creates pools in this process's data directory with the core (the module never creates
/// one), while the module is not initialized.
pub fn create_pools(names: &[&str]) {
    let hsm = open_hsm(data_dir());
    for name in names {
        hsm.create_pool(name, PoolSettings::default(), Tags::new())
            .unwrap();
    }
}

/// A fresh data directory holding `pools`, made by another process (`pkcs11_probe`), so no
/// lock of this process lingers on it when another process (a tool, the probe) opens it.
pub fn dir_with_pools(pools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(probe_path())
        .arg("create-pools")
        .arg(dir.path())
        .args(pools)
        .env_remove("MHSM_LOG")
        .status()
        .expect("run pkcs11_probe");
    assert!(status.success(), "pkcs11_probe create-pools failed");
    dir
}

/// The exported C functions of the module, loaded with `dlopen` (the same instance the
/// `cryptoki` crate gets in this process).
pub fn raw() -> &'static Pkcs11 {
    static RAW: OnceLock<Pkcs11> = OnceLock::new();
    RAW.get_or_init(|| {
        data_dir();
        // SAFETY: loads our own module.
        unsafe { Pkcs11::new(module_path()) }.expect("load the module")
    })
}

/// The module's 2.40 function table.
pub fn table() -> &'static CK_FUNCTION_LIST {
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { raw().C_GetFunctionList(&mut list) }, CKR_OK);
    // SAFETY: the module hands out a pointer to an immutable static.
    unsafe { &*list }
}

/// The module's 3.0 function table (through `C_GetInterface`).
pub fn table_3_0() -> &'static CK_FUNCTION_LIST_3_0 {
    let mut iface: *mut CK_INTERFACE = std::ptr::null_mut();
    let mut version = CK_VERSION { major: 3, minor: 0 };
    // SAFETY: valid pointers; the name is NUL-terminated.
    let rv = unsafe {
        raw().C_GetInterface(c"PKCS 11".as_ptr() as *mut u8, &mut version, &mut iface, 0)
    };
    assert_eq!(rv, CKR_OK);
    // SAFETY: the module hands out pointers to immutable statics.
    unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) }
}

/// Calls `C_Initialize(NULL)` through the raw table.
pub fn initialize() -> CK_RV {
    // SAFETY: NULL is a valid argument.
    unsafe { raw().C_Initialize(std::ptr::null_mut()) }
}

/// Calls `C_Finalize(NULL)` through the raw table.
pub fn finalize() -> CK_RV {
    // SAFETY: NULL is the required argument.
    unsafe { raw().C_Finalize(std::ptr::null_mut()) }
}

/// The slots through the raw two-call convention.
pub fn slot_ids() -> Vec<CK_SLOT_ID> {
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { raw().C_GetSlotList(0, std::ptr::null_mut(), &mut count) },
        CKR_OK
    );
    let mut ids = vec![0; count as usize];
    // SAFETY: `ids` has room for `count` ids.
    assert_eq!(
        unsafe { raw().C_GetSlotList(0, ids.as_mut_ptr(), &mut count) },
        CKR_OK
    );
    ids.truncate(count as usize);
    ids
}

/// A blank-padded field as a trimmed string.
pub fn field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(' ')
        .to_string()
}

/// The name of a return value, for messages.
pub fn rv_hex(rv: CK_RV) -> String {
    format!("{rv:#x}")
}
