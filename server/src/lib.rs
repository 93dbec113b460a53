//! The mhsm REST server. Not built yet: see the issue "REST server" and
//! `docs/ARCHITECTURE.md`. The crate exists so the workspace has its final shape.
