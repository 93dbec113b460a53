//! libmhsm_pkcs11.so through the `cryptoki` crate: objects. Key generation (token and
//! session), the attributes a key shows, searching, changing attributes by the spec's rules,
//! certificates and data objects, imports, copies, destruction, and the bad inputs.
//!
//! One module instance for the whole process over a fresh data directory; tests run in
//! parallel, each on its own pool.

mod pkcs11_common;

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

#[test]
fn generated_pairs_and_secret_keys_show_the_right_attributes() {
    let s = rw("gen");
    ec_pair_attributes(&s);
    rsa_pair_attributes(&s);
    aes_key_attributes(&s);
    session_keys_live_with_their_session(&s);
}

/// A generated EC pair: class, type, parameters, point, shared id, flags; no private value.
fn ec_pair_attributes(s: &Session) {
    let (public, private) = ec_pair(s, "ec-key", true);
    assert_eq!(
        get(s, private, AttributeType::Class),
        Attribute::Class(ObjectClass::PRIVATE_KEY)
    );
    assert_eq!(
        get(s, public, AttributeType::Class),
        Attribute::Class(ObjectClass::PUBLIC_KEY)
    );
    assert_eq!(
        get(s, private, AttributeType::KeyType),
        Attribute::KeyType(KeyType::EC)
    );
    assert_eq!(bytes(s, public, AttributeType::EcParams), P256);
    let point = bytes(s, public, AttributeType::EcPoint);
    assert_eq!(
        &point[..3],
        &[0x04, 65, 0x04],
        "a DER OCTET STRING of an uncompressed point"
    );
    assert!(
        p256::PublicKey::from_sec1_bytes(&point[2..]).is_ok(),
        "a point on the curve"
    );
    assert_eq!(
        bytes(s, private, AttributeType::Id),
        bytes(s, public, AttributeType::Id)
    );
    assert!(!bytes(s, private, AttributeType::Id).is_empty());
    assert_eq!(bytes(s, private, AttributeType::Label), b"ec-key");
    for (t, v) in [
        (AttributeType::Sensitive, true),
        (AttributeType::Extractable, false),
        (AttributeType::AlwaysSensitive, true),
        (AttributeType::NeverExtractable, true),
        (AttributeType::Local, true),
        (AttributeType::Token, true),
        (AttributeType::Private, true),
        (AttributeType::Sign, true),
        (AttributeType::Decrypt, false),
    ] {
        assert_eq!(flag(s, private, t), v, "{t:?}");
    }
    assert!(!flag(s, public, AttributeType::Private));
    assert_eq!(
        get(s, private, AttributeType::KeyGenMechanism),
        Attribute::KeyGenMechanism(cryptoki::mechanism::MechanismType::ECC_KEY_PAIR_GEN)
    );
    // The private value is never revealed.
    assert_eq!(
        raw_get(s, private.handle(), CKA_VALUE),
        Err(CKR_ATTRIBUTE_SENSITIVE)
    );
}

/// A generated RSA pair: modulus, exponent, the private template's id, usages, SPKI.
fn rsa_pair_attributes(s: &Session) {
    let (rsa_pub, rsa_priv) = s
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::Label(b"rsa-key".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Label(b"rsa-key".to_vec()),
                Attribute::Id(vec![1, 2, 3]),
            ],
        )
        .unwrap();
    assert_eq!(bytes(s, rsa_pub, AttributeType::Modulus).len(), 256);
    assert_eq!(bytes(s, rsa_pub, AttributeType::PublicExponent), [1, 0, 1]);
    assert_eq!(
        bytes(s, rsa_pub, AttributeType::Id),
        [1, 2, 3],
        "the private template's id is shared"
    );
    assert!(flag(s, rsa_priv, AttributeType::Decrypt) && flag(s, rsa_pub, AttributeType::Encrypt));
    let spki = bytes(s, rsa_pub, AttributeType::PublicKeyInfo);
    assert_eq!(spki[0], 0x30);
}

