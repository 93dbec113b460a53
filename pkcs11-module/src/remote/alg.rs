//! The algorithm names sent to the server, one place to switch.
//!
//! TEMPORARY: these are local stand-ins for `hsm_core::crypto::jwa::{JwaRequest, sign_name,
//! cipher_request, wrap_request}`, which land with the server's extension API. They know the
//! Azure names only and send everything else as an `MHSM-` vendor name no server knows (so it
//! answers 400, reported as `UnsupportedAlgorithm`). At merge this file becomes
//! `pub(crate) use hsm_core::crypto::jwa::{JwaRequest, cipher_request, sign_name, wrap_request};`.

use hsm_core::crypto::{CipherAlgorithm, Curve, HashAlg, KeySpec, SignAlgorithm, WrapAlgorithm};

/// An algorithm as a request names it: `alg`, and the IV and AAD that go with it.
pub(crate) struct JwaRequest {
    /// The `alg` name.
    pub alg: String,
    /// The IV, when the algorithm takes one from the caller.
    pub iv: Option<Vec<u8>>,
    /// Additional authenticated data (GCM).
    pub aad: Option<Vec<u8>>,
}

const VENDOR: &str = "MHSM-UNNAMED";

fn suffix(hash: HashAlg) -> Option<&'static str> {
    match hash {
        HashAlg::Sha256 => Some("256"),
        HashAlg::Sha384 => Some("384"),
        HashAlg::Sha512 => Some("512"),
        HashAlg::Sha1 | HashAlg::Sha224 => None,
    }
}

/// The `alg` of a signature scheme on a key of `spec`.
pub(crate) fn sign_name(alg: &SignAlgorithm, spec: &KeySpec) -> String {
    let name = match alg {
        SignAlgorithm::RsaPkcs1v15 { hash: None } => Some("RSNULL".to_string()),
        SignAlgorithm::RsaPkcs1v15 { hash: Some(h) } => suffix(*h).map(|s| format!("RS{s}")),
        SignAlgorithm::RsaPss {
            hash,
            mgf1,
            salt_len,
        } if hash == mgf1 && *salt_len == hash.output_len() => {
            suffix(*hash).map(|s| format!("PS{s}"))
        }
        SignAlgorithm::Ecdsa {
            hash: Some(hash), ..
        } => match (spec, hash) {
            (KeySpec::Ec { curve: Curve::P256 }, HashAlg::Sha256) => Some("ES256".into()),
            (KeySpec::Ec { curve: Curve::P384 }, HashAlg::Sha384) => Some("ES384".into()),
            (KeySpec::Ec { curve: Curve::P521 }, HashAlg::Sha512) => Some("ES512".into()),
            (
                KeySpec::Ec {
                    curve: Curve::Secp256k1,
                },
                HashAlg::Sha256,
            ) => Some("ES256K".into()),
            _ => None,
        },
        SignAlgorithm::Hmac { hash } => suffix(*hash).map(|s| format!("HS{s}")),
        _ => None,
    };
    name.unwrap_or_else(|| VENDOR.to_string())
}

fn oaep(hash: HashAlg, mgf1: HashAlg, label: &[u8]) -> Option<&'static str> {
    match (hash, mgf1, label.is_empty()) {
        (HashAlg::Sha1, HashAlg::Sha1, true) => Some("RSA-OAEP"),
        (HashAlg::Sha256, HashAlg::Sha256, true) => Some("RSA-OAEP-256"),
        _ => None,
    }
}

fn plain(alg: Option<String>) -> JwaRequest {
    JwaRequest {
        alg: alg.unwrap_or_else(|| VENDOR.to_string()),
        iv: None,
        aad: None,
    }
}

/// The `alg` (with IV and AAD) of an encryption scheme on a key of `spec`.
pub(crate) fn cipher_request(alg: &CipherAlgorithm, spec: &KeySpec) -> JwaRequest {
    let bits = spec.bits();
    match alg {
        CipherAlgorithm::RsaPkcs1v15 => plain(Some("RSA1_5".into())),
        CipherAlgorithm::RsaOaep { hash, mgf1, label } => {
            plain(oaep(*hash, *mgf1, label).map(str::to_string))
        }
        CipherAlgorithm::AesGcm {
            iv, aad, tag_len, ..
        } if *tag_len == 16 => JwaRequest {
            alg: format!("A{bits}GCM"),
            iv: iv.clone(),
            aad: (!aad.is_empty()).then(|| aad.clone()),
        },
        CipherAlgorithm::AesCbc { iv, padding, .. } => JwaRequest {
            alg: format!("A{bits}{}", if *padding { "CBCPAD" } else { "CBC" }),
            iv: Some(iv.to_vec()),
            aad: None,
        },
        _ => plain(None),
    }
}

/// The `alg` of a key-wrapping scheme on a key of `spec`.
pub(crate) fn wrap_request(alg: &WrapAlgorithm, spec: &KeySpec) -> JwaRequest {
    match alg {
        WrapAlgorithm::RsaPkcs1v15 => plain(Some("RSA1_5".into())),
        WrapAlgorithm::RsaOaep { hash, mgf1, label } => {
            plain(oaep(*hash, *mgf1, label).map(str::to_string))
        }
        WrapAlgorithm::AesKw { .. } => plain(Some(format!("A{}KW", spec.bits()))),
        WrapAlgorithm::AesKwp { .. } => plain(Some("CKM_AES_KEY_WRAP_PAD".into())),
    }
}
