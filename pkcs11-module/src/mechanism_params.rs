//! Mechanisms with their parameters → the core's algorithms.
//!
//! Each function group asks here what a `CK_MECHANISM` means for it: [`sign`] (signatures and
//! MACs), [`cipher`] (encryption), [`wrap`] (key wrapping), [`ecdh`] (key derivation). Only
//! the form of the parameters is checked here (sizes of the structures, pointers, the hash of
//! a hashing mechanism against its parameters, values PKCS#11 defines but the core cannot
//! express): whether an algorithm fits a key, and every length and size rule, is the core's
//! (`hsm_core::crypto::check`). A mechanism the module does not offer for the function is
//! `CKR_MECHANISM_INVALID`; malformed parameters are `CKR_MECHANISM_PARAM_INVALID`.
//!
//! The parameters are C memory the caller passed: the functions that read them are
//! `unsafe fn`s whose contract is the PKCS#11 caller's for a mechanism.

use cryptoki_sys::*;
use hsm_core::crypto::{CipherAlgorithm, HashAlg, SignAlgorithm, WrapAlgorithm};

use crate::ptr;

/// How a signature mechanism takes its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignInputKind {
    /// The data is signed as given (`CKM_RSA_PKCS`, `CKM_RSA_PKCS_PSS`, `CKM_ECDSA`,
    /// `CKM_RSA_X_509`): a digest, a DigestInfo or an encoding the caller made. Single-part
    /// only.
    Direct,
    /// The message is hashed with this algorithm (streaming, through the core's hasher) and
    /// the digest signed (`CKM_SHA256_RSA_PKCS`, `CKM_ECDSA_SHA384`, ...).
    Hashed(HashAlg),
    /// A MAC over the whole message, which the core computes in one call: multi-part input
    /// is gathered until the final call.
    Mac,
}

/// A signature (or MAC) mechanism, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignMechanism {
    /// The core's algorithm.
    pub alg: SignAlgorithm,
    /// How the data reaches it.
    pub input: SignInputKind,
}

fn hash_of(mechanism: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    crate::mechanism::digest(mechanism)
}

