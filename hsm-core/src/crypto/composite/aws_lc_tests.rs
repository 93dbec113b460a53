//! The `aws-lc` composite against the RustCrypto provider alone: the same material, the same
//! answers.

use std::sync::Arc;

use crate::crypto::alg::{CipherAlgorithm, HashAlg, SignAlgorithm, WrapAlgorithm};
use crate::crypto::aws_lc;
use crate::crypto::material::{Curve, KeySpec};
use crate::crypto::provider::{CryptoProvider, LoadedKey};
use crate::crypto::rustcrypto::RustCryptoProvider;
use crate::crypto::rustcrypto::test_keys;

fn code<T>(r: crate::error::Result<T>) -> &'static str {
    r.err().map_or("ok", |e| e.code())
}

#[test]
fn name_and_random() {
    let p = aws_lc();
    assert_eq!(p.name(), "aws-lc");
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    p.fill_random(&mut a).unwrap();
    p.fill_random(&mut b).unwrap();
    assert_ne!(a, b);
    p.fill_random(&mut []).unwrap();
}

#[test]
fn digests_and_hmac_match_rustcrypto() {
    let (a, r) = (aws_lc(), RustCryptoProvider::new());
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    for alg in [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        let mut ha = a.hasher(alg);
        let mut hr = r.hasher(alg);
        for chunk in data.chunks(77) {
            ha.update(chunk);
            hr.update(chunk);
        }
        let d = ha.finish();
        assert_eq!(d, hr.finish(), "{alg}");
        let aes = a
            .load(&a.generate(KeySpec::Aes { bits: 256 }).unwrap())
            .unwrap();
        let tag = aes.sign(&SignAlgorithm::Hmac { hash: alg }, &data).unwrap();
        assert_eq!(tag.len(), alg.output_len());
        assert!(
            aes.verify(&SignAlgorithm::Hmac { hash: alg }, &data, &tag)
                .unwrap()
        );
        assert!(
            !aes.verify(&SignAlgorithm::Hmac { hash: alg }, &data[1..], &tag)
                .unwrap()
        );
        let m = r.generate(KeySpec::Aes { bits: 128 }).unwrap();
        let crate::crypto::KeyMaterial::Aes(bytes) = &m else {
            unreachable!()
        };
        let tag = r
            .load(&m)
            .unwrap()
            .sign(&SignAlgorithm::Hmac { hash: alg }, b"m")
            .unwrap();
        assert!(
            a.verify_hmac(alg, bytes.expose_secret(), b"m", &tag)
                .unwrap()
        );
        assert!(
            !a.verify_hmac(alg, bytes.expose_secret(), b"n", &tag)
                .unwrap()
        );
    }
}

/// Every key family, loaded from the same material by both providers: signatures and
/// ciphertexts of one are accepted by the other, in both directions.
#[test]
fn both_providers_interoperate() {
    let (a, r) = (aws_lc(), RustCryptoProvider::new());
    let rsa = test_keys::rsa2048();
    let mut pairs: Vec<(Arc<dyn LoadedKey>, Arc<dyn LoadedKey>)> =
        vec![(a.load(rsa).unwrap(), r.load(rsa).unwrap())];
    for curve in Curve::ALL {
        let m = a.generate(KeySpec::Ec { curve }).unwrap();
        pairs.push((a.load(&m).unwrap(), r.load(&m).unwrap()));
    }
    let mut sign_algs = vec![SignAlgorithm::RsaRaw];
    for hash in [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        sign_algs.push(SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) });
        for salt_len in [0, hash.output_len()] {
            sign_algs.push(SignAlgorithm::RsaPss {
                hash,
                mgf1: hash,
                salt_len,
            });
        }
        sign_algs.push(SignAlgorithm::Ecdsa {
            hash: Some(hash),
            curve: None,
        });
    }
    sign_algs.push(SignAlgorithm::Ecdsa {
        hash: None,
        curve: None,
    });
    for (ka, kr) in &pairs {
        assert_eq!(ka.public_key(), kr.public_key());
        assert_eq!(ka.spec(), kr.spec());
        for alg in &sign_algs {
            let input: Vec<u8> = match alg {
                SignAlgorithm::RsaRaw => {
                    let mut v = vec![0x11; 256];
                    v[0] = 0;
                    v
                }
                SignAlgorithm::RsaPkcs1v15 { hash: Some(h) }
                | SignAlgorithm::RsaPss { hash: h, .. }
                | SignAlgorithm::Ecdsa { hash: Some(h), .. } => vec![0x5a; h.output_len()],
                _ => (0..70u8).collect(),
            };
            let (Ok(sa), Ok(sr)) = (ka.sign(alg, &input), kr.sign(alg, &input)) else {
                assert_eq!(
                    code(ka.sign(alg, &input)),
                    code(kr.sign(alg, &input)),
                    "{alg:?}"
                );
                continue;
            };
            assert!(kr.verify(alg, &input, &sa).unwrap(), "{alg:?} a->r");
            assert!(ka.verify(alg, &input, &sr).unwrap(), "{alg:?} r->a");
            let mut bad = sa.clone();
            bad[5] ^= 1;
            assert!(!ka.verify(alg, &input, &bad).unwrap(), "{alg:?}");
        }
    }
    // CKM_RSA_PKCS over a DigestInfo is RS256 over its digest (deterministic, so equal).
    let (ka, kr) = &pairs[0];
    let digest = [0x42u8; 32];
    let mut info = hex::decode("3031300d060960864801650304020105000420").unwrap();
    info.extend_from_slice(&digest);
    let raw = ka
        .sign(&SignAlgorithm::RsaPkcs1v15 { hash: None }, &info)
        .unwrap();
    let rs256 = kr
        .sign(
            &SignAlgorithm::RsaPkcs1v15 {
                hash: Some(HashAlg::Sha256),
            },
            &digest,
        )
        .unwrap();
    assert_eq!(raw, rs256);

    for alg in [
        CipherAlgorithm::RsaPkcs1v15,
        CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha256,
            label: b"label".to_vec(),
        },
        CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha1,
            mgf1: HashAlg::Sha1,
            label: vec![],
        },
        CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha1,
            label: vec![],
        },
    ] {
        let ca = ka.encrypt(&alg, b"secret").unwrap().data;
        let cr = kr.encrypt(&alg, b"secret").unwrap().data;
        assert_eq!(kr.decrypt(&alg, &ca).unwrap().expose_secret(), b"secret");
        assert_eq!(ka.decrypt(&alg, &cr).unwrap().expose_secret(), b"secret");
        assert_eq!(code(ka.decrypt(&alg, &cr[1..])), "InvalidInputLength");
    }
    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        label: vec![],
    };
    let mut ct = kr.encrypt(&oaep, b"secret").unwrap().data;
    ct[9] ^= 4;
    assert_eq!(code(ka.decrypt(&oaep, &ct)), "DecryptionFailed");
}

