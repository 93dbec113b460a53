//! A session keeps the keys its `C_*Init` calls bound (one resolution per key, not per
//! operation) only while nothing changed: after a change of the key's usage attributes, its
//! destruction or a logout, the session that used the key answers exactly what a fresh
//! session answers.

mod pkcs11_common;

use std::sync::OnceLock;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use pkcs11_common::*;

const POOL: &str = "bound";
const PIN: &str = "user-pin-1";

fn module() -> &'static (Pkcs11, Slot) {
    static CTX: OnceLock<(Pkcs11, Slot)> = OnceLock::new();
    CTX.get_or_init(|| {
        create_pools(&[POOL]);
        with_core(|hsm| {
            let pool = hsm.pool(POOL).unwrap();
            pool.set_pin(hsm_core::pin::PinRole::So, b"so-pin-12")
                .unwrap();
            pool.set_pin(hsm_core::pin::PinRole::User, PIN.as_bytes())
                .unwrap();
        });
        let p = Pkcs11::new(module_path()).unwrap();
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let slot = p
            .get_all_slots()
            .unwrap()
            .into_iter()
            .find(|s| p.get_token_info(*s).unwrap().label() == POOL)
            .expect("the pool's slot");
        (p, slot)
    })
}

fn session() -> Session {
    let (p, slot) = module();
    p.open_rw_session(*slot).unwrap()
}

/// The tests take turns: a logout ends the login of every session of the slot.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn login(s: &Session) {
    match s.login(UserType::User, Some(&AuthPin::new(PIN.into()))) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("login: {e}"),
    }
}

/// A token HMAC key (an AES key allowed to sign), labelled `label`.
fn hmac_key(s: &Session, label: &str) -> ObjectHandle {
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::ValueLen(32.into()),
            Attribute::Sign(true),
            Attribute::Verify(true),
            Attribute::Label(label.into()),
        ],
    )
    .unwrap()
}

fn mac(s: &Session, key: ObjectHandle) -> Result<Vec<u8>, Error> {
    s.sign(&Mechanism::Sha256Hmac, key, b"message")
}

fn rv(result: Result<Vec<u8>, Error>) -> RvError {
    match result {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

#[test]
fn a_bound_key_follows_its_usage_attributes() {
    let _turn = one_at_a_time();
    let s = session();
    login(&s);
    let key = hmac_key(&s, "usage");
    // The first operation binds the key, the next ones reuse it: the same MAC each time.
    let first = mac(&s, key).unwrap();
    assert_eq!(mac(&s, key).unwrap(), first);
    s.update_attributes(key, &[Attribute::Sign(false)]).unwrap();
    let fresh = session();
    let expected = rv(mac(&fresh, key));
    assert_eq!(expected, RvError::KeyFunctionNotPermitted);
    assert_eq!(rv(mac(&s, key)), expected);
    s.update_attributes(key, &[Attribute::Sign(true)]).unwrap();
    assert_eq!(mac(&s, key).unwrap(), first);
}

#[test]
fn a_bound_key_is_gone_once_destroyed() {
    let _turn = one_at_a_time();
    let s = session();
    login(&s);
    let key = hmac_key(&s, "destroyed");
    mac(&s, key).unwrap();
    mac(&s, key).unwrap();
    // Destroyed through another session.
    let other = session();
    other.destroy_object(key).unwrap();
    let expected = rv(mac(&other, key));
    assert_eq!(expected, RvError::KeyHandleInvalid);
    assert_eq!(rv(mac(&s, key)), expected);
}

#[test]
fn a_bound_private_key_is_hidden_after_logout() {
    let _turn = one_at_a_time();
    let s = session();
    login(&s);
    let key = hmac_key(&s, "logout");
    let first = mac(&s, key).unwrap();
    assert_eq!(mac(&s, key).unwrap(), first);
    s.logout().unwrap();
    let fresh = session();
    let expected = rv(mac(&fresh, key));
    assert_eq!(rv(mac(&s, key)), expected);
    login(&s);
    assert_eq!(mac(&s, key).unwrap(), first);
}
