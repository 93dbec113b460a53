//! libmhsm_pkcs11.so under concurrent signing: 8 threads × 2,000 ECDSA P-256 signatures with
//! one pool key, each thread in its own session; no call fails and every signature verifies
//! with the `p256` crate.

mod pkcs11_common;

use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use hsm_core::crypto::{Curve, KeySpec};
use hsm_core::key::KeyOptions;
use p256::ecdsa::signature::Verifier;
use pkcs11_common::*;

const THREADS: usize = 8;
const SIGNS: usize = 2_000;
const PIN: &str = "user-pin-1";

#[test]
fn eight_threads_sign_with_one_key() {
    create_pools(&["threads"]);
    with_core(|hsm| {
        let pool = hsm.pool("threads").unwrap();
        pool.set_pin(hsm_core::pin::PinRole::User, PIN.as_bytes())
            .unwrap();
        pool.create_key(
            "shared",
            KeySpec::Ec { curve: Curve::P256 },
            &KeyOptions::default(),
        )
        .unwrap();
    });

    let p = Arc::new(Pkcs11::new(module_path()).unwrap());
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p.get_slots_with_token().unwrap()[0];
    assert_eq!(p.get_token_info(slot).unwrap().label(), "threads");

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let s = p.open_ro_session(slot).unwrap();
                match s.login(UserType::User, Some(&AuthPin::new(PIN.into()))) {
                    Ok(()) => {}
                    Err(Error::Pkcs11(
                        RvError::UserAlreadyLoggedIn | RvError::FunctionNotSupported,
                        _,
                    )) => {}
                    Err(e) => panic!("login: {e}"),
                }
                let key = s
                    .find_objects(&[
                        Attribute::Label(b"shared".to_vec()),
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                    ])
                    .unwrap()[0];
                let mut signed = Vec::with_capacity(SIGNS);
                let mut errors = 0;
                for i in 0..SIGNS {
                    let message = format!("thread {t} message {i}").into_bytes();
                    match s.sign(&Mechanism::EcdsaSha256, key, &message) {
                        Ok(sig) => signed.push((message, sig)),
                        Err(e) => {
                            eprintln!("thread {t}, sign {i}: {e}");
                            errors += 1;
                        }
                    }
                }
                (signed, errors)
            })
        })
        .collect();

    let s = p.open_ro_session(slot).unwrap();
    let public = s
        .find_objects(&[
            Attribute::Label(b"shared".to_vec()),
            Attribute::Class(ObjectClass::PUBLIC_KEY),
        ])
        .unwrap()[0];
    let point = match s.get_attributes(public, &[AttributeType::EcPoint]).unwrap()[0].clone() {
        Attribute::EcPoint(der) => der,
        other => panic!("{other:?}"),
    };
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point[2..]).unwrap();

    let mut total = 0;
    let mut errors = 0;
    let mut bad = 0;
    for w in workers {
        let (signed, e) = w.join().expect("no thread panics");
        errors += e;
        for (message, sig) in signed {
            total += 1;
            let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
            if verifying.verify(&message, &sig).is_err() {
                bad += 1;
            }
        }
    }
    assert_eq!(errors, 0, "failed calls");
    assert_eq!(total, THREADS * SIGNS);
    assert_eq!(bad, 0, "signatures that do not verify");
}
