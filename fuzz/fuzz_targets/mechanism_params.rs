//! PKCS#11 mechanism parameters: a `CK_MECHANISM` with a known or arbitrary type and a
//! parameter that is NULL (with any length), raw bytes of any length, or one of the
//! parameter structures (GCM in both layouts, OAEP, ECDH1, PSS, CTR) with arbitrary fields
//! and the buffers it names, read by the module's own parsers (see
//! `mhsm_pkcs11::fuzzing::mechanism`). Every non-NULL pointer is valid for the length given
//! with it, as the caller's contract says: raw bytes never have the size of a structure
//! holding pointers, and a structure holding pointers goes with the one mechanism that
//! reads it (anything else would hand the module wild pointers, which no caller may do).
#![no_main]

use std::ffi::c_void;

use cryptoki_sys::*;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const MECHANISMS: &[CK_MECHANISM_TYPE] = &[
    CKM_RSA_PKCS,
    CKM_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_RSA_X_509,
    CKM_SHA256_RSA_PKCS,
    CKM_ECDSA,
    CKM_ECDSA_SHA384,
    CKM_SHA256_HMAC,
    CKM_AES_CMAC,
    CKM_RSA_PKCS_OAEP,
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_KEY_WRAP_KWP,
    CKM_ECDH1_DERIVE,
];

/// `CK_GCM_PARAMS` without `ulIvBits` (PKCS#11 2.40 as first published).
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

/// Sizes of the parameter structures that hold pointers.
fn pointer_struct_sizes() -> [usize; 4] {
    [
        size_of::<CK_GCM_PARAMS>(),
        size_of::<GcmParamsNoIvBits>(),
        size_of::<CK_RSA_PKCS_OAEP_PARAMS>(),
        size_of::<CK_ECDH1_DERIVE_PARAMS>(),
    ]
}

/// Owns what a mechanism points to.
#[derive(Default)]
struct Buffers {
    bufs: Vec<Vec<u8>>,
}

impl Buffers {
    /// A buffer a parameter names: NULL with an arbitrary length, or bytes with their
    /// length (or a shorter one).
    fn named(&mut self, u: &mut Unstructured<'_>) -> Result<(*mut u8, CK_ULONG)> {
        if u.ratio(1, 8)? {
            return Ok((std::ptr::null_mut(), u.arbitrary()?));
        }
        let n = u.arbitrary_len::<u8>()?.min(600);
        let mut b = u.bytes(n)?.to_vec();
        let len = u.int_in_range(0..=b.len())? as CK_ULONG;
        let p = if b.is_empty() && u.arbitrary()? {
            std::ptr::null_mut()
        } else {
            b.as_mut_ptr()
        };
        self.bufs.push(b);
        Ok((p, len))
    }
}

/// A field that is mostly meaningful: a hash, an MGF, a size, or anything.
fn ulong(u: &mut Unstructured<'_>, likely: &[CK_ULONG]) -> Result<CK_ULONG> {
    if u.ratio(3, 4)? {
        Ok(*u.choose(likely)?)
    } else {
        u.arbitrary()
    }
}

fn as_bytes<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: `v` is a live `T` of `size_of::<T>()` bytes; the C parameter structures have
    // no padding (all fields are 8 bytes on this target), so every byte is initialized.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()).to_vec() }
}

