//! Key management: `C_GenerateKey`, `C_GenerateKeyPair`, and the seam that makes key objects
//! from outside material (`new_key_object`). `C_WrapKey`, `C_UnwrapKey` and `C_DeriveKey`
//! are in [`crate::wrap`].

use cryptoki_sys::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hsm_core::SecretBytes;
use hsm_core::crypto::{KeyKind, KeyMaterial, KeySpec};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};

use crate::attributes::{
    self, Attrs, Part, STORED, Template, bool_bytes, curve_of_params, extra_name, valid_date,
};
use crate::entry::cryptoki_fn;
use crate::error::{CoreResult, rv};
use crate::ptr;
use crate::state::Module;
use crate::state::objects::{
    ObjectId, SessionKey, SessionObject, add_session_object, user_logged_in,
};
use crate::state::sessions::Session;

/// The attributes of key material in import templates, by key type (read by the caller).
pub(crate) fn material_attributes(kind: KeyKind) -> &'static [CK_ATTRIBUTE_TYPE] {
    match kind {
        KeyKind::Rsa => &[
            CKA_MODULUS,
            CKA_PUBLIC_EXPONENT,
            CKA_PRIVATE_EXPONENT,
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        ],
        KeyKind::Ec => &[CKA_EC_PARAMS, CKA_VALUE],
        KeyKind::Oct => &[CKA_VALUE, CKA_VALUE_LEN],
    }
}

/// The size attributes of generation templates (read by the caller).
pub(crate) const GENERATION: &[CK_ATTRIBUTE_TYPE] =
    &[CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS];

/// What the templates of a new key ask for.
pub(crate) struct KeyPlan {
    /// A token object (a pool key), else a session key.
    pub token: bool,
    /// `CKA_LABEL` (the key name for a pool key).
    pub label: Option<Vec<u8>>,
    /// The allowed operations.
    pub ops: KeyOps,
    /// `CKA_EXTRACTABLE`.
    pub exportable: bool,
    /// The stored attributes per part.
    pub stored: BTreeMap<Part, Attrs>,
    /// Some part is private (`CKA_PRIVATE`).
    pub private: bool,
}

