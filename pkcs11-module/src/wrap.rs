//! Key wrapping and derivation: `C_WrapKey`, `C_UnwrapKey`, `C_DeriveKey`.
//!
//! - Wrapping two keys of one pool happens inside the core (`PoolApi::wrap_stored_key`: the
//!   target's material never leaves it); a session key on either side is wrapped here from
//!   the target's material (`Object::wrap_target`). AES keys are wrapped as their raw bytes,
//!   private keys as PKCS#8 DER. The length query answers a bound computed from the two
//!   keys' specs (`hsm_core::pool::wrapped_len_bound`): it wraps nothing. PKCS#11's own rules
//!   come first: `CKA_WRAP` on the wrapping key, `CKA_EXTRACTABLE` on the target
//!   (`CKR_KEY_UNEXTRACTABLE`), and for a target with `CKA_WRAP_WITH_TRUSTED` a wrapping key
//!   with `CKA_TRUSTED` (`CKR_KEY_NOT_WRAPPABLE`).
//! - Unwrapping parses the bytes as the template's class says (secret key: raw bytes;
//!   private key: PKCS#8) and makes the object with `keys::new_key_object`.
//! - `CKM_ECDH1_DERIVE` with `CKD_NULL`: the shared secret's leftmost `CKA_VALUE_LEN` bytes
//!   (all of it without one) become an AES or generic secret key, through the same seam.
//!
//! Errors are named for the key they concern: the wrapping key's handle and type
//! (`CKR_WRAPPING_KEY_*`, `CKR_UNWRAPPING_KEY_*`), the wrapped bytes (`CKR_WRAPPED_KEY_*`),
//! a key the scheme cannot wrap for its size (`CKR_KEY_SIZE_RANGE`).

use cryptoki_sys::*;
use hsm_core::SecretBytes;
use hsm_core::crypto::{KeyMaterial, KeySpec, check};

use crate::attributes::{Part, Template, is_true, ulong_bytes};
use crate::entry::cryptoki_fn;
use crate::error::CoreResult;
use crate::keys::{new_key_object, secret_material};
use crate::mechanism_params;
use crate::ptr;
use crate::sign::init_key;
use crate::state::Module;
use crate::state::objects::{self, Object};
use crate::state::sessions::Session;

/// The wrapping (or unwrapping) key: resolved, the mechanism checked against its type, its
/// usage checked (in that order, as for [`init_key`]), with the codes of that role.
fn wrapping_key(
    module: &Module,
    session: &Session,
    handle: CK_OBJECT_HANDLE,
    alg: &hsm_core::crypto::WrapAlgorithm,
    usage: CK_ATTRIBUTE_TYPE,
) -> Result<(Object, KeySpec), CK_RV> {
    let (handle_invalid, type_inconsistent) = match usage {
        CKA_WRAP => (
            CKR_WRAPPING_KEY_HANDLE_INVALID,
            CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        ),
        _ => (
            CKR_UNWRAPPING_KEY_HANDLE_INVALID,
            CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
        ),
    };
    let as_role = |rv| match rv {
        CKR_OBJECT_HANDLE_INVALID | CKR_KEY_HANDLE_INVALID => handle_invalid,
        CKR_KEY_TYPE_INCONSISTENT => type_inconsistent,
        rv => rv,
    };
    let key = objects::resolve(module, session, handle).map_err(as_role)?;
    let spec = key.spec().ok_or(type_inconsistent)?;
    check::wrap_key(&spec, alg).ck().map_err(as_role)?;
    key.check_usage(usage).map_err(as_role)?;
    Ok((key, spec))
}

