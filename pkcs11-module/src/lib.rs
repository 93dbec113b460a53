//! The mhsm PKCS#11 module. Not built yet: see the issue "PKCS#11 module" and
//! `docs/ARCHITECTURE.md`. The crate exists so the workspace has its final shape.