impl KeyPlan {
    /// Reads the templates of a new key of `spec` (one per part), the rules of PKCS#11 2.40
    /// section 4: class and key type must agree, attributes that only the token sets are
    /// read-only, unknown ones invalid. Usage attributes a template leaves out follow the
    /// core's table of defaults ([`KeyOps::default_for`]: e.g. no `CKA_DERIVE` unless asked,
    /// as in SoftHSMv2); a usage the type cannot have is ignored.
    pub fn new(
        spec: &KeySpec,
        templates: &[(Part, &Template)],
        material: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<KeyPlan, CK_RV> {
        let mut reading = Reading {
            plan: KeyPlan {
                token: false,
                label: None,
                ops: KeyOps::NONE,
                exportable: false,
                stored: BTreeMap::new(),
                private: false,
            },
            key_type: attributes::key_type(spec),
            material,
            explicit: Default::default(),
            id: None,
        };
        for (part, template) in templates {
            // Every part has its (possibly empty) stored attributes.
            stored_mut(&mut reading.plan.stored, *part);
            let mut private = *part != Part::Public;
            for (t, v) in &template.0 {
                reading.attribute(*part, *t, v, &mut private)?;
            }
            reading.plan.private |= private;
        }
        let Reading {
            mut plan,
            explicit,
            id,
            ..
        } = reading;
        if let Some((_, id)) = id {
            for (part, _) in templates {
                stored_mut(&mut plan.stored, *part).insert(CKA_ID, id.clone());
            }
        }
        let defaults = KeyOps::default_for(spec);
        let mut ops: Vec<KeyOperation> = KeyOperation::ALL
            .into_iter()
            .filter(|op| op.applies_to(spec))
            .filter(|op| explicit.get(op).copied().unwrap_or(defaults.contains(*op)))
            .filter(|op| !matches!(op, KeyOperation::Import | KeyOperation::Export))
            .collect();
        if plan.exportable {
            ops.push(KeyOperation::Export);
        }
        plan.ops = KeyOps::of(&ops);
        Ok(plan)
    }

    /// The core's front-end attributes for a pool key.
    fn extra(&self) -> BTreeMap<String, Vec<u8>> {
        let mut extra = BTreeMap::new();
        for (part, attrs) in &self.stored {
            for (t, v) in attrs {
                if STORED.contains(t) {
                    extra.insert(extra_name(*part, *t), v.clone());
                }
            }
        }
        extra
    }

    /// The key name: the label, or a fresh name when there is none.
    fn name(&self, module: &Module) -> Result<String, CK_RV> {
        match &self.label {
            Some(l) if !l.is_empty() => {
                String::from_utf8(l.clone()).map_err(|_| CKR_ATTRIBUTE_VALUE_INVALID)
            }
            _ => {
                let r = module.core.hsm().random(8).ck()?;
                Ok(format!(
                    "key-{}",
                    r.iter().map(|b| format!("{b:02x}")).collect::<String>()
                ))
            }
        }
    }

    /// Checks the session may make this key: read-write for a token key, a user login for a
    /// private one.
    fn check_session(&self, module: &Module, session: &Session) -> Result<(), CK_RV> {
        if self.token && !session.rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        if self.private && !user_logged_in(module, session) {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        Ok(())
    }

    /// The options of the pool key.
    fn options(&self) -> KeyOptions {
        KeyOptions {
            ops: Some(self.ops),
            exportable: self.exportable,
            extra: self.extra(),
            new_key_only: true,
            ..KeyOptions::default()
        }
    }
}

/// What reading a new key's templates gathers ([`KeyPlan::new`]).
struct Reading<'a> {
    plan: KeyPlan,
    /// The key type the spec has (`CKA_KEY_TYPE` must agree).
    key_type: CK_KEY_TYPE,
    /// The material attributes the caller takes from the templates.
    material: &'a [CK_ATTRIBUTE_TYPE],
    /// The usage attributes the templates set.
    explicit: HashMap<KeyOperation, bool>,
    /// `CKA_ID`: shared by the halves; the private template's wins.
    id: Option<(Part, Vec<u8>)>,
}

impl Reading<'_> {
    /// Reads one attribute `t` of the template of `part`; `private` is that part's
    /// `CKA_PRIVATE`.
    fn attribute(
        &mut self,
        part: Part,
        t: CK_ATTRIBUTE_TYPE,
        v: &[u8],
        private: &mut bool,
    ) -> Result<(), CK_RV> {
        match t {
            CKA_CLASS => {
                if attributes::parse_ulong(v)? != part.class() {
                    return Err(CKR_TEMPLATE_INCONSISTENT);
                }
            }
            CKA_KEY_TYPE => {
                if attributes::parse_ulong(v)? != self.key_type {
                    return Err(CKR_TEMPLATE_INCONSISTENT);
                }
            }
            CKA_TOKEN => self.plan.token |= attributes::parse_bool(v)?,
            CKA_PRIVATE => {
                *private = attributes::parse_bool(v)?;
                stored_mut(&mut self.plan.stored, part).insert(t, bool_bytes(*private));
            }
            CKA_LABEL => {
                if self.plan.label.as_ref().is_none_or(|l| l.is_empty()) {
                    self.plan.label = Some(v.to_vec());
                }
            }
            CKA_ID => {
                // Shared by the halves; the private template's wins.
                if self.id.as_ref().is_none_or(|(p, _)| *p == Part::Public) {
                    self.id = Some((part, v.to_vec()));
                }
            }
            CKA_EXTRACTABLE if part != Part::Public => {
                self.plan.exportable = attributes::parse_bool(v)?;
                stored_mut(&mut self.plan.stored, part)
                    .insert(CKA_NEVER_EXTRACTABLE, bool_bytes(!self.plan.exportable));
            }
            CKA_SENSITIVE if part != Part::Public => {
                let sensitive = attributes::parse_bool(v)?;
                let s = stored_mut(&mut self.plan.stored, part);
                s.insert(t, bool_bytes(sensitive));
                if !sensitive {
                    s.insert(CKA_ALWAYS_SENSITIVE, bool_bytes(false));
                }
            }
            CKA_SENSITIVE | CKA_EXTRACTABLE => {
                // A public key has neither; some consumers send them anyway.
                attributes::parse_bool(v)?;
            }
            CKA_START_DATE | CKA_END_DATE => {
                if !valid_date(v) {
                    return Err(CKR_ATTRIBUTE_VALUE_INVALID);
                }
                stored_mut(&mut self.plan.stored, part).insert(t, v.to_vec());
            }
            CKA_SUBJECT
            | CKA_ALWAYS_AUTHENTICATE
            | CKA_WRAP_WITH_TRUSTED
            | CKA_MODIFIABLE
            | CKA_COPYABLE
            | CKA_DESTROYABLE => {
                if t != CKA_SUBJECT {
                    attributes::parse_bool(v)?;
                }
                if t == CKA_SUBJECT && part == Part::Secret {
                    return Err(CKR_ATTRIBUTE_TYPE_INVALID);
                }
                stored_mut(&mut self.plan.stored, part).insert(t, v.to_vec());
            }
            CKA_TRUSTED => {
                // Only the SO may make a key trusted (C_SetAttributeValue).
                if attributes::parse_bool(v)? {
                    return Err(CKR_ATTRIBUTE_READ_ONLY);
                }
            }
            CKA_SIGN | CKA_VERIFY | CKA_ENCRYPT | CKA_DECRYPT | CKA_WRAP | CKA_UNWRAP
            | CKA_DERIVE | CKA_SIGN_RECOVER | CKA_VERIFY_RECOVER => {
                let on = attributes::parse_bool(v)?;
                if let Some((_, op)) = part.usages().iter().find(|(a, _)| *a == t) {
                    self.explicit.insert(*op, on);
                }
            }
            CKA_LOCAL
            | CKA_KEY_GEN_MECHANISM
            | CKA_ALWAYS_SENSITIVE
            | CKA_NEVER_EXTRACTABLE
            | CKA_PUBLIC_KEY_INFO => {
                return Err(CKR_ATTRIBUTE_READ_ONLY);
            }
            t if self.material.contains(&t) => {}
            _ => return Err(CKR_ATTRIBUTE_TYPE_INVALID),
        }
        Ok(())
    }
}

