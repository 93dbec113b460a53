//! The `pkcs11_tool` suite again, from the same file, with the module in remote mode: a
//! client of `mhsm serve` (see `pkcs11_common::remote`).

#[path = "pkcs11_tool.rs"]
mod suite;
