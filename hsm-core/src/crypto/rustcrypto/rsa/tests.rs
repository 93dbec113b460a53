use super::*;
use crate::crypto::rustcrypto::test_keys::rsa2048;

const ALL_HASHES: [HashAlg; 5] = [
    HashAlg::Sha1,
    HashAlg::Sha224,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
];

fn parts() -> &'static RsaPrivateParts {
    match rsa2048() {
        KeyMaterial::Rsa(parts) => parts,
        _ => unreachable!(),
    }
}

fn key() -> RsaKey {
    RsaKey::from_parts(parts()).unwrap()
}

fn copy(parts: &RsaPrivateParts) -> RsaPrivateParts {
    RsaPrivateParts {
        n: parts.n.clone(),
        e: parts.e.clone(),
        d: parts.d.duplicate(),
        p: parts.p.duplicate(),
        q: parts.q.duplicate(),
        dp: parts.dp.as_ref().map(SecretBytes::duplicate),
        dq: parts.dq.as_ref().map(SecretBytes::duplicate),
        qi: parts.qi.as_ref().map(SecretBytes::duplicate),
    }
}

fn code<T>(r: Result<T>) -> &'static str {
    r.err().map_or("ok", |e| e.code())
}

fn digest(hash: HashAlg, msg: &[u8]) -> Vec<u8> {
    super::super::hash::digest(hash, msg)
}

#[test]
fn generated_key_has_the_asked_size_and_e() {
    let p = parts();
    assert_eq!(bit_len(&p.n), 2048);
    assert_eq!(p.e, vec![1, 0, 1]);
    assert!(p.dp.is_some() && p.dq.is_some() && p.qi.is_some());
    let k = key();
    assert_eq!(k.spec(), KeySpec::Rsa { bits: 2048 });
    assert!(k.has_private());
    assert_eq!(
        k.public_key(),
        Some(PublicKey::Rsa {
            n: p.n.clone(),
            e: p.e.clone()
        })
    );
    assert_eq!(code(generate(512)), "BadParameter");
    assert_eq!(code(generate(16384)), "BadParameter");
}

#[test]
fn pkcs1v15_sign_verify_every_hash() {
    let k = key();
    for hash in ALL_HASHES {
        let alg = SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) };
        let d = digest(hash, b"message");
        let sig = k.sign(&alg, &d).unwrap();
        assert_eq!(sig.len(), 256);
        assert!(k.verify(&alg, &d, &sig).unwrap(), "{hash}");
        let other = digest(hash, b"other");
        assert!(!k.verify(&alg, &other, &sig).unwrap());
        // PKCS#1 v1.5 is deterministic.
        assert_eq!(k.sign(&alg, &d).unwrap(), sig);
        assert_eq!(code(k.sign(&alg, &d[1..])), "InvalidInputLength");
        assert_eq!(code(k.verify(&alg, &d[1..], &sig)), "InvalidInputLength");
    }
}

#[test]
fn pkcs1v15_without_hash_signs_the_digest_info_as_given() {
    let k = key();
    let d = digest(HashAlg::Sha256, b"message");
    // DigestInfo prefix of SHA-256 (RFC 8017 9.2 note 1).
    let mut info = hex::decode("3031300d060960864801650304020105000420").unwrap();
    info.extend_from_slice(&d);
    let raw = SignAlgorithm::RsaPkcs1v15 { hash: None };
    let sig = k.sign(&raw, &info).unwrap();
    let rs256 = SignAlgorithm::RsaPkcs1v15 {
        hash: Some(HashAlg::Sha256),
    };
    assert_eq!(sig, k.sign(&rs256, &d).unwrap());
    assert!(k.verify(&raw, &info, &sig).unwrap());
    assert!(k.verify(&rs256, &d, &sig).unwrap());
    // Any bytes up to k - 11 can be signed raw.
    let sig = k.sign(&raw, &[0xab; 245]).unwrap();
    assert!(k.verify(&raw, &[0xab; 245], &sig).unwrap());
    assert_eq!(code(k.sign(&raw, &[0xab; 246])), "InvalidInputLength");
}

