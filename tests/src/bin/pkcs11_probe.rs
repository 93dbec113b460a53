//! Loads the PKCS#11 module named by its first argument in a process of its own, calls
//! `C_Initialize(NULL)` and prints `rv=0x...`; when that worked, also `slots=ID,ID,...` and
//! the finalize result. The PKCS#11 tests use it to see what another process gets, and what
//! the module says on stderr, under the environment they choose.

use cryptoki_sys::{CK_SLOT_ID, CK_ULONG, CKR_OK};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: pkcs11_probe <module.so>");
    // SAFETY: loading a PKCS#11 module runs its initializers; the module is ours.
    let lib = unsafe { cryptoki_sys::Pkcs11::new(&path) }.expect("cannot load the module");
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
