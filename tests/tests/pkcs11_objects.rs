//! libmhsm_pkcs11.so through the `cryptoki` crate: objects. Key generation (token and
//! session), the attributes a key shows, searching, changing attributes by the spec's rules,
//! certificates and data objects, imports, copies, destruction, and the bad inputs.
//!
//! One module instance for the whole process over a fresh data directory; tests run in
//! parallel, each on its own pool.

mod pkcs11_common;

// The suite's sections, one file each under `pkcs11_objects/` (explicit paths: the same lines
// must resolve when `pkcs11_objects_remote.rs` compiles this file as its module `suite`).
#[path = "pkcs11_objects/attributes.rs"]
mod attributes;
#[path = "pkcs11_objects/keys.rs"]
mod keys;
#[path = "pkcs11_objects/searches.rs"]
mod searches;

use std::sync::OnceLock;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use pkcs11_common::*;

const POOLS: &[&str] = &[
    "gen", "attrs", "find", "docs", "imports", "copies", "bad", "destroy", "churn",
];
const PIN: &str = "user-pin-1";

fn ctx() -> &'static Pkcs11 {
    static CTX: OnceLock<Pkcs11> = OnceLock::new();
    CTX.get_or_init(|| {
        create_pools(POOLS);
        with_core(|hsm| {
            for name in POOLS {
                let pool = hsm.pool(name).unwrap();
                pool.set_pin(hsm_core::pin::PinRole::So, b"so-pin-12")
                    .unwrap();
                pool.set_pin(hsm_core::pin::PinRole::User, PIN.as_bytes())
                    .unwrap();
            }
        });
        let p = Pkcs11::new(module_path()).unwrap();
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        p
    })
}

fn slot_of(label: &str) -> Slot {
    let p = ctx();
    p.get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label() == label)
        .unwrap_or_else(|| panic!("no slot for {label}"))
}

/// A read-write session on a pool's token, logged in as the user (the login is per
/// application and token: a second session finds it done).
fn rw(pool: &str) -> Session {
    let s = ctx().open_rw_session(slot_of(pool)).unwrap();
    match s.login(UserType::User, Some(&AuthPin::new(PIN.into()))) {
        Ok(()) => {}
        Err(e) if rv_of(&e) == RvError::UserAlreadyLoggedIn => {}
        Err(e) => panic!("login: {e}"),
    }
    s
}

fn rv_of(e: &Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => *rv,
        other => panic!("not a PKCS#11 error: {other}"),
    }
}

fn rv<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> RvError {
    rv_of(&r.expect_err("an error"))
}

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn ec_pair(s: &Session, label: &str, token: bool) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(token),
            Attribute::EcParams(P256.to_vec()),
            Attribute::Label(label.into()),
            Attribute::Verify(true),
        ],
        &[
            Attribute::Token(token),
            Attribute::Label(label.into()),
            Attribute::Sign(true),
            Attribute::Sensitive(true),
        ],
    )
    .unwrap()
}

fn get(s: &Session, o: ObjectHandle, t: AttributeType) -> Attribute {
    s.get_attributes(o, &[t])
        .unwrap()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{t:?} missing"))
}

fn bytes(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match get(s, o, t) {
        Attribute::Id(v)
        | Attribute::Label(v)
        | Attribute::EcParams(v)
        | Attribute::EcPoint(v)
        | Attribute::Modulus(v)
        | Attribute::PublicExponent(v)
        | Attribute::Value(v)
        | Attribute::Subject(v)
        | Attribute::PublicKeyInfo(v) => v,
        other => panic!("not bytes: {other:?}"),
    }
}

fn flag(s: &Session, o: ObjectHandle, t: AttributeType) -> bool {
    match get(s, o, t) {
        Attribute::Sign(b)
        | Attribute::Verify(b)
        | Attribute::Encrypt(b)
        | Attribute::Decrypt(b)
        | Attribute::Wrap(b)
        | Attribute::Unwrap(b)
        | Attribute::Derive(b)
        | Attribute::Sensitive(b)
        | Attribute::Extractable(b)
        | Attribute::AlwaysSensitive(b)
        | Attribute::NeverExtractable(b)
        | Attribute::Local(b)
        | Attribute::Token(b)
        | Attribute::Private(b) => b,
        other => panic!("not a flag: {other:?}"),
    }
}

/// One attribute through the raw call: its value, or the call's code.
fn raw_get(s: &Session, o: CK_OBJECT_HANDLE, t: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>, CK_RV> {
    let f = table();
    let mut a = CK_ATTRIBUTE {
        type_: t,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    let r = unsafe { f.C_GetAttributeValue.unwrap()(s.handle(), o, &mut a, 1) };
    if r != CKR_OK {
        if r == CKR_ATTRIBUTE_SENSITIVE || r == CKR_ATTRIBUTE_TYPE_INVALID {
            assert_eq!(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
        }
        return Err(r);
    }
    let mut v = vec![0u8; a.ulValueLen as usize];
    a.pValue = v.as_mut_ptr().cast();
    let r = unsafe { f.C_GetAttributeValue.unwrap()(s.handle(), o, &mut a, 1) };
    if r != CKR_OK {
        return Err(r);
    }
    Ok(v)
}
