//! The mechanisms the module offers, with the key sizes and flags `C_GetMechanismInfo`
//! reports, and the digest mechanisms' algorithms.
//!
//! Key sizes are what the core accepts (RSA 2048–4096 bits, EC P-256/P-384/P-521/secp256k1,
//! AES 128/192/256, generic secrets of 1 to 512 bytes; HMAC takes generic secrets and AES
//! keys, CMAC AES keys). Units follow the spec per
//! mechanism: bits for RSA, EC and generic secret key generation; bytes for AES and HMAC.
//! `CKM_RSA_X_509` (raw RSA) signs, verifies, encrypts and decrypts inputs of exactly the
//! modulus' length.

use cryptoki_sys::*;
use hsm_core::crypto::HashAlg;

const RSA: (CK_ULONG, CK_ULONG) = (2048, 4096);
const EC: (CK_ULONG, CK_ULONG) = (256, 521);
const AES: (CK_ULONG, CK_ULONG) = (16, 32);
/// Generic secrets (and AES keys), in bytes (`hsm_core::crypto::material::SECRET_MAX_BYTES`).
const HMAC: (CK_ULONG, CK_ULONG) = (1, 512);
/// Generic secret generation, in bits.
const SECRET_BITS: (CK_ULONG, CK_ULONG) = (8, 4096);
const NONE: (CK_ULONG, CK_ULONG) = (0, 0);
/// Named curves over prime fields, uncompressed points.
const EC_FLAGS: CK_FLAGS = CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS;
const SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const CRYPT: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const WRAP: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;

const fn m(
    mechanism: CK_MECHANISM_TYPE,
    (min, max): (CK_ULONG, CK_ULONG),
    flags: CK_FLAGS,
) -> (CK_MECHANISM_TYPE, CK_MECHANISM_INFO) {
    (
        mechanism,
        CK_MECHANISM_INFO {
            ulMinKeySize: min,
            ulMaxKeySize: max,
            flags,
        },
    )
}

/// Every mechanism, in the order `C_GetMechanismList` gives them.
pub(crate) const MECHANISMS: &[(CK_MECHANISM_TYPE, CK_MECHANISM_INFO)] = &[
    // Key generation.
    m(CKM_RSA_PKCS_KEY_PAIR_GEN, RSA, CKF_GENERATE_KEY_PAIR),
    m(CKM_EC_KEY_PAIR_GEN, EC, CKF_GENERATE_KEY_PAIR | EC_FLAGS),
    m(CKM_AES_KEY_GEN, AES, CKF_GENERATE),
    m(CKM_GENERIC_SECRET_KEY_GEN, SECRET_BITS, CKF_GENERATE),
    // RSA.
    m(CKM_RSA_PKCS, RSA, SIGN | CRYPT | WRAP),
    m(CKM_SHA1_RSA_PKCS, RSA, SIGN),
    m(CKM_SHA224_RSA_PKCS, RSA, SIGN),
    m(CKM_SHA256_RSA_PKCS, RSA, SIGN),
    m(CKM_SHA384_RSA_PKCS, RSA, SIGN),
    m(CKM_SHA512_RSA_PKCS, RSA, SIGN),
    m(CKM_RSA_PKCS_PSS, RSA, SIGN),
    m(CKM_SHA1_RSA_PKCS_PSS, RSA, SIGN),
    m(CKM_SHA224_RSA_PKCS_PSS, RSA, SIGN),
    m(CKM_SHA256_RSA_PKCS_PSS, RSA, SIGN),
    m(CKM_SHA384_RSA_PKCS_PSS, RSA, SIGN),
    m(CKM_SHA512_RSA_PKCS_PSS, RSA, SIGN),
    m(CKM_RSA_PKCS_OAEP, RSA, CRYPT | WRAP),
    m(CKM_RSA_X_509, RSA, SIGN | CRYPT),
    // EC.
    m(CKM_ECDSA, EC, SIGN | EC_FLAGS),
    m(CKM_ECDSA_SHA1, EC, SIGN | EC_FLAGS),
    m(CKM_ECDSA_SHA224, EC, SIGN | EC_FLAGS),
    m(CKM_ECDSA_SHA256, EC, SIGN | EC_FLAGS),
    m(CKM_ECDSA_SHA384, EC, SIGN | EC_FLAGS),
    m(CKM_ECDSA_SHA512, EC, SIGN | EC_FLAGS),
    m(CKM_ECDH1_DERIVE, EC, CKF_DERIVE | EC_FLAGS),
    // MACs.
    m(CKM_SHA256_HMAC, HMAC, SIGN),
    m(CKM_SHA384_HMAC, HMAC, SIGN),
    m(CKM_SHA512_HMAC, HMAC, SIGN),
    m(CKM_AES_CMAC, AES, SIGN),
    // AES.
    m(CKM_AES_ECB, AES, CRYPT),
    m(CKM_AES_CBC, AES, CRYPT),
    m(CKM_AES_CBC_PAD, AES, CRYPT),
    m(CKM_AES_CTR, AES, CRYPT),
    m(CKM_AES_GCM, AES, CRYPT),
    m(CKM_AES_KEY_WRAP, AES, WRAP),
    // RFC 5649, under its 2.40 name (as SoftHSMv2 and Azure use it) and its 3.0 name.
    m(CKM_AES_KEY_WRAP_PAD, AES, WRAP),
    m(CKM_AES_KEY_WRAP_KWP, AES, WRAP),
    // Digests.
    m(CKM_SHA_1, NONE, CKF_DIGEST),
    m(CKM_SHA224, NONE, CKF_DIGEST),
    m(CKM_SHA256, NONE, CKF_DIGEST),
    m(CKM_SHA384, NONE, CKF_DIGEST),
    m(CKM_SHA512, NONE, CKF_DIGEST),
];

/// A mechanism's info, if the module offers it.
pub(crate) fn info(mechanism: CK_MECHANISM_TYPE) -> Option<CK_MECHANISM_INFO> {
    MECHANISMS
        .iter()
        .find(|(m, _)| *m == mechanism)
        .map(|(_, info)| *info)
}

/// The algorithm of a digest mechanism.
pub(crate) fn digest(mechanism: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    match mechanism {
        CKM_SHA_1 => Some(HashAlg::Sha1),
        CKM_SHA224 => Some(HashAlg::Sha224),
        CKM_SHA256 => Some(HashAlg::Sha256),
        CKM_SHA384 => Some(HashAlg::Sha384),
        CKM_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_duplicates_and_digests_are_listed() {
        let mut seen = std::collections::HashSet::new();
        for (m, _) in MECHANISMS {
            assert!(seen.insert(*m), "{m:#x} twice");
        }
        for m in [CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512] {
            assert_eq!(info(m).unwrap().flags, CKF_DIGEST);
            assert!(digest(m).is_some());
        }
        assert_eq!(info(CKM_RSA_X_509).unwrap().flags, SIGN | CRYPT);
        assert_eq!(info(CKM_RSA_PKCS_KEY_PAIR_GEN).unwrap().ulMaxKeySize, 4096);
    }
}
