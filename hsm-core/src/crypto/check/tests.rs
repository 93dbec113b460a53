use super::*;
use crate::crypto::material::Curve;

const RSA2048: KeySpec = KeySpec::Rsa { bits: 2048 };
const P256: KeySpec = KeySpec::Ec { curve: Curve::P256 };
const AES128: KeySpec = KeySpec::Aes { bits: 128 };

fn code(r: Result<()>) -> &'static str {
    r.err().map_or("ok", |e| e.code())
}

#[test]
fn sign_rules() {
    let rs256 = SignAlgorithm::RsaPkcs1v15 {
        hash: Some(HashAlg::Sha256),
    };
    assert_eq!(code(sign(&RSA2048, &rs256, 32)), "ok");
    assert_eq!(code(sign(&RSA2048, &rs256, 31)), "InvalidInputLength");
    assert_eq!(code(sign(&P256, &rs256, 32)), "KeyTypeMismatch");
    let raw = SignAlgorithm::RsaPkcs1v15 { hash: None };
    assert_eq!(code(sign(&RSA2048, &raw, 245)), "ok");
    assert_eq!(code(sign(&RSA2048, &raw, 246)), "InvalidInputLength");
    let pss = |salt_len| SignAlgorithm::RsaPss {
        hash: HashAlg::Sha512,
        mgf1: HashAlg::Sha512,
        salt_len,
    };
    assert_eq!(code(sign(&RSA2048, &pss(64), 64)), "ok");
    assert_eq!(code(sign(&RSA2048, &pss(190), 64)), "ok");
    assert_eq!(
        code(sign(&RSA2048, &pss(191), 64)),
        "InvalidAlgorithmParameter"
    );
    let es384 = SignAlgorithm::Ecdsa {
        hash: Some(HashAlg::Sha384),
        curve: Some(Curve::P384),
    };
    assert_eq!(code(sign(&P256, &es384, 48)), "KeyTypeMismatch");
    let ecdsa_raw = SignAlgorithm::Ecdsa {
        hash: None,
        curve: None,
    };
    assert_eq!(code(sign(&P256, &ecdsa_raw, 100)), "ok");
    assert_eq!(code(sign(&P256, &ecdsa_raw, 0)), "InvalidInputLength");
    let hmac = SignAlgorithm::Hmac {
        hash: HashAlg::Sha256,
    };
    assert_eq!(code(sign(&AES128, &hmac, 0)), "ok");
    assert_eq!(code(sign(&P256, &hmac, 10)), "KeyTypeMismatch");
    assert_eq!(
        code(sign(&AES128, &SignAlgorithm::Cmac, MAX_INPUT + 1)),
        "InvalidInputLength"
    );
}

/// A generic secret MACs with HMAC and does nothing else; refusals are the key-type
/// mismatch every other wrong key gets.
#[test]
fn generic_secret_rules() {
    let secret = KeySpec::Secret { bits: 160 };
    let hmac = SignAlgorithm::Hmac {
        hash: HashAlg::Sha256,
    };
    assert_eq!(code(sign(&secret, &hmac, 10)), "ok");
    assert_eq!(signature_len(&secret, &hmac).unwrap(), 32);
    assert_eq!(
        code(sign_key(&secret, &SignAlgorithm::Cmac)),
        "KeyTypeMismatch"
    );
    let ecdsa = SignAlgorithm::Ecdsa {
        hash: None,
        curve: None,
    };
    assert_eq!(code(sign_key(&secret, &ecdsa)), "KeyTypeMismatch");
    let cbc = CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [0; 16],
        padding: true,
    };
    assert_eq!(code(cipher_key(&secret, &cbc)), "KeyTypeMismatch");
    assert_eq!(code(encrypt(&secret, &cbc, 16)), "KeyTypeMismatch");
    assert_eq!(code(decrypt(&secret, &cbc, 16)), "KeyTypeMismatch");
    assert_eq!(
        code(cipher_key(&secret, &CipherAlgorithm::RsaPkcs1v15)),
        "KeyTypeMismatch"
    );
    for kw in [
        WrapAlgorithm::AesKw { key_bits: None },
        WrapAlgorithm::AesKwp { key_bits: None },
    ] {
        assert_eq!(code(wrap_key(&secret, &kw)), "KeyTypeMismatch");
        assert_eq!(code(wrap(&secret, &kw, 16)), "KeyTypeMismatch");
        assert_eq!(code(unwrap(&secret, &kw, 24)), "KeyTypeMismatch");
    }
    assert_eq!(code(ecdh(&secret)), "KeyTypeMismatch");
}

