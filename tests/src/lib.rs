//! Shared helpers for mhsm's cross-crate tests.
