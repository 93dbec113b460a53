//! The `pkcs11_crypto` suite: signatures and MACs (RSA, ECDSA, HMAC and CMAC, generic
//! secrets), default usages, multi-part equal to single-part.

use super::*;

#[test]
fn rsa_signatures_verify_with_openssl() {
    let s = session();
    let private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    let message = b"signed by the HSM, checked by OpenSSL";
    let hashes: [(Mechanism, Mechanism, MechanismType, PkcsMgfType, &str, Hash); 4] = [
        (
            Mechanism::Sha1RsaPkcs,
            Mechanism::Sha1RsaPkcsPss(pss(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1, 20)),
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            "sha1",
            |m| sha1::Sha1::digest(m).to_vec(),
        ),
        (
            Mechanism::Sha256RsaPkcs,
            Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32)),
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            "sha256",
            sha256,
        ),
        (
            Mechanism::Sha384RsaPkcs,
            Mechanism::Sha384RsaPkcsPss(pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 0)),
            MechanismType::SHA384,
            PkcsMgfType::MGF1_SHA384,
            "sha384",
            |m| sha2::Sha384::digest(m).to_vec(),
        ),
        (
            Mechanism::Sha512RsaPkcs,
            Mechanism::Sha512RsaPkcsPss(pss(MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64)),
            MechanismType::SHA512,
            PkcsMgfType::MGF1_SHA512,
            "sha512",
            |m| sha2::Sha512::digest(m).to_vec(),
        ),
    ];
    for (pkcs1, pss_mech, hash_mech, mgf, name, hash) in hashes {
        let digest = hash(message);
        let md = format!("digest:{name}");
        let sig = s.sign(&pkcs1, private, message).unwrap();
        assert_eq!(sig.len(), 256);
        assert!(openssl_verifies(&spki, &digest, &sig, &[&md]), "{name}");
        s.verify(&pkcs1, public, message, &sig).unwrap();
        // PKCS#1 v1.5 is deterministic: the raw mechanism over the DigestInfo gives the same.
        let prefix: &[u8] = match name {
            "sha1" => &h("3021300906052b0e03021a05000414"),
            "sha256" => &h("3031300d060960864801650304020105000420"),
            "sha384" => &h("3041300d060960864801650304020205000430"),
            _ => &h("3051300d060960864801650304020305000440"),
        };
        let digest_info = [prefix, &digest].concat();
        assert_eq!(
            s.sign(&Mechanism::RsaPkcs, private, &digest_info).unwrap(),
            sig
        );

        let sig = s.sign(&pss_mech, private, message).unwrap();
        let salt = match &pss_mech {
            Mechanism::Sha1RsaPkcsPss(p)
            | Mechanism::Sha256RsaPkcsPss(p)
            | Mechanism::Sha384RsaPkcsPss(p)
            | Mechanism::Sha512RsaPkcsPss(p) => format!("rsa_pss_saltlen:{}", p.s_len),
            _ => unreachable!(),
        };
        let mgf_md = format!("rsa_mgf1_md:{name}");
        let pss_opts = [md.as_str(), "rsa_padding_mode:pss", &salt, &mgf_md];
        assert!(
            openssl_verifies(&spki, &digest, &sig, &pss_opts),
            "PSS {name}"
        );
        s.verify(&pss_mech, public, message, &sig).unwrap();
        // The raw PSS mechanism signs a digest the caller made.
        let raw = Mechanism::RsaPkcsPss(pss(hash_mech, mgf, 20));
        let sig = s.sign(&raw, private, &digest).unwrap();
        let pss_opts = [
            md.as_str(),
            "rsa_padding_mode:pss",
            "rsa_pss_saltlen:20",
            &mgf_md,
        ];
        assert!(
            openssl_verifies(&spki, &digest, &sig, &pss_opts),
            "raw PSS {name}"
        );
        s.verify(&raw, public, &digest, &sig).unwrap();
    }
    // SHA-224 PSS through the raw call (the cryptoki crate has no variant for it).
    let digest = sha2::Sha224::digest(message).to_vec();
    let sig = s
        .sign(
            &Mechanism::RsaPkcsPss(pss(MechanismType::SHA224, PkcsMgfType::MGF1_SHA224, 28)),
            private,
            &digest,
        )
        .unwrap();
    let opts = [
        "digest:sha224",
        "rsa_padding_mode:pss",
        "rsa_pss_saltlen:28",
        "rsa_mgf1_md:sha224",
    ];
    assert!(openssl_verifies(&spki, &digest, &sig, &opts));
    let sig = s.sign(&Mechanism::Sha224RsaPkcs, private, message).unwrap();
    assert!(openssl_verifies(&spki, &digest, &sig, &["digest:sha224"]));
}

