//! The `pkcs11_crypto` suite: wrapping and derivation (RFC 3394, ECDH, what may not leave,
//! the errors of wrapping).

use super::*;

#[test]
fn wrapping_matches_rfc_3394_and_round_trips() {
    let s = session();
    let kek = key(&s, "kat-kek", ObjectClass::SECRET_KEY);
    let data_key = key(&s, "kat-keydata", ObjectClass::SECRET_KEY);
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, data_key).unwrap();
    assert_eq!(
        hex::encode(&wrapped),
        "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"
    );
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ];
    let unwrapped = s
        .unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &template)
        .unwrap();
    let block = [0x42u8; 16];
    assert_eq!(
        s.encrypt(&Mechanism::AesEcb, unwrapped, &block).unwrap(),
        s.encrypt(&Mechanism::AesEcb, data_key, &block).unwrap(),
        "the same key"
    );
    assert_eq!(
        s.get_attributes(unwrapped, &[AttributeType::Local])
            .unwrap(),
        [Attribute::Local(false)]
    );

    // RFC 5649 (under both names) and RSA-OAEP, of session keys.
    let wrapping = aes(&s, 32, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let target = aes(
        &s,
        24,
        &[
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ],
    );
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let rsa_private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let reference = s.encrypt(&Mechanism::AesEcb, target, &block).unwrap();
    let wrappers: [(Mechanism, ObjectHandle, ObjectHandle, usize); 2] = [
        (Mechanism::AesKeyWrapPad, wrapping, wrapping, 32),
        (
            Mechanism::RsaPkcsOaep(oaep_sha256()),
            rsa_public,
            rsa_private,
            256,
        ),
    ];
    for (mechanism, wrap_with, unwrap_with, len) in wrappers {
        let wrapped = s.wrap_key(&mechanism, wrap_with, target).unwrap();
        assert_eq!(wrapped.len(), len, "{mechanism:?}");
        let back = s
            .unwrap_key(&mechanism, unwrap_with, &wrapped, &template)
            .unwrap();
        assert_eq!(
            s.encrypt(&Mechanism::AesEcb, back, &block).unwrap(),
            reference,
            "{mechanism:?}"
        );
    }
    // CKM_AES_KEY_WRAP_KWP (the 3.0 name) wraps alike, through a raw call.
    let mut m = raw_mechanism::<()>(CKM_AES_KEY_WRAP_KWP, &());
    m.pParameter = std::ptr::null_mut();
    m.ulParameterLen = 0;
    let kwp = raw_wrap(&s, &mut m, wrapping, target).unwrap();
    assert_eq!(
        kwp,
        s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, target)
            .unwrap()
    );

    // A private key leaves as PKCS#8 and comes back able to sign for its public key.
    let (ec, ec_public) = ec_pair(&s, &[Attribute::Extractable(true)]);
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, ec).unwrap();
    let back = s
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            wrapping,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(false),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    let sig = s.sign(&Mechanism::EcdsaSha256, back, b"m").unwrap();
    s.verify(&Mechanism::EcdsaSha256, ec_public, b"m", &sig)
        .unwrap();
}

#[test]
fn ecdh_derives_the_shared_secret() {
    let s = session();
    let (private, public) = ec_pair(&s, &[Attribute::Derive(true)]);
    let our_point = bytes(&s, public, AttributeType::EcPoint);
    let peer = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
    let peer_point = peer.public_key().to_sec1_bytes().to_vec();
    let ours = p256::PublicKey::from_sec1_bytes(&our_point[2..]).unwrap();
    let shared = p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), ours.as_affine());
    let shared = shared.raw_secret_bytes().to_vec();

    let readable = |len: Option<u64>, key_type: KeyType| {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
        ];
        if let Some(len) = len {
            t.push(Attribute::ValueLen(len.into()));
        }
        t
    };
    // The peer's point raw, and as a DER OCTET STRING.
    let der_point = [&[0x04, 65][..], &peer_point].concat();
    for point in [&peer_point, &der_point] {
        let params = Ecdh1DeriveParams::new(EcKdf::null(), point);
        let derived = s
            .derive_key(
                &Mechanism::Ecdh1Derive(params),
                private,
                &readable(None, KeyType::AES),
            )
            .unwrap();
        assert_eq!(bytes(&s, derived, AttributeType::Value), shared);
    }
    // CKA_VALUE_LEN takes the leftmost bytes; a generic secret by default.
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    let derived = s
        .derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &readable(Some(16), KeyType::AES),
        )
        .unwrap();
    assert_eq!(bytes(&s, derived, AttributeType::Value), shared[..16]);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    let derived = s
        .derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &[Attribute::Token(false), Attribute::Sign(true)],
        )
        .unwrap();
    assert_eq!(
        s.get_attributes(derived, &[AttributeType::KeyType])
            .unwrap(),
        [Attribute::KeyType(KeyType::GENERIC_SECRET)]
    );

    // Refusals.
    let params = Ecdh1DeriveParams::new(EcKdf::sha256(b""), &peer_point);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), private, &[])),
        RvError::MechanismParamInvalid,
        "only CKD_NULL"
    );
    let mut off_curve = peer_point.clone();
    off_curve[40] ^= 1;
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &off_curve);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), private, &[])),
        RvError::MechanismParamInvalid
    );
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    assert_eq!(
        rv(s.derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &readable(Some(33), KeyType::AES)
        )),
        RvError::KeySizeRange
    );
    let (no_derive, _) = ec_pair(&s, &[Attribute::Derive(false)]);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), no_derive, &[])),
        RvError::KeyFunctionNotPermitted
    );
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), rsa, &[])),
        RvError::KeyTypeInconsistent,
        "an RSA key cannot do ECDH (the type is checked before the usage attribute)"
    );
}

