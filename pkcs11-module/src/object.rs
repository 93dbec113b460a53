//! Object management: `C_CreateObject`, `C_CopyObject`, `C_DestroyObject`,
//! `C_GetObjectSize`, `C_GetAttributeValue`, `C_SetAttributeValue`; searches are in
//! [`crate::find`].
//!
//! Objects are described in [`crate::state::objects`]. A pool key's label is its name and
//! cannot change; destroying a private or secret key soft-deletes the key in its pool
//! (recoverable over REST or the core), destroying only the public half of a pair hides it.

use cryptoki_sys::*;
use hsm_core::crypto::{Curve, KeyMaterial, RsaPrivateParts};
use hsm_core::key::{KeyOps, KeyUpdate};
use hsm_core::{Hsm, SecretBytes};
use parking_lot::RwLock;

use crate::attributes::{
    self, Attrs, HIDDEN, Part, SECRET_COMPONENTS, Template, bool_bytes, curve_of_params,
    ec_point_der, extra_name, is_true, parse_bool, ulong_bytes, valid_date,
};
use crate::entry::cryptoki_fn;
use crate::error::CoreResult;
use crate::keys;
use crate::ptr::{self, Answer};
use crate::state::Module;
use crate::state::objects::{
    self, Backing, DOC_KIND, Object, ObjectId, SessionKey, SessionObject, add_session_object,
    public_from_attrs, user_logged_in,
};
use crate::state::sessions::Session;

/// Attributes every storage object may be created with.
const STORAGE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_MODIFIABLE,
    CKA_LABEL,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
];
const DATA: &[CK_ATTRIBUTE_TYPE] = &[CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE];
const CERTIFICATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CERTIFICATE_TYPE,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_CHECK_VALUE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_PUBLIC_KEY_INFO,
    CKA_SUBJECT,
    CKA_ID,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_VALUE,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_NAME_HASH_ALGORITHM,
];
const PUBLIC_KEY: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_KEY_TYPE,
    CKA_ID,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_DERIVE,
    CKA_SUBJECT,
    CKA_ENCRYPT,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_WRAP,
    CKA_TRUSTED,
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
];
/// Attributes of stored objects that `C_SetAttributeValue` may change.
const STORED_MODIFIABLE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_LABEL,
    CKA_ID,
    CKA_SUBJECT,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_APPLICATION,
    CKA_OBJECT_ID,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_URL,
    CKA_ENCRYPT,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_DERIVE,
];

cryptoki_fn! {
    /// `C_CreateObject`: data objects, X.509 certificates and public keys (kept as pool
    /// documents on the token, or in the session), and imported private and secret keys
    /// (pool keys on the token).
    pub fn C_CreateObject(
        session: CK_SESSION_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        object: CK_OBJECT_HANDLE_PTR,
    ) with module, session {
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let template = Template::new(unsafe { ptr::template(template, count) }?)?;
        ptr::non_null(object)?;
        let class = template.ulong(CKA_CLASS)?.ok_or(CKR_TEMPLATE_INCOMPLETE)?;
        let handle = match class {
            CKO_DATA | CKO_CERTIFICATE | CKO_PUBLIC_KEY => {
                let attrs = storage_attributes(module.core.hsm(), class, &template)?;
                store(module, session, attrs)?
            }
            CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
                let material = material_of(class, &template)?;
                keys::new_key_object(module, session, class, &template, material)?
            }
            _ => return Err(CKR_ATTRIBUTE_VALUE_INVALID),
        };
        // SAFETY: `phObject` is non-NULL (checked above), writable (caller's contract).
        unsafe { ptr::write(object, handle) }
    }
}