fn stored_mut(stored: &mut BTreeMap<Part, Attrs>, part: Part) -> &mut Attrs {
    stored.entry(part).or_default()
}

/// A core error on making a pool key, in the terms of a template.
fn creation_error(e: hsm_core::Error, name: &str) -> CK_RV {
    match e {
        hsm_core::Error::Conflict { .. } => {
            tracing::warn!(key = name, "a key with this label exists in the pool");
            CKR_ATTRIBUTE_VALUE_INVALID
        }
        hsm_core::Error::BadParameter { .. } => {
            tracing::warn!(key = name, "not a valid key name (1-127 of A-Z a-z 0-9 -)");
            CKR_ATTRIBUTE_VALUE_INVALID
        }
        e => rv(&e),
    }
}

/// The handles of a new key's parts, after the core made it.
fn pool_handles(
    module: &Module,
    session: &Session,
    name: &str,
    kind: KeyKind,
) -> Vec<CK_OBJECT_HANDLE> {
    Part::of(kind)
        .iter()
        .map(|part| {
            module.objects.handle(&ObjectId::Key {
                pool: session.pool.name().into(),
                name: name.into(),
                part: *part,
            })
        })
        .collect()
}

/// Makes the session objects of an in-memory key.
fn session_handles(
    module: &Module,
    session: &Session,
    plan: &KeyPlan,
    key: hsm_core::key::EphemeralKey,
) -> Vec<CK_OBJECT_HANDLE> {
    let kind = key.spec().kind();
    let key = Arc::new(key);
    Part::of(kind)
        .iter()
        .map(|part| {
            let mut attrs = plan.stored.get(part).cloned().unwrap_or_default();
            attrs.insert(CKA_LABEL, plan.label.clone().unwrap_or_default());
            for (usage, op) in part.usages() {
                attrs.insert(*usage, bool_bytes(plan.ops.contains(*op)));
            }
            add_session_object(
                module,
                session,
                SessionObject {
                    attrs: parking_lot::RwLock::new(attrs),
                    key: Some(SessionKey::Own(key.clone(), *part)),
                },
            )
        })
        .collect()
}