#[test]
fn verify_is_false_for_malformed_signatures() {
    let k = key();
    let alg = SignAlgorithm::RsaPkcs1v15 {
        hash: Some(HashAlg::Sha256),
    };
    let d = digest(HashAlg::Sha256, b"m");
    let sig = k.sign(&alg, &d).unwrap();
    let mut tampered = sig.clone();
    tampered[100] ^= 0x40;
    assert!(!k.verify(&alg, &d, &tampered).unwrap());
    assert!(!k.verify(&alg, &d, &sig[1..]).unwrap());
    let mut longer = vec![0];
    longer.extend_from_slice(&sig);
    assert!(!k.verify(&alg, &d, &longer).unwrap());
    assert!(!k.verify(&alg, &d, &[]).unwrap());
    assert!(!k.verify(&alg, &d, &[0xff; 256]).unwrap());
    assert!(!k.verify(&alg, &d, &parts().n).unwrap());
}

#[test]
fn pss_sign_verify() {
    let k = key();
    for hash in ALL_HASHES {
        for salt_len in [0, hash.output_len(), 20] {
            let alg = SignAlgorithm::RsaPss {
                hash,
                mgf1: hash,
                salt_len,
            };
            let d = digest(hash, b"message");
            let sig = k.sign(&alg, &d).unwrap();
            assert!(k.verify(&alg, &d, &sig).unwrap(), "{hash} {salt_len}");
            assert!(!k.verify(&alg, &digest(hash, b"x"), &sig).unwrap());
            let mut bad = sig.clone();
            bad[0] ^= 1;
            assert!(!k.verify(&alg, &d, &bad).unwrap());
            assert!(!k.verify(&alg, &d, &sig[..255]).unwrap());
            // The salt length is checked.
            let other_salt = SignAlgorithm::RsaPss {
                hash,
                mgf1: hash,
                salt_len: salt_len + 1,
            };
            assert!(!k.verify(&other_salt, &d, &sig).unwrap());
            if salt_len > 0 {
                // Randomised: two signatures differ.
                assert_ne!(k.sign(&alg, &d).unwrap(), sig);
            }
        }
    }
    // The largest salt a 2048-bit key takes with SHA-512: 256 - 64 - 2.
    let max = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha512,
        mgf1: HashAlg::Sha512,
        salt_len: 190,
    };
    let d = digest(HashAlg::Sha512, b"m");
    let sig = k.sign(&max, &d).unwrap();
    assert!(k.verify(&max, &d, &sig).unwrap());
    let too_long = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha512,
        mgf1: HashAlg::Sha512,
        salt_len: 191,
    };
    assert_eq!(code(k.sign(&too_long, &d)), "InvalidAlgorithmParameter");
}

#[test]
fn absurd_salt_lengths_are_refused_cleanly() {
    let k = key();
    let alg = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        salt_len: usize::MAX,
    };
    let d = digest(HashAlg::Sha256, b"m");
    assert_eq!(code(k.sign(&alg, &d)), "InvalidAlgorithmParameter");
    assert_eq!(
        code(k.verify(&alg, &d, &[0; 256])),
        "InvalidAlgorithmParameter"
    );
}

#[test]
fn pss_with_another_mgf1_hash_is_unsupported() {
    let k = key();
    let alg = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha1,
        salt_len: 32,
    };
    let d = digest(HashAlg::Sha256, b"m");
    assert_eq!(code(k.sign(&alg, &d)), "UnsupportedAlgorithm");
    assert_eq!(code(k.verify(&alg, &d, &[0; 256])), "UnsupportedAlgorithm");
}

#[test]
fn oaep_round_trips_with_any_label_and_mgf1_hash() {
    let k = key();
    for hash in ALL_HASHES {
        for mgf1 in [hash, HashAlg::Sha1, HashAlg::Sha512] {
            for label in [vec![], b"label".to_vec()] {
                let alg = CipherAlgorithm::RsaOaep {
                    hash,
                    mgf1,
                    label: label.clone(),
                };
                let max = 256 - 2 * hash.output_len() - 2;
                for msg in [&b""[..], b"secret", &vec![0x5a; max]] {
                    let ct = k.encrypt(&alg, msg).unwrap();
                    assert_eq!(ct.data.len(), 256);
                    assert_eq!((ct.iv.as_ref(), ct.tag.as_ref()), (None, None));
                    let pt = k.decrypt(&alg, &ct.data).unwrap();
                    assert_eq!(pt.expose_secret(), msg, "{hash} {mgf1}");
                }
                assert_eq!(
                    code(k.encrypt(&alg, &vec![0; max + 1])),
                    "InvalidInputLength"
                );
            }
        }
    }
}

