//! The `pkcs11_crypto` suite: encryption (AES modes against SP 800-38A and GCM vectors,
//! multi-part equal to single-part, RSA with OpenSSL).

use super::*;

#[test]
fn aes_modes_match_sp800_38a_and_gcm_vectors() {
    let s = session();
    let k = key(&s, "kat-aes", ObjectClass::SECRET_KEY);
    let plain = h(KAT_PLAIN);
    let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let ecb = "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf\
               43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4";
    let cbc = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
               73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";
    // CBC with PKCS#7 padding: one more block (OpenSSL's `enc -aes-128-cbc`).
    let cbc_pad = format!("{cbc}8cb82807230e1321d3fae00d18cc2012");
    for (mechanism, want) in [
        (Mechanism::AesEcb, ecb.to_string()),
        (Mechanism::AesCbc(iv), cbc.to_string()),
        (Mechanism::AesCbcPad(iv), cbc_pad),
    ] {
        let ct = s.encrypt(&mechanism, k, &plain).unwrap();
        assert_eq!(hex::encode(&ct), want, "{mechanism:?}");
        assert_eq!(s.decrypt(&mechanism, k, &ct).unwrap(), plain);
    }
    // CTR (raw calls: the cryptoki crate has no CTR mechanism), 128-bit counter.
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 128,
        cb: h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap(),
    };
    let mut m = raw_mechanism(CKM_AES_CTR, &ctr);
    let ct = raw_encrypt(&s, &mut m, k, &plain).unwrap();
    assert_eq!(
        hex::encode(&ct),
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
         5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
    );
    assert_eq!(raw_decrypt(&s, &mut m, k, &ct).unwrap(), plain);

    // GCM: McGrew & Viega test case 4 (60 bytes, 20 bytes of AAD).
    let k = key(&s, "kat-gcm", ObjectClass::SECRET_KEY);
    let p = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let mut nonce = h("cafebabefacedbaddecaf888");
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad, 128.into()).unwrap());
    let ct = s.encrypt(&gcm, k, &p).unwrap();
    assert_eq!(
        hex::encode(&ct),
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
         5bc94fbc3221a5db94fae95ae7121a47"
    );
    assert_eq!(s.decrypt(&gcm, k, &ct).unwrap(), p);
    // A 96-bit tag is the 128-bit one cut short.
    let mut nonce = h("cafebabefacedbaddecaf888");
    let gcm96 = Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad, 96.into()).unwrap());
    let short = s.encrypt(&gcm96, k, &p).unwrap();
    assert_eq!(short[..], ct[..ct.len() - 4]);
    // Any change to ciphertext, tag or AAD is refused.
    for i in [0, 59, 60, 75] {
        let mut bad = ct.clone();
        bad[i] ^= 1;
        assert_eq!(rv(s.decrypt(&gcm, k, &bad)), RvError::EncryptedDataInvalid);
    }
    let mut nonce = h("cafebabefacedbaddecaf888");
    let other_aad = Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad[1..], 128.into()).unwrap());
    assert_eq!(
        rv(s.decrypt(&other_aad, k, &ct)),
        RvError::EncryptedDataInvalid
    );
    // In place: one buffer as the input and the output (PKCS#11 allows it), and a buffer
    // beside the input, give the same ciphertext.
    let nonce = h("cafebabefacedbaddecaf888");
    let params = CK_GCM_PARAMS {
        pIv: nonce.as_ptr() as *mut u8,
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: aad.as_ptr() as *mut u8,
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: 128,
    };
    let mut m = raw_mechanism(CKM_AES_GCM, &params);
    let mut buf = p.clone();
    buf.resize(p.len() + 16, 0);
    assert_eq!(raw_encrypt_init(&s, &mut m, k), CKR_OK);
    let mut len = buf.len() as CK_ULONG;
    // SAFETY: `buf` holds the input's `p.len()` bytes and room for `len` output bytes.
    let code = unsafe {
        raw().C_Encrypt(
            s.handle(),
            buf.as_mut_ptr(),
            p.len() as CK_ULONG,
            buf.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!((code, len as usize), (CKR_OK, ct.len()));
    assert_eq!(buf, ct);
    assert_eq!(raw_encrypt(&s, &mut m, k, &p).unwrap(), ct);
}

#[test]
fn multi_part_encryption_equals_single_part() {
    let s = session();
    let k = aes(
        &s,
        32,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let iv = [9u8; 16];
    let mut nonce = [3u8; 12];
    let aad = b"header";
    let mechanisms = [
        (Mechanism::AesEcb, 992),
        (Mechanism::AesCbc(iv), 992),
        (Mechanism::AesCbcPad(iv), 1000),
        (
            Mechanism::AesGcm(GcmParams::new(&mut nonce, aad, 128.into()).unwrap()),
            1000,
        ),
    ];
    for (mechanism, len) in mechanisms {
        let data = &data[..len];
        let single = s.encrypt(&mechanism, k, data).unwrap();
        s.encrypt_init(&mechanism, k).unwrap();
        let mut multi = Vec::new();
        for chunk in data.chunks(100) {
            multi.extend(s.encrypt_update(chunk).unwrap());
        }
        multi.extend(s.encrypt_final().unwrap());
        assert_eq!(multi, single, "{mechanism:?}");

        s.decrypt_init(&mechanism, k).unwrap();
        let mut back = Vec::new();
        for chunk in single.chunks(77) {
            back.extend(s.decrypt_update(chunk).unwrap());
        }
        back.extend(s.decrypt_final().unwrap());
        assert_eq!(back, data, "{mechanism:?}");
    }
}

#[test]
fn rsa_encryption_round_trips_with_openssl() {
    let s = session();
    let private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    let message = b"a secret for the HSM only";
    // OAEP with SHA-256 (what pkcs11-tool --test uses), SHA-1, and a label.
    let label = b"my label";
    let cases: [(PkcsOaepParams, Vec<&str>); 3] = [
        (
            oaep_sha256(),
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha256",
                "rsa_mgf1_md:sha256",
            ],
        ),
        (
            PkcsOaepParams::new(
                MechanismType::SHA1,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::empty(),
            ),
            vec!["rsa_padding_mode:oaep"],
        ),
        (
            PkcsOaepParams::new(
                MechanismType::SHA384,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::data_specified(label),
            ),
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha384",
                "rsa_mgf1_md:sha1",
                "rsa_oaep_label:6d79206c6162656c",
            ],
        ),
    ];
    for (params, opts) in cases {
        let mechanism = Mechanism::RsaPkcsOaep(params);
        let ct = openssl_encrypts(&spki, message, &opts);
        assert_eq!(s.decrypt(&mechanism, private, &ct).unwrap(), message);
        let ct = s.encrypt(&mechanism, public, message).unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(s.decrypt(&mechanism, private, &ct).unwrap(), message);
    }
    let ct = openssl_encrypts(&spki, message, &[]);
    assert_eq!(
        s.decrypt(&Mechanism::RsaPkcs, private, &ct).unwrap(),
        message
    );
    let ct = s.encrypt(&Mechanism::RsaPkcs, public, message).unwrap();
    assert_eq!(
        s.decrypt(&Mechanism::RsaPkcs, private, &ct).unwrap(),
        message
    );
}