/// A generated AES key.
fn aes_key_attributes(s: &Session) {
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(b"aes-key".to_vec()),
            ],
        )
        .unwrap();
    assert_eq!(
        get(s, aes, AttributeType::Class),
        Attribute::Class(ObjectClass::SECRET_KEY)
    );
    assert_eq!(
        get(s, aes, AttributeType::ValueLen),
        Attribute::ValueLen(32.into())
    );
    assert!(flag(s, aes, AttributeType::Encrypt) && flag(s, aes, AttributeType::Wrap));
}

/// A non-sensitive, extractable session key reveals its value and dies with its session; the pool keys stay.
fn session_keys_live_with_their_session(s: &Session) {
    // A non-sensitive, extractable session key reveals its value; it dies with its session.
    let s2 = rw("gen");
    let clear = s2
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    assert_eq!(bytes(&s2, clear, AttributeType::Value).len(), 16);
    assert!(!flag(&s2, clear, AttributeType::AlwaysSensitive));
    assert!(!flag(&s2, clear, AttributeType::Token));
    assert_eq!(
        s.find_objects(&[Attribute::Token(false)]).unwrap(),
        [clear],
        "seen from another session"
    );
    drop(s2);
    assert!(
        s.find_objects(&[Attribute::Token(false)])
            .unwrap()
            .is_empty(),
        "gone with its session"
    );
    assert_eq!(
        rv(s.get_attributes(clear, &[AttributeType::Class])),
        RvError::ObjectHandleInvalid
    );
    // The pool keys are all there: 2 + 2 + 1 objects.
    assert_eq!(s.find_objects(&[]).unwrap().len(), 5);
}

#[test]
fn searches_answer_any_template() {
    let s = rw("find");
    for i in 0..20 {
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(16.into()),
                Attribute::Label(format!("k{i}").into_bytes()),
                Attribute::Id(vec![i % 3]),
            ],
        )
        .unwrap();
    }
    let (_, private) = ec_pair(&s, "pair", true);
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"k7".to_vec())])
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.find_objects(&[Attribute::Id(vec![0])]).unwrap().len(), 7);
    assert_eq!(
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"pair".to_vec())])
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.find_objects(&[
            Attribute::Label(b"pair".to_vec()),
            Attribute::Class(ObjectClass::PRIVATE_KEY)
        ])
        .unwrap(),
        [private]
    );
    assert!(
        s.find_objects(&[Attribute::Label(b"nope".to_vec())])
            .unwrap()
            .is_empty()
    );
    // A search interleaved with attribute reads, in small batches.
    let mut seen = 0;
    for h in s
        .iter_objects_with_cache_size(
            &[Attribute::Class(ObjectClass::SECRET_KEY)],
            3.try_into().unwrap(),
        )
        .unwrap()
    {
        let h = h.unwrap();
        assert!(bytes(&s, h, AttributeType::Label).starts_with(b"k"));
        seen += 1;
    }
    assert_eq!(seen, 20);
    // Raw: an operation at a time, and C_FindObjects without an operation.
    let f = table();
    let h = s.handle();
    unsafe {
        assert_eq!(
            f.C_FindObjectsInit.unwrap()(h, std::ptr::null_mut(), 0),
            CKR_OK
        );
        assert_eq!(
            f.C_FindObjectsInit.unwrap()(h, std::ptr::null_mut(), 0),
            CKR_OPERATION_ACTIVE
        );
        let mut out = [0 as CK_OBJECT_HANDLE; 100];
        let mut n: CK_ULONG = 0;
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, &mut n),
            CKR_OK
        );
        assert_eq!(n, 22);
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, &mut n),
            CKR_OK
        );
        assert_eq!(n, 0);
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, std::ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(f.C_FindObjectsFinal.unwrap()(h), CKR_OK);
        assert_eq!(
            f.C_FindObjectsFinal.unwrap()(h),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, &mut n),
            CKR_OPERATION_NOT_INITIALIZED
        );
    }
}

