//! PKCS#11 attribute templates: a `CK_ATTRIBUTE` array built from the input (known and
//! unknown types, values of every length including short ones, NULL values with and
//! without a length, a NULL array), read by the module's own template parsing and key
//! planning (see `mhsm_pkcs11::fuzzing::template`). Every non-NULL pointer is valid for the
//! length given with it: that is the caller's contract, and the module may rely on it.
#![no_main]

use cryptoki_sys::*;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Attribute types the module reads, so most inputs reach past the type check.
const TYPES: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_ID,
    CKA_VALUE,
    CKA_VALUE_LEN,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_EXTRACTABLE,
    CKA_SENSITIVE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_SUBJECT,
    CKA_CERTIFICATE_TYPE,
    CKA_TRUSTED,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_LOCAL,
    CKA_APPLICATION,
    CKA_OBJECT_ID,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_KEY_GEN_MECHANISM,
    CKA_SIGN_RECOVER,
    CKA_VERIFY_RECOVER,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_PUBLIC_KEY_INFO,
    CKA_URL,
    CKA_CERTIFICATE_CATEGORY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
];

/// `CK_ULONG` values the module gives meaning to.
const ULONGS: &[CK_ULONG] = &[
    CKO_DATA,
    CKO_CERTIFICATE,
    CKO_PUBLIC_KEY,
    CKO_PRIVATE_KEY,
    CKO_SECRET_KEY,
    CKK_RSA,
    CKK_EC,
    CKK_AES,
    CKK_GENERIC_SECRET,
    CKK_SHA256_HMAC,
    CKC_X_509,
    16,
    24,
    32,
    2048,
    4096,
    0,
    CK_UNAVAILABLE_INFORMATION,
];

/// `CKA_EC_PARAMS` values: P-256 and P-384 OIDs, curve names.
const EC_PARAMS: &[&[u8]] = &[
    &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
    b"\x13\x0aprime256v1",
    b"\x13\x05P-521",
];

/// One attribute: its type, its value bytes (owned here), and how it is passed.
struct Attr {
    type_: CK_ATTRIBUTE_TYPE,
    value: Vec<u8>,
    /// NULL `pValue` with this length.
    null_len: Option<CK_ULONG>,
}

fn attr(u: &mut Unstructured<'_>) -> Result<Attr> {
    let type_ = if u.ratio(7, 8)? {
        *u.choose(TYPES)?
    } else {
        u.arbitrary()?
    };
    let value = match u.int_in_range(0..=5u8)? {
        0 => vec![u.arbitrary::<bool>()? as u8],
        1 => u.choose(ULONGS)?.to_ne_bytes().to_vec(),
        2 => u.choose(EC_PARAMS)?.to_vec(),
        3 => {
            // A short or long CK_ULONG.
            let n = u.int_in_range(0..=12usize)?;
            u.bytes(n)?.to_vec()
        }
        _ => {
            let n = u.arbitrary_len::<u8>()?;
            u.bytes(n)?.to_vec()
        }
    };
    let null_len = if u.ratio(1, 16)? {
        Some(u.arbitrary()?)
    } else {
        None
    };
    Ok(Attr {
        type_,
        value,
        null_len,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(null_array) = u.ratio(1, 64) else {
        return;
    };
    let mut attrs = Vec::new();
    while attrs.len() < 24 {
        match u.arbitrary::<bool>().and_then(|more| {
            if more {
                attr(&mut u).map(Some)
            } else {
                Ok(None)
            }
        }) {
            Ok(Some(a)) => attrs.push(a),
            _ => break,
        }
    }
    let mut raw: Vec<CK_ATTRIBUTE> = attrs
        .iter_mut()
        .map(|a| match a.null_len {
            Some(len) => CK_ATTRIBUTE {
                type_: a.type_,
                pValue: std::ptr::null_mut(),
                ulValueLen: len,
            },
            None => CK_ATTRIBUTE {
                type_: a.type_,
                pValue: a.value.as_mut_ptr().cast(),
                ulValueLen: a.value.len() as CK_ULONG,
            },
        })
        .collect();
    let count = raw.len() as CK_ULONG;
    let array = if null_array {
        std::ptr::null()
    } else {
        raw.as_mut_ptr().cast_const()
    };
    // SAFETY: `array` is NULL or `count` attributes, each `pValue` NULL or pointing to its
    // `ulValueLen` bytes in `attrs`, all alive and unchanged during the call.
    unsafe { mhsm_pkcs11::fuzzing::template(array, count) };
});