fn mgf1_of(mgf: CK_RSA_PKCS_MGF_TYPE) -> Option<HashAlg> {
    match mgf {
        CKG_MGF1_SHA1 => Some(HashAlg::Sha1),
        CKG_MGF1_SHA224 => Some(HashAlg::Sha224),
        CKG_MGF1_SHA256 => Some(HashAlg::Sha256),
        CKG_MGF1_SHA384 => Some(HashAlg::Sha384),
        CKG_MGF1_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// A mechanism that takes no parameter: any given is `CKR_MECHANISM_PARAM_INVALID`.
fn no_param(m: &CK_MECHANISM) -> Result<(), CK_RV> {
    if m.ulParameterLen == 0 {
        Ok(())
    } else {
        Err(CKR_MECHANISM_PARAM_INVALID)
    }
}

/// `CK_RSA_PKCS_PSS_PARAMS`, the hash of a hashing mechanism fixed or not.
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
unsafe fn pss(m: &CK_MECHANISM, fixed: Option<HashAlg>) -> Result<SignAlgorithm, CK_RV> {
    // SAFETY: by this function's contract; the structure holds no pointer.
    let p: CK_RSA_PKCS_PSS_PARAMS = unsafe { ptr::param(m) }?;
    let hash = hash_of(p.hashAlg).ok_or(CKR_MECHANISM_PARAM_INVALID)?;
    if fixed.is_some_and(|h| h != hash) {
        // CKM_SHA256_RSA_PKCS_PSS with hashAlg CKM_SHA_1, ...
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    Ok(SignAlgorithm::RsaPss {
        hash,
        mgf1: mgf1_of(p.mgf).ok_or(CKR_MECHANISM_PARAM_INVALID)?,
        salt_len: usize::try_from(p.sLen).map_err(|_| CKR_MECHANISM_PARAM_INVALID)?,
    })
}

/// A signature or MAC mechanism (`C_SignInit`, `C_VerifyInit`).
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
pub(crate) unsafe fn sign(m: &CK_MECHANISM) -> Result<SignMechanism, CK_RV> {
    use SignInputKind::*;
    let (alg, input) = match m.mechanism {
        CKM_RSA_PKCS => {
            no_param(m)?;
            (SignAlgorithm::RsaPkcs1v15 { hash: None }, Direct)
        }
        CKM_SHA1_RSA_PKCS | CKM_SHA224_RSA_PKCS | CKM_SHA256_RSA_PKCS | CKM_SHA384_RSA_PKCS
        | CKM_SHA512_RSA_PKCS => {
            no_param(m)?;
            let hash = rsa_pkcs_hash(m.mechanism);
            (
                SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) },
                Hashed(hash),
            )
        }
        // SAFETY: `m` is as this function's contract says.
        CKM_RSA_PKCS_PSS => (unsafe { pss(m, None) }?, Direct),
        CKM_RSA_X_509 => {
            no_param(m)?;
            (SignAlgorithm::RsaRaw, Direct)
        }
        CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS => {
            let hash = rsa_pss_hash(m.mechanism);
            // SAFETY: `m` is as this function's contract says.
            (unsafe { pss(m, Some(hash)) }?, Hashed(hash))
        }
        CKM_ECDSA => {
            no_param(m)?;
            (
                SignAlgorithm::Ecdsa {
                    hash: None,
                    curve: None,
                },
                Direct,
            )
        }
        CKM_ECDSA_SHA1 | CKM_ECDSA_SHA224 | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384
        | CKM_ECDSA_SHA512 => {
            no_param(m)?;
            let hash = ecdsa_hash(m.mechanism);
            (
                SignAlgorithm::Ecdsa {
                    hash: Some(hash),
                    curve: None,
                },
                Hashed(hash),
            )
        }
        CKM_SHA256_HMAC | CKM_SHA384_HMAC | CKM_SHA512_HMAC => {
            no_param(m)?;
            let hash = match m.mechanism {
                CKM_SHA256_HMAC => HashAlg::Sha256,
                CKM_SHA384_HMAC => HashAlg::Sha384,
                _ => HashAlg::Sha512,
            };
            (SignAlgorithm::Hmac { hash }, Mac)
        }
        CKM_AES_CMAC => {
            no_param(m)?;
            (SignAlgorithm::Cmac, Mac)
        }
        _ => return Err(CKR_MECHANISM_INVALID),
    };
    Ok(SignMechanism { alg, input })
}

fn rsa_pkcs_hash(mechanism: CK_MECHANISM_TYPE) -> HashAlg {
    match mechanism {
        CKM_SHA1_RSA_PKCS => HashAlg::Sha1,
        CKM_SHA224_RSA_PKCS => HashAlg::Sha224,
        CKM_SHA256_RSA_PKCS => HashAlg::Sha256,
        CKM_SHA384_RSA_PKCS => HashAlg::Sha384,
        _ => HashAlg::Sha512,
    }
}

fn rsa_pss_hash(mechanism: CK_MECHANISM_TYPE) -> HashAlg {
    match mechanism {
        CKM_SHA1_RSA_PKCS_PSS => HashAlg::Sha1,
        CKM_SHA224_RSA_PKCS_PSS => HashAlg::Sha224,
        CKM_SHA256_RSA_PKCS_PSS => HashAlg::Sha256,
        CKM_SHA384_RSA_PKCS_PSS => HashAlg::Sha384,
        _ => HashAlg::Sha512,
    }
}

fn ecdsa_hash(mechanism: CK_MECHANISM_TYPE) -> HashAlg {
    match mechanism {
        CKM_ECDSA_SHA1 => HashAlg::Sha1,
        CKM_ECDSA_SHA224 => HashAlg::Sha224,
        CKM_ECDSA_SHA256 => HashAlg::Sha256,
        CKM_ECDSA_SHA384 => HashAlg::Sha384,
        _ => HashAlg::Sha512,
    }
}

/// `CK_RSA_PKCS_OAEP_PARAMS` → (hash, MGF1 hash, label).
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
unsafe fn oaep(m: &CK_MECHANISM) -> Result<(HashAlg, HashAlg, Vec<u8>), CK_RV> {
    // SAFETY: by this function's contract.
    let p: CK_RSA_PKCS_OAEP_PARAMS = unsafe { ptr::param(m) }?;
    let hash = hash_of(p.hashAlg).ok_or(CKR_MECHANISM_PARAM_INVALID)?;
    let mgf1 = mgf1_of(p.mgf).ok_or(CKR_MECHANISM_PARAM_INVALID)?;
    // SAFETY: the label is a buffer the parameter names: valid by this function's contract.
    let label = unsafe { ptr::param_slice(p.pSourceData as *const u8, p.ulSourceDataLen) }?;
    // The label comes only as CKZ_DATA_SPECIFIED; a source of 0 (seen from some callers)
    // means no label.
    match p.source {
        CKZ_DATA_SPECIFIED => {}
        0 if label.is_empty() => {}
        _ => return Err(CKR_MECHANISM_PARAM_INVALID),
    }
    Ok((hash, mgf1, label.to_vec()))
}

/// `CK_GCM_PARAMS` as PKCS#11 2.40 first published it, without `ulIvBits` (still sent by
/// older callers; told apart by its size).
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_snake_case)]
struct GcmParamsNoIvBits {
    pIv: CK_BYTE_PTR,
    ulIvLen: CK_ULONG,
    pAAD: CK_BYTE_PTR,
    ulAADLen: CK_ULONG,
    ulTagBits: CK_ULONG,
}