#[test]
fn cipher_rules() {
    let oaep256 = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        label: vec![],
    };
    assert_eq!(code(encrypt(&RSA2048, &oaep256, 190)), "ok");
    assert_eq!(code(encrypt(&RSA2048, &oaep256, 191)), "InvalidInputLength");
    assert_eq!(code(decrypt(&RSA2048, &oaep256, 256)), "ok");
    assert_eq!(code(decrypt(&RSA2048, &oaep256, 255)), "InvalidInputLength");
    assert_eq!(code(encrypt(&AES128, &oaep256, 1)), "KeyTypeMismatch");
    let gcm = |key_bits, iv: Option<Vec<u8>>, tag_len| CipherAlgorithm::AesGcm {
        key_bits,
        iv,
        aad: vec![],
        tag_len,
    };
    assert_eq!(code(encrypt(&AES128, &gcm(Some(128), None, 16), 0)), "ok");
    assert_eq!(
        code(encrypt(&AES128, &gcm(Some(256), None, 16), 0)),
        "KeyTypeMismatch"
    );
    assert_eq!(
        code(encrypt(&AES128, &gcm(None, Some(vec![0; 8]), 16), 0)),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(encrypt(&AES128, &gcm(None, None, 8), 0)),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(decrypt(&AES128, &gcm(None, None, 16), 20)),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(decrypt(&AES128, &gcm(None, Some(vec![0; 12]), 16), 15)),
        "InvalidInputLength"
    );
    let cbc = |padding| CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [0; 16],
        padding,
    };
    assert_eq!(
        code(encrypt(&AES128, &cbc(false), 15)),
        "InvalidInputLength"
    );
    assert_eq!(code(encrypt(&AES128, &cbc(true), 15)), "ok");
    assert_eq!(code(decrypt(&AES128, &cbc(true), 0)), "InvalidInputLength");
    assert_eq!(code(decrypt(&AES128, &cbc(false), 0)), "ok");
    let ctr = |counter_bits| CipherAlgorithm::AesCtr {
        counter_block: [0; 16],
        counter_bits,
    };
    assert_eq!(code(encrypt(&AES128, &ctr(64), 3)), "ok");
    assert_eq!(
        code(encrypt(&AES128, &ctr(20), 3)),
        "InvalidAlgorithmParameter"
    );
}

#[test]
fn wrap_rules() {
    let kw = WrapAlgorithm::AesKw { key_bits: None };
    assert_eq!(code(wrap(&AES128, &kw, 16)), "ok");
    assert_eq!(code(wrap(&AES128, &kw, 8)), "InvalidInputLength");
    assert_eq!(code(wrap(&AES128, &kw, 20)), "InvalidInputLength");
    assert_eq!(code(unwrap(&AES128, &kw, 24)), "ok");
    assert_eq!(code(unwrap(&AES128, &kw, 16)), "InvalidInputLength");
    let kwp = WrapAlgorithm::AesKwp {
        key_bits: Some(128),
    };
    assert_eq!(code(wrap(&AES128, &kwp, 1)), "ok");
    assert_eq!(code(wrap(&AES128, &kwp, 0)), "InvalidInputLength");
    assert_eq!(code(unwrap(&AES128, &kwp, 16)), "ok");
    assert_eq!(code(unwrap(&AES128, &kwp, 12)), "InvalidInputLength");
    assert_eq!(code(wrap(&RSA2048, &kw, 16)), "KeyTypeMismatch");
    assert_eq!(code(wrap(&RSA2048, &WrapAlgorithm::RsaPkcs1v15, 32)), "ok");
    assert_eq!(code(ecdh(&P256)), "ok");
    assert_eq!(code(ecdh(&RSA2048)), "KeyTypeMismatch");
}