/// The operations an in-memory key gets from the core: everything its type can do
/// ([`KeyOps::all_for`]; its usage attributes narrow them), so that `C_SetAttributeValue`
/// can widen them later.
fn session_ops(spec: &KeySpec, exportable: bool) -> KeyOps {
    let ops: Vec<KeyOperation> = KeyOps::all_for(spec)
        .iter()
        .filter(|op| *op != KeyOperation::Import && (exportable || *op != KeyOperation::Export))
        .collect();
    KeyOps::of(&ops)
}

/// The material of a secret key of `key_type` (`CKK_AES` or `CKK_GENERIC_SECRET`) from its
/// bytes; `None` for another key type or a length the core does not allow for it.
pub(crate) fn secret_material(key_type: CK_KEY_TYPE, bytes: SecretBytes) -> Option<KeyMaterial> {
    let material = match key_type {
        CKK_AES => KeyMaterial::Aes(bytes),
        CKK_GENERIC_SECRET => KeyMaterial::Secret(bytes),
        _ => return None,
    };
    material.spec().validate_for_pool().ok()?;
    Some(material)
}

/// Makes a key object of `class` from key material that came from outside the HSM's key
/// generation (`C_CreateObject`, `C_UnwrapKey`, `C_DeriveKey`), with the caller's template:
/// a pool key when `CKA_TOKEN` is true (named by `CKA_LABEL`), else a session key. Checks the
/// template against the material (class, key type), the session (read-write for token
/// objects) and the login; `CKA_LOCAL` is false. Returns the handle of the private or secret
/// key object.
pub(crate) fn new_key_object(
    module: &Module,
    session: &Session,
    class: CK_OBJECT_CLASS,
    template: &Template,
    material: KeyMaterial,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let spec = material.spec();
    let kind = spec.kind();
    let plan = import_plan(class, template, &spec)?;
    plan.check_session(module, session)?;
    if plan.token {
        let name = plan.name(module)?;
        session
            .pool
            .import_key(&name, material, &plan.options())
            .map_err(|e| creation_error(e, &name))?;
        Ok(pool_handles(module, session, &name, kind)[0])
    } else {
        let key = module
            .core
            .hsm()
            .import_ephemeral(
                material,
                session_ops(&spec, plan.exportable),
                plan.exportable,
            )
            .ck()?;
        Ok(session_handles(module, session, &plan, key)[0])
    }
}

/// The plan of a key object of `class` made from outside material of `spec` (see
/// [`new_key_object`]).
pub(crate) fn import_plan(
    class: CK_OBJECT_CLASS,
    template: &Template,
    spec: &KeySpec,
) -> Result<KeyPlan, CK_RV> {
    let kind = spec.kind();
    let part = match (class, kind) {
        (CKO_PRIVATE_KEY, KeyKind::Rsa | KeyKind::Ec) => Part::Private,
        (CKO_SECRET_KEY, KeyKind::Oct) => Part::Secret,
        _ => return Err(CKR_TEMPLATE_INCONSISTENT),
    };
    KeyPlan::new(spec, &[(part, template)], material_attributes(kind))
}

