//! The `pkcs11_wrap_audit` suite again, from the same file, with the module in remote mode:
//! the wraps happen in the in-process server's core (see `pkcs11_common::remote`).

#[path = "pkcs11_wrap_audit.rs"]
mod suite;
