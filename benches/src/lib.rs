//! Shared helpers for mhsm's benchmarks.