#[test]
fn raw_rsa_is_the_core_of_the_padded_schemes() {
    let s = session();
    let private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    // RSASP1 over the EMSA-PKCS1-v1_5 encoding: a PKCS#1 v1.5 signature, as OpenSSL sees it.
    let digest = sha256(b"raw");
    let digest_info = [&h("3031300d060960864801650304020105000420")[..], &digest].concat();
    let mut em = vec![0x00, 0x01];
    em.resize(256 - digest_info.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&digest_info);
    let sig = s.sign(&Mechanism::RsaX509, private, &em).unwrap();
    assert_eq!(sig.len(), 256);
    assert!(openssl_verifies(&spki, &digest, &sig, &["digest:sha256"]));
    s.verify(&Mechanism::RsaX509, public, &em, &sig).unwrap();
    assert_eq!(
        rv(s.verify(
            &Mechanism::RsaX509,
            public,
            &[&em[..255], &[1]].concat(),
            &sig
        )),
        RvError::SignatureInvalid
    );
    // OpenSSL's unpadded encryption, decrypted raw.
    let mut block = vec![0x42u8; 256];
    block[0] = 0;
    let ct = openssl_encrypts(&spki, &block, &["rsa_padding_mode:none"]);
    assert_eq!(s.decrypt(&Mechanism::RsaX509, private, &ct).unwrap(), block);
    let ct = s.encrypt(&Mechanism::RsaX509, public, &block).unwrap();
    assert_eq!(s.decrypt(&Mechanism::RsaX509, private, &ct).unwrap(), block);
    // Exactly the modulus' length, and below the modulus.
    assert_eq!(
        rv(s.sign(&Mechanism::RsaX509, private, &em[1..])),
        RvError::DataLenRange
    );
    let modulus = bytes(&s, public, AttributeType::Modulus);
    assert_eq!(
        rv(s.sign(&Mechanism::RsaX509, private, &modulus)),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::RsaX509, private, &modulus)),
        RvError::EncryptedDataInvalid
    );
    s.sign_init(&Mechanism::RsaX509, private).unwrap();
    assert_eq!(rv(s.sign_update(&em)), RvError::FunctionNotSupported);
}