#[test]
fn aes_gcm_interoperates_with_every_tag_length() {
    let (a, r) = (aws_lc(), RustCryptoProvider::new());
    for bits in [128, 192, 256] {
        let m = a.generate(KeySpec::Aes { bits }).unwrap();
        let (ka, kr) = (a.load(&m).unwrap(), r.load(&m).unwrap());
        for tag_len in 12..=16 {
            let alg = CipherAlgorithm::AesGcm {
                key_bits: None,
                iv: Some(vec![9; 12]),
                aad: b"aad".to_vec(),
                tag_len,
            };
            let ca = ka.encrypt(&alg, &[7; 100]).unwrap();
            let cr = kr.encrypt(&alg, &[7; 100]).unwrap();
            assert_eq!(ca, cr, "{bits} {tag_len}");
            let ct = ca.data_with_tag();
            assert_eq!(ka.decrypt(&alg, &ct).unwrap().expose_secret(), &[7; 100]);
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert_eq!(code(ka.decrypt(&alg, &bad)), "DecryptionFailed");
            assert_eq!(
                code(ka.decrypt(&alg, &ct[..5])),
                code(kr.decrypt(&alg, &ct[..5]))
            );
        }
        let random_iv = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: vec![],
            tag_len: 16,
        };
        let c = ka.encrypt(&random_iv, b"m").unwrap();
        let alg = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: c.iv.clone(),
            aad: vec![],
            tag_len: 16,
        };
        assert_eq!(
            kr.decrypt(&alg, &c.data_with_tag())
                .unwrap()
                .expose_secret(),
            b"m"
        );
        let kw = WrapAlgorithm::AesKwp { key_bits: None };
        let w = ka.wrap(&kw, b"0123456789").unwrap();
        assert_eq!(kr.unwrap(&kw, &w).unwrap().expose_secret(), b"0123456789");
    }
}

#[test]
fn load_refuses_what_rustcrypto_refuses() {
    let (a, r) = (aws_lc(), RustCryptoProvider::new());
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        let flen = curve.field_len();
        for d in [
            vec![0; flen],
            vec![0xff; flen],
            vec![1; flen + 1],
            vec![],
            vec![7],
        ] {
            let m = crate::crypto::KeyMaterial::Ec {
                curve,
                d: crate::secret::SecretBytes::new(d),
            };
            assert_eq!(code(a.load(&m)), code(r.load(&m)), "{curve}");
        }
    }
}

#[test]
fn generated_keys_load_in_the_other_provider() {
    let (a, r) = (aws_lc(), RustCryptoProvider::new());
    for spec in [
        KeySpec::Rsa { bits: 2048 },
        KeySpec::Ec { curve: Curve::P256 },
        KeySpec::Ec { curve: Curve::P521 },
        KeySpec::Aes { bits: 192 },
        KeySpec::Secret { bits: 136 },
    ] {
        let (material, key) = a.generate_loaded(spec).unwrap();
        assert_eq!(key.spec(), spec);
        let other = r.load(&material).unwrap();
        assert_eq!(key.public_key(), other.public_key());
        let again = a.load(&material).unwrap();
        assert_eq!(key.public_key(), again.public_key());
    }
}

/// A generic secret MACs alike in both providers (aws-lc answers HMAC itself) and refuses
/// everything else with the RustCrypto provider's error.
#[test]
fn generic_secrets_agree_across_providers() {
    let (a, r) = (aws_lc(), RustCryptoProvider::new());
    let material =
        crate::crypto::KeyMaterial::Secret(crate::secret::SecretBytes::from_slice(&[0x5c; 100]));
    let (fast, slow) = (a.load(&material).unwrap(), r.load(&material).unwrap());
    for hash in [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        let alg = SignAlgorithm::Hmac { hash };
        let tag = fast.sign(&alg, b"message").unwrap();
        assert_eq!(tag, slow.sign(&alg, b"message").unwrap(), "{hash}");
        assert!(slow.verify(&alg, b"message", &tag).unwrap());
    }
    assert_eq!(
        fast.sign(&SignAlgorithm::Cmac, b"m").unwrap_err().code(),
        "KeyTypeMismatch"
    );
    assert_eq!(
        fast.encrypt(&CipherAlgorithm::AesEcb, &[0; 16])
            .unwrap_err()
            .code(),
        "KeyTypeMismatch"
    );
    assert!(
        a.load(&crate::crypto::KeyMaterial::Secret(
            crate::secret::SecretBytes::new(Vec::new())
        ))
        .is_err()
    );
}