/// `CK_GCM_PARAMS`, with or without `ulIvBits`.
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
unsafe fn gcm(m: &CK_MECHANISM) -> Result<CipherAlgorithm, CK_RV> {
    let p = if usize::try_from(m.ulParameterLen) == Ok(std::mem::size_of::<GcmParamsNoIvBits>()) {
        // SAFETY: by this function's contract.
        let p: GcmParamsNoIvBits = unsafe { ptr::param(m) }?;
        CK_GCM_PARAMS {
            pIv: p.pIv,
            ulIvLen: p.ulIvLen,
            ulIvBits: 0,
            pAAD: p.pAAD,
            ulAADLen: p.ulAADLen,
            ulTagBits: p.ulTagBits,
        }
    } else {
        // SAFETY: by this function's contract.
        unsafe { ptr::param::<CK_GCM_PARAMS>(m) }?
    };
    // SAFETY: the IV is a buffer the parameter names: valid by this function's contract.
    let iv = unsafe { ptr::param_slice(p.pIv, p.ulIvLen) }?;
    // ulIvBits is informative; when given it must agree with ulIvLen.
    if p.ulIvBits != 0 && Some(p.ulIvBits) != p.ulIvLen.checked_mul(8) {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    // SAFETY: the AAD is a buffer the parameter names: valid by this function's contract.
    let aad = unsafe { ptr::param_slice(p.pAAD, p.ulAADLen) }?;
    if p.ulTagBits % 8 != 0 {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    Ok(CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: Some(iv.to_vec()),
        aad: aad.to_vec(),
        tag_len: usize::try_from(p.ulTagBits / 8).map_err(|_| CKR_MECHANISM_PARAM_INVALID)?,
    })
}

/// An encryption mechanism (`C_EncryptInit`, `C_DecryptInit`).
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
pub(crate) unsafe fn cipher(m: &CK_MECHANISM) -> Result<CipherAlgorithm, CK_RV> {
    Ok(match m.mechanism {
        CKM_RSA_PKCS => {
            no_param(m)?;
            CipherAlgorithm::RsaPkcs1v15
        }
        CKM_RSA_PKCS_OAEP => {
            // SAFETY: `m` is as this function's contract says.
            let (hash, mgf1, label) = unsafe { oaep(m) }?;
            CipherAlgorithm::RsaOaep { hash, mgf1, label }
        }
        CKM_RSA_X_509 => {
            no_param(m)?;
            CipherAlgorithm::RsaRaw
        }
        CKM_AES_ECB => {
            no_param(m)?;
            CipherAlgorithm::AesEcb
        }
        CKM_AES_CBC | CKM_AES_CBC_PAD => CipherAlgorithm::AesCbc {
            key_bits: None,
            // SAFETY: by this function's contract.
            iv: unsafe { ptr::param_bytes(m) }?
                .try_into()
                .map_err(|_| CKR_MECHANISM_PARAM_INVALID)?,
            padding: m.mechanism == CKM_AES_CBC_PAD,
        },
        CKM_AES_CTR => {
            // SAFETY: by this function's contract; the structure holds no pointer.
            let p: CK_AES_CTR_PARAMS = unsafe { ptr::param(m) }?;
            CipherAlgorithm::AesCtr {
                counter_block: p.cb,
                counter_bits: u32::try_from(p.ulCounterBits)
                    .map_err(|_| CKR_MECHANISM_PARAM_INVALID)?,
            }
        }
        // SAFETY: `m` is as this function's contract says.
        CKM_AES_GCM => unsafe { gcm(m) }?,
        _ => return Err(CKR_MECHANISM_INVALID),
    })
}

/// RFC 3394's default IV, the only one the core's AES-KW uses.
const KW_IV: [u8; 8] = [0xa6; 8];
/// RFC 5649's alternative IV prefix, the only one the core's AES-KWP uses.
const KWP_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

/// A key-wrapping mechanism (`C_WrapKey`, `C_UnwrapKey`). The AES ones take an optional IV,
/// which may only be the RFC's default.
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
pub(crate) unsafe fn wrap(m: &CK_MECHANISM) -> Result<WrapAlgorithm, CK_RV> {
    let default_iv_only = |iv: &[u8]| {
        // SAFETY: by this function's contract.
        let given = unsafe { ptr::param_bytes(m) }?;
        if given.is_empty() || given == iv {
            Ok(())
        } else {
            Err(CKR_MECHANISM_PARAM_INVALID)
        }
    };
    Ok(match m.mechanism {
        CKM_RSA_PKCS => {
            no_param(m)?;
            WrapAlgorithm::RsaPkcs1v15
        }
        CKM_RSA_PKCS_OAEP => {
            // SAFETY: `m` is as this function's contract says.
            let (hash, mgf1, label) = unsafe { oaep(m) }?;
            WrapAlgorithm::RsaOaep { hash, mgf1, label }
        }
        CKM_AES_KEY_WRAP => {
            default_iv_only(&KW_IV)?;
            WrapAlgorithm::AesKw { key_bits: None }
        }
        // RFC 5649 under both names (see `mechanism.rs`).
        CKM_AES_KEY_WRAP_PAD | CKM_AES_KEY_WRAP_KWP => {
            default_iv_only(&KWP_IV)?;
            WrapAlgorithm::AesKwp { key_bits: None }
        }
        _ => return Err(CKR_MECHANISM_INVALID),
    })
}

/// `CKM_ECDH1_DERIVE`: the peer's public value (raw or DER point). Only `CKD_NULL` (the
/// shared secret itself, without shared data) is offered; other KDFs are
/// `CKR_MECHANISM_PARAM_INVALID`.
///
/// # Safety
/// `m` is as the PKCS#11 caller passed it: its `pParameter` NULL or valid for reading
/// `ulParameterLen` bytes, and every buffer its parameter structure names NULL or valid for
/// its stated length, for the call (the caller's contract for a mechanism).
#[allow(unsafe_code)]
pub(crate) unsafe fn ecdh(m: &CK_MECHANISM) -> Result<Vec<u8>, CK_RV> {
    if m.mechanism != CKM_ECDH1_DERIVE {
        return Err(CKR_MECHANISM_INVALID);
    }
    // SAFETY: by this function's contract.
    let p: CK_ECDH1_DERIVE_PARAMS = unsafe { ptr::param(m) }?;
    // SAFETY: a buffer the parameter names: valid by this function's contract.
    let shared = unsafe { ptr::param_slice(p.pSharedData, p.ulSharedDataLen) }?;
    if p.kdf != CKD_NULL || !shared.is_empty() {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    // SAFETY: a buffer the parameter names: valid by this function's contract.
    let public = unsafe { ptr::param_slice(p.pPublicData, p.ulPublicDataLen) }?;
    if public.is_empty() {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    Ok(public.to_vec())
}

#[cfg(test)]
#[allow(unsafe_code)] // the parsers are `unsafe fn`s: see the wrappers below
mod tests {
    use super::*;
    use std::ffi::c_void;

    fn mech<T>(mechanism: CK_MECHANISM_TYPE, p: &T) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism,
            pParameter: p as *const T as *mut c_void,
            ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
        }
    }

    fn bare(mechanism: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism,
            pParameter: std::ptr::null_mut(),
            ulParameterLen: 0,
        }
    }

    // Every mechanism below comes from `mech` or `bare`: its parameter is NULL or a live
    // local of the size stated, and the buffers that names are live locals (or NULL) of
    // their stated lengths, which is the parsers' contract. These wrappers say so once.

    fn sign(m: &CK_MECHANISM) -> Result<SignMechanism, CK_RV> {
        // SAFETY: see above.
        unsafe { super::sign(m) }
    }

    fn cipher(m: &CK_MECHANISM) -> Result<CipherAlgorithm, CK_RV> {
        // SAFETY: see above.
        unsafe { super::cipher(m) }
    }

    fn wrap(m: &CK_MECHANISM) -> Result<WrapAlgorithm, CK_RV> {
        // SAFETY: see above.
        unsafe { super::wrap(m) }
    }

    fn ecdh(m: &CK_MECHANISM) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: see above.
        unsafe { super::ecdh(m) }
    }

    #[test]
    fn signature_mechanisms() {
        let m = sign(&bare(CKM_ECDSA_SHA384)).unwrap();
        assert_eq!(m.input, SignInputKind::Hashed(HashAlg::Sha384));
        assert_eq!(
            m.alg,
            SignAlgorithm::Ecdsa {
                hash: Some(HashAlg::Sha384),
                curve: None
            }
        );
        assert_eq!(sign(&bare(CKM_ECDSA)).unwrap().input, SignInputKind::Direct);
        assert_eq!(
            sign(&bare(CKM_RSA_X_509)).unwrap().alg,
            SignAlgorithm::RsaRaw
        );
        assert_eq!(cipher(&bare(CKM_RSA_X_509)), Ok(CipherAlgorithm::RsaRaw));
        assert_eq!(sign(&bare(CKM_AES_CMAC)).unwrap().input, SignInputKind::Mac);
        assert_eq!(
            sign(&bare(CKM_SHA1_RSA_PKCS)).unwrap().alg,
            SignAlgorithm::RsaPkcs1v15 {
                hash: Some(HashAlg::Sha1)
            }
        );
        assert_eq!(sign(&bare(CKM_AES_ECB)), Err(CKR_MECHANISM_INVALID));
        assert_eq!(sign(&bare(CKM_MD5_RSA_PKCS)), Err(CKR_MECHANISM_INVALID));
        let junk = 0u64;
        assert_eq!(
            sign(&mech(CKM_ECDSA, &junk)),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
    }

    #[test]
    fn pss_parameters() {
        let p = |hash, mgf, s_len| CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: hash,
            mgf,
            sLen: s_len,
        };
        let ok = p(CKM_SHA256, CKG_MGF1_SHA256, 32);
        assert_eq!(
            sign(&mech(CKM_SHA256_RSA_PKCS_PSS, &ok)).unwrap(),
            SignMechanism {
                alg: SignAlgorithm::RsaPss {
                    hash: HashAlg::Sha256,
                    mgf1: HashAlg::Sha256,
                    salt_len: 32
                },
                input: SignInputKind::Hashed(HashAlg::Sha256),
            }
        );
        assert_eq!(
            sign(&mech(CKM_RSA_PKCS_PSS, &ok)).unwrap().input,
            SignInputKind::Direct
        );
        // The hash of a hashing mechanism must be its parameter's.
        assert_eq!(
            sign(&mech(CKM_SHA384_RSA_PKCS_PSS, &ok)),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
        for bad in [p(CKM_MD5, CKG_MGF1_SHA256, 32), p(CKM_SHA256, 0x99, 32)] {
            assert_eq!(
                sign(&mech(CKM_RSA_PKCS_PSS, &bad)),
                Err(CKR_MECHANISM_PARAM_INVALID)
            );
        }
        assert_eq!(
            sign(&bare(CKM_RSA_PKCS_PSS)),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
        let short = [0u8; 8];
        assert_eq!(
            sign(&mech(CKM_RSA_PKCS_PSS, &short)),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
    }

    #[test]
    fn oaep_parameters() {
        let label = *b"label";
        let p = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA1,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: label.as_ptr() as *mut c_void,
            ulSourceDataLen: 5,
        };
        assert_eq!(
            cipher(&mech(CKM_RSA_PKCS_OAEP, &p)).unwrap(),
            CipherAlgorithm::RsaOaep {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha1,
                label: b"label".to_vec()
            }
        );
        let no_source = CK_RSA_PKCS_OAEP_PARAMS { source: 0, ..p };
        assert_eq!(
            cipher(&mech(CKM_RSA_PKCS_OAEP, &no_source)),
            Err(CKR_MECHANISM_PARAM_INVALID),
            "a label without its source"
        );
        let none = CK_RSA_PKCS_OAEP_PARAMS {
            source: 0,
            pSourceData: std::ptr::null_mut(),
            ulSourceDataLen: 0,
            ..p
        };
        assert!(matches!(
            wrap(&mech(CKM_RSA_PKCS_OAEP, &none)),
            Ok(WrapAlgorithm::RsaOaep { label, .. }) if label.is_empty()
        ));
        let dangling = CK_RSA_PKCS_OAEP_PARAMS {
            pSourceData: std::ptr::null_mut(),
            ..p
        };
        assert_eq!(
            cipher(&mech(CKM_RSA_PKCS_OAEP, &dangling)),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
    }

    #[test]
    fn aes_parameters() {
        let iv = [7u8; 16];
        assert_eq!(
            cipher(&mech(CKM_AES_CBC_PAD, &iv)).unwrap(),
            CipherAlgorithm::AesCbc {
                key_bits: None,
                iv,
                padding: true
            }
        );
        let short = [7u8; 8];
        assert_eq!(
            cipher(&mech(CKM_AES_CBC, &short)),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
        assert_eq!(cipher(&bare(CKM_AES_CBC)), Err(CKR_MECHANISM_PARAM_INVALID));
        let ctr = CK_AES_CTR_PARAMS {
            ulCounterBits: 64,
            cb: [1; 16],
        };
        assert_eq!(
            cipher(&mech(CKM_AES_CTR, &ctr)).unwrap(),
            CipherAlgorithm::AesCtr {
                counter_block: [1; 16],
                counter_bits: 64
            }
        );

        let nonce = [9u8; 12];
        let aad = [1u8; 3];
        let gcm_params = CK_GCM_PARAMS {
            pIv: nonce.as_ptr() as *mut u8,
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: aad.as_ptr() as *mut u8,
            ulAADLen: 3,
            ulTagBits: 128,
        };
        let want = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: Some(nonce.to_vec()),
            aad: aad.to_vec(),
            tag_len: 16,
        };
        assert_eq!(cipher(&mech(CKM_AES_GCM, &gcm_params)).unwrap(), want);
        let old = GcmParamsNoIvBits {
            pIv: nonce.as_ptr() as *mut u8,
            ulIvLen: 12,
            pAAD: aad.as_ptr() as *mut u8,
            ulAADLen: 3,
            ulTagBits: 128,
        };
        assert_eq!(cipher(&mech(CKM_AES_GCM, &old)).unwrap(), want);
        for bad in [
            CK_GCM_PARAMS {
                ulIvBits: 64,
                ..gcm_params
            },
            CK_GCM_PARAMS {
                ulTagBits: 100,
                ..gcm_params
            },
            CK_GCM_PARAMS {
                pAAD: std::ptr::null_mut(),
                ..gcm_params
            },
        ] {
            assert_eq!(
                cipher(&mech(CKM_AES_GCM, &bad)),
                Err(CKR_MECHANISM_PARAM_INVALID)
            );
        }
        assert_eq!(cipher(&bare(CKM_SHA256_HMAC)), Err(CKR_MECHANISM_INVALID));
    }

    #[test]
    fn wrap_parameters() {
        assert_eq!(
            wrap(&bare(CKM_AES_KEY_WRAP)),
            Ok(WrapAlgorithm::AesKw { key_bits: None })
        );
        assert_eq!(
            wrap(&mech(CKM_AES_KEY_WRAP, &KW_IV)),
            Ok(WrapAlgorithm::AesKw { key_bits: None })
        );
        assert_eq!(
            wrap(&mech(CKM_AES_KEY_WRAP, &[1u8; 8])),
            Err(CKR_MECHANISM_PARAM_INVALID)
        );
        for m in [CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP_KWP] {
            assert_eq!(
                wrap(&mech(m, &KWP_IV)),
                Ok(WrapAlgorithm::AesKwp { key_bits: None })
            );
        }
        assert_eq!(wrap(&bare(CKM_AES_GCM)), Err(CKR_MECHANISM_INVALID));
    }

    #[test]
    fn ecdh_parameters() {
        let point = [4u8; 65];
        let p = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: std::ptr::null_mut(),
            ulPublicDataLen: 65,
            pPublicData: point.as_ptr() as *mut u8,
        };
        assert_eq!(ecdh(&mech(CKM_ECDH1_DERIVE, &p)), Ok(point.to_vec()));
        for bad in [
            CK_ECDH1_DERIVE_PARAMS {
                kdf: CKD_SHA256_KDF,
                ..p
            },
            CK_ECDH1_DERIVE_PARAMS {
                ulSharedDataLen: 4,
                pSharedData: point.as_ptr() as *mut u8,
                ..p
            },
            CK_ECDH1_DERIVE_PARAMS {
                ulPublicDataLen: 0,
                ..p
            },
        ] {
            assert_eq!(
                ecdh(&mech(CKM_ECDH1_DERIVE, &bad)),
                Err(CKR_MECHANISM_PARAM_INVALID)
            );
        }
        assert_eq!(ecdh(&mech(CKM_ECDSA, &p)), Err(CKR_MECHANISM_INVALID));
    }
}