#[test]
fn ecdsa_signatures_verify_independently() {
    let s = session();
    let (private, public) = ec_pair(&s, &[]);
    let point = bytes(&s, public, AttributeType::EcPoint);
    let message = b"an ECDSA message";
    let digest = sha256(message);
    for (mechanism, input) in [
        (Mechanism::EcdsaSha256, &message[..]),
        (Mechanism::Ecdsa, &digest[..]),
    ] {
        let sig = s.sign(&mechanism, private, input).unwrap();
        assert_eq!(sig.len(), 64, "raw r || s");
        assert!(p256_verifies(&point, &digest, &sig));
        s.verify(&mechanism, public, input, &sig).unwrap();
    }
    let others: [(Mechanism, Vec<u8>); 4] = [
        (Mechanism::EcdsaSha1, sha1::Sha1::digest(message).to_vec()),
        (
            Mechanism::EcdsaSha224,
            sha2::Sha224::digest(message).to_vec(),
        ),
        (
            Mechanism::EcdsaSha384,
            sha2::Sha384::digest(message).to_vec(),
        ),
        (
            Mechanism::EcdsaSha512,
            sha2::Sha512::digest(message).to_vec(),
        ),
    ];
    for (mechanism, digest) in others {
        let sig = s.sign(&mechanism, private, message).unwrap();
        // The crate truncates a longer digest to the curve's size, as FIPS 186 says.
        assert!(p256_verifies(&point, &digest, &sig), "{mechanism:?}");
        s.verify(&mechanism, public, message, &sig).unwrap();
    }

    // P-384 (a pool key), checked by OpenSSL.
    let private = key(&s, "p384", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "p384", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    let sig = s.sign(&Mechanism::EcdsaSha384, private, message).unwrap();
    assert_eq!(sig.len(), 96);
    let digest = sha2::Sha384::digest(message).to_vec();
    assert!(openssl_verifies(&spki, &digest, &ecdsa_der(&sig), &[]));
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(!openssl_verifies(&spki, &digest, &ecdsa_der(&bad), &[]));
}

#[test]
fn macs_match_known_answers() {
    let s = session();
    let value = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let k = aes_value(
        &s,
        &value,
        &[Attribute::Sign(true), Attribute::Verify(true)],
    );
    let message = b"what do ya want for nothing?".repeat(9);
    let cases: [(Mechanism, Hash, usize); 3] = [
        (Mechanism::Sha256Hmac, sha256, 64),
        (
            Mechanism::Sha384Hmac,
            |m| sha2::Sha384::digest(m).to_vec(),
            128,
        ),
        (
            Mechanism::Sha512Hmac,
            |m| sha2::Sha512::digest(m).to_vec(),
            128,
        ),
    ];
    for (mechanism, hash, block) in cases {
        let tag = s.sign(&mechanism, k, &message).unwrap();
        assert_eq!(tag, hmac(hash, block, &value, &message), "{mechanism:?}");
        s.verify(&mechanism, k, &message, &tag).unwrap();
    }
    // A generic secret key serves HMAC too.
    let generic = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, generic, b"m").unwrap().len(),
        32
    );

    // RFC 4493's AES-CMAC examples (the SP 800-38A key and plaintext).
    let k = key(&s, "kat-aes", ObjectClass::SECRET_KEY);
    let plain = h(KAT_PLAIN);
    for (len, want) in [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ] {
        let tag = s.sign(&Mechanism::AesCMac, k, &plain[..len]).unwrap();
        assert_eq!(hex::encode(&tag), want, "CMAC of {len} bytes");
        s.verify(&Mechanism::AesCMac, k, &plain[..len], &tag)
            .unwrap();
    }
}

