//! A key destroyed through PKCS#11 is soft-deleted in its pool: the core still has it as a
//! deleted key, recovers it, and the module finds it again. Its own process, since the module
//! lets go of the data directory in the middle.

mod pkcs11_common;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use hsm_core::names::PageRequest;
use hsm_core::pin::PinRole;
use pkcs11_common::*;

const PIN: &str = "user-pin-1";
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn module() -> Pkcs11 {
    let p = Pkcs11::new(module_path()).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    p
}

#[test]
fn a_destroyed_key_is_recoverable_through_the_core() {
    create_pools(&["life"]);
    with_core(|hsm| {
        let pool = hsm.pool("life").unwrap();
        pool.set_pin(PinRole::So, b"so-pin-1").unwrap();
        pool.set_pin(PinRole::User, PIN.as_bytes()).unwrap();
    });
    let p = module();
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    let label = Attribute::Label(b"phoenix".to_vec());
    let (_, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(true), Attribute::EcParams(P256.to_vec())],
            &[
                Attribute::Token(true),
                label.clone(),
                Attribute::Id(vec![42]),
            ],
        )
        .unwrap();
    s.destroy_object(private).unwrap();
    assert!(
        s.find_objects(std::slice::from_ref(&label))
            .unwrap()
            .is_empty()
    );
    drop(s);
    p.finalize().unwrap();

    with_core(|hsm| {
        let pool = hsm.pool("life").unwrap();
        let deleted = pool.list_deleted_keys(&PageRequest::default()).unwrap();
        assert_eq!(deleted.items.len(), 1);
        assert_eq!(deleted.items[0].name, "phoenix");
        assert!(deleted.items[0].deletion.is_some());
        let recovered = pool.recover_deleted_key("phoenix").unwrap();
        assert_eq!(
            recovered.extra["ck.id"],
            [42],
            "its PKCS#11 attributes came back with it"
        );
    });

    let p = module();
    let s = p.open_ro_session(slot).unwrap();
    assert!(
        s.find_objects(std::slice::from_ref(&label)).unwrap().len() == 1,
        "without a login only the public half shows"
    );
    s.login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    let found = s.find_objects(&[label]).unwrap();
    assert_eq!(found.len(), 2, "both halves are back");
    let private = s
        .find_objects(&[
            Attribute::Id(vec![42]),
            Attribute::Class(ObjectClass::PRIVATE_KEY),
        ])
        .unwrap();
    assert_eq!(private.len(), 1);
}
