//! The `pkcs11_bound_keys` suite again, from the same file, with the module in remote mode
//! (see `pkcs11_common::remote`).

#[path = "pkcs11_bound_keys.rs"]
mod suite;
