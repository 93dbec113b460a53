//! Every REST request body, parsed and converted to the core's values as the server does:
//! nothing may panic. The first byte picks the body type (`mhsm_wire::fuzz_request_body`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mhsm_wire::fuzz_request_body(data);
});
