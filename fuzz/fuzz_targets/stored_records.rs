//! Stored records: the sealed-record opener and the record decoders with arbitrary bytes,
//! and a real store with one record (or one version's material) tampered with, loaded and
//! used (see `hsm_core::fuzzing::records`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hsm_core::fuzzing::records(data));
