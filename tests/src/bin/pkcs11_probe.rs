//! A helper process for the PKCS#11 tests.
//!
//! `pkcs11_probe MODULE.so` loads the module, calls `C_Initialize(NULL)` and prints
//! `rv=0x...`; when that worked, also `slots=ID,ID,...` and the finalize result. The tests use
//! it to see what another process gets, and what the module says on stderr, under the
//! environment they choose.
//!
//! `pkcs11_probe create-pools DIR NAME...` creates pools with the core and exits, so the
//! directory's lock is gone when it returns (sled lets go of it a moment after a handle
//! drops inside a process).

use cryptoki_sys::{CK_SLOT_ID, CK_ULONG, CKR_OK};
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("create-pools") => create_pools(&args[1], &args[2..]),
        Some(module) => probe(module),
        None => panic!("usage: pkcs11_probe MODULE.so | create-pools DIR NAME..."),
    }
}

fn create_pools(dir: &str, names: &[String]) {
    let hsm = Hsm::open(HsmConfig::new(dir)).expect("open the data directory");
    for name in names {
        hsm.create_pool(name, PoolSettings::default(), Tags::new())
            .expect("create the pool");
    }
}

fn probe(path: &str) {
    // SAFETY: loading a PKCS#11 module runs its initializers; the module is ours.
    let lib = unsafe { cryptoki_sys::Pkcs11::new(path) }.expect("cannot load the module");
    // SAFETY: C_Initialize accepts NULL arguments.
    let rv = unsafe { lib.C_Initialize(std::ptr::null_mut()) };
    println!("rv={rv:#x}");
    if rv != CKR_OK {
        return;
    }
    let mut ids: Vec<CK_SLOT_ID> = vec![0; 64];
    let mut count = ids.len() as CK_ULONG;
    // SAFETY: `ids` has room for `count` slot ids.
    let rv = unsafe { lib.C_GetSlotList(0, ids.as_mut_ptr(), &mut count) };
    assert_eq!(rv, CKR_OK, "C_GetSlotList");
    ids.truncate(count as usize);
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    println!("slots={}", ids.join(","));
    // SAFETY: C_Finalize takes NULL.
    let rv = unsafe { lib.C_Finalize(std::ptr::null_mut()) };
    println!("finalize rv={rv:#x}");
}
