//! The `pkcs11_crypto` suite: the errors of the sign and cipher functions, at
//! initialization and during an operation; always-authenticate keys.

use super::*;

#[test]
fn initialization_errors() {
    let s = session();
    let (ec, ec_public) = ec_pair(&s, &[]);
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let secret = aes(
        &s,
        32,
        &[
            Attribute::Encrypt(true),
            Attribute::Sign(false),
            Attribute::Decrypt(false),
        ],
    );
    let generic = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    let k = InitKeys {
        ec,
        ec_public,
        rsa,
        rsa_public,
        secret,
        generic,
    };
    wrong_key_types_at_init(&s, &k);
    usage_flags_at_init(&s, &k);
    bad_mechanisms_at_init(&s, &k);
    bad_raw_mechanisms_at_init(&s, &k);
    one_operation_of_a_kind(&s, ec);
}

/// The keys [`initialization_errors`] tries.
#[derive(Clone, Copy)]
struct InitKeys {
    ec: ObjectHandle,
    ec_public: ObjectHandle,
    rsa: ObjectHandle,
    rsa_public: ObjectHandle,
    /// AES, encrypt only.
    secret: ObjectHandle,
    /// A generic secret, encrypt only.
    generic: ObjectHandle,
}

/// Wrong key type for the mechanism.
fn wrong_key_types_at_init(s: &Session, k: &InitKeys) {
    let InitKeys {
        ec,
        rsa,
        rsa_public,
        secret,
        generic,
        ..
    } = *k;
    for (mechanism, k) in [
        (Mechanism::Ecdsa, rsa),
        (Mechanism::Sha256RsaPkcs, ec),
        (Mechanism::Sha256Hmac, ec),
        (Mechanism::AesCMac, generic),
    ] {
        assert_eq!(
            rv(s.sign_init(&mechanism, k)),
            RvError::KeyTypeInconsistent,
            "{mechanism:?}"
        );
    }
    for (mechanism, k) in [
        (Mechanism::AesEcb, rsa_public),
        (Mechanism::RsaPkcs, secret),
        (Mechanism::AesCbc([0; 16]), generic),
    ] {
        assert_eq!(
            rv(s.encrypt_init(&mechanism, k)),
            RvError::KeyTypeInconsistent,
            "{mechanism:?}"
        );
    }
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::RsaPkcs, secret)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.verify_init(&Mechanism::EcdsaSha256, rsa_public)),
        RvError::KeyTypeInconsistent
    );
}

/// Usage flags.
fn usage_flags_at_init(s: &Session, k: &InitKeys) {
    let InitKeys {
        ec_public,
        rsa,
        secret,
        ..
    } = *k;
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256Hmac, secret)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.decrypt_init(&Mechanism::AesEcb, secret)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, ec_public)),
        RvError::KeyFunctionNotPermitted,
        "a public key does not sign"
    );
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::RsaPkcs, rsa)),
        RvError::KeyFunctionNotPermitted,
        "a private key does not encrypt"
    );
    let (no_sign, _) = ec_pair(s, &[Attribute::Sign(false)]);
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, no_sign)),
        RvError::KeyFunctionNotPermitted
    );
}