#[test]
fn oaep_failures_are_decryption_failed() {
    let k = key();
    let alg = |label: &[u8], mgf1| CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1,
        label: label.to_vec(),
    };
    let ct = k
        .encrypt(&alg(b"l", HashAlg::Sha256), b"secret")
        .unwrap()
        .data;
    let mut tampered = ct.clone();
    tampered[10] ^= 1;
    let err = k
        .decrypt(&alg(b"l", HashAlg::Sha256), &tampered)
        .unwrap_err();
    assert_eq!(err.code(), "DecryptionFailed");
    assert_eq!(err.to_string(), "decryption failed");
    assert_eq!(
        code(k.decrypt(&alg(b"other", HashAlg::Sha256), &ct)),
        "DecryptionFailed"
    );
    assert_eq!(
        code(k.decrypt(&alg(b"l", HashAlg::Sha1), &ct)),
        "DecryptionFailed"
    );
    assert_eq!(
        code(k.decrypt(&alg(b"l", HashAlg::Sha256), &ct[1..])),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.decrypt(&alg(b"l", HashAlg::Sha256), &[0xff; 256])),
        "DecryptionFailed"
    );
}

#[test]
fn oaep_refuses_a_nonzero_first_octet() {
    // c' encrypts m + 2^(8(k-1)): the same OAEP encoding behind a first octet of 1.
    let k = key();
    let alg = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        label: vec![],
    };
    let ct = k.encrypt(&alg, b"secret").unwrap().data;
    let private = k.private.as_ref().unwrap();
    let precision = private.n_bits_precision();
    let c = BoxedUint::from_be_slice(&ct, precision).unwrap();
    let m = ::rsa::hazmat::rsa_decrypt_and_check(private, None::<&mut SysRng>, &c).unwrap();
    let shifted = BoxedUint::one_with_precision(precision)
        .shl_vartime(8 * 255)
        .unwrap();
    let m2 = m.wrapping_add(&shifted);
    assert!(m2 < *private.n().as_ref());
    let c2 = ::rsa::hazmat::rsa_encrypt(private, &m2).unwrap();
    let ct2 = c2.to_be_bytes();
    let ct2 = &ct2[ct2.len() - 256..];
    assert_eq!(k.decrypt(&alg, &ct).unwrap().expose_secret(), b"secret");
    assert_eq!(code(k.decrypt(&alg, ct2)), "DecryptionFailed");
}

#[test]
fn pkcs1v15_encryption_round_trip_and_implicit_rejection() {
    let k = key();
    let alg = CipherAlgorithm::RsaPkcs1v15;
    for msg in [&b""[..], b"secret", &[7; 245]] {
        let ct = k.encrypt(&alg, msg).unwrap();
        assert_eq!(k.decrypt(&alg, &ct.data).unwrap().expose_secret(), msg);
    }
    assert_eq!(code(k.encrypt(&alg, &[7; 246])), "InvalidInputLength");
    let ct = k.encrypt(&alg, b"secret").unwrap().data;
    let mut tampered = ct.clone();
    tampered[5] ^= 0x10;
    // Implicit rejection: a deterministic synthetic message, never the plaintext.
    match k.decrypt(&alg, &tampered) {
        Ok(pt) => {
            assert_ne!(pt.expose_secret(), b"secret");
            let again = k.decrypt(&alg, &tampered).unwrap();
            assert_eq!(again.expose_secret(), pt.expose_secret());
        }
        Err(e) => assert_eq!(e.code(), "DecryptionFailed"),
    }
    assert_eq!(code(k.decrypt(&alg, &ct[..255])), "InvalidInputLength");
}

