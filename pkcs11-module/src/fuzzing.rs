//! Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`; hidden, not an API).
//!
//! They run the module's own parsing of what a PKCS#11 caller passes, without a token:
//! [`template`] reads a `CK_ATTRIBUTE` array the way `C_CreateObject`, `C_GenerateKey`,
//! `C_GenerateKeyPair`, `C_FindObjectsInit` and `C_SetAttributeValue` do, and plans a key
//! from it; [`mechanism`] reads a `CK_MECHANISM` the way each function group does. Both are
//! `unsafe fn`s with the contract of the C functions they stand for: the fuzz targets build
//! the C structures over their input and keep every pointer valid (or NULL), as a correct
//! caller would; what the module must survive is every value and length within that.
#![allow(unsafe_code)]

use std::sync::{Arc, OnceLock};

use cryptoki_sys::*;
use hsm_core::crypto::KeySpec;
use hsm_core::hsm::{Hsm, HsmConfig};
use hsm_core::key::KeyOps;

use crate::attributes::{self, Attrs, KeyFacts, Part, Template};
use crate::state::objects::{Backing, Object, ObjectId};
use crate::{keys, mechanism_params, object, ptr};

fn hsm() -> &'static Hsm {
    static HSM: OnceLock<Hsm> = OnceLock::new();
    HSM.get_or_init(|| Hsm::open(HsmConfig::in_memory()).expect("an in-memory HSM opens"))
}

/// Objects a `C_SetAttributeValue` template is checked against: a data object, and the
/// secret and private parts of keys as the module shows them.
fn targets() -> &'static [Object] {
    static TARGETS: OnceLock<Vec<Object>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let data = object::storage_attributes(hsm(), CKO_DATA, &Template(Vec::new()))
            .expect("a data object's defaults");
        let stored = Attrs::new();
        let key = |spec: KeySpec, part: Part| {
            attributes::key_attributes(
                part,
                &KeyFacts {
                    spec,
                    public: None,
                    ops: KeyOps::default_for(&spec),
                    exportable: true,
                    generated: true,
                    token: false,
                    label: b"k",
                    default_id: b"id",
                    stored: &stored,
                },
            )
        };
        let object = |attrs: Attrs, part: Option<Part>| Object {
            handle: 1,
            id: ObjectId::Session(1),
            attrs: Arc::new(attrs),
            backing: Backing::None,
            part,
        };
        vec![
            object(data, None),
            object(
                key(KeySpec::Aes { bits: 256 }, Part::Secret),
                Some(Part::Secret),
            ),
            object(
                key(KeySpec::Secret { bits: 160 }, Part::Secret),
                Some(Part::Secret),
            ),
            object(
                key(KeySpec::Rsa { bits: 2048 }, Part::Private),
                Some(Part::Private),
            ),
        ]
    })
}

/// Reads a template as every function that takes one does, and plans a key from it.
///
/// # Safety
/// The PKCS#11 caller's contract for an input template: `attrs` is NULL or points to `count`
/// attributes, each one's `pValue` NULL or valid for `ulValueLen` bytes, unchanged during
/// the call.
pub unsafe fn template(attrs: *const CK_ATTRIBUTE, count: CK_ULONG) {
    // SAFETY: this function's contract is `ptr::template`'s.
    let Ok(raw) = (unsafe { ptr::template(attrs, count) }) else {
        return;
    };
    let Ok(t) = Template::new(raw) else {
        return;
    };
    // C_FindObjectsInit.
    let _ = t.bool(CKA_TOKEN);
    for target in targets() {
        let _ = t.matches(&target.attrs);
        // C_SetAttributeValue.
        let _ = object::check_changes(target, &t);
    }
    // C_CreateObject.
    if let Ok(Some(class)) = t.ulong(CKA_CLASS) {
        match class {
            CKO_DATA | CKO_CERTIFICATE | CKO_PUBLIC_KEY => {
                let _ = object::storage_attributes(hsm(), class, &t);
            }
            CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
                if let Ok(material) = object::material_of(class, &t) {
                    let _ = keys::import_plan(class, &t, &material.spec());
                }
            }
            _ => {}
        }
    }
    // C_GenerateKey and C_GenerateKeyPair (the template as either half).
    for mechanism in [CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN] {
        if let Ok(spec) = keys::secret_key_spec(mechanism, &t) {
            let _ = keys::KeyPlan::new(&spec, &[(Part::Secret, &t)], &[CKA_VALUE_LEN]);
        }
    }
    let empty = Template(Vec::new());
    for mechanism in [CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_EC_KEY_PAIR_GEN] {
        for (public, private) in [(&t, &empty), (&empty, &t)] {
            if let Ok(spec) = keys::key_pair_spec(mechanism, public, private) {
                let _ = keys::KeyPlan::new(
                    &spec,
                    &[(Part::Private, private), (Part::Public, public)],
                    keys::GENERATION,
                );
            }
        }
    }
}

/// Reads a mechanism as `C_SignInit`, `C_EncryptInit`, `C_WrapKey` and `C_DeriveKey` do.
///
/// # Safety
/// The PKCS#11 caller's contract for a mechanism: `m.pParameter` is NULL or valid for
/// reading `ulParameterLen` bytes, and every buffer its parameter structure names NULL or
/// valid for its stated length, unchanged during the call.
pub unsafe fn mechanism(m: &CK_MECHANISM) {
    // SAFETY: this function's contract is each parser's.
    unsafe {
        let _ = mechanism_params::sign(m);
        let _ = mechanism_params::cipher(m);
        let _ = mechanism_params::wrap(m);
        let _ = mechanism_params::ecdh(m);
    }
}

/// Decodes an attribute map as the module keeps certificates and data objects in pool
/// documents (`attributes::decode`), and checks that what decodes encodes back the same.
pub fn stored_object(bytes: &[u8]) {
    if let Some(attrs) = attributes::decode(bytes) {
        assert_eq!(
            attributes::decode(&attributes::encode(&attrs)).as_ref(),
            Some(&attrs),
            "an attribute map decodes to itself after encoding"
        );
    }
}
