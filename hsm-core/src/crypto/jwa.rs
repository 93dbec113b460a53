//! JSON Web Algorithm names (as Azure uses them) mapped onto the operation API.
//!
//! The REST server parses `alg` / `enc` strings here, so which name means what is decided in
//! the core once.

use super::alg::{CipherAlgorithm, HashAlg, SignAlgorithm, WrapAlgorithm};
use super::material::Curve;
use crate::error::{Error, Result};

/// The signature scheme of a JWS `alg` name (`RS256`, `PS384`, `ES256K`, `HS512`, `RSNULL`).
pub fn sign_algorithm(name: &str) -> Result<SignAlgorithm> {
    let pss = |hash: HashAlg| SignAlgorithm::RsaPss {
        hash,
        mgf1: hash,
        salt_len: hash.output_len(),
    };
    let ecdsa = |hash, curve| SignAlgorithm::Ecdsa {
        hash: Some(hash),
        curve: Some(curve),
    };
    let pkcs1 = |hash| SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) };
    Ok(match name {
        "RS256" => pkcs1(HashAlg::Sha256),
        "RS384" => pkcs1(HashAlg::Sha384),
        "RS512" => pkcs1(HashAlg::Sha512),
        "RSNULL" => SignAlgorithm::RsaPkcs1v15 { hash: None },
        "PS256" => pss(HashAlg::Sha256),
        "PS384" => pss(HashAlg::Sha384),
        "PS512" => pss(HashAlg::Sha512),
        "ES256" => ecdsa(HashAlg::Sha256, Curve::P256),
        "ES384" => ecdsa(HashAlg::Sha384, Curve::P384),
        "ES512" => ecdsa(HashAlg::Sha512, Curve::P521),
        "ES256K" => ecdsa(HashAlg::Sha256, Curve::Secp256k1),
        "HS256" => SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        },
        "HS384" => SignAlgorithm::Hmac {
            hash: HashAlg::Sha384,
        },
        "HS512" => SignAlgorithm::Hmac {
            hash: HashAlg::Sha512,
        },
        other => return Err(Error::unsupported(other)),
    })
}

fn aes_bits(name: &str, suffix: &str) -> Option<u32> {
    match name.strip_suffix(suffix)? {
        "A128" => Some(128),
        "A192" => Some(192),
        "A256" => Some(256),
        _ => None,
    }
}

/// The RSA scheme of `RSA1_5`, `RSA-OAEP` (SHA-1) or `RSA-OAEP-256`.
fn rsa(name: &str) -> Option<WrapAlgorithm> {
    let oaep = |hash| WrapAlgorithm::RsaOaep {
        hash,
        mgf1: hash,
        label: Vec::new(),
    };
    match name {
        "RSA1_5" => Some(WrapAlgorithm::RsaPkcs1v15),
        "RSA-OAEP" => Some(oaep(HashAlg::Sha1)),
        "RSA-OAEP-256" => Some(oaep(HashAlg::Sha256)),
        _ => None,
    }
}

/// The encryption scheme of a JWE `alg` name for encrypt/decrypt.
///
/// `iv` is the caller's IV (required for CBC; for GCM encryption `None` generates one),
/// `aad` the additional authenticated data (GCM only).
pub fn cipher_algorithm(
    name: &str,
    iv: Option<Vec<u8>>,
    aad: Option<Vec<u8>>,
) -> Result<CipherAlgorithm> {
    if let Some(cipher) = rsa(name).and_then(|w| w.as_rsa_cipher()) {
        return Ok(cipher);
    }
    if let Some(bits) = aes_bits(name, "GCM") {
        return Ok(CipherAlgorithm::AesGcm {
            key_bits: Some(bits),
            iv,
            aad: aad.unwrap_or_default(),
            tag_len: 16,
        });
    }
    let cbc = |bits, padding| -> Result<CipherAlgorithm> {
        let iv = iv
            .as_deref()
            .ok_or_else(|| Error::param(format!("{name} needs an IV")))?;
        let iv: [u8; 16] = iv
            .try_into()
            .map_err(|_| Error::param(format!("{name} needs a 16-byte IV, got {}", iv.len())))?;
        Ok(CipherAlgorithm::AesCbc {
            key_bits: Some(bits),
            iv,
            padding,
        })
    };
    if let Some(bits) = aes_bits(name, "CBCPAD") {
        return cbc(bits, true);
    }
    if let Some(bits) = aes_bits(name, "CBC") {
        return cbc(bits, false);
    }
    if wrap_algorithm(name).is_ok() {
        return Err(Error::bad_parameter(format!(
            "{name} is a key-wrapping algorithm: use wrapKey"
        )));
    }
    Err(Error::unsupported(name))
}

/// The wrapping scheme of a JWE `alg` name for wrapKey/unwrapKey.
pub fn wrap_algorithm(name: &str) -> Result<WrapAlgorithm> {
    if let Some(w) = rsa(name) {
        return Ok(w);
    }
    if let Some(bits) = aes_bits(name, "KW") {
        return Ok(WrapAlgorithm::AesKw {
            key_bits: Some(bits),
        });
    }
    match name {
        "CKM_AES_KEY_WRAP" => Ok(WrapAlgorithm::AesKw { key_bits: None }),
        "CKM_AES_KEY_WRAP_PAD" => Ok(WrapAlgorithm::AesKwp { key_bits: None }),
        other => Err(Error::unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_azure_signature_name_maps() {
        for name in [
            "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "HS256", "HS384", "HS512",
            "RSNULL", "ES256", "ES384", "ES512", "ES256K",
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
}