/// A boolean attribute of an object.
fn flag_of(s: &Session, o: ObjectHandle, t: AttributeType) -> bool {
    match s.get_attributes(o, &[t]).unwrap().pop() {
        Some(
            Attribute::Sign(b)
            | Attribute::Verify(b)
            | Attribute::Encrypt(b)
            | Attribute::Decrypt(b)
            | Attribute::Wrap(b)
            | Attribute::Unwrap(b)
            | Attribute::Derive(b),
        ) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// A generic secret is the core's own key type: `CKM_GENERIC_SECRET_KEY_GEN` makes one of
/// any length from 1 to 512 bytes, it reads back as `CKK_GENERIC_SECRET`, MACs with HMAC and
/// refuses AES mechanisms as a key of the wrong type.
#[test]
fn generic_secrets_mac_and_refuse_aes() {
    let s = session();
    let k = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Label(b"generic-20".to_vec()),
                Attribute::ValueLen(20.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    assert_eq!(
        s.get_attributes(
            k,
            &[
                AttributeType::KeyType,
                AttributeType::ValueLen,
                AttributeType::KeyGenMechanism
            ]
        )
        .unwrap(),
        [
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(20.into()),
            Attribute::KeyGenMechanism(MechanismType::GENERIC_SECRET_KEY_GEN),
        ]
    );
    // The table of defaults: sign and verify, nothing else.
    for (t, on) in [
        (AttributeType::Sign, true),
        (AttributeType::Verify, true),
        (AttributeType::Encrypt, false),
        (AttributeType::Decrypt, false),
        (AttributeType::Wrap, false),
        (AttributeType::Derive, false),
    ] {
        assert_eq!(flag_of(&s, k, t), on, "{t:?}");
    }
    let value = bytes(&s, k, AttributeType::Value);
    assert_eq!(value.len(), 20);
    let message = b"what do ya want for nothing?";
    let tag = s.sign(&Mechanism::Sha256Hmac, k, message).unwrap();
    assert_eq!(tag, hmac(sha256, 64, &value, message));
    s.verify(&Mechanism::Sha256Hmac, k, message, &tag).unwrap();
    // AES mechanisms: the wrong key type, before its usage attributes are looked at.
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::AesCbcPad([0; 16]), k)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::AesCMac, k)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, k, k)),
        RvError::WrappingKeyTypeInconsistent
    );
    // Asking for a usage the type cannot have changes nothing.
    let asked = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(1.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    assert!(!flag_of(&s, asked, AttributeType::Encrypt));
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::AesEcb, asked)),
        RvError::KeyTypeInconsistent
    );
    // Lengths: 1 to 512 bytes.
    for len in [0u64, 513] {
        assert_eq!(
            rv(s.generate_key(
                &Mechanism::GenericSecretKeyGen,
                &[Attribute::Token(false), Attribute::ValueLen(len.into())],
            )),
            RvError::KeySizeRange,
            "{len} bytes"
        );
    }
    let long = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::Token(false), Attribute::ValueLen(512.into())],
        )
        .unwrap();
    assert_eq!(
        s.sign(&Mechanism::Sha512Hmac, long, b"m").unwrap().len(),
        64
    );
    // An imported generic secret of 5 bytes MACs as HMAC says.
    let jefe = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(true),
            Attribute::Label(b"generic-5".to_vec()),
            Attribute::Value(b"Jefe!".to_vec()),
        ])
        .unwrap();
    assert_eq!(
        s.get_attributes(jefe, &[AttributeType::KeyType]).unwrap(),
        [Attribute::KeyType(KeyType::GENERIC_SECRET)]
    );
    let expected = hmac(sha256, 64, b"Jefe!", message);
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, jefe, message).unwrap(),
        expected
    );
    // An AES key is still an AES key, and HMAC takes it when asked to sign.
    let aes_mac = aes(&s, 16, &[Attribute::Sign(true)]);
    assert_eq!(
        s.get_attributes(aes_mac, &[AttributeType::KeyType])
            .unwrap(),
        [Attribute::KeyType(KeyType::AES)]
    );
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, aes_mac, b"m").unwrap().len(),
        32
    );
}

/// One buffer as the data and the MAC (PKCS#11 allows it): the MAC is that of the data
/// as it was, as with two buffers.
#[test]
fn a_mac_may_overwrite_its_data() {
    let s = session();
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Value(b"Jefe!".to_vec()),
        ])
        .unwrap();
    let message = b"what do ya want for nothing?".repeat(3);
    let expected = s.sign(&Mechanism::Sha256Hmac, key, &message).unwrap();
    let mut buf = message.clone();
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256_HMAC,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    let mut len = buf.len() as CK_ULONG;
    // SAFETY: a mechanism without parameter; `buf` holds the message and room for `len`
    // bytes of MAC.
    unsafe {
        assert_eq!(raw().C_SignInit(s.handle(), &mut m, key.handle()), CKR_OK);
        let data_len = message.len() as CK_ULONG;
        let p = buf.as_mut_ptr();
        assert_eq!(raw().C_Sign(s.handle(), p, data_len, p, &mut len), CKR_OK);
    }
    assert_eq!(&buf[..len as usize], &expected[..]);
    assert_eq!(buf[len as usize..], message[len as usize..]);
}