#[test]
fn attributes_change_by_the_rules() {
    let s = rw("attrs");
    let (public, private) = ec_pair(&s, "nss", true);
    // NSS sets CKA_ID after generation: both halves follow.
    s.update_attributes(private, &[Attribute::Id(vec![0xAB; 20])])
        .unwrap();
    assert_eq!(bytes(&s, public, AttributeType::Id), vec![0xAB; 20]);
    assert_eq!(
        s.find_objects(&[Attribute::Id(vec![0xAB; 20])])
            .unwrap()
            .len(),
        2
    );
    s.update_attributes(private, &[Attribute::Subject(b"CN=x".to_vec())])
        .unwrap();
    assert_eq!(bytes(&s, private, AttributeType::Subject), b"CN=x");
    // Usage attributes change the key's operations.
    s.update_attributes(private, &[Attribute::Sign(false)])
        .unwrap();
    assert!(!flag(&s, private, AttributeType::Sign));
    assert!(
        flag(&s, public, AttributeType::Verify),
        "the other operations stay"
    );
    s.update_attributes(private, &[Attribute::Sign(true)])
        .unwrap();
    // One-way and read-only attributes.
    assert_eq!(
        rv(s.update_attributes(private, &[Attribute::Sensitive(false)])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(private, &[Attribute::Extractable(true)])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(private, &[Attribute::Label(b"other".to_vec())])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(private, &[Attribute::KeyType(KeyType::RSA)])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(public, &[Attribute::Modulus(vec![1])])),
        RvError::AttributeTypeInvalid
    );
    assert_eq!(
        rv(s.update_attributes(private, &[Attribute::Encrypt(true)])),
        RvError::AttributeTypeInvalid
    );
    // A read-only session cannot change token objects.
    let ro = ctx().open_ro_session(slot_of("attrs")).unwrap();
    assert_eq!(
        rv(ro.update_attributes(private, &[Attribute::Id(vec![1])])),
        RvError::SessionReadOnly
    );
    // The same label may not be generated twice on the token.
    assert_eq!(
        rv(s.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(true), Attribute::EcParams(P256.to_vec())],
            &[Attribute::Token(true), Attribute::Label(b"nss".to_vec())],
        )),
        RvError::AttributeValueInvalid
    );
}

#[test]
fn certificates_and_data_objects_live_in_the_pool() {
    let s = rw("docs");
    let cert_der = include_bytes!("data/selfsigned.der").to_vec();
    let cert = s
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Value(cert_der.clone()),
            Attribute::Subject(b"subject".to_vec()),
            Attribute::Id(vec![9]),
            Attribute::Label(b"my-cert".to_vec()),
        ])
        .unwrap();
    assert_eq!(bytes(&s, cert, AttributeType::Value), cert_der);
    let data = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Application(b"app".to_vec()),
            Attribute::Value(b"hello".to_vec()),
            Attribute::Label(b"blob".to_vec()),
        ])
        .unwrap();
    assert_eq!(
        s.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
            .unwrap(),
        [cert]
    );
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"blob".to_vec())])
            .unwrap(),
        [data]
    );
    s.update_attributes(data, &[Attribute::Value(b"changed".to_vec())])
        .unwrap_err();
    s.update_attributes(data, &[Attribute::Label(b"blob2".to_vec())])
        .unwrap();
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"blob2".to_vec())])
            .unwrap(),
        [data]
    );

    // The raw two-call convention, attribute by attribute.
    let f = table();
    unsafe {
        let mut value = [0u8; 4];
        let mut template = [
            CK_ATTRIBUTE {
                type_: CKA_VALUE,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: value.as_mut_ptr().cast(),
                ulValueLen: 2,
            },
            CK_ATTRIBUTE {
                type_: CKA_MODULUS,
                pValue: std::ptr::null_mut(),
                ulValueLen: 0,
            },
        ];
        let r = f.C_GetAttributeValue.unwrap()(s.handle(), cert.handle(), template.as_mut_ptr(), 3);
        assert!(
            r == CKR_BUFFER_TOO_SMALL || r == CKR_ATTRIBUTE_TYPE_INVALID,
            "{r:#x}"
        );
        assert_eq!(
            template[0].ulValueLen as usize,
            cert_der.len(),
            "the length of the value"
        );
        assert_eq!(
            template[1].ulValueLen, CK_UNAVAILABLE_INFORMATION,
            "too short"
        );
        assert_eq!(
            template[2].ulValueLen, CK_UNAVAILABLE_INFORMATION,
            "no such attribute"
        );
        template[1].ulValueLen = 4;
        let r = f.C_GetAttributeValue.unwrap()(
            s.handle(),
            cert.handle(),
            template[1..2].as_mut_ptr(),
            1,
        );
        assert_eq!(r, CKR_BUFFER_TOO_SMALL, "my-cert is 7 bytes");
        assert_eq!(
            f.C_GetAttributeValue.unwrap()(s.handle(), cert.handle(), std::ptr::null_mut(), 1),
            CKR_ARGUMENTS_BAD
        );
    }
    s.destroy_object(data).unwrap();
    assert!(
        s.find_objects(&[Attribute::Class(ObjectClass::DATA)])
            .unwrap()
            .is_empty()
    );
    assert_eq!(rv(s.destroy_object(data)), RvError::ObjectHandleInvalid);
}