#[test]
fn wrap_is_encryption() {
    let k = key();
    let aes_key = [0x42u8; 32];
    for alg in [
        WrapAlgorithm::RsaPkcs1v15,
        WrapAlgorithm::RsaOaep {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha256,
            label: vec![],
        },
    ] {
        let wrapped = k.wrap(&alg, &aes_key).unwrap();
        assert_eq!(wrapped.len(), 256);
        assert_eq!(k.unwrap(&alg, &wrapped).unwrap().expose_secret(), &aes_key);
    }
    assert_eq!(
        code(k.wrap(&WrapAlgorithm::AesKw { key_bits: None }, &aes_key)),
        "KeyTypeMismatch"
    );
    assert_eq!(
        code(k.unwrap(&WrapAlgorithm::AesKwp { key_bits: None }, &[0; 24])),
        "KeyTypeMismatch"
    );
}

#[test]
fn public_only_key_verifies_and_encrypts_but_cannot_sign_or_decrypt() {
    let private = key();
    let p = parts();
    let public = RsaKey::from_public(&p.n, &p.e).unwrap();
    assert!(!public.has_private());
    assert_eq!(public.spec(), KeySpec::Rsa { bits: 2048 });
    assert_eq!(public.public_key(), private.public_key());

    let alg = SignAlgorithm::RsaPkcs1v15 {
        hash: Some(HashAlg::Sha256),
    };
    let d = digest(HashAlg::Sha256, b"m");
    let err = public.sign(&alg, &d).unwrap_err();
    assert_eq!(err.code(), "KeyTypeMismatch");
    assert!(err.to_string().contains("private key"), "{err}");
    let pss = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        salt_len: 32,
    };
    assert_eq!(code(public.sign(&pss, &d)), "KeyTypeMismatch");
    let sig = private.sign(&alg, &d).unwrap();
    assert!(public.verify(&alg, &d, &sig).unwrap());

    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha1,
        mgf1: HashAlg::Sha1,
        label: vec![],
    };
    let ct = public.encrypt(&oaep, b"to the private key").unwrap();
    assert_eq!(
        private.decrypt(&oaep, &ct.data).unwrap().expose_secret(),
        b"to the private key"
    );
    let err = public.decrypt(&oaep, &ct.data).unwrap_err();
    assert_eq!(err.code(), "KeyTypeMismatch");
    assert!(err.to_string().contains("private key"));
    assert_eq!(
        code(public.unwrap(&WrapAlgorithm::RsaPkcs1v15, &ct.data)),
        "KeyTypeMismatch"
    );
}

#[test]
fn other_families_algorithms_are_key_type_mismatch() {
    let k = key();
    let ecdsa = SignAlgorithm::Ecdsa {
        hash: None,
        curve: None,
    };
    assert_eq!(code(k.sign(&ecdsa, &[1; 32])), "KeyTypeMismatch");
    assert_eq!(
        code(k.verify(&ecdsa, &[1; 32], &[1; 64])),
        "KeyTypeMismatch"
    );
    let hmac = SignAlgorithm::Hmac {
        hash: HashAlg::Sha256,
    };
    assert_eq!(code(k.sign(&hmac, b"m")), "KeyTypeMismatch");
    assert_eq!(code(k.sign(&SignAlgorithm::Cmac, b"m")), "KeyTypeMismatch");
    let gcm = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: None,
        aad: vec![],
        tag_len: 16,
    };
    assert_eq!(code(k.encrypt(&gcm, b"m")), "KeyTypeMismatch");
    assert_eq!(
        code(k.decrypt(&CipherAlgorithm::AesEcb, &[0; 16])),
        "KeyTypeMismatch"
    );
    assert_eq!(code(k.ecdh(&[4; 65])), "KeyTypeMismatch");
}

#[test]
fn load_computes_missing_crt_values() {
    let mut p = copy(parts());
    p.dp = None;
    p.dq = None;
    p.qi = None;
    let k = RsaKey::from_parts(&p).unwrap();
    let back = parts_of(k.private.as_ref().unwrap()).unwrap();
    let original = parts();
    for (a, b) in [
        (&back.dp, &original.dp),
        (&back.dq, &original.dq),
        (&back.qi, &original.qi),
    ] {
        assert_eq!(
            a.as_ref().unwrap().expose_secret(),
            b.as_ref().unwrap().expose_secret()
        );
    }
    // Leading zeros are accepted.
    let mut padded = copy(parts());
    padded.n.insert(0, 0);
    padded.d = SecretBytes::new([&[0u8, 0][..], parts().d.expose_secret()].concat());
    assert!(RsaKey::from_parts(&padded).is_ok());
}

