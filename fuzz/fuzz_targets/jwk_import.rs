//! JWK import, core side: the key material an import body's JWK becomes (its `kty`, `crv`
//! and decoded fields) through `Pool::import_key` (see `hsm_core::fuzzing::import`). The
//! JSON itself is the `rest_bodies` target's.
#![no_main]

use hsm_core::fuzzing::{Jwk, import};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Curve names as a JWK spells them, and some it does not.
const CURVES: &[&str] = &[
    "P-256",
    "P-384",
    "P-521",
    "P-256K",
    "SECP256K1",
    "",
    "p-256",
];

fn jwk<'a>(u: &mut Unstructured<'a>) -> Result<Jwk<'a>> {
    let kty = u.arbitrary()?;
    let crv = if u.arbitrary()? {
        CURVES[usize::from(u.arbitrary::<u8>()?) % CURVES.len()]
    } else {
        u.arbitrary()?
    };
    let mut fields = [None; 8];
    for field in &mut fields {
        if u.arbitrary()? {
            let len = u.arbitrary_len::<u8>()?;
            *field = Some(u.bytes(len)?);
        }
    }
    Ok(Jwk { kty, crv, fields })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = jwk(&mut Unstructured::new(data)) {
        import(&jwk);
    }
});