#[test]
fn keys_import_and_match_their_public_half() {
    let s = rw("imports");
    let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let point = secret.public_key().to_sec1_bytes();
    let private = s
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::Label(b"imported".to_vec()),
            Attribute::EcParams(P256.to_vec()),
            Attribute::Value(vec![7u8; 32]),
            Attribute::Sign(true),
        ])
        .unwrap();
    assert!(!flag(&s, private, AttributeType::Local));
    assert!(!flag(&s, private, AttributeType::AlwaysSensitive));
    let public = s
        .find_objects(&[
            Attribute::Label(b"imported".to_vec()),
            Attribute::Class(ObjectClass::PUBLIC_KEY),
        ])
        .unwrap();
    assert_eq!(public.len(), 1);
    assert_eq!(
        &bytes(&s, public[0], AttributeType::EcPoint)[2..],
        &point[..]
    );
    let aes = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![1u8; 24]),
            Attribute::Extractable(true),
            Attribute::Sensitive(false),
        ])
        .unwrap();
    assert_eq!(bytes(&s, aes, AttributeType::Value), vec![1u8; 24]);
    // A public key object on its own.
    let pk = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::EcParams(P256.to_vec()),
            Attribute::EcPoint(point.to_vec()),
            Attribute::Label(b"raw-point".to_vec()),
        ])
        .unwrap();
    assert_eq!(
        bytes(&s, pk, AttributeType::EcPoint)[..2],
        [0x04, 65],
        "stored as DER"
    );
    // Bad material.
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![1u8; 17]),
        ])),
        RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Value(vec![1; 32])
        ])),
        RvError::TemplateIncomplete
    );
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256.to_vec()),
            Attribute::EcPoint(vec![4; 65]),
        ])),
        RvError::AttributeValueInvalid,
        "not a point on the curve"
    );
}

#[test]
fn copies_of_pool_keys_are_session_objects() {
    let s = rw("copies");
    let (_, private) = ec_pair(&s, "orig", true);
    let copy = s
        .copy_object(private, &[Attribute::Token(false), Attribute::Id(vec![5])])
        .unwrap();
    assert!(!flag(&s, copy, AttributeType::Token));
    assert_eq!(bytes(&s, copy, AttributeType::Id), [5]);
    assert_eq!(bytes(&s, copy, AttributeType::Label), b"orig");
    assert_ne!(
        bytes(&s, private, AttributeType::Id),
        [5],
        "the original keeps its own"
    );
    assert_eq!(
        rv(s.copy_object(private, &[Attribute::Token(true)])),
        RvError::TemplateInconsistent
    );
    assert_eq!(
        rv(s.copy_object(private, &[Attribute::KeyType(KeyType::AES)])),
        RvError::AttributeReadOnly
    );
}

#[test]
fn bad_inputs_get_their_codes() {
    let s = rw("bad");
    assert_eq!(
        raw_get(&s, 0xdead_beef, CKA_CLASS),
        Err(CKR_OBJECT_HANDLE_INVALID)
    );
    assert_eq!(
        unsafe { table().C_DestroyObject.unwrap()(s.handle(), 0xdead_beef) },
        CKR_OBJECT_HANDLE_INVALID
    );
    bad_key_generation_templates(&s);
    bad_object_creation(&s);
}