#[test]
fn key_checks_come_before_any_input() {
    let pss = |hash, mgf1, salt_len| SignAlgorithm::RsaPss {
        hash,
        mgf1,
        salt_len,
    };
    use HashAlg::*;
    assert_eq!(code(sign_key(&RSA2048, &pss(Sha256, Sha256, 32))), "ok");
    assert_eq!(
        code(sign_key(&RSA2048, &pss(Sha256, Sha1, 32))),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(sign(&RSA2048, &pss(Sha256, Sha1, 32), 32)),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(sign_key(&RSA2048, &pss(Sha512, Sha512, 191))),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(sign_key(&P256, &pss(Sha256, Sha256, 32))),
        "KeyTypeMismatch"
    );
    let ecdsa = |curve| SignAlgorithm::Ecdsa { hash: None, curve };
    assert_eq!(code(sign_key(&P256, &ecdsa(None))), "ok");
    assert_eq!(
        code(sign_key(&P256, &ecdsa(Some(Curve::P384)))),
        "KeyTypeMismatch"
    );
    assert_eq!(code(sign_key(&AES128, &ecdsa(None))), "KeyTypeMismatch");
    assert_eq!(code(sign_key(&AES128, &SignAlgorithm::Cmac)), "ok");
    assert_eq!(
        code(sign_key(&RSA2048, &SignAlgorithm::Cmac)),
        "KeyTypeMismatch"
    );

    assert_eq!(
        code(cipher_key(&RSA2048, &CipherAlgorithm::RsaPkcs1v15)),
        "ok"
    );
    assert_eq!(
        code(cipher_key(&AES128, &CipherAlgorithm::RsaPkcs1v15)),
        "KeyTypeMismatch"
    );
    assert_eq!(
        code(cipher_key(&RSA2048, &CipherAlgorithm::AesEcb)),
        "KeyTypeMismatch"
    );
    let gcm = |iv: Vec<u8>, tag_len| CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: Some(iv),
        aad: vec![],
        tag_len,
    };
    assert_eq!(code(cipher_key(&AES128, &gcm(vec![0; 12], 16))), "ok");
    assert_eq!(
        code(cipher_key(&AES128, &gcm(vec![0; 16], 16))),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(cipher_key(&AES128, &gcm(vec![0; 12], 4))),
        "InvalidAlgorithmParameter"
    );
    let ctr = |counter_bits| CipherAlgorithm::AesCtr {
        counter_block: [0; 16],
        counter_bits,
    };
    assert_eq!(code(cipher_key(&AES128, &ctr(128))), "ok");
    assert_eq!(
        code(cipher_key(&AES128, &ctr(7))),
        "InvalidAlgorithmParameter"
    );

    let kw = WrapAlgorithm::AesKw { key_bits: None };
    assert_eq!(code(wrap_key(&AES128, &kw)), "ok");
    assert_eq!(code(wrap_key(&RSA2048, &kw)), "KeyTypeMismatch");
    assert_eq!(
        code(wrap_key(
            &AES128,
            &WrapAlgorithm::AesKwp {
                key_bits: Some(256)
            }
        )),
        "KeyTypeMismatch"
    );
    assert_eq!(code(wrap_key(&RSA2048, &WrapAlgorithm::RsaPkcs1v15)), "ok");
    assert_eq!(
        code(wrap_key(&P256, &WrapAlgorithm::RsaPkcs1v15)),
        "KeyTypeMismatch"
    );
}

#[test]
fn raw_rsa_takes_the_modulus_length() {
    assert_eq!(code(sign(&RSA2048, &SignAlgorithm::RsaRaw, 256)), "ok");
    assert_eq!(
        code(sign(&RSA2048, &SignAlgorithm::RsaRaw, 255)),
        "InvalidInputLength"
    );
    assert_eq!(
        code(sign(&P256, &SignAlgorithm::RsaRaw, 32)),
        "KeyTypeMismatch"
    );
    let raw = CipherAlgorithm::RsaRaw;
    assert_eq!(code(encrypt(&RSA2048, &raw, 256)), "ok");
    assert_eq!(code(encrypt(&RSA2048, &raw, 257)), "InvalidInputLength");
    assert_eq!(code(decrypt(&RSA2048, &raw, 256)), "ok");
    assert_eq!(code(decrypt(&RSA2048, &raw, 1)), "InvalidInputLength");
    assert_eq!(code(cipher_key(&AES128, &raw)), "KeyTypeMismatch");
    assert_eq!(
        signature_len(&RSA2048, &SignAlgorithm::RsaRaw).map_err(|e| e.code()),
        Ok(256)
    );
    assert_eq!(ciphertext_len(&RSA2048, &raw, 256).ok(), Some(256));
    assert_eq!(plaintext_max_len(&RSA2048, &raw, 256).ok(), Some(256));
}