/// What `C_GenerateKey`'s mechanism and template ask for: an AES key of 16, 24 or 32 bytes,
/// or a generic secret of any length the core allows (`CKA_VALUE_LEN` bytes).
pub(crate) fn secret_key_spec(
    mechanism: CK_MECHANISM_TYPE,
    template: &Template,
) -> Result<KeySpec, CK_RV> {
    let generic = match mechanism {
        CKM_AES_KEY_GEN => false,
        CKM_GENERIC_SECRET_KEY_GEN => true,
        _ => return Err(CKR_MECHANISM_INVALID),
    };
    if template
        .ulong(CKA_CLASS)?
        .is_some_and(|c| c != CKO_SECRET_KEY)
    {
        return Err(CKR_TEMPLATE_INCONSISTENT);
    }
    let len = template
        .ulong(CKA_VALUE_LEN)?
        .ok_or(CKR_TEMPLATE_INCOMPLETE)?;
    let len = usize::try_from(len).map_err(|_| CKR_KEY_SIZE_RANGE)?;
    let spec = if generic {
        KeySpec::secret_of_len(len).map_err(|_| CKR_KEY_SIZE_RANGE)?
    } else {
        let spec = KeySpec::Aes {
            bits: u32::try_from(len)
                .ok()
                .and_then(|l| l.checked_mul(8))
                .ok_or(CKR_KEY_SIZE_RANGE)?,
        };
        spec.validate_for_pool().map_err(|_| CKR_KEY_SIZE_RANGE)?;
        spec
    };
    if template.get(CKA_VALUE).is_some() {
        return Err(CKR_ATTRIBUTE_READ_ONLY);
    }
    Ok(spec)
}

/// What `C_GenerateKeyPair`'s mechanism and templates ask for.
pub(crate) fn key_pair_spec(
    mechanism: CK_MECHANISM_TYPE,
    public: &Template,
    private: &Template,
) -> Result<KeySpec, CK_RV> {
    Ok(match mechanism {
        CKM_RSA_PKCS_KEY_PAIR_GEN => {
            let bits = public
                .ulong(CKA_MODULUS_BITS)?
                .ok_or(CKR_TEMPLATE_INCOMPLETE)?;
            if !matches!(bits, 2048 | 3072 | 4096) {
                return Err(CKR_KEY_SIZE_RANGE);
            }
            if let Some(e) = public.get(CKA_PUBLIC_EXPONENT) {
                let e: Vec<u8> = e.iter().copied().skip_while(|b| *b == 0).collect();
                if e != [1, 0, 1] {
                    tracing::warn!("only the public exponent 65537 is generated");
                    return Err(CKR_ATTRIBUTE_VALUE_INVALID);
                }
            }
            KeySpec::Rsa { bits: bits as u32 }
        }
        CKM_EC_KEY_PAIR_GEN => {
            let params = public
                .get(CKA_EC_PARAMS)
                .or_else(|| private.get(CKA_EC_PARAMS))
                .ok_or(CKR_TEMPLATE_INCOMPLETE)?;
            KeySpec::Ec {
                curve: curve_of_params(params)?,
            }
        }
        _ => return Err(CKR_MECHANISM_INVALID),
    })
}

