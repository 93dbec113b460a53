//! The `pkcs11_objects` suite: changing attributes by the spec's rules; certificates
//! and data objects.

use super::*;

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
    let cert_der = include_bytes!("../data/selfsigned.der").to_vec();
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