#[test]
fn what_may_not_leave_does_not_leave() {
    let s = session();
    let wrapping = aes(&s, 32, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    // Not extractable (the default), and sensitive: neither wrapped nor read.
    let locked = aes(&s, 16, &[Attribute::Encrypt(true)]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, locked)),
        RvError::KeyUnextractable
    );
    let mut value = CK_ATTRIBUTE {
        type_: CKA_VALUE,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    // SAFETY: one attribute, asking for its length.
    let code = unsafe { raw().C_GetAttributeValue(s.handle(), locked.handle(), &mut value, 1) };
    assert_eq!(code, CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(value.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    let (ec, ec_public) = ec_pair(&s, &[]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, ec)),
        RvError::KeyUnextractable
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, ec_public)),
        RvError::KeyNotWrappable
    );
    // CKA_WRAP_WITH_TRUSTED: only a CKA_TRUSTED wrapping key may wrap it.
    let guarded = key(&s, "guarded", ObjectClass::SECRET_KEY);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, guarded)),
        RvError::KeyNotWrappable
    );
    let trusted = key(&s, "trusted-kek", ObjectClass::SECRET_KEY);
    let wrapped = s
        .wrap_key(&Mechanism::AesKeyWrap, trusted, guarded)
        .unwrap();
    assert_eq!(wrapped.len(), 24);
    // A wrapping key without CKA_WRAP.
    let no_wrap = aes(&s, 32, &[Attribute::Wrap(false), Attribute::Encrypt(true)]);
    let extractable = aes(&s, 16, &[Attribute::Extractable(true)]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, no_wrap, extractable)),
        RvError::KeyFunctionNotPermitted
    );
    s.wrap_key(&Mechanism::AesKeyWrap, wrapping, extractable)
        .unwrap();
}

#[test]
fn wrapping_errors() {
    let s = session();
    let wrapping = aes(&s, 32, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let target = aes(&s, 16, &[Attribute::Extractable(true)]);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let rsa_private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
    ];
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, rsa_public, target)),
        RvError::WrappingKeyTypeInconsistent
    );
    assert_eq!(
        rv(s.wrap_key(
            &Mechanism::AesKeyWrap,
            unsafe { ObjectHandle::new_from_raw(0xdead) },
            target
        )),
        RvError::WrappingKeyHandleInvalid
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, unsafe {
            ObjectHandle::new_from_raw(0xdead)
        })),
        RvError::KeyHandleInvalid
    );
    // An EC private key's PKCS#8 is not a multiple of 8 bytes: RFC 3394 cannot take it.
    let (ec, _) = ec_pair(&s, &[Attribute::Extractable(true)]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, ec)),
        RvError::KeySizeRange
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesEcb, wrapping, target)),
        RvError::MechanismInvalid
    );

    let wrapped = s
        .wrap_key(&Mechanism::AesKeyWrap, wrapping, target)
        .unwrap();
    let mut tampered = wrapped.clone();
    tampered[3] ^= 1;
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, wrapping, &tampered, &template)),
        RvError::WrappedKeyInvalid
    );
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, wrapping, &wrapped[..20], &template)),
        RvError::WrappedKeyLenRange
    );
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, wrapping, &wrapped, &template[1..])),
        RvError::TemplateIncomplete
    );
    assert_eq!(
        rv(s.unwrap_key(
            &Mechanism::AesKeyWrap,
            wrapping,
            &wrapped,
            &[&template[..], &[Attribute::ValueLen(32.into())]].concat()
        )),
        RvError::TemplateInconsistent
    );
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, rsa_private, &wrapped, &template)),
        RvError::UnwrappingKeyTypeInconsistent
    );
    assert_eq!(
        rv(s.unwrap_key(
            &Mechanism::AesKeyWrap,
            unsafe { ObjectHandle::new_from_raw(0xdead) },
            &wrapped,
            &template
        )),
        RvError::UnwrappingKeyHandleInvalid
    );
    let no_unwrap = aes(&s, 32, &[Attribute::Unwrap(false), Attribute::Wrap(true)]);
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, no_unwrap, &wrapped, &template)),
        RvError::KeyFunctionNotPermitted
    );
    // A wrapped AES key is no PKCS#8.
    assert_eq!(
        rv(s.unwrap_key(
            &Mechanism::AesKeyWrap,
            wrapping,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(false),
            ]
        )),
        RvError::WrappedKeyInvalid
    );
    // A non-default RFC 3394 IV.
    let mut m = raw_mechanism(CKM_AES_KEY_WRAP, &[1u8; 8]);
    assert_eq!(
        raw_wrap(&s, &mut m, wrapping, target),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}