#[test]
fn load_rejects_inconsistent_material() {
    fn bump(s: &SecretBytes) -> SecretBytes {
        let mut v = s.expose_secret().to_vec();
        if let Some(last) = v.last_mut() {
            *last ^= 2;
        }
        SecretBytes::new(v)
    }
    type Mutation = Box<dyn Fn(&mut RsaPrivateParts)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("p", Box::new(|p| p.p = bump(&p.p))),
        ("q", Box::new(|p| p.q = bump(&p.q))),
        ("d", Box::new(|p| p.d = bump(&p.d))),
        ("n", Box::new(|p| p.n[100] ^= 1)),
        ("e even", Box::new(|p| p.e = vec![1, 0, 0])),
        ("e = 1", Box::new(|p| p.e = vec![1])),
        ("e = 3 (wrong d)", Box::new(|p| p.e = vec![3])),
        ("e too big", Box::new(|p| p.e = vec![1, 0, 0, 0, 0, 1])),
        ("e empty", Box::new(|p| p.e = vec![])),
        ("dp", Box::new(|p| p.dp = p.dp.as_ref().map(bump))),
        ("dq", Box::new(|p| p.dq = p.dq.as_ref().map(bump))),
        ("qi", Box::new(|p| p.qi = p.qi.as_ref().map(bump))),
        ("p empty", Box::new(|p| p.p = SecretBytes::default())),
        (
            "q zero",
            Box::new(|p| p.q = SecretBytes::from_slice(&[0; 128])),
        ),
        (
            "d longer than n",
            Box::new(|p| p.d = SecretBytes::from_slice(&[1; 257])),
        ),
        ("n even", Box::new(|p| p.n[255] &= 0xfe)),
        ("n empty", Box::new(|p| p.n = vec![])),
        ("n too big", Box::new(|p| p.n = vec![0xff; 1025])),
    ];
    for (name, mutate) in cases {
        let mut p = copy(parts());
        mutate(&mut p);
        let err = RsaKey::from_parts(&p).unwrap_err();
        assert_eq!(err.code(), "InvalidKeyMaterial", "{name}: {err}");
    }
    // Swapping p and q (and recomputing qi) is a valid key.
    let mut swapped = copy(parts());
    std::mem::swap(&mut swapped.p, &mut swapped.q);
    std::mem::swap(&mut swapped.dp, &mut swapped.dq);
    swapped.qi = None;
    assert!(RsaKey::from_parts(&swapped).is_ok());
}

#[test]
fn load_rejects_small_moduli() {
    // The 512-bit key of the rsa crate's own tests.
    let h = |s: &str| hex::decode(s).unwrap();
    let small = RsaPrivateParts {
        n: h(
            "B2990F49C47DFA8CD400AE6A4D1B8A3B6A13642B23F28B003BFB97790ADE9A4C\
              C82B8B2A81747DDEC08B6296E53A08C331687EF25C4BF4936BA1C0E6041E9D15",
        ),
        e: vec![1, 0, 1],
        d: SecretBytes::new(h(
            "8ABD6A69F4D1A4B487F0AB8D7AAEFD38609405C999984E30F567E1E8AEEFF44E\
             8B18BDB1EC78DFA31A55E32A48D7FB131F5AF1F44D7D6B2CED2A9DF5E5AE4535",
        )),
        p: SecretBytes::new(h(
            "DAB2F18048BAA68DE7DF04D2D35D5D80E60E2DFA42D50A9B04219032715E46B3",
        )),
        q: SecretBytes::new(h(
            "D10F2E66B1D0C13F10EF9927BF5324A379CA218146CBF9CAFC795221F16A3117",
        )),
        dp: None,
        dq: None,
        qi: None,
    };
    assert_eq!(code(RsaKey::from_parts(&small)), "InvalidKeyMaterial");
    assert_eq!(
        code(RsaKey::from_public(&small.n, &small.e)),
        "InvalidKeyMaterial"
    );
}