/// Key generation: curves, sizes, incomplete or inconsistent templates, attributes only the token sets, bad names.
fn bad_key_generation_templates(s: &Session) {
    let ec = |params: Vec<u8>| {
        s.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(params)],
            &[],
        )
    };
    assert_eq!(
        rv(ec(vec![0x06, 0x03, 0x2b, 0x65, 0x70])),
        RvError::CurveNotSupported
    );
    assert_eq!(
        rv(s.generate_key_pair(&Mechanism::EccKeyPairGen, &[], &[])),
        RvError::TemplateIncomplete
    );
    let rsa = |bits: u64| {
        s.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[Attribute::ModulusBits(bits.into())],
            &[],
        )
    };
    assert_eq!(rv(rsa(1024)), RvError::KeySizeRange);
    assert_eq!(
        rv(s.generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(20.into())])),
        RvError::KeySizeRange
    );
    assert_eq!(
        rv(s.generate_key(&Mechanism::AesKeyGen, &[])),
        RvError::TemplateIncomplete
    );
    assert_eq!(
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Class(ObjectClass::PUBLIC_KEY)
            ]
        )),
        RvError::TemplateInconsistent
    );
    assert_eq!(
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Modulus(vec![1])]
        )),
        RvError::AttributeTypeInvalid
    );
    assert_eq!(
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Local(true)]
        )),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.generate_key(&Mechanism::Sha256, &[Attribute::ValueLen(16.into())])),
        RvError::MechanismInvalid
    );
    assert_eq!(
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Token(true),
                Attribute::Label(b"bad name!".to_vec())
            ]
        )),
        RvError::AttributeValueInvalid
    );
}

/// Read-only sessions, incomplete templates, NULL templates, handles that do not exist.
fn bad_object_creation(s: &Session) {
    let ro = ctx().open_ro_session(slot_of("bad")).unwrap();
    assert_eq!(
        rv(ro.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Token(true)]
        )),
        RvError::SessionReadOnly
    );
    assert_eq!(
        rv(ro.create_object(&[Attribute::Class(ObjectClass::DATA), Attribute::Token(true)])),
        RvError::SessionReadOnly
    );
    assert_eq!(
        rv(s.create_object(&[Attribute::Token(true)])),
        RvError::TemplateIncomplete
    );
    let f = table();
    unsafe {
        let mut h: CK_OBJECT_HANDLE = 0;
        assert_eq!(
            f.C_CreateObject.unwrap()(s.handle(), std::ptr::null_mut(), 1, &mut h),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            f.C_GenerateKey.unwrap()(
                s.handle(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
                &mut h
            ),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            f.C_GetObjectSize.unwrap()(s.handle(), 0xdead, &mut 0),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(
            f.C_FindObjectsInit.unwrap()(0xdead_0000, std::ptr::null_mut(), 0),
            CKR_SESSION_HANDLE_INVALID
        );
    }
}

#[test]
fn destroying_keys() {
    let s = rw("destroy");
    let (public, private) = ec_pair(&s, "doomed", true);
    // The public half alone: hidden, the private key stays.
    s.destroy_object(public).unwrap();
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"doomed".to_vec())])
            .unwrap(),
        [private]
    );
    assert_eq!(
        rv(s.get_attributes(public, &[AttributeType::Class])),
        RvError::ObjectHandleInvalid
    );
    // The private key: soft-deleted in the pool (the recovery through the core is in
    // pkcs11_lifecycle.rs, where the module can let go of the directory).
    s.destroy_object(private).unwrap();
    assert!(
        s.find_objects(&[Attribute::Label(b"doomed".to_vec())])
            .unwrap()
            .is_empty()
    );
    let ro = ctx().open_ro_session(slot_of("destroy")).unwrap();
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Token(true),
                Attribute::Destroyable(false),
            ],
        )
        .unwrap();
    assert_eq!(rv(ro.destroy_object(aes)), RvError::SessionReadOnly);
    assert_eq!(rv(s.destroy_object(aes)), RvError::ActionProhibited);
}