cryptoki_fn! {
    /// `C_WrapKey`: AES key wrap (RFC 3394), with padding (RFC 5649), RSA PKCS#1 v1.5 and
    /// OAEP. The wrapped length is known before any wrapping (the two-call convention).
    pub fn C_WrapKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        wrapping_key_handle: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        wrapped: CK_BYTE_PTR,
        wrapped_len: CK_ULONG_PTR,
    ) with module, session {
        // SAFETY: `pMechanism` is NULL or points to a CK_MECHANISM (caller's contract).
        let mechanism = unsafe { ptr::read(mechanism) }?;
        ptr::non_null(wrapped_len)?;
        // SAFETY: its parameter, and the buffers that names, are as the PKCS#11 caller passed
        // them: valid for their stated lengths (the caller's contract for a mechanism).
        let alg = unsafe { mechanism_params::wrap(&mechanism) }?;
        let (wrapping, spec) =
            wrapping_key(module, session, wrapping_key_handle, &alg, CKA_WRAP)?;
        let target = objects::resolve(module, session, key).map_err(|rv| match rv {
            CKR_OBJECT_HANDLE_INVALID => CKR_KEY_HANDLE_INVALID,
            rv => rv,
        })?;
        match target.part {
            None => return Err(CKR_KEY_HANDLE_INVALID),
            Some(Part::Public) => return Err(CKR_KEY_NOT_WRAPPABLE),
            Some(Part::Private | Part::Secret) => {}
        }
        if !is_true(&target.attrs, CKA_EXTRACTABLE) {
            return Err(CKR_KEY_UNEXTRACTABLE);
        }
        if is_true(&target.attrs, CKA_WRAP_WITH_TRUSTED) && !is_true(&wrapping.attrs, CKA_TRUSTED) {
            return Err(CKR_KEY_NOT_WRAPPABLE);
        }
        let size_range = |rv| match rv {
            CKR_DATA_LEN_RANGE => CKR_KEY_SIZE_RANGE,
            CKR_KEY_TYPE_INCONSISTENT => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
            rv => rv,
        };
        let target_spec = target.spec().ok_or(CKR_KEY_HANDLE_INVALID)?;
        // A secret key's wrapped form has a known length: refuse a size the scheme cannot
        // take before answering a length.
        if target_spec.is_symmetric() {
            let len = hsm_core::pool::wrap_form_len_bound(&target_spec);
            check::wrap(&spec, &alg, len).ck().map_err(size_range)?;
        }
        // From the specs alone (exact for secret keys, a bound for private keys): the length
        // query wraps nothing.
        let needed = hsm_core::pool::wrapped_len_bound(&spec, &alg, &target_spec)
            .ck()
            .map_err(size_range)?;
        // SAFETY: `pulWrappedKeyLen` is non-NULL (checked above), readable and writable;
        // `pWrappedKey` NULL or writable for `*pulWrappedKeyLen` bytes (caller's contract).
        let Some(out) = unsafe { ptr::out_buffer_upto(wrapped, wrapped_len, needed) }? else {
            return Ok(());
        };
        let wrapped_key = wrapping
            .wrap_target(module.core.hsm(), &alg, &target)
            .map_err(size_range)?;
        out.fill(&wrapped_key)
    }
}

cryptoki_fn! {
    /// `C_UnwrapKey`: the template names the class (`CKO_SECRET_KEY`: the bytes are the key;
    /// `CKO_PRIVATE_KEY`: PKCS#8) and the key type; the object is made by
    /// `keys::new_key_object`.
    pub fn C_UnwrapKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        unwrapping_key: CK_OBJECT_HANDLE,
        wrapped: CK_BYTE_PTR,
        wrapped_len: CK_ULONG,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        key: CK_OBJECT_HANDLE_PTR,
    ) with module {
        ptr::non_null(key)?;
        let session = module.sessions.get(session)?;
        // SAFETY: `pMechanism` is NULL or points to a CK_MECHANISM (caller's contract).
        let mechanism = unsafe { ptr::read(mechanism) }?;
        // SAFETY: `pWrappedKey` is NULL or `ulWrappedKeyLen` bytes (caller's contract).
        let wrapped = unsafe { ptr::slice(wrapped, wrapped_len) }?;
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let template = Template::new(unsafe { ptr::template(template, count) }?)?;
        // SAFETY: its parameter, and the buffers that names, are as the PKCS#11 caller passed
        // them: valid for their stated lengths (the caller's contract for a mechanism).
        let alg = unsafe { mechanism_params::wrap(&mechanism) }?;
        let (unwrapping, _) =
            wrapping_key(module, &session, unwrapping_key, &alg, CKA_UNWRAP)?;
        let class = template.ulong(CKA_CLASS)?.ok_or(CKR_TEMPLATE_INCOMPLETE)?;
        let key_type = template.ulong(CKA_KEY_TYPE)?;
        match (class, key_type) {
            (CKO_SECRET_KEY, Some(CKK_AES | CKK_GENERIC_SECRET))
            | (CKO_PRIVATE_KEY, Some(CKK_RSA | CKK_EC) | None) => {}
            (CKO_SECRET_KEY, None) => return Err(CKR_TEMPLATE_INCOMPLETE),
            _ => return Err(CKR_TEMPLATE_INCONSISTENT),
        }
        let bytes = unwrapping.unwrap_key(&alg, wrapped).map_err(|rv| match rv {
            CKR_DATA_LEN_RANGE => CKR_WRAPPED_KEY_LEN_RANGE,
            CKR_ENCRYPTED_DATA_INVALID => CKR_WRAPPED_KEY_INVALID,
            CKR_KEY_TYPE_INCONSISTENT => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
            rv => rv,
        })?;
        let material = if let (CKO_SECRET_KEY, Some(key_type)) = (class, key_type) {
            if template
                .ulong(CKA_VALUE_LEN)?
                .is_some_and(|len| usize::try_from(len) != Ok(bytes.len()))
            {
                return Err(CKR_TEMPLATE_INCONSISTENT);
            }
            // AES keys of 16, 24 or 32 bytes; generic secrets of any length the core allows.
            secret_material(key_type, bytes).ok_or(CKR_WRAPPED_KEY_LEN_RANGE)?
        } else {
            KeyMaterial::from_pkcs8_der(bytes.expose_secret()).map_err(|_| CKR_WRAPPED_KEY_INVALID)?
        };
        let handle = new_key_object(module, &session, class, &template, material)?;
        // SAFETY: `phKey` is non-NULL (checked above), writable (caller's contract).
        unsafe { ptr::write(key, handle) }
    }
}