/// Reads a mechanism that takes no parameter.
///
/// # Safety
/// `mechanism` is NULL or points to a `CK_MECHANISM` (the PKCS#11 caller's contract for
/// `pMechanism`).
#[allow(unsafe_code)]
unsafe fn plain_mechanism(mechanism: CK_MECHANISM_PTR) -> Result<CK_MECHANISM_TYPE, CK_RV> {
    // SAFETY: by this function's contract.
    let m = unsafe { ptr::read(mechanism) }?;
    if !m.pParameter.is_null() || m.ulParameterLen != 0 {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    Ok(m.mechanism)
}

cryptoki_fn! {
    /// `C_GenerateKey`: `CKM_AES_KEY_GEN` (`CKA_VALUE_LEN` 16, 24 or 32 bytes) and
    /// `CKM_GENERIC_SECRET_KEY_GEN` (`CKA_VALUE_LEN` 1 to 512 bytes).
    pub fn C_GenerateKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        key: CK_OBJECT_HANDLE_PTR,
    ) with module, session {
        // SAFETY: `pMechanism` is NULL or a CK_MECHANISM (caller's contract).
        let mechanism = unsafe { plain_mechanism(mechanism) }?;
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let template = Template::new(unsafe { ptr::template(template, count) }?)?;
        ptr::non_null(key)?;
        let spec = secret_key_spec(mechanism, &template)?;
        let plan = KeyPlan::new(&spec, &[(Part::Secret, &template)], &[CKA_VALUE_LEN])?;
        plan.check_session(module, session)?;
        let handles = generate(module, session, &plan, spec)?;
        // SAFETY: `phKey` is non-NULL (checked above), writable (caller's contract).
        unsafe { ptr::write(key, handles[0]) }
    }
}

cryptoki_fn! {
    /// `C_GenerateKeyPair`: `CKM_RSA_PKCS_KEY_PAIR_GEN` (`CKA_MODULUS_BITS` 2048, 3072 or
    /// 4096; public exponent 65537) and `CKM_EC_KEY_PAIR_GEN` (`CKA_EC_PARAMS`: P-256, P-384,
    /// P-521, secp256k1, as an OID or a curve name).
    pub fn C_GenerateKeyPair(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        public_template: CK_ATTRIBUTE_PTR,
        public_count: CK_ULONG,
        private_template: CK_ATTRIBUTE_PTR,
        private_count: CK_ULONG,
        public_key: CK_OBJECT_HANDLE_PTR,
        private_key: CK_OBJECT_HANDLE_PTR,
    ) with module, session {
        // SAFETY: `pMechanism` is NULL or a CK_MECHANISM (caller's contract).
        let mechanism = unsafe { plain_mechanism(mechanism) }?;
        // SAFETY: the template is NULL or `public_count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let public = Template::new(unsafe { ptr::template(public_template, public_count) }?)?;
        // SAFETY: the template is NULL or `private_count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let private = Template::new(unsafe { ptr::template(private_template, private_count) }?)?;
        ptr::non_null(public_key)?;
        ptr::non_null(private_key)?;
        let spec = key_pair_spec(mechanism, &public, &private)?;
        let plan = KeyPlan::new(
            &spec,
            &[(Part::Private, &private), (Part::Public, &public)],
            GENERATION,
        )?;
        plan.check_session(module, session)?;
        let handles = generate(module, session, &plan, spec)?;
        // SAFETY: `phPrivateKey` and `phPublicKey` are non-NULL (checked above), writable
        // (caller's contract for C_GenerateKeyPair).
        unsafe { ptr::write(private_key, handles[0]) }?;
        // SAFETY: as above.
        unsafe { ptr::write(public_key, handles[1]) }
    }
}