/// The attributes of a new data object, certificate or public key, with their defaults.
pub(crate) fn storage_attributes(
    hsm: &Hsm,
    class: CK_OBJECT_CLASS,
    t: &Template,
) -> Result<Attrs, CK_RV> {
    let allowed: &[CK_ATTRIBUTE_TYPE] = match class {
        CKO_DATA => DATA,
        CKO_CERTIFICATE => CERTIFICATE,
        _ => PUBLIC_KEY,
    };
    let mut attrs = Attrs::new();
    for (ty, v) in &t.0 {
        if !STORAGE.contains(ty) && !allowed.contains(ty) {
            return Err(if *ty == CKA_MODULUS_BITS || *ty == CKA_LOCAL {
                CKR_ATTRIBUTE_READ_ONLY
            } else {
                CKR_ATTRIBUTE_TYPE_INVALID
            });
        }
        attrs.insert(*ty, v.clone());
    }
    for b in [
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_MODIFIABLE,
        CKA_COPYABLE,
        CKA_DESTROYABLE,
        CKA_TRUSTED,
    ] {
        if let Some(v) = attrs.get(&b) {
            parse_bool(v)?;
        }
    }
    if is_true(&attrs, CKA_TRUSTED) {
        // Only the SO may mark an object trusted.
        return Err(CKR_ATTRIBUTE_READ_ONLY);
    }
    for d in [CKA_START_DATE, CKA_END_DATE] {
        if attrs.get(&d).is_some_and(|v| !valid_date(v)) {
            return Err(CKR_ATTRIBUTE_VALUE_INVALID);
        }
    }
    let mut defaults: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> = vec![
        (CKA_TOKEN, bool_bytes(false)),
        (CKA_PRIVATE, bool_bytes(false)),
        (CKA_MODIFIABLE, bool_bytes(true)),
        (CKA_COPYABLE, bool_bytes(true)),
        (CKA_DESTROYABLE, bool_bytes(true)),
        (CKA_LABEL, Vec::new()),
    ];
    match class {
        CKO_DATA => {
            defaults.extend([
                (CKA_APPLICATION, Vec::new()),
                (CKA_OBJECT_ID, Vec::new()),
                (CKA_VALUE, Vec::new()),
            ]);
        }
        CKO_CERTIFICATE => defaults.extend(certificate_defaults(t)?),
        _ => defaults.extend(public_key_attributes(hsm, t, &mut attrs)?),
    }
    for (ty, v) in defaults {
        attrs.entry(ty).or_insert(v);
    }
    Ok(attrs)
}

