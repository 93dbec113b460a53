//! The `pkcs11_threads` suite again, from the same file, with the module in remote mode: a
//! client of `mhsm serve` (see `pkcs11_common::remote`).

#[path = "pkcs11_threads.rs"]
mod suite;
