//! The `pkcs11_crypto` suite again, from the same file, with the module in remote mode: a
//! client of `mhsm serve` (see `pkcs11_common::remote`).

#[path = "pkcs11_crypto.rs"]
mod suite;