/// A new certificate's defaults, once its template is an X.509 certificate with a value.
fn certificate_defaults(t: &Template) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>, CK_RV> {
    if t.ulong(CKA_CERTIFICATE_TYPE)?
        .ok_or(CKR_TEMPLATE_INCOMPLETE)?
        != CKC_X_509
    {
        return Err(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    if t.get(CKA_VALUE).is_none_or(<[u8]>::is_empty) {
        return Err(CKR_TEMPLATE_INCOMPLETE);
    }
    Ok(vec![
        (CKA_TRUSTED, bool_bytes(false)),
        (CKA_CERTIFICATE_CATEGORY, ulong_bytes(0)),
        (CKA_START_DATE, Vec::new()),
        (CKA_END_DATE, Vec::new()),
        (CKA_SUBJECT, Vec::new()),
        (CKA_ID, Vec::new()),
        (CKA_ISSUER, Vec::new()),
        (CKA_SERIAL_NUMBER, Vec::new()),
        (CKA_URL, Vec::new()),
        (CKA_JAVA_MIDP_SECURITY_DOMAIN, ulong_bytes(0)),
    ])
}

/// A new public key (RSA or EC, checked by the core): the attributes computed from it go
/// into `attrs`; returns its defaults.
fn public_key_attributes(
    hsm: &Hsm,
    t: &Template,
    attrs: &mut Attrs,
) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>, CK_RV> {
    let key_type = t.ulong(CKA_KEY_TYPE)?.ok_or(CKR_TEMPLATE_INCOMPLETE)?;
    if !matches!(key_type, CKK_RSA | CKK_EC) {
        return Err(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    let public = public_from_attrs(attrs)?;
    // The core checks the key (point on the curve, modulus size).
    hsm.public_ephemeral(&public, KeyOps::NONE)
        .map_err(|_| CKR_ATTRIBUTE_VALUE_INVALID)?;
    let rsa = key_type == CKK_RSA;
    if let Ok(spki) = public.to_spki_der() {
        attrs.insert(CKA_PUBLIC_KEY_INFO, spki);
    }
    match &public {
        hsm_core::crypto::PublicKey::Rsa { n, e } => {
            attrs.insert(CKA_MODULUS, n.clone());
            attrs.insert(CKA_PUBLIC_EXPONENT, e.clone());
            let bits = hsm_core::crypto::material::bit_len(n);
            attrs.insert(CKA_MODULUS_BITS, ulong_bytes(CK_ULONG::from(bits)));
        }
        p @ hsm_core::crypto::PublicKey::Ec { .. } => {
            if let Some(point) = p.ec_point_uncompressed() {
                attrs.insert(CKA_EC_POINT, ec_point_der(&point));
            }
        }
    }
    Ok(vec![
        (CKA_ID, Vec::new()),
        (CKA_START_DATE, Vec::new()),
        (CKA_END_DATE, Vec::new()),
        (CKA_DERIVE, bool_bytes(false)),
        (CKA_LOCAL, bool_bytes(false)),
        (
            CKA_KEY_GEN_MECHANISM,
            ulong_bytes(CK_UNAVAILABLE_INFORMATION),
        ),
        (CKA_SUBJECT, Vec::new()),
        (CKA_ENCRYPT, bool_bytes(rsa)),
        (CKA_VERIFY, bool_bytes(true)),
        (CKA_VERIFY_RECOVER, bool_bytes(false)),
        (CKA_WRAP, bool_bytes(rsa)),
        (CKA_TRUSTED, bool_bytes(false)),
    ])
}

/// Stores a data object, certificate or public key: a pool document on the token, else a
/// session object. Returns its handle.
fn store(module: &Module, session: &Session, attrs: Attrs) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let token = is_true(&attrs, CKA_TOKEN);
    if token && !session.rw {
        return Err(CKR_SESSION_READ_ONLY);
    }
    if is_true(&attrs, CKA_PRIVATE) && !user_logged_in(module, session) {
        return Err(CKR_USER_NOT_LOGGED_IN);
    }
    if !token {
        return Ok(add_session_object(
            module,
            session,
            SessionObject {
                attrs: RwLock::new(attrs),
                key: None,
            },
        ));
    }
    let random = module.core.hsm().random(12).ck()?;
    let id: String = random.iter().map(|b| format!("{b:02x}")).collect();
    session
        .pool
        .put_document(DOC_KIND, &id, &attributes::encode(&attrs))
        .ck()?;
    Ok(module.objects.handle(&ObjectId::Doc {
        pool: session.pool.name().into(),
        id: id.into(),
    }))
}

/// The key material a private or secret key template carries.
pub(crate) fn material_of(class: CK_OBJECT_CLASS, t: &Template) -> Result<KeyMaterial, CK_RV> {
    let need = |a| t.get(a).ok_or(CKR_TEMPLATE_INCOMPLETE);
    let secret = |a| need(a).map(SecretBytes::from_slice);
    let key_type = t.ulong(CKA_KEY_TYPE)?.ok_or(CKR_TEMPLATE_INCOMPLETE)?;
    match (class, key_type) {
        (CKO_SECRET_KEY, CKK_AES | CKK_GENERIC_SECRET) => {
            let value = need(CKA_VALUE)?;
            if t.ulong(CKA_VALUE_LEN)?
                .is_some_and(|l| usize::try_from(l) != Ok(value.len()))
            {
                return Err(CKR_TEMPLATE_INCONSISTENT);
            }
            // AES: 16, 24 or 32 bytes; a generic secret: any length the core allows.
            crate::keys::secret_material(key_type, SecretBytes::from_slice(value))
                .ok_or(CKR_ATTRIBUTE_VALUE_INVALID)
        }
        (CKO_PRIVATE_KEY, CKK_RSA) => Ok(KeyMaterial::Rsa(RsaPrivateParts {
            n: need(CKA_MODULUS)?.to_vec(),
            e: need(CKA_PUBLIC_EXPONENT)?.to_vec(),
            d: secret(CKA_PRIVATE_EXPONENT)?,
            p: secret(CKA_PRIME_1)?,
            q: secret(CKA_PRIME_2)?,
            dp: t.get(CKA_EXPONENT_1).map(SecretBytes::from_slice),
            dq: t.get(CKA_EXPONENT_2).map(SecretBytes::from_slice),
            qi: t.get(CKA_COEFFICIENT).map(SecretBytes::from_slice),
        })),
        (CKO_PRIVATE_KEY, CKK_EC) => {
            let curve = curve_of_params(need(CKA_EC_PARAMS)?)?;
            let d = need(CKA_VALUE)?;
            Ok(KeyMaterial::Ec {
                curve,
                d: SecretBytes::from_slice(&left_pad(d, curve)?),
            })
        }
        _ => Err(CKR_TEMPLATE_INCONSISTENT),
    }
}

/// An EC scalar at the curve's field length.
fn left_pad(d: &[u8], curve: Curve) -> Result<Vec<u8>, CK_RV> {
    let n = curve.field_len();
    let d = &d[d.iter().position(|b| *b != 0).unwrap_or(d.len())..];
    if d.len() > n {
        return Err(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    let mut out = vec![0; n - d.len()];
    out.extend_from_slice(d);
    Ok(out)
}

cryptoki_fn! {
    /// `C_CopyObject`: data objects, certificates and public keys copy freely; a pool key
    /// copies into a session object that uses the pool's key with attributes of its own (the
    /// way pkcs11-provider caches keys); a session key copies within the session.
    pub fn C_CopyObject(
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        new_object: CK_OBJECT_HANDLE_PTR,
    ) with module, session {
        let source = objects::resolve(module, session, object)?;
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let template = Template::new(unsafe { ptr::template(template, count) }?)?;
        ptr::non_null(new_object)?;
        if !is_true(&source.attrs, CKA_COPYABLE) {
            return Err(CKR_ACTION_PROHIBITED);
        }
        let mut changes = Attrs::new();
        for (t, v) in &template.0 {
            match *t {
                CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_DESTROYABLE | CKA_COPYABLE => {
                    parse_bool(v)?;
                }
                t if STORED_MODIFIABLE.contains(&t) => {}
                t if source.attrs.contains_key(&t) => return Err(CKR_ATTRIBUTE_READ_ONLY),
                _ => return Err(CKR_ATTRIBUTE_TYPE_INVALID),
            }
            changes.insert(*t, v.clone());
        }
        let token = changes
            .get(&CKA_TOKEN)
            .map_or(source.is_token(), |v| v.first() != Some(&CK_FALSE));
        let handle = match (&source.backing, source.part) {
            (Backing::Pool { info, .. }, Some(part)) if !token => {
                if changes.get(&CKA_LABEL).is_some_and(|l| l != info.name.as_bytes()) {
                    return Err(CKR_ATTRIBUTE_READ_ONLY);
                }
                add_session_object(module, session, SessionObject {
                    attrs: RwLock::new(changes),
                    key: Some(SessionKey::Alias { name: info.name.clone(), part }),
                })
            }
            (Backing::Ephemeral(key), Some(part)) if !token => {
                let mut attrs = session_stored(module, &source)?;
                attrs.extend(changes);
                add_session_object(module, session, SessionObject {
                    attrs: RwLock::new(attrs),
                    key: Some(SessionKey::Own(key.clone(), part)),
                })
            }
            (Backing::Pool { .. } | Backing::Ephemeral(_), Some(_)) => {
                tracing::warn!("a key object cannot be copied to the token: its key cannot be duplicated");
                return Err(CKR_TEMPLATE_INCONSISTENT);
            }
            _ => {
                let mut attrs = Attrs::clone(&source.attrs);
                attrs.extend(changes);
                store(module, session, attrs)?
            }
        };
        // SAFETY: `phNewObject` is non-NULL (checked above), writable (caller's contract).
        unsafe { ptr::write(new_object, handle) }
    }
}

/// The stored attributes of a session object (for copies).
fn session_stored(module: &Module, object: &Object) -> Result<Attrs, CK_RV> {
    let ObjectId::Session(owner) = object.id else {
        return Ok(Attrs::new());
    };
    let owner = module
        .sessions
        .get(owner)
        .map_err(|_| CKR_OBJECT_HANDLE_INVALID)?;
    let so = owner
        .objects
        .read()
        .get(&object.handle)
        .cloned()
        .ok_or(CKR_OBJECT_HANDLE_INVALID)?;
    Ok(so.attrs.read().clone())
}

cryptoki_fn! {
    /// `C_DestroyObject`: a private or secret pool key is soft-deleted in its pool (and so
    /// recoverable); the public half of a pair alone is hidden; documents and session objects
    /// are removed.
    pub fn C_DestroyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) with module, session {
        let target = objects::resolve(module, session, object)?;
        if target.is_token() && !session.rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        if !is_true(&target.attrs, CKA_DESTROYABLE) {
            return Err(CKR_ACTION_PROHIBITED);
        }
        match &target.id {
            ObjectId::Key { name, part: Part::Public, .. } => {
                session
                    .pool
                    .set_key_extra(name, &extra_name(Part::Public, HIDDEN), Some(&[1]))
                    .ck()?;
            }
            ObjectId::Key { name, .. } => {
                session.pool.delete_key(name).ck()?;
                tracing::info!(pool = session.pool.name(), key = %name, "key soft-deleted");
            }
            ObjectId::Doc { id, .. } => {
                session.pool.delete_document(DOC_KIND, id).ck()?;
                module.objects.forget(object);
            }
            ObjectId::Session(owner) => {
                if let Ok(owner) = module.sessions.get(*owner) {
                    owner.objects.write().remove(&object);
                }
                module.objects.forget(object);
            }
        }
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_GetObjectSize`: the bytes of the object's attribute values.
    pub fn C_GetObjectSize(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, size: CK_ULONG_PTR) with module, session {
        let target = objects::resolve(module, session, object)?;
        let total: usize = target.attrs.values().map(Vec::len).sum();
        // SAFETY: `pulSize` is NULL or writable for a CK_ULONG (caller's contract).
        unsafe { ptr::write(size, total as CK_ULONG) }
    }
}

cryptoki_fn! {
    /// `C_GetAttributeValue`: per-attribute answers with the two-call length convention;
    /// secret components only for keys that are neither sensitive nor unextractable.
    pub fn C_GetAttributeValue(
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
    ) with module, session {
        let target = objects::resolve(module, session, object)?;
        let mut material: Option<KeyMaterial> = None;
        // SAFETY: `pTemplate` is NULL or `ulCount` attributes the module may write, each
        // `pValue` NULL or writable for `ulValueLen` bytes (caller's contract for
        // C_GetAttributeValue).
        let rv = unsafe { ptr::answer_template(template, count, |t| {
            if let Some(v) = target.attrs.get(&t) {
                return Ok(Answer::Value(v.clone()));
            }
            if !SECRET_COMPONENTS.contains(&t)
                || !matches!(target.part, Some(Part::Private | Part::Secret))
            {
                return Ok(Answer::Invalid);
            }
            if is_true(&target.attrs, CKA_SENSITIVE) || !is_true(&target.attrs, CKA_EXTRACTABLE) {
                return Ok(Answer::Sensitive);
            }
            if material.is_none() {
                material = Some(target.export()?);
            }
            Ok(component(material.as_ref().expect("set above"), t))
        }) }?;
        if rv == CKR_OK { Ok(()) } else { Err(rv) }
    }
}

/// One secret component of key material.
fn component(material: &KeyMaterial, t: CK_ATTRIBUTE_TYPE) -> Answer {
    let bytes = |s: &SecretBytes| Answer::Value(s.expose_secret().to_vec());
    let opt = |s: &Option<SecretBytes>| s.as_ref().map_or(Answer::Invalid, bytes);
    match (material, t) {
        (KeyMaterial::Aes(k) | KeyMaterial::Secret(k), CKA_VALUE) => bytes(k),
        (KeyMaterial::Ec { d, .. }, CKA_VALUE) => bytes(d),
        (KeyMaterial::Rsa(r), CKA_PRIVATE_EXPONENT) => bytes(&r.d),
        (KeyMaterial::Rsa(r), CKA_PRIME_1) => bytes(&r.p),
        (KeyMaterial::Rsa(r), CKA_PRIME_2) => bytes(&r.q),
        (KeyMaterial::Rsa(r), CKA_EXPONENT_1) => opt(&r.dp),
        (KeyMaterial::Rsa(r), CKA_EXPONENT_2) => opt(&r.dq),
        (KeyMaterial::Rsa(r), CKA_COEFFICIENT) => opt(&r.qi),
        _ => Answer::Invalid,
    }
}

cryptoki_fn! {
    /// `C_SetAttributeValue` with the spec's modifiability rules (PKCS#11 2.40, table 10): a
    /// pool key's label is its name; `CKA_SENSITIVE` only turns on, `CKA_EXTRACTABLE` and
    /// `CKA_COPYABLE` only off; usage attributes change the key's allowed operations.
    pub fn C_SetAttributeValue(
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
    ) with module, session {
        let target = objects::resolve(module, session, object)?;
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let template = Template::new(unsafe { ptr::template(template, count) }?)?;
        if target.is_token() && !session.rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        if !is_true(&target.attrs, CKA_MODIFIABLE) {
            return Err(CKR_ACTION_PROHIBITED);
        }
        let changes = check_changes(&target, &template)?;
        if changes.is_empty() {
            return Ok(());
        }
        apply_changes(module, session, &target, changes)
    }
}

/// One accepted change.
pub(crate) enum Change {
    /// A stored attribute.
    Store(CK_ATTRIBUTE_TYPE, Vec<u8>),
    /// A usage attribute of a key.
    Usage(CK_ATTRIBUTE_TYPE, bool),
}

/// Checks every attribute of a `C_SetAttributeValue` template before anything changes.
pub(crate) fn check_changes(target: &Object, template: &Template) -> Result<Vec<Change>, CK_RV> {
    let mut out = Vec::new();
    for (t, v) in &template.0 {
        let t = *t;
        let Some(current) = target.attrs.get(&t) else {
            return Err(CKR_ATTRIBUTE_TYPE_INVALID);
        };
        if current == v {
            continue;
        }
        let key = target.part;
        let pool_key = matches!(target.backing, Backing::Pool { .. });
        let change = match t {
            CKA_LABEL if pool_key && key.is_some() => {
                tracing::warn!("a pool key's label is its name and cannot change");
                return Err(CKR_ATTRIBUTE_READ_ONLY);
            }
            CKA_START_DATE | CKA_END_DATE => {
                if !valid_date(v) {
                    return Err(CKR_ATTRIBUTE_VALUE_INVALID);
                }
                Change::Store(t, v.clone())
            }
            CKA_SENSITIVE if key.is_some() => {
                if !parse_bool(v)? {
                    return Err(CKR_ATTRIBUTE_READ_ONLY);
                }
                Change::Store(t, v.clone())
            }
            CKA_EXTRACTABLE | CKA_COPYABLE => {
                if parse_bool(v)? {
                    return Err(CKR_ATTRIBUTE_READ_ONLY);
                }
                Change::Store(t, v.clone())
            }
            CKA_WRAP_WITH_TRUSTED => {
                if !parse_bool(v)? {
                    return Err(CKR_ATTRIBUTE_READ_ONLY);
                }
                Change::Store(t, v.clone())
            }
            CKA_ALWAYS_AUTHENTICATE | CKA_DESTROYABLE => {
                parse_bool(v)?;
                Change::Store(t, v.clone())
            }
            CKA_TRUSTED => return Err(CKR_ATTRIBUTE_READ_ONLY),
            t if key.is_some_and(|p| p.usages().iter().any(|(a, _)| *a == t))
                && !matches!(target.backing, Backing::Public(_)) =>
            {
                Change::Usage(t, parse_bool(v)?)
            }
            CKA_ID | CKA_SUBJECT | CKA_LABEL => Change::Store(t, v.clone()),
            t if key.is_none() || matches!(target.backing, Backing::Public(_)) => {
                if !STORED_MODIFIABLE.contains(&t) {
                    return Err(CKR_ATTRIBUTE_READ_ONLY);
                }
                if matches!(t, CKA_ENCRYPT | CKA_VERIFY | CKA_WRAP | CKA_DERIVE) {
                    parse_bool(v)?;
                }
                Change::Store(t, v.clone())
            }
            _ => return Err(CKR_ATTRIBUTE_READ_ONLY),
        };
        out.push(change);
    }
    Ok(out)
}

/// Writes checked changes where the object keeps them.
fn apply_changes(
    module: &Module,
    session: &Session,
    target: &Object,
    changes: Vec<Change>,
) -> Result<(), CK_RV> {
    match (&target.id, &target.backing, target.part) {
        (ObjectId::Key { name, .. }, Backing::Pool { info, .. }, Some(part)) => {
            let mut ops = info.ops;
            let mut ops_changed = false;
            for change in &changes {
                match change {
                    Change::Store(t, v) => {
                        session
                            .pool
                            .set_key_extra(name, &extra_name(part, *t), Some(v))
                            .ck()?;
                    }
                    Change::Usage(t, on) => {
                        let (_, op) = part.usages().iter().find(|(a, _)| a == t).expect("checked");
                        ops = with_op(ops, *op, *on);
                        ops_changed = true;
                    }
                }
            }
            if ops_changed {
                let update = KeyUpdate {
                    ops: Some(ops),
                    ..KeyUpdate::default()
                };
                session
                    .pool
                    .update_key(name, None, &update)
                    .map_err(|e| match e {
                        hsm_core::Error::BadParameter { .. } => CKR_ATTRIBUTE_VALUE_INVALID,
                        e => crate::error::rv(&e),
                    })?;
            }
            Ok(())
        }
        (ObjectId::Doc { id, .. }, _, _) => {
            let mut attrs = Attrs::clone(&target.attrs);
            for change in changes {
                let (t, v) = match change {
                    Change::Store(t, v) => (t, v),
                    Change::Usage(t, on) => (t, bool_bytes(on)),
                };
                attrs.insert(t, v);
            }
            session
                .pool
                .put_document(DOC_KIND, id, &attributes::encode(&attrs))
                .ck()
        }
        (ObjectId::Session(owner), _, _) => {
            let owner = module
                .sessions
                .get(*owner)
                .map_err(|_| CKR_OBJECT_HANDLE_INVALID)?;
            let so = owner
                .objects
                .read()
                .get(&target.handle)
                .cloned()
                .ok_or(CKR_OBJECT_HANDLE_INVALID)?;
            let mut attrs = so.attrs.write();
            for change in changes {
                match change {
                    Change::Store(t, v) => attrs.insert(t, v),
                    Change::Usage(t, on) => attrs.insert(t, bool_bytes(on)),
                };
            }
            Ok(())
        }
        _ => Err(CKR_GENERAL_ERROR),
    }
}

fn with_op(ops: KeyOps, op: hsm_core::key::KeyOperation, on: bool) -> KeyOps {
    let list: Vec<_> = hsm_core::key::KeyOperation::ALL
        .into_iter()
        .filter(|o| if *o == op { on } else { ops.contains(*o) })
        .collect();
    KeyOps::of(&list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_scalars_are_padded_to_the_field() {
        assert_eq!(left_pad(&[0, 0, 5], Curve::P256).unwrap().len(), 32);
        assert_eq!(
            left_pad(&[1; 33], Curve::P256),
            Err(CKR_ATTRIBUTE_VALUE_INVALID)
        );
    }

    #[test]
    fn usage_changes_keep_the_other_operations() {
        use hsm_core::key::KeyOperation::*;
        let ops = KeyOps::of(&[Sign, Verify]);
        assert_eq!(with_op(ops, Sign, false), KeyOps::of(&[Verify]));
        assert_eq!(
            with_op(ops, Decrypt, true),
            KeyOps::of(&[Sign, Verify, Decrypt])
        );
    }

    #[test]
    fn unknown_classes_and_types_are_refused() {
        let hsm = Hsm::open(hsm_core::HsmConfig::in_memory()).unwrap();
        let t = Template::new(vec![
            (CKA_CLASS, &ulong_bytes(CKO_DATA)[..]),
            (CKA_MODULUS, b"x"),
        ])
        .unwrap();
        assert_eq!(
            storage_attributes(&hsm, CKO_DATA, &t),
            Err(CKR_ATTRIBUTE_TYPE_INVALID)
        );
        let cert =
            Template::new(vec![(CKA_CERTIFICATE_TYPE, &ulong_bytes(CKC_X_509)[..])]).unwrap();
        assert_eq!(
            storage_attributes(&hsm, CKO_CERTIFICATE, &cert),
            Err(CKR_TEMPLATE_INCOMPLETE)
        );
    }
}
