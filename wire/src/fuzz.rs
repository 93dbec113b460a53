//! The entry point of the `rest_bodies` fuzz target: every request body the server takes,
//! parsed and converted to the core's values exactly as the server does.

use crate::key::{
    KeyCreate, KeyImport, KeyOperationRequest, KeyUpdateParameters, RandomRequest,
    RotationPolicyBody, SignRequest, ValueBody, VerifyRequest,
};
use crate::{jobs, parse, pkcs11, pools, rbac, settings};

/// Picks a request body type by the first byte of `data` and runs the server's parse and
/// conversion of the rest. Never panics (that is what the fuzzer checks).
#[doc(hidden)]
pub fn fuzz_request_body(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 16 {
        0 => drop(parse::<KeyCreate>(body).and_then(|b| b.to_core())),
        1 => drop(parse::<KeyImport>(body).and_then(|b| b.to_core())),
        2 => drop(parse::<KeyUpdateParameters>(body).and_then(|b| b.to_core())),
        3 => drop(parse::<SignRequest>(body).and_then(|b| b.to_core())),
        4 => drop(parse::<VerifyRequest>(body).and_then(|b| b.to_core())),
        5 => drop(parse::<KeyOperationRequest>(body).and_then(|b| b.encrypt_input())),
        6 => drop(parse::<KeyOperationRequest>(body).and_then(|b| b.decrypt_input())),
        7 => drop(parse::<KeyOperationRequest>(body).and_then(|b| b.wrap_input())),
        8 => drop(parse::<RotationPolicyBody>(body).and_then(|b| b.to_core())),
        9 => drop(parse::<RandomRequest>(body).and_then(|b| b.to_core())),
        10 => drop(parse::<ValueBody>(body).and_then(|b| b.bytes())),
        11 => drop(parse::<rbac::RoleDefinitionCreate>(body).map(|b| b.into_core())),
        12 => drop(parse::<rbac::RoleAssignmentCreate>(body)),
        13 => drop(parse::<settings::SettingUpdate>(body)),
        14 => {
            drop(parse::<jobs::RestoreRequest>(body));
            drop(parse::<jobs::SelectiveKeyRestoreRequest>(body));
            drop(parse::<jobs::StorageParameters>(body));
            drop(parse::<pools::PoolCreate>(body));
        }
        _ => {
            drop(parse::<pkcs11::ExtraValue>(body).and_then(|b| b.bytes()));
            drop(parse::<pkcs11::PinBody>(body).and_then(|b| b.pin()));
            drop(parse::<pkcs11::PinPolicyBody>(body).map(hsm_core::pin::PinPolicy::from));
            drop(parse::<pkcs11::DocumentBody>(body).and_then(|b| b.bytes()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few hundred inputs, each a valid body of some type with bytes changed: a panic
    /// fails the test.
    #[test]
    fn pseudo_random_bodies_never_panic() {
        let seeds: [&[u8]; 8] = [
            br#"{"kty":"EC-HSM","crv":"P-256","key_ops":["sign"],"attributes":{"exp":1},"x-mhsm":{"extra":{"id":"AQ"}}}"#,
            br#"{"key":{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQ","p":"AQ","q":"AQ"},"tags":{"a":"b"}}"#,
            br#"{"key_ops":["encrypt"],"attributes":{"nbf":null,"enabled":false},"release_policy":null}"#,
            br#"{"alg":"ES256","value":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","digest":"AQ"}"#,
            br#"{"alg":"A256GCM","value":"AQID","iv":"AAAAAAAAAAAAAAAA","aad":"AQ","tag":"AAAAAAAAAAAAAAAAAAAAAA"}"#,
            br#"{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y"}}"#,
            br#"{"properties":{"roleName":"r","permissions":[{"dataActions":["a"]}],"assignableScopes":["/"]}}"#,
            br#"{"count":12,"value":"AQ","pin":"MTIzNA","minLen":4,"maxLen":8,"maxFailures":3}"#,
        ];
        // xorshift64: reproducible without a dependency.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut ran = 0;
        for round in 0..400u32 {
            let seed = seeds[round as usize % seeds.len()];
            let mut data = vec![(next() % 16) as u8];
            data.extend_from_slice(seed);
            for _ in 0..(next() % 4) {
                let at = 1 + (next() as usize) % seed.len();
                data[at] = next() as u8;
            }
            if next() % 5 == 0 {
                data.truncate(1 + (next() as usize) % seed.len());
            }
            fuzz_request_body(&data);
            ran += 1;
        }
        // Each selector byte also meets its own seed unchanged.
        for seed in seeds {
            for which in 0..16u8 {
                let mut data = vec![which];
                data.extend_from_slice(seed);
                fuzz_request_body(&data);
                ran += 1;
            }
        }
        fuzz_request_body(&[]);
        assert_eq!(ran, 400 + 8 * 16);
    }
}
