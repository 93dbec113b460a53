use super::*;
use crate::crypto::check;

#[test]
fn every_azure_signature_name_maps() {
    for name in [
        "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "HS256", "HS384", "HS512", "RSNULL",
        "ES256", "ES384", "ES512", "ES256K",
    ] {
        sign_algorithm(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(
        sign_algorithm("ES512").unwrap(),
        SignAlgorithm::Ecdsa {
            hash: Some(HashAlg::Sha512),
            curve: Some(Curve::P521)
        }
    );
    assert_eq!(
        sign_algorithm("rs256").unwrap_err().code(),
        "UnsupportedAlgorithm"
    );
}

#[test]
fn every_azure_encryption_name_maps_to_cipher_or_wrap() {
    let iv = Some(vec![0u8; 16]);
    for name in [
        "RSA-OAEP",
        "RSA-OAEP-256",
        "RSA1_5",
        "A128GCM",
        "A192GCM",
        "A256GCM",
        "A128CBC",
        "A192CBC",
        "A256CBC",
        "A128CBCPAD",
        "A192CBCPAD",
        "A256CBCPAD",
    ] {
        cipher_algorithm(name, iv.clone(), None).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in [
        "RSA-OAEP",
        "RSA-OAEP-256",
        "RSA1_5",
        "A128KW",
        "A192KW",
        "A256KW",
        "CKM_AES_KEY_WRAP",
        "CKM_AES_KEY_WRAP_PAD",
    ] {
        wrap_algorithm(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(
        cipher_algorithm("A128KW", None, None).unwrap_err().code(),
        "BadParameter"
    );
    assert_eq!(
        wrap_algorithm("A128GCM").unwrap_err().code(),
        "UnsupportedAlgorithm"
    );
}

#[test]
fn cbc_needs_a_16_byte_iv() {
    assert_eq!(
        cipher_algorithm("A128CBC", None, None).unwrap_err().code(),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        cipher_algorithm("A128CBCPAD", Some(vec![0; 12]), None)
            .unwrap_err()
            .code(),
        "InvalidAlgorithmParameter"
    );
}

fn key_specs() -> Vec<KeySpec> {
    let mut specs = vec![
        KeySpec::Rsa { bits: 2048 },
        KeySpec::Rsa { bits: 3072 },
        KeySpec::Rsa { bits: 4096 },
        KeySpec::Aes { bits: 128 },
        KeySpec::Aes { bits: 192 },
        KeySpec::Aes { bits: 256 },
        KeySpec::Aes { bits: 160 },
        KeySpec::Secret { bits: 160 },
    ];
    specs.extend(Curve::ALL.map(|curve| KeySpec::Ec { curve }));
    specs
}

fn sign_algorithms() -> Vec<SignAlgorithm> {
    let mut algs = vec![
        SignAlgorithm::RsaPkcs1v15 { hash: None },
        SignAlgorithm::Cmac,
        SignAlgorithm::RsaRaw,
    ];
    for hash in HASHES {
        algs.push(SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) });
        algs.push(SignAlgorithm::Hmac { hash });
        for mgf1 in HASHES {
            for salt_len in [0, 20, 32, 48, 64, 1000] {
                algs.push(SignAlgorithm::RsaPss {
                    hash,
                    mgf1,
                    salt_len,
                });
            }
        }
    }
    for hash in [None].into_iter().chain(HASHES.map(Some)) {
        for curve in [None].into_iter().chain(Curve::ALL.map(Some)) {
            algs.push(SignAlgorithm::Ecdsa { hash, curve });
        }
    }
    algs
}

/// The algorithm with the constraints it may carry filled in from the key it fits.
fn fill_sign(alg: &SignAlgorithm, key: &KeySpec) -> SignAlgorithm {
    match (alg, key) {
        (SignAlgorithm::Ecdsa { hash, curve: None }, KeySpec::Ec { curve }) => {
            SignAlgorithm::Ecdsa {
                hash: *hash,
                curve: Some(*curve),
            }
        }
        _ => alg.clone(),
    }
}

fn fill_key_bits(key_bits: Option<u32>, key: &KeySpec) -> Option<u32> {
    match key {
        KeySpec::Aes { bits } => key_bits.or(Some(*bits)),
        _ => key_bits,
    }
}

fn fill_cipher(alg: &CipherAlgorithm, key: &KeySpec) -> CipherAlgorithm {
    let mut alg = alg.clone();
    if let CipherAlgorithm::AesGcm { key_bits, .. } | CipherAlgorithm::AesCbc { key_bits, .. } =
        &mut alg
    {
        *key_bits = fill_key_bits(*key_bits, key);
    }
    alg
}

fn fill_wrap(alg: &WrapAlgorithm, key: &KeySpec) -> WrapAlgorithm {
    let mut alg = alg.clone();
    if let WrapAlgorithm::AesKw { key_bits } | WrapAlgorithm::AesKwp { key_bits } = &mut alg {
        *key_bits = fill_key_bits(*key_bits, key);
    }
    alg
}

fn same_check(a: Result<()>, b: Result<()>, what: &str) {
    assert_eq!(
        a.as_ref().err().map(Error::code),
        b.as_ref().err().map(Error::code),
        "{what}"
    );
}

#[test]
fn every_signature_scheme_round_trips_through_its_name() {
    for key in key_specs() {
        for alg in sign_algorithms() {
            let name = sign_name(&alg, &key);
            let what = format!("{alg:?} with {key:?} as {name}");
            let parsed = sign_algorithm(&name).unwrap_or_else(|e| panic!("{what}: {e}"));
            same_check(
                check::sign_key(&key, &alg),
                check::sign_key(&key, &parsed),
                &what,
            );
            // Constraints the name fills in are those the key meets anyway.
            assert_eq!(fill_sign(&parsed, &key), fill_sign(&alg, &key), "{what}");
        }
    }
}

fn cipher_algorithms() -> Vec<CipherAlgorithm> {
    let mut algs = vec![CipherAlgorithm::RsaPkcs1v15, CipherAlgorithm::RsaRaw];
    for hash in HASHES {
        for mgf1 in HASHES {
            for label in [Vec::new(), b"label".to_vec()] {
                algs.push(CipherAlgorithm::RsaOaep { hash, mgf1, label });
            }
        }
    }
    let sizes = [None, Some(128), Some(192), Some(256), Some(160)];
    for key_bits in sizes {
        for iv in [None, Some(vec![7; 12]), Some(vec![7; 8])] {
            for aad in [Vec::new(), b"aad".to_vec()] {
                for tag_len in [8, 12, 13, 16, 17] {
                    algs.push(CipherAlgorithm::AesGcm {
                        key_bits,
                        iv: iv.clone(),
                        aad: aad.clone(),
                        tag_len,
                    });
                }
            }
        }
        for padding in [false, true] {
            algs.push(CipherAlgorithm::AesCbc {
                key_bits,
                iv: [3; 16],
                padding,
            });
        }
    }
    algs.push(CipherAlgorithm::AesEcb);
    for counter_bits in [32, 64, 128, 48] {
        algs.push(CipherAlgorithm::AesCtr {
            counter_block: [9; 16],
            counter_bits,
        });
    }
    algs
}

#[test]
fn every_cipher_scheme_round_trips_through_its_request() {
    for key in key_specs() {
        for alg in cipher_algorithms() {
            let req = cipher_request(&alg, &key);
            let what = format!("{alg:?} with {key:?} as {req:?}");
            let parsed = cipher_algorithm(&req.alg, req.iv.clone(), req.aad.clone())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            same_check(
                check::cipher_key(&key, &alg),
                check::cipher_key(&key, &parsed),
                &what,
            );
            // Constraints the name fills in are those the key meets anyway.
            assert_eq!(
                fill_cipher(&parsed, &key),
                fill_cipher(&alg, &key),
                "{what}"
            );
        }
    }
}

fn wrap_algorithms() -> Vec<WrapAlgorithm> {
    let mut algs = vec![WrapAlgorithm::RsaPkcs1v15];
    for hash in HASHES {
        for mgf1 in HASHES {
            for label in [Vec::new(), b"label".to_vec()] {
                algs.push(WrapAlgorithm::RsaOaep { hash, mgf1, label });
            }
        }
    }
    for key_bits in [None, Some(128), Some(192), Some(256), Some(160)] {
        algs.push(WrapAlgorithm::AesKw { key_bits });
        algs.push(WrapAlgorithm::AesKwp { key_bits });
    }
    algs
}

#[test]
fn every_wrap_scheme_round_trips_through_its_request() {
    for key in key_specs() {
        for alg in wrap_algorithms() {
            let req = wrap_request(&alg, &key);
            assert_eq!(req.iv, None);
            let what = format!("{alg:?} with {key:?} as {req:?}");
            let parsed = wrap_algorithm_with_aad(&req.alg, req.aad.clone())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            same_check(
                check::wrap_key(&key, &alg),
                check::wrap_key(&key, &parsed),
                &what,
            );
            // Constraints the name fills in are those the key meets anyway.
            assert_eq!(fill_wrap(&parsed, &key), fill_wrap(&alg, &key), "{what}");
        }
    }
}

#[test]
fn azure_names_are_used_when_they_mean_exactly_the_algorithm() {
    let p256 = KeySpec::Ec { curve: Curve::P256 };
    let p384 = KeySpec::Ec { curve: Curve::P384 };
    let rsa = KeySpec::Rsa { bits: 2048 };
    let aes128 = KeySpec::Aes { bits: 128 };
    let aes256 = KeySpec::Aes { bits: 256 };
    let ecdsa = |hash, curve| SignAlgorithm::Ecdsa { hash, curve };
    let sha256 = Some(HashAlg::Sha256);
    assert_eq!(sign_name(&ecdsa(sha256, None), &p256), "ES256");
    assert_eq!(sign_name(&ecdsa(sha256, Some(Curve::P256)), &p256), "ES256");
    assert_eq!(sign_name(&ecdsa(sha256, None), &p384), "MHSM-ES-SHA256");
    assert_eq!(sign_name(&ecdsa(None, None), &p256), "MHSM-ES-NONE");
    assert_eq!(
        sign_name(&ecdsa(sha256, Some(Curve::P384)), &p256),
        "MHSM-ES-SHA256-P384"
    );
    let pss = |hash, mgf1, salt_len| SignAlgorithm::RsaPss {
        hash,
        mgf1,
        salt_len,
    };
    assert_eq!(
        sign_name(&pss(HashAlg::Sha256, HashAlg::Sha256, 32), &rsa),
        "PS256"
    );
    assert_eq!(
        sign_name(&pss(HashAlg::Sha256, HashAlg::Sha256, 0), &rsa),
        "MHSM-PS-SHA256-MGF1-SHA256-S0"
    );
    assert_eq!(
        sign_name(&pss(HashAlg::Sha384, HashAlg::Sha1, 48), &rsa),
        "MHSM-PS-SHA384-MGF1-SHA1-S48"
    );
    assert_eq!(
        sign_name(
            &SignAlgorithm::Hmac {
                hash: HashAlg::Sha1
            },
            &aes128
        ),
        "MHSM-HS-SHA1"
    );
    let gcm = |key_bits, tag_len| CipherAlgorithm::AesGcm {
        key_bits,
        iv: None,
        aad: Vec::new(),
        tag_len,
    };
    assert_eq!(cipher_request(&gcm(None, 16), &aes256).alg, "A256GCM");
    assert_eq!(cipher_request(&gcm(Some(256), 16), &aes256).alg, "A256GCM");
    assert_eq!(
        cipher_request(&gcm(None, 12), &aes256).alg,
        "MHSM-AES-GCM-T12"
    );
    assert_eq!(
        cipher_request(&gcm(Some(128), 16), &aes256).alg,
        "MHSM-AES-GCM-T16-K128"
    );
    let cbcpad = CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [0; 16],
        padding: true,
    };
    assert_eq!(cipher_request(&cbcpad, &aes128).alg, "A128CBCPAD");
    // Without padding: whole blocks only, which Azure's zero-padding `A128CBC` is not.
    let cbc = CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [0; 16],
        padding: false,
    };
    assert_eq!(cipher_request(&cbc, &aes128).alg, "MHSM-AES-CBC");
    assert_eq!(
        cipher_algorithm("MHSM-AES-CBC", Some(vec![0; 16]), None).unwrap(),
        cbc
    );
    let oaep = |hash, label: &[u8]| WrapAlgorithm::RsaOaep {
        hash,
        mgf1: hash,
        label: label.to_vec(),
    };
    assert_eq!(
        wrap_request(&oaep(HashAlg::Sha256, b""), &rsa),
        JwaRequest::name("RSA-OAEP-256")
    );
    let labelled = wrap_request(&oaep(HashAlg::Sha256, b"L"), &rsa);
    assert_eq!(labelled.alg, "MHSM-RSA-OAEP-SHA256-MGF1-SHA256");
    assert_eq!(labelled.aad.as_deref(), Some(&b"L"[..]));
    assert_eq!(
        wrap_request(&WrapAlgorithm::AesKwp { key_bits: None }, &aes128).alg,
        "CKM_AES_KEY_WRAP_PAD"
    );
    let ctr = CipherAlgorithm::AesCtr {
        counter_block: [1; 16],
        counter_bits: 64,
    };
    let req = cipher_request(&ctr, &aes128);
    assert_eq!(req.alg, "MHSM-AES-CTR-C64");
    assert_eq!(req.iv, Some(vec![1; 16]));
}

#[test]
fn garbled_vendor_names_are_refused() {
    for name in [
        "MHSM-",
        "MHSM-XX",
        "MHSM-RS",
        "MHSM-RS-SHA3",
        "MHSM-PS-SHA256",
        "MHSM-PS-SHA256-MGF1-SHA256",
        "MHSM-PS-SHA256-MGF2-SHA256-S32",
        "MHSM-PS-SHA256-MGF1-SHA256-S",
        "MHSM-PS-SHA256-MGF1-SHA256-Sx",
        "MHSM-PS-SHA256-MGF1-SHA256-S-1",
        "MHSM-PS-SHA256-MGF1-SHA256-S32-",
        "MHSM-ES-SHA256-P999",
        "MHSM-ES-SHA256-P256-P256",
        "MHSM-CMAC-SHA256",
        "MHSM-RSA-RAW-X",
        "mhsm-cmac",
    ] {
        assert_eq!(
            sign_algorithm(name).unwrap_err().code(),
            "UnsupportedAlgorithm",
            "{name}"
        );
    }
    assert_eq!(
        sign_algorithm("MHSM-PS-SHA256-MGF1-SHA256-S99999999999999999999999")
            .unwrap_err()
            .code(),
        "InvalidAlgorithmParameter"
    );
    let iv = Some(vec![0; 16]);
    for name in [
        "MHSM-AES",
        "MHSM-AES-XTS",
        "MHSM-AES-GCM",
        "MHSM-AES-GCM-12",
        "MHSM-AES-GCM-T12-128",
        "MHSM-AES-GCM-T12-K128-K128",
        "MHSM-AES-ECB-K128",
        "MHSM-AES-CTR",
        "MHSM-AES-CBC-X",
        "MHSM-RSA-OAEP",
        "MHSM-RSA-OAEP-SHA256",
        "MHSM-RSA-OAEP-SHA256-MGF1-MD5",
        "MHSM-RSA-RAWX",
    ] {
        assert_eq!(
            cipher_algorithm(name, iv.clone(), None).unwrap_err().code(),
            "UnsupportedAlgorithm",
            "{name}"
        );
    }
    for (name, iv) in [
        ("MHSM-AES-CTR-C64", None),
        ("MHSM-AES-CTR-C64", Some(vec![0; 12])),
        ("MHSM-AES-CBC", None),
        ("MHSM-AES-GCM-T99999999999999999999999", None),
    ] {
        assert_eq!(
            cipher_algorithm(name, iv, None).unwrap_err().code(),
            "InvalidAlgorithmParameter",
            "{name}"
        );
    }
    assert_eq!(
        cipher_algorithm("MHSM-AES-KW-K128", None, None)
            .unwrap_err()
            .code(),
        "BadParameter"
    );
    for name in [
        "MHSM-AES-KW",
        "MHSM-AES-KWP-128",
        "MHSM-AES-KW-K128-X",
        "MHSM-AES-GCM-T16",
    ] {
        assert_eq!(
            wrap_algorithm(name).unwrap_err().code(),
            "UnsupportedAlgorithm",
            "{name}"
        );
    }
}

#[test]
fn azure_cbc_names_zero_pad_to_whole_blocks() {
    let padded = |name: &str, len: usize| {
        let mut p = crate::SecretBytes::new(vec![0xaa; len]);
        zero_pad(name, &mut p);
        p.expose_secret().to_vec()
    };
    for name in ["A128CBC", "A192CBC", "A256CBC"] {
        let p = padded(name, 17);
        assert_eq!(p.len(), 32, "{name}");
        assert!(p[..17].iter().all(|b| *b == 0xaa) && p[17..].iter().all(|b| *b == 0));
        assert_eq!(
            padded(name, 32),
            vec![0xaa; 32],
            "{name}: whole blocks stay"
        );
        assert_eq!(padded(name, 0), Vec::<u8>::new());
    }
    // PKCS#7, mhsm's own names and the other schemes take the plaintext as it is.
    for name in [
        "A256CBCPAD",
        "MHSM-AES-CBC",
        "A256GCM",
        "RSA-OAEP",
        "MHSM-AES-ECB",
    ] {
        assert_eq!(padded(name, 17), vec![0xaa; 17], "{name}");
    }
}