cryptoki_fn! {
    /// `C_DeriveKey`: `CKM_ECDH1_DERIVE` (`CKD_NULL`) into an AES key or a generic secret
    /// (the default) of `CKA_VALUE_LEN` bytes, the shared secret's leftmost; without
    /// `CKA_VALUE_LEN`, all of it (a length an AES key must have).
    pub fn C_DeriveKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        base_key: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        key: CK_OBJECT_HANDLE_PTR,
    ) with module {
        ptr::non_null(key)?;
        let session = module.sessions.get(session)?;
        // SAFETY: `pMechanism` is NULL or points to a CK_MECHANISM (caller's contract).
        let mechanism = unsafe { ptr::read(mechanism) }?;
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let mut template = Template::new(unsafe { ptr::template(template, count) }?)?;
        // SAFETY: its parameter, and the buffers that names, are as the PKCS#11 caller passed
        // them: valid for their stated lengths (the caller's contract for a mechanism).
        let peer = unsafe { mechanism_params::ecdh(&mechanism) }?;
        let (base, ()) =
            init_key(module, &session, base_key, CKA_DERIVE, |spec| check::ecdh(spec).ck())?;
        match template.ulong(CKA_CLASS)? {
            None => template.0.push((CKA_CLASS, ulong_bytes(CKO_SECRET_KEY))),
            Some(CKO_SECRET_KEY) => {}
            Some(_) => return Err(CKR_TEMPLATE_INCONSISTENT),
        }
        let key_type = match template.ulong(CKA_KEY_TYPE)? {
            None => {
                template.0.push((CKA_KEY_TYPE, ulong_bytes(CKK_GENERIC_SECRET)));
                CKK_GENERIC_SECRET
            }
            Some(t @ (CKK_AES | CKK_GENERIC_SECRET)) => t,
            Some(_) => return Err(CKR_TEMPLATE_INCONSISTENT),
        };
        let secret = base.derive_ecdh(&peer).map_err(|rv| match rv {
            // The peer's point is the mechanism's parameter.
            CKR_ARGUMENTS_BAD => CKR_MECHANISM_PARAM_INVALID,
            rv => rv,
        })?;
        let len = match template.ulong(CKA_VALUE_LEN)? {
            Some(len) => usize::try_from(len).map_err(|_| CKR_KEY_SIZE_RANGE)?,
            None => secret.len(),
        };
        let value = secret
            .expose_secret()
            .get(..len)
            .filter(|v| !v.is_empty())
            .ok_or(CKR_KEY_SIZE_RANGE)?;
        let material = secret_material(key_type, SecretBytes::from_slice(value))
            .ok_or(CKR_KEY_SIZE_RANGE)?;
        let handle = new_key_object(module, &session, CKO_SECRET_KEY, &template, material)?;
        // SAFETY: `phKey` is non-NULL (checked above), writable (caller's contract).
        unsafe { ptr::write(key, handle) }
    }
}