#[test]
fn output_lengths() {
    let len = |r: Result<usize>| r.map_err(|e| e.code());
    let rs = SignAlgorithm::RsaPkcs1v15 { hash: None };
    assert_eq!(len(signature_len(&RSA2048, &rs)), Ok(256));
    let es = SignAlgorithm::Ecdsa {
        hash: None,
        curve: None,
    };
    assert_eq!(len(signature_len(&P256, &es)), Ok(64));
    let p521 = KeySpec::Ec { curve: Curve::P521 };
    assert_eq!(len(signature_len(&p521, &es)), Ok(132));
    let hs = SignAlgorithm::Hmac {
        hash: HashAlg::Sha384,
    };
    assert_eq!(len(signature_len(&AES128, &hs)), Ok(48));
    assert_eq!(len(signature_len(&AES128, &SignAlgorithm::Cmac)), Ok(16));
    assert_eq!(len(signature_len(&AES128, &es)), Err("KeyTypeMismatch"));

    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        label: vec![],
    };
    assert_eq!(len(ciphertext_len(&RSA2048, &oaep, 10)), Ok(256));
    assert_eq!(len(plaintext_max_len(&RSA2048, &oaep, 256)), Ok(190));
    assert_eq!(
        len(plaintext_max_len(
            &RSA2048,
            &CipherAlgorithm::RsaPkcs1v15,
            256
        )),
        Ok(245)
    );
    let cbc = |padding| CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [0; 16],
        padding,
    };
    assert_eq!(len(ciphertext_len(&AES128, &cbc(true), 0)), Ok(16));
    assert_eq!(len(ciphertext_len(&AES128, &cbc(true), 16)), Ok(32));
    assert_eq!(len(ciphertext_len(&AES128, &cbc(true), 17)), Ok(32));
    assert_eq!(len(ciphertext_len(&AES128, &cbc(false), 32)), Ok(32));
    assert_eq!(len(plaintext_max_len(&AES128, &cbc(true), 32)), Ok(32));
    let gcm = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: Some(vec![0; 12]),
        aad: vec![],
        tag_len: 16,
    };
    assert_eq!(len(ciphertext_len(&AES128, &gcm, 5)), Ok(21));
    assert_eq!(len(plaintext_max_len(&AES128, &gcm, 21)), Ok(5));
    assert_eq!(len(plaintext_max_len(&AES128, &gcm, 3)), Ok(0));
    assert_eq!(len(ciphertext_len(&P256, &gcm, 5)), Err("KeyTypeMismatch"));

    let kw = WrapAlgorithm::AesKw { key_bits: None };
    let kwp = WrapAlgorithm::AesKwp { key_bits: None };
    assert_eq!(len(wrapped_len(&AES128, &kw, 32)), Ok(40));
    assert_eq!(len(wrapped_len(&AES128, &kwp, 32)), Ok(40));
    assert_eq!(len(wrapped_len(&AES128, &kwp, 1)), Ok(16));
    assert_eq!(len(wrapped_len(&AES128, &kwp, 121)), Ok(136));
    assert_eq!(
        len(wrapped_len(&RSA2048, &WrapAlgorithm::RsaPkcs1v15, 32)),
        Ok(256)
    );
}

#[test]
fn degenerate_specs_are_errors_not_panics() {
    let tiny = KeySpec::Rsa { bits: 0 };
    let pss = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        salt_len: 32,
    };
    assert_eq!(code(sign(&tiny, &pss, 32)), "InvalidAlgorithmParameter");
    assert_eq!(
        code(encrypt(&tiny, &CipherAlgorithm::RsaPkcs1v15, 1)),
        "InvalidInputLength"
    );
    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha512,
        mgf1: HashAlg::Sha512,
        label: vec![],
    };
    assert_eq!(
        code(encrypt(&KeySpec::Rsa { bits: 8 }, &oaep, 0)),
        "InvalidInputLength"
    );
}
