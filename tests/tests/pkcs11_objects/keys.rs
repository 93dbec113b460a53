//! The `pkcs11_objects` suite: keys. Generated pairs and secret keys and their attributes,
//! imports, copies, the bad inputs of generation and creation, destruction, digesting keys.

use super::*;

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