#[test]
fn only_keys_that_may_leave_can_be_digested() {
    use sha2::Digest as _;
    let s = rw("docs");
    let open = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![3u8; 16]),
            Attribute::Extractable(true),
            Attribute::Sensitive(false),
        ])
        .unwrap();
    let closed = s
        .generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(16.into())])
        .unwrap();
    let f = table();
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    unsafe {
        let h = s.handle();
        assert_eq!(
            f.C_DigestKey.unwrap()(h, open.handle()),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(f.C_DigestInit.unwrap()(h, &mut m), CKR_OK);
        assert_eq!(
            f.C_DigestUpdate.unwrap()(h, b"ab".as_ptr() as *mut u8, 2),
            CKR_OK
        );
        assert_eq!(f.C_DigestKey.unwrap()(h, open.handle()), CKR_OK);
        let mut out = [0u8; 32];
        let mut len: CK_ULONG = 32;
        assert_eq!(
            f.C_DigestFinal.unwrap()(h, out.as_mut_ptr(), &mut len),
            CKR_OK
        );
        let expected = sha2::Sha256::digest([&b"ab"[..], &[3u8; 16]].concat());
        assert_eq!(out[..], expected[..]);
        assert_eq!(f.C_DigestInit.unwrap()(h, &mut m), CKR_OK);
        assert_eq!(
            f.C_DigestKey.unwrap()(h, closed.handle()),
            CKR_KEY_INDIGESTIBLE
        );
        assert_eq!(
            f.C_DigestFinal.unwrap()(h, out.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED,
            "the error ended it"
        );
        assert_eq!(f.C_DigestInit.unwrap()(h, &mut m), CKR_OK);
        assert_eq!(
            f.C_DigestKey.unwrap()(h, 0xdead_beef),
            CKR_KEY_HANDLE_INVALID
        );
    }
}

/// The search index follows each change as it happens (the pool's change list, not a
/// rebuild): after every creation or destruction, searches by label and by class answer
/// exactly what a model of the pool holds, and destroyed handles stop resolving.
#[test]
fn searches_follow_every_change() {
    use std::collections::BTreeMap;
    let s = rw("churn");
    let secret = |label: &str| {
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(label.as_bytes().to_vec()),
            ],
        )
        .unwrap()
    };
    let data = |label: &str| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(vec![1, 2, 3]),
        ])
        .unwrap()
    };
    let find = |template: &[Attribute]| {
        let mut found = s.find_objects(template).unwrap();
        found.sort_by_key(|h| h.handle());
        found
    };
    // label → (class, handle), in creation order.
    let mut model: BTreeMap<String, (ObjectClass, ObjectHandle)> = BTreeMap::new();
    let check = |model: &BTreeMap<String, (ObjectClass, ObjectHandle)>| {
        for class in [ObjectClass::SECRET_KEY, ObjectClass::DATA] {
            let mut want: Vec<ObjectHandle> = model
                .values()
                .filter(|(c, _)| *c == class)
                .map(|(_, h)| *h)
                .collect();
            want.sort_by_key(|h| h.handle());
            assert_eq!(find(&[Attribute::Class(class)]), want, "{class:?}");
        }
        for (label, (_, h)) in model {
            assert_eq!(
                find(&[Attribute::Label(label.as_bytes().to_vec())]),
                vec![*h],
                "{label}"
            );
        }
    };
    for i in 0..24 {
        let key_label = format!("k{i}");
        model.insert(
            key_label.clone(),
            (ObjectClass::SECRET_KEY, secret(&key_label)),
        );
        let doc_label = format!("d{i}");
        model.insert(doc_label.clone(), (ObjectClass::DATA, data(&doc_label)));
        if i % 3 == 2 {
            // Destroy one older key and one older data object.
            for gone in [format!("k{}", i - 2), format!("d{}", i - 1)] {
                let (_, h) = model.remove(&gone).unwrap();
                s.destroy_object(h).unwrap();
                assert_eq!(
                    rv(s.get_attributes(h, &[AttributeType::Label])),
                    RvError::ObjectHandleInvalid
                );
                assert!(
                    find(&[Attribute::Label(gone.as_bytes().to_vec())]).is_empty(),
                    "{gone}"
                );
            }
        }
        check(&model);
    }
    // A label used again (a data object's; a destroyed key's name stays taken while it is
    // soft-deleted) names the new object only.
    assert!(!model.contains_key("d1"));
    let again = data("d1");
    assert_eq!(find(&[Attribute::Label(b"d1".to_vec())]), vec![again]);
}
