//! HMAC with SHA-1 and SHA-2, keyed by a symmetric key's bytes.

use ::hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use super::with_hash;
use crate::crypto::alg::HashAlg;
use crate::error::{Error, Result};

/// HMAC-`hash` of `message` under `key`.
pub fn sign(hash: HashAlg, key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    with_hash!(hash, D => {
        let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key)
            .map_err(|_| Error::internal("HMAC rejected the key length"))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

/// Checks an HMAC tag in constant time; a wrong tag (of any length) is `Ok(false)`.
pub fn verify(hash: HashAlg, key: &[u8], message: &[u8], tag: &[u8]) -> Result<bool> {
    let expected = sign(hash, key, message)?;
    Ok(expected.ct_eq(tag).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 (key "Jefe").
    const MSG: &[u8] = b"what do ya want for nothing?";

    #[test]
    fn rfc4231_case_2() {
        let tag = sign(HashAlg::Sha256, b"Jefe", MSG).unwrap();
        assert_eq!(
            hex::encode(&tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let tag = sign(HashAlg::Sha512, b"Jefe", MSG).unwrap();
        assert_eq!(
            hex::encode(&tag),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        let tag = sign(HashAlg::Sha224, b"Jefe", MSG).unwrap();
        assert_eq!(
            hex::encode(&tag),
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_tag() {
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let key = [7u8; 32];
            let tag = sign(hash, &key, b"msg").unwrap();
            assert_eq!(tag.len(), hash.output_len());
            assert!(verify(hash, &key, b"msg", &tag).unwrap());
            assert!(!verify(hash, &key, b"msh", &tag).unwrap());
            assert!(!verify(hash, &[8u8; 32], b"msg", &tag).unwrap());
            let mut bad = tag.clone();
            bad[0] ^= 1;
            assert!(!verify(hash, &key, b"msg", &bad).unwrap());
            assert!(!verify(hash, &key, b"msg", &tag[..tag.len() - 1]).unwrap());
            assert!(!verify(hash, &key, b"msg", &[]).unwrap());
        }
    }
}