#[test]
fn load_public_rejects_bad_numbers() {
    let p = parts();
    assert!(RsaKey::from_public(&p.n, &p.e).is_ok());
    let mut even = p.n.clone();
    even[255] &= 0xfe;
    for (n, e) in [
        (even, p.e.clone()),
        (p.n.clone(), vec![]),
        (p.n.clone(), vec![2]),
        (p.n.clone(), vec![0xff; 9]),
        (vec![], p.e.clone()),
        (vec![0xff; 2000], p.e.clone()),
    ] {
        assert_eq!(code(RsaKey::from_public(&n, &e)), "InvalidKeyMaterial");
    }
}

#[test]
fn debug_is_redacted() {
    let k = key();
    let shown = format!("{k:?}");
    assert_eq!(shown, "RsaKey(2048 bits, private: [REDACTED])");
    let d_hex = hex::encode(&parts().d.expose_secret()[..8]);
    assert!(!shown.to_lowercase().contains(&d_hex));
    let p = parts();
    let public = RsaKey::from_public(&p.n, &p.e).unwrap();
    assert_eq!(format!("{public:?}"), "RsaKey(2048 bits, public only)");
}

#[test]
fn raw_rsa_is_the_padded_schemes_core() {
    let k = key();
    let public = RsaKey::from_public(&parts().n, &parts().e).unwrap();
    // RSASP1 over the EMSA-PKCS1-v1_5 encoding is a PKCS#1 v1.5 signature.
    let digest_info = [
        &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ][..],
        &[0x5a; 32],
    ]
    .concat();
    let mut em = vec![0x00, 0x01];
    em.resize(256 - digest_info.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&digest_info);
    let raw = k.sign(&SignAlgorithm::RsaRaw, &em).unwrap();
    let pkcs1 = k
        .sign(&SignAlgorithm::RsaPkcs1v15 { hash: None }, &digest_info)
        .unwrap();
    assert_eq!(raw, pkcs1);
    assert!(public.verify(&SignAlgorithm::RsaRaw, &em, &raw).unwrap());
    let mut other = em.clone();
    other[100] ^= 1;
    assert!(!public.verify(&SignAlgorithm::RsaRaw, &other, &raw).unwrap());
    assert!(
        !public
            .verify(&SignAlgorithm::RsaRaw, &em, &raw[1..])
            .unwrap()
    );

    // RSAEP then RSADP gives the input back, whatever its leading bytes.
    for first in [0x00, 0x01, 0x7f] {
        let mut m = vec![0x33u8; 256];
        m[0] = first;
        m[1] = 0;
        let c = public.encrypt(&CipherAlgorithm::RsaRaw, &m).unwrap().data;
        assert_eq!(c.len(), 256);
        assert_eq!(
            k.decrypt(&CipherAlgorithm::RsaRaw, &c)
                .unwrap()
                .expose_secret(),
            m.as_slice()
        );
    }
    // PKCS#1 v1.5 encryption is RSAEP over its padding: RSADP shows the padding.
    let c = public
        .encrypt(&CipherAlgorithm::RsaPkcs1v15, b"hello")
        .unwrap()
        .data;
    let em = k.decrypt(&CipherAlgorithm::RsaRaw, &c).unwrap();
    assert_eq!(&em.expose_secret()[..2], &[0x00, 0x02]);
    assert!(em.expose_secret().ends_with(b"\x00hello"));
}

#[test]
fn raw_rsa_refuses_values_and_lengths() {
    let k = key();
    let n = parts().n.clone();
    assert_eq!(
        code(k.sign(&SignAlgorithm::RsaRaw, &n)),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.sign(&SignAlgorithm::RsaRaw, &[0xff; 256])),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.sign(&SignAlgorithm::RsaRaw, &[1; 255])),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.encrypt(&CipherAlgorithm::RsaRaw, &n)),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.decrypt(&CipherAlgorithm::RsaRaw, &n)),
        "DecryptionFailed"
    );
    assert_eq!(
        code(k.decrypt(&CipherAlgorithm::RsaRaw, &[1; 257])),
        "InvalidInputLength"
    );
    let public = RsaKey::from_public(&parts().n, &parts().e).unwrap();
    assert!(code(public.sign(&SignAlgorithm::RsaRaw, &[0; 256])) != "ok");
    assert!(code(public.decrypt(&CipherAlgorithm::RsaRaw, &[0; 256])) != "ok");
}
