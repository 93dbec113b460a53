//! The algorithms of the one operation API, fully parameterised.
//!
//! Both front ends map onto these: the REST server through [`super::jwa`] (RS256, A256GCM, ...),
//! the PKCS#11 module from its mechanisms (`CKM_RSA_PKCS_PSS` with explicit parameters, ...).
//! Optional `curve` / `key_bits` fields are constraints the policy checks (JWA names fix them).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::material::Curve;
use crate::error::{Error, Result};

/// A SHA digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HashAlg {
    /// SHA-1 (legacy: RSA-OAEP's default and old PKCS#11 mechanisms only).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// Conventional name (`SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "SHA-1",
            HashAlg::Sha224 => "SHA-224",
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signature (or MAC) scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignAlgorithm {
    /// RSASSA-PKCS1-v1_5. With `hash`, the input is that hash's digest and the DigestInfo is
    /// added; without, the input (typically a DigestInfo) is padded and signed as given.
    RsaPkcs1v15 {
        /// The digest the input is, if any.
        hash: Option<HashAlg>,
    },
    /// RSASSA-PSS over a digest of `hash`, MGF1 with `mgf1`, salt of `salt_len` bytes.
    RsaPss {
        /// The digest the input is.
        hash: HashAlg,
        /// The MGF1 hash.
        mgf1: HashAlg,
        /// Salt length in bytes.
        salt_len: usize,
    },
    /// ECDSA; the signature is raw `r || s`, each the curve's field size.
    /// With `hash`, the input must be a digest of that length; without, any input
    /// (truncated to the order's bit length, as `CKM_ECDSA` does).
    Ecdsa {
        /// The digest the input is, if any.
        hash: Option<HashAlg>,
        /// The curve the key must be on, if constrained (ES256 needs P-256).
        curve: Option<Curve>,
    },
    /// HMAC over the input message, keyed by a symmetric key.
    Hmac {
        /// The HMAC hash.
        hash: HashAlg,
    },
    /// AES-CMAC over the input message.
    Cmac,
    /// Raw RSA (RSASP1, PKCS#11's `CKM_RSA_X_509`): the input, a big-endian integer of
    /// exactly the modulus' length and below the modulus, raised to the private exponent.
    /// No padding: the input must already be an encoding that is safe to sign.
    RsaRaw,
}

/// An encryption scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CipherAlgorithm {
    /// RSAES-PKCS1-v1_5.
    RsaPkcs1v15,
    /// Raw RSA (RSAEP/RSADP, PKCS#11's `CKM_RSA_X_509`): input and output are big-endian
    /// integers of exactly the modulus' length, the input below the modulus. No padding.
    RsaRaw,
    /// RSAES-OAEP.
    RsaOaep {
        /// The label hash.
        hash: HashAlg,
        /// The MGF1 hash.
        mgf1: HashAlg,
        /// The label (usually empty).
        label: Vec<u8>,
    },
    /// AES-GCM. Encrypting with `iv: None` generates a 12-byte IV (returned with the
    /// ciphertext); decrypting needs the IV and takes `ciphertext || tag`.
    AesGcm {
        /// Required key size in bits, if constrained (A256GCM needs 256).
        key_bits: Option<u32>,
        /// The IV (12 bytes).
        iv: Option<Vec<u8>>,
        /// Additional authenticated data.
        aad: Vec<u8>,
        /// Tag length in bytes (12 to 16).
        tag_len: usize,
    },
    /// AES-CBC with a caller IV; with `padding`, PKCS#7 padding (CBCPAD).
    AesCbc {
        /// Required key size in bits, if constrained.
        key_bits: Option<u32>,
        /// The IV.
        iv: [u8; 16],
        /// PKCS#7 padding on or off.
        padding: bool,
    },
    /// AES-ECB, whole blocks only.
    AesEcb,
    /// AES-CTR; the low `counter_bits` of `counter_block` count (32, 64 or 128).
    AesCtr {
        /// The initial counter block.
        counter_block: [u8; 16],
        /// How many low bits form the counter.
        counter_bits: u32,
    },
}

/// A key-wrapping scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WrapAlgorithm {
    /// RSAES-PKCS1-v1_5.
    RsaPkcs1v15,
    /// RSAES-OAEP.
    RsaOaep {
        /// The label hash.
        hash: HashAlg,
        /// The MGF1 hash.
        mgf1: HashAlg,
        /// The label (usually empty).
        label: Vec<u8>,
    },
    /// AES key wrap, RFC 3394.
    AesKw {
        /// Required key size in bits, if constrained.
        key_bits: Option<u32>,
    },
    /// AES key wrap with padding, RFC 5649.
    AesKwp {
        /// Required key size in bits, if constrained.
        key_bits: Option<u32>,
    },
}

/// The result of an encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    /// The ciphertext (without the tag).
    pub data: Vec<u8>,
    /// The IV used, when the algorithm has one.
    pub iv: Option<Vec<u8>>,
    /// The authentication tag, for AEAD algorithms.
    pub tag: Option<Vec<u8>>,
}

impl Ciphertext {
    /// `data || tag`, the PKCS#11 layout of AEAD output, without a copy of the data (the
    /// providers leave room for the tag).
    pub fn into_data_with_tag(self) -> Vec<u8> {
        let mut out = self.data;
        if let Some(tag) = &self.tag {
            out.extend_from_slice(tag);
        }
        out
    }

    /// Copies `data || tag` into the start of `out` (which must hold it); returns its length.
    pub fn copy_into(&self, out: &mut [u8]) -> Result<usize> {
        let tag = self.tag.as_deref().unwrap_or_default();
        let len = self.data.len() + tag.len();
        let out = out
            .get_mut(..len)
            .ok_or_else(|| Error::input_length("the output buffer is too short"))?;
        let (data, rest) = out.split_at_mut(self.data.len());
        data.copy_from_slice(&self.data);
        rest.copy_from_slice(tag);
        Ok(len)
    }

    /// `data || tag`, the PKCS#11 layout of AEAD output.
    pub fn data_with_tag(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        if let Some(tag) = &self.tag {
            out.extend_from_slice(tag);
        }
        out
    }
}

impl WrapAlgorithm {
    /// RSA wrapping is RSA encryption; this is the matching cipher scheme, if any.
    pub fn as_rsa_cipher(&self) -> Option<CipherAlgorithm> {
        match self {
            WrapAlgorithm::RsaPkcs1v15 => Some(CipherAlgorithm::RsaPkcs1v15),
            WrapAlgorithm::RsaOaep { hash, mgf1, label } => Some(CipherAlgorithm::RsaOaep {
                hash: *hash,
                mgf1: *mgf1,
                label: label.clone(),
            }),
            WrapAlgorithm::AesKw { .. } | WrapAlgorithm::AesKwp { .. } => None,
        }
    }
}