/// Usage attributes a template leaves out follow the core's one table of defaults (as
/// SoftHSMv2 does, `CKA_DERIVE` is false unless asked for).
#[test]
fn default_usages_follow_the_core_table() {
    let s = session();
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())],
            &[Attribute::Token(false)],
        )
        .unwrap();
    assert!(flag_of(&s, private, AttributeType::Sign));
    assert!(flag_of(&s, public, AttributeType::Verify));
    assert!(!flag_of(&s, private, AttributeType::Derive));
    let (derives, _) = ec_pair(&s, &[Attribute::Derive(true)]);
    assert!(flag_of(&s, derives, AttributeType::Derive));
    // A token pair too (a pool key: the core keeps the operations).
    let (_, token_private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256.to_vec()),
                Attribute::Label(b"ec-defaults".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Label(b"ec-defaults".to_vec()),
            ],
        )
        .unwrap();
    assert!(flag_of(&s, token_private, AttributeType::Sign));
    assert!(!flag_of(&s, token_private, AttributeType::Derive));
    // AES: encrypt, decrypt, wrap and unwrap; no MAC unless asked.
    let k = aes(&s, 32, &[]);
    for (t, on) in [
        (AttributeType::Encrypt, true),
        (AttributeType::Decrypt, true),
        (AttributeType::Wrap, true),
        (AttributeType::Unwrap, true),
        (AttributeType::Sign, false),
        (AttributeType::Verify, false),
        (AttributeType::Derive, false),
    ] {
        assert_eq!(flag_of(&s, k, t), on, "{t:?}");
    }
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256Hmac, k)),
        RvError::KeyFunctionNotPermitted
    );
}

#[test]
fn multi_part_signatures_equal_single_part() {
    let s = session();
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let mac_key = aes(&s, 32, &[Attribute::Sign(true), Attribute::Verify(true)]);
    let cmac_key = key(&s, "kat-aes", ObjectClass::SECRET_KEY);
    let message: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let parts = [
        &message[..1],
        &message[1..4096],
        &message[4096..4096],
        &message[4096..],
    ];
    let multi = |mechanism: &Mechanism, key| {
        s.sign_init(mechanism, key).unwrap();
        for p in parts {
            s.sign_update(p).unwrap();
        }
        s.sign_final().unwrap()
    };
    // Deterministic schemes: the same bytes either way.
    for (mechanism, k) in [
        (Mechanism::Sha256RsaPkcs, rsa),
        (Mechanism::Sha512RsaPkcs, rsa),
        (Mechanism::Sha256Hmac, mac_key),
        (Mechanism::Sha512Hmac, mac_key),
        (Mechanism::AesCMac, cmac_key),
    ] {
        let single = s.sign(&mechanism, k, &message).unwrap();
        assert_eq!(multi(&mechanism, k), single, "{mechanism:?}");
        // Multi-part verification of the single-part signature.
        let verify_key = if k == rsa { rsa_public } else { k };
        s.verify_init(&mechanism, verify_key).unwrap();
        for p in parts {
            s.verify_update(p).unwrap();
        }
        s.verify_final(&single).unwrap();
    }
    // Randomized schemes: both verify.
    let (ec, ec_public) = ec_pair(&s, &[]);
    let point = bytes(&s, ec_public, AttributeType::EcPoint);
    let sig = multi(&Mechanism::EcdsaSha256, ec);
    assert!(p256_verifies(&point, &sha256(&message), &sig));
    s.verify(&Mechanism::EcdsaSha256, ec_public, &message, &sig)
        .unwrap();
    let pss_mech =
        Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32));
    let sig = multi(&pss_mech, rsa);
    s.verify(&pss_mech, rsa_public, &message, &sig).unwrap();
    // A multi-part verification of a wrong signature fails at the end.
    s.verify_init(&Mechanism::Sha256Hmac, mac_key).unwrap();
    s.verify_update(&message).unwrap();
    assert_eq!(rv(s.verify_final(&[0u8; 32])), RvError::SignatureInvalid);
}