/// Mechanisms and their parameters.
fn bad_mechanisms_at_init(s: &Session, k: &InitKeys) {
    let InitKeys { rsa, secret, .. } = *k;
    assert_eq!(
        rv(s.sign_init(&Mechanism::AesEcb, secret)),
        RvError::MechanismInvalid
    );
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::Sha256, secret)),
        RvError::MechanismInvalid
    );
    let bad_pss = [
        // The hash of a hashing mechanism must be its parameters'.
        Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 32)),
        // MGF1 must use the message hash.
        Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA1, 32)),
        // A salt that cannot fit a 2048-bit key.
        Mechanism::RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 300)),
    ];
    for mechanism in bad_pss {
        assert_eq!(
            rv(s.sign_init(&mechanism, rsa)),
            RvError::MechanismParamInvalid,
            "{mechanism:?}"
        );
    }
    let mut nonce = [0u8; 12];
    let tag_bits_odd = Mechanism::AesGcm(GcmParams::new(&mut nonce, &[], 100.into()).unwrap());
    assert_eq!(
        rv(s.encrypt_init(&tag_bits_odd, secret)),
        RvError::MechanismParamInvalid
    );
    let mut nonce = [0u8; 12];
    let tag_too_short = Mechanism::AesGcm(GcmParams::new(&mut nonce, &[], 64.into()).unwrap());
    assert_eq!(
        rv(s.encrypt_init(&tag_too_short, secret)),
        RvError::MechanismParamInvalid
    );
    let mut long_nonce = [0u8; 16];
    let other_iv = Mechanism::AesGcm(GcmParams::new(&mut long_nonce, &[], 128.into()).unwrap());
    assert_eq!(
        rv(s.encrypt_init(&other_iv, secret)),
        RvError::MechanismParamInvalid
    );
}

/// Raw: a CBC IV of 8 bytes, CTR parameters of a wrong size, a NULL mechanism, an OAEP MGF
/// that does not exist, a counter width the core does not take.
fn bad_raw_mechanisms_at_init(s: &Session, k: &InitKeys) {
    let InitKeys {
        ec,
        rsa_public,
        secret,
        ..
    } = *k;
    let mut m = raw_mechanism(CKM_AES_CBC, &[0u8; 8]);
    assert_eq!(
        raw_encrypt_init(s, &mut m, secret),
        CKR_MECHANISM_PARAM_INVALID
    );
    let mut m = raw_mechanism(CKM_AES_CTR, &[0u8; 16]);
    assert_eq!(
        raw_encrypt_init(s, &mut m, secret),
        CKR_MECHANISM_PARAM_INVALID
    );
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 20,
        cb: [0; 16],
    };
    let mut m = raw_mechanism(CKM_AES_CTR, &ctr);
    assert_eq!(
        raw_encrypt_init(s, &mut m, secret),
        CKR_MECHANISM_PARAM_INVALID
    );
    let oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: 0x77,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: std::ptr::null_mut(),
        ulSourceDataLen: 0,
    };
    let mut m = raw_mechanism(CKM_RSA_PKCS_OAEP, &oaep);
    assert_eq!(
        raw_encrypt_init(s, &mut m, rsa_public),
        CKR_MECHANISM_PARAM_INVALID
    );
    // SAFETY: a NULL mechanism is what is being tested.
    let rv_null = unsafe { raw().C_SignInit(s.handle(), std::ptr::null_mut(), ec.handle()) };
    assert_eq!(rv_null, CKR_ARGUMENTS_BAD);
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, unsafe {
            ObjectHandle::new_from_raw(0xdead)
        })),
        RvError::KeyHandleInvalid
    );
}

/// One operation of a kind at a time; the first goes on.
fn one_operation_of_a_kind(s: &Session, ec: ObjectHandle) {
    s.sign_init(&Mechanism::EcdsaSha256, ec).unwrap();
    assert_eq!(
        rv(s.sign_init(&Mechanism::EcdsaSha256, ec)),
        RvError::OperationActive
    );
    s.sign_update(b"still running").unwrap();
    s.sign_final().unwrap();
    assert_eq!(rv(s.sign_final()), RvError::OperationNotInitialized);
    assert_eq!(rv(s.sign_update(b"x")), RvError::OperationNotInitialized);
    assert_eq!(
        rv(s.verify_final(&[0; 64])),
        RvError::OperationNotInitialized
    );
    assert_eq!(rv(s.encrypt_final()), RvError::OperationNotInitialized);
    assert_eq!(rv(s.decrypt_update(b"x")), RvError::OperationNotInitialized);
}

