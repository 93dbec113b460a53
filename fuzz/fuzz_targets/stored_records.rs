//! Stored records: the sealed-record opener and the record decoders with arbitrary bytes,
//! and a real store with one record (or one version's material) tampered with, loaded and
//! used (see `hsm_core::fuzzing::records`); and the PKCS#11 module's own stored form of
//! certificates and data objects (pool documents, `mhsm_pkcs11::fuzzing::stored_object`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mhsm_pkcs11::fuzzing::stored_object(data);
    hsm_core::fuzzing::records(data);
});