/// Generates a key as the plan says; the handles in [`Part::of`] order.
fn generate(
    module: &Module,
    session: &Session,
    plan: &KeyPlan,
    spec: KeySpec,
) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
    if plan.token {
        let name = plan.name(module)?;
        session
            .pool
            .create_key(&name, spec, &plan.options())
            .map_err(|e| creation_error(e, &name))?;
        tracing::info!(pool = session.pool.name(), key = %name, "key generated");
        Ok(pool_handles(module, session, &name, spec.kind()))
    } else {
        let key = module
            .core
            .hsm()
            .generate_ephemeral(spec, session_ops(&spec, plan.exportable), plan.exportable)
            .ck()?;
        Ok(session_handles(module, session, plan, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(attrs: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Template {
        Template(attrs.to_vec())
    }

    fn value_len(len: CK_ULONG) -> Template {
        template(&[(CKA_VALUE_LEN, attributes::ulong_bytes(len))])
    }

    #[test]
    fn generation_sizes_are_the_cores() {
        let generic = |len| secret_key_spec(CKM_GENERIC_SECRET_KEY_GEN, &value_len(len));
        assert_eq!(generic(1), Ok(KeySpec::Secret { bits: 8 }));
        assert_eq!(generic(20), Ok(KeySpec::Secret { bits: 160 }));
        assert_eq!(generic(512), Ok(KeySpec::Secret { bits: 4096 }));
        for len in [0, 513, CK_ULONG::MAX] {
            assert_eq!(generic(len), Err(CKR_KEY_SIZE_RANGE), "{len}");
        }
        let aes = |len| secret_key_spec(CKM_AES_KEY_GEN, &value_len(len));
        assert_eq!(aes(24), Ok(KeySpec::Aes { bits: 192 }));
        for len in [20, 0, CK_ULONG::MAX] {
            assert_eq!(aes(len), Err(CKR_KEY_SIZE_RANGE), "{len}");
        }
        assert_eq!(
            secret_key_spec(CKM_AES_KEY_GEN, &template(&[])),
            Err(CKR_TEMPLATE_INCOMPLETE)
        );
    }

    #[test]
    fn secret_material_by_key_type() {
        let bytes = |n| SecretBytes::new(vec![1; n]);
        assert!(matches!(
            secret_material(CKK_GENERIC_SECRET, bytes(5)),
            Some(KeyMaterial::Secret(_))
        ));
        assert!(matches!(
            secret_material(CKK_AES, bytes(16)),
            Some(KeyMaterial::Aes(_))
        ));
        assert!(secret_material(CKK_AES, bytes(5)).is_none());
        assert!(secret_material(CKK_GENERIC_SECRET, bytes(0)).is_none());
        assert!(secret_material(CKK_GENERIC_SECRET, bytes(513)).is_none());
        assert!(secret_material(CKK_RSA, bytes(16)).is_none());
    }

    #[test]
    fn unset_usages_follow_the_cores_table() {
        use KeyOperation::*;
        let ec = KeySpec::Ec {
            curve: hsm_core::crypto::Curve::P256,
        };
        let empty = template(&[]);
        let plan = KeyPlan::new(
            &ec,
            &[(Part::Private, &empty), (Part::Public, &empty)],
            GENERATION,
        )
        .unwrap();
        assert_eq!(plan.ops, KeyOps::of(&[Sign, Verify]));
        let derive = template(&[(CKA_DERIVE, bool_bytes(true))]);
        let plan = KeyPlan::new(
            &ec,
            &[(Part::Private, &derive), (Part::Public, &empty)],
            GENERATION,
        )
        .unwrap();
        assert_eq!(plan.ops, KeyOps::of(&[Sign, Verify, Derive]));
        let secret = KeySpec::Secret { bits: 160 };
        let asks = template(&[
            (CKA_ENCRYPT, bool_bytes(true)),
            (CKA_KEY_TYPE, attributes::ulong_bytes(CKK_GENERIC_SECRET)),
        ]);
        let plan = KeyPlan::new(&secret, &[(Part::Secret, &asks)], &[CKA_VALUE_LEN]).unwrap();
        assert_eq!(
            plan.ops,
            KeyOps::of(&[Sign, Verify]),
            "no encrypt on a secret"
        );
        let aes_type = template(&[(CKA_KEY_TYPE, attributes::ulong_bytes(CKK_AES))]);
        assert_eq!(
            KeyPlan::new(&secret, &[(Part::Secret, &aes_type)], &[CKA_VALUE_LEN]).err(),
            Some(CKR_TEMPLATE_INCONSISTENT)
        );
        assert_eq!(
            session_ops(&secret, true),
            KeyOps::of(&[Sign, Verify, Export])
        );
        assert_eq!(session_ops(&secret, false), KeyOps::of(&[Sign, Verify]));
    }
}