#[test]
fn operation_errors() {
    let s = session();
    let (ec, ec_public) = ec_pair(&s, &[]);
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let k = aes(
        &s,
        16,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    signing_errors(&s, (ec, ec_public), (rsa, rsa_public));
    length_and_ciphertext_errors(&s, ec, (rsa, rsa_public), k);
}

/// Single-part-only mechanisms, a single-part call after an update, bad signatures.
fn signing_errors(
    s: &Session,
    (ec, ec_public): (ObjectHandle, ObjectHandle),
    (rsa, rsa_public): (ObjectHandle, ObjectHandle),
) {
    // Single-part-only mechanisms refuse updates and final calls (as pkcs11-tool --test
    // expects), which ends them.
    s.sign_init(&Mechanism::Ecdsa, ec).unwrap();
    assert_eq!(rv(s.sign_update(b"part")), RvError::FunctionNotSupported);
    assert_eq!(
        rv(s.sign_final()),
        RvError::OperationNotInitialized,
        "ended"
    );
    s.sign_init(&Mechanism::RsaPkcs, rsa).unwrap();
    assert_eq!(rv(s.sign_update(b"part")), RvError::FunctionNotSupported);
    s.sign_init(&Mechanism::RsaPkcs, rsa).unwrap();
    assert_eq!(rv(s.sign_final()), RvError::FunctionNotSupported);
    s.verify_init(&Mechanism::Ecdsa, ec_public).unwrap();
    assert_eq!(rv(s.verify_update(b"part")), RvError::FunctionNotSupported);
    assert_eq!(
        rv(s.verify_final(&[0; 64])),
        RvError::OperationNotInitialized
    );

    // After an update, the single-part call is refused (and the operation ends).
    let sig_raw = |data: &[u8]| {
        let mut sig = [0u8; 64];
        let mut len = sig.len() as CK_ULONG;
        // SAFETY: valid buffers.
        unsafe {
            raw().C_Sign(
                s.handle(),
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut len,
            )
        }
    };
    s.sign_init(&Mechanism::EcdsaSha256, ec).unwrap();
    s.sign_update(b"part").unwrap();
    assert_eq!(sig_raw(b"more"), CKR_OPERATION_ACTIVE);

    // Verification.
    let sig = s.sign(&Mechanism::EcdsaSha256, ec, b"m").unwrap();
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, ec_public, b"other", &sig)),
        RvError::SignatureInvalid
    );
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, ec_public, b"m", &sig[..63])),
        RvError::SignatureLenRange
    );
    assert_eq!(
        rv(s.verify(
            &Mechanism::EcdsaSha256,
            ec_public,
            b"m",
            &[sig.clone(), vec![0]].concat()
        )),
        RvError::SignatureLenRange
    );
    let rsa_sig = s.sign(&Mechanism::Sha256RsaPkcs, rsa, b"m").unwrap();
    assert_eq!(
        rv(s.verify(&Mechanism::Sha256RsaPkcs, rsa_public, b"m", &rsa_sig[1..])),
        RvError::SignatureLenRange
    );
}