/// A parameter, and the mechanism it must go with if it holds pointers.
fn parameter(
    u: &mut Unstructured<'_>,
    bufs: &mut Buffers,
) -> Result<(Option<Vec<u8>>, Option<CK_MECHANISM_TYPE>)> {
    const HASHES: &[CK_ULONG] = &[CKM_SHA_1, CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_MD5];
    const MGFS: &[CK_ULONG] = &[CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKG_MGF1_SHA512, 0];
    const SIZES: &[CK_ULONG] = &[0, 12, 16, 96, 128, 64, 120, 32];
    let mut only_for = None;
    let bytes = match u.int_in_range(0..=7u8)? {
        0 => return Ok((None, None)),
        1 => {
            let n = u.arbitrary_len::<u8>()?.min(256);
            let mut b = u.bytes(n)?.to_vec();
            if pointer_struct_sizes().contains(&b.len()) {
                b.push(0);
            }
            b
        }
        2 => {
            only_for = Some(CKM_AES_GCM);
            let (iv, iv_len) = bufs.named(u)?;
            let (aad, aad_len) = bufs.named(u)?;
            as_bytes(&CK_GCM_PARAMS {
                pIv: iv,
                ulIvLen: iv_len,
                ulIvBits: ulong(u, &[0, iv_len.wrapping_mul(8), 96])?,
                pAAD: aad,
                ulAADLen: aad_len,
                ulTagBits: ulong(u, SIZES)?,
            })
        }
        3 => {
            only_for = Some(CKM_AES_GCM);
            let (iv, iv_len) = bufs.named(u)?;
            let (aad, aad_len) = bufs.named(u)?;
            as_bytes(&GcmParamsNoIvBits {
                pIv: iv,
                ulIvLen: iv_len,
                pAAD: aad,
                ulAADLen: aad_len,
                ulTagBits: ulong(u, SIZES)?,
            })
        }
        4 => {
            only_for = Some(CKM_RSA_PKCS_OAEP);
            let (label, label_len) = bufs.named(u)?;
            as_bytes(&CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: ulong(u, HASHES)?,
                mgf: ulong(u, MGFS)?,
                source: ulong(u, &[CKZ_DATA_SPECIFIED, 0])?,
                pSourceData: label.cast::<c_void>(),
                ulSourceDataLen: label_len,
            })
        }
        5 => {
            only_for = Some(CKM_ECDH1_DERIVE);
            let (shared, shared_len) = bufs.named(u)?;
            let (public, public_len) = bufs.named(u)?;
            as_bytes(&CK_ECDH1_DERIVE_PARAMS {
                kdf: ulong(u, &[CKD_NULL, CKD_SHA256_KDF])?,
                ulSharedDataLen: shared_len,
                pSharedData: shared,
                ulPublicDataLen: public_len,
                pPublicData: public,
            })
        }
        6 => as_bytes(&CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: ulong(u, HASHES)?,
            mgf: ulong(u, MGFS)?,
            sLen: ulong(u, SIZES)?,
        }),
        _ => {
            let mut cb = [0u8; 16];
            u.fill_buffer(&mut cb)?;
            as_bytes(&CK_AES_CTR_PARAMS {
                ulCounterBits: ulong(u, &[0, 32, 64, 128, 129])?,
                cb,
            })
        }
    };
    Ok((Some(bytes), only_for))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut bufs = Buffers::default();
    let Ok(mechanism) = (if u.ratio(7, 8).unwrap_or(true) {
        u.choose(MECHANISMS).copied()
    } else {
        u.arbitrary()
    }) else {
        return;
    };
    let Ok((mut param, only_for)) = parameter(&mut u, &mut bufs) else {
        return;
    };
    let mechanism = only_for.unwrap_or(mechanism);
    let m = match param.as_mut() {
        None => CK_MECHANISM {
            mechanism,
            pParameter: std::ptr::null_mut(),
            ulParameterLen: u.arbitrary().unwrap_or(0),
        },
        Some(p) => CK_MECHANISM {
            mechanism,
            pParameter: p.as_mut_ptr().cast(),
            ulParameterLen: p.len() as CK_ULONG,
        },
    };
    // SAFETY: `pParameter` is NULL or the `ulParameterLen` bytes in `param`; when those bytes
    // are a structure with pointers, each is NULL or points into `bufs` for at most the
    // length beside it; all of it lives and stays unchanged during the call. Raw bytes never
    // have the size of such a structure.
    unsafe { mhsm_pkcs11::fuzzing::mechanism(&m) };
});
