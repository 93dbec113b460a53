//! Key and pool backup blobs: raw bytes, authentic blobs with arbitrary bodies, and real
//! backups with one range spliced (see `hsm_core::fuzzing::backup`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hsm_core::fuzzing::backup(data));