/// Input lengths, ciphertexts, padding; after an error the operation is over.
fn length_and_ciphertext_errors(
    s: &Session,
    ec: ObjectHandle,
    (rsa, rsa_public): (ObjectHandle, ObjectHandle),
    k: ObjectHandle,
) {
    // Input lengths.
    assert_eq!(
        rv(s.sign(&Mechanism::Ecdsa, ec, b"")),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.sign(&Mechanism::RsaPkcs, rsa, &[1u8; 246])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesEcb, k, &[0u8; 15])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesCbc([0; 16]), k, &[0u8; 17])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.encrypt(
            &Mechanism::RsaPkcsOaep(oaep_sha256()),
            rsa_public,
            &[0u8; 191]
        )),
        RvError::DataLenRange
    );
    // Ciphertext lengths and contents.
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbc([0; 16]), k, &[0u8; 15])),
        RvError::EncryptedDataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbcPad([0; 16]), k, &[])),
        RvError::EncryptedDataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::RsaPkcsOaep(oaep_sha256()), rsa, &[1u8; 255])),
        RvError::EncryptedDataLenRange
    );
    let ct = s
        .encrypt(&Mechanism::RsaPkcsOaep(oaep_sha256()), rsa_public, b"x")
        .unwrap();
    let mut bad = ct.clone();
    bad[100] ^= 1;
    assert_eq!(
        rv(s.decrypt(&Mechanism::RsaPkcsOaep(oaep_sha256()), rsa, &bad)),
        RvError::EncryptedDataInvalid
    );
    // Bad padding in the last CBC block.
    let ct = s
        .encrypt(&Mechanism::AesCbc([0; 16]), k, &[0x11u8; 32])
        .unwrap();
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbcPad([0; 16]), k, &ct)),
        RvError::EncryptedDataInvalid
    );
    let mut nonce = [5u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut nonce, b"", 128.into()).unwrap());
    assert_eq!(
        rv(s.decrypt(&gcm, k, &[0u8; 15])),
        RvError::EncryptedDataLenRange
    );
    // After an error the operation is over.
    s.decrypt_init(&Mechanism::AesCbc([0; 16]), k).unwrap();
    s.decrypt_update(&[0u8; 15]).unwrap();
    assert_eq!(rv(s.decrypt_final()), RvError::EncryptedDataLenRange);
    assert_eq!(rv(s.decrypt_final()), RvError::OperationNotInitialized);
}

#[test]
fn always_authenticate_keys_sign_after_a_context_login() {
    let s = session();
    let k = key(&s, "p256-auth", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "p256-auth", ObjectClass::PUBLIC_KEY);
    let point = bytes(&s, public, AttributeType::EcPoint);
    assert_eq!(
        s.get_attributes(k, &[AttributeType::AlwaysAuthenticate])
            .unwrap(),
        [Attribute::AlwaysAuthenticate(true)]
    );
    let login_exists = !matches!(
        s.login(UserType::User, Some(&AuthPin::new(PIN.into()))),
        Err(ref e) if rv_of(e) == RvError::FunctionNotSupported
    );
    // libp11's order: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign.
    s.sign_init(&Mechanism::EcdsaSha256, k).unwrap();
    if login_exists {
        s.login(UserType::ContextSpecific, Some(&AuthPin::new(PIN.into())))
            .unwrap();
    }
    let mut sig = vec![0u8; 64];
    let mut len = 64 as CK_ULONG;
    // SAFETY: valid buffers.
    let code = unsafe {
        raw().C_Sign(
            s.handle(),
            b"m".as_ptr() as *mut u8,
            1,
            sig.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!(code, CKR_OK);
    assert!(p256_verifies(&point, &sha256(b"m"), &sig));
    if login_exists {
        // Each use needs its own login.
        s.sign_init(&Mechanism::EcdsaSha256, k).unwrap();
        assert_eq!(
            rv(s.sign_final()),
            RvError::UserNotLoggedIn,
            "CKA_ALWAYS_AUTHENTICATE without C_Login(CKU_CONTEXT_SPECIFIC)"
        );
        // A context login given before the operation (during another one) does not count.
        s.verify_init(&Mechanism::EcdsaSha256, public).unwrap();
        s.login(UserType::ContextSpecific, Some(&AuthPin::new(PIN.into())))
            .unwrap();
        s.sign_init(&Mechanism::EcdsaSha256, k).unwrap();
        assert_eq!(rv(s.sign_final()), RvError::UserNotLoggedIn);
        // Without any key operation, a context login has nothing to authenticate.
        assert_eq!(rv(s.verify_final(&[0; 64])), RvError::SignatureInvalid);
        assert_eq!(
            rv(s.login(UserType::ContextSpecific, Some(&AuthPin::new(PIN.into())))),
            RvError::OperationNotInitialized
        );
    }
}
