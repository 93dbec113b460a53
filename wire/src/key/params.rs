//! What a client sends to make or change a key: `KeyCreateParameters`,
//! `KeyImportParameters` (with the private JWK), `KeyUpdateParameters`, and mhsm's `x-mhsm`
//! block; their conversion to the core's arguments (the server) and from them (the client).

use std::collections::BTreeMap;

use hsm_core::SecretBytes;
use hsm_core::crypto::{Curve, KeyMaterial, KeySpec, PublicKey, RsaPrivateParts};
use hsm_core::key::{KeyOptions, KeyUpdate};
use hsm_core::names::Tags;
use hsm_core::time::UnixTime;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use zeroize::Zeroize;

use crate::b64::{b64, unb64};
use crate::key::{key_op_names, key_ops};
use crate::{Result, WireError};

/// The error for a generic secret sent without mhsm's extension (Azure has no type for it).
fn needs_extension() -> WireError {
    WireError::invalid("a generic secret is made only through mhsm's x-mhsm extension")
}

/// Attributes a client sets. A date sent as `null` clears it (an update), absent leaves it.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct AttributesIn {
    /// Enable or disable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Expiry time (`Some(None)`: cleared).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub exp: Option<Option<i64>>,
    /// Whether the material may leave the HSM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
    /// Not-before time (`Some(None)`: cleared).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<Option<i64>>,
}

/// A present field, `null` included, is `Some`: `null` is `Some(None)`.
fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// mhsm's additions to a create or import request.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyExtensionIn {
    /// Front-end attributes (base64url), written in the same commit as the key.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// The `oct` key is a generic secret (HMAC only), not AES: Azure has no `kty` for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generic_secret: bool,
    /// Refuse (409) a name that exists, live or deleted.
    #[serde(default)]
    pub new_key_only: bool,
}

impl KeyExtensionIn {
    /// The block carrying a new key's front-end attributes, `new_key_only` and whether the
    /// key is a generic secret.
    pub fn of(opts: &KeyOptions, generic_secret: bool) -> KeyExtensionIn {
        KeyExtensionIn {
            extra: opts
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), b64(v)))
                .collect(),
            generic_secret,
            new_key_only: opts.new_key_only,
        }
    }

    fn apply(&self, opts: &mut KeyOptions) -> Result<()> {
        for (attr, value) in &self.extra {
            opts.extra.insert(attr.clone(), unb64(value, attr)?);
        }
        opts.new_key_only = self.new_key_only;
        Ok(())
    }
}

/// The options shared by create and import: attributes, operations, tags, policy, `x-mhsm`.
fn options(
    attributes: Option<&AttributesIn>,
    ops: Option<&[String]>,
    tags: Option<&Tags>,
    release_policy: Option<&Value>,
    ext: Option<&KeyExtensionIn>,
) -> Result<KeyOptions> {
    let a = attributes.cloned().unwrap_or_default();
    let mut opts = KeyOptions {
        ops: ops.map(key_ops).transpose()?,
        enabled: a.enabled,
        not_before: a.nbf.flatten().map(UnixTime),
        expires: a.exp.flatten().map(UnixTime),
        exportable: a.exportable.unwrap_or(false),
        tags: tags.cloned(),
        release_policy: release_policy.map(|v| v.to_string().into_bytes()),
        ..KeyOptions::default()
    };
    if let Some(ext) = ext {
        ext.apply(&mut opts)?;
    }
    Ok(opts)
}

/// The attributes a client sends with a new key.
fn attributes_of(opts: &KeyOptions) -> AttributesIn {
    AttributesIn {
        enabled: opts.enabled,
        exp: opts.expires.map(|t| Some(t.0)),
        exportable: Some(opts.exportable),
        nbf: opts.not_before.map(|t| Some(t.0)),
    }
}

/// A release policy as JSON (the core keeps it as bytes).
fn policy_json(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|_| {
        WireError::Core(hsm_core::Error::BadParameter {
            message: "a release policy is JSON".into(),
        })
    })
}

/// `KeyCreateParameters` (`POST /keys/{name}/create`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct KeyCreate {
    /// `RSA`, `EC`, `oct` (with or without `-HSM`).
    pub kty: String,
    /// Bits (RSA, oct; EC: must match the curve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
    /// Only 65537.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_exponent: Option<u64>,
    /// The curve (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Allowed operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<AttributesIn>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// The release policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_policy: Option<Value>,
    /// mhsm's additions (the answer is then the extended bundle).
    #[serde(rename = "x-mhsm", default, skip_serializing_if = "Option::is_none")]
    pub x_mhsm: Option<KeyExtensionIn>,
}

impl KeyCreate {
    /// The body creating a key of `spec` with `opts`; `ext` adds the `x-mhsm` block (which
    /// a generic secret needs).
    pub fn new(spec: KeySpec, opts: &KeyOptions, ext: bool) -> Result<KeyCreate> {
        let generic_secret = matches!(spec, KeySpec::Secret { .. });
        if generic_secret && !ext {
            return Err(needs_extension());
        }
        let (kty, key_size, crv) = match spec {
            KeySpec::Rsa { bits } => ("RSA-HSM", Some(bits), None),
            KeySpec::Ec { curve } => ("EC-HSM", None, Some(curve.jwk_name().to_string())),
            KeySpec::Aes { bits } | KeySpec::Secret { bits } => ("oct-HSM", Some(bits), None),
        };
        Ok(KeyCreate {
            kty: kty.into(),
            key_size,
            public_exponent: None,
            crv,
            key_ops: opts.ops.map(key_op_names),
            attributes: Some(attributes_of(opts)),
            tags: opts.tags.clone(),
            release_policy: opts
                .release_policy
                .as_deref()
                .map(policy_json)
                .transpose()?,
            x_mhsm: ext.then(|| KeyExtensionIn::of(opts, generic_secret)),
        })
    }

    /// The key type and size asked for.
    pub fn spec(&self) -> Result<KeySpec> {
        match self.kty.as_str() {
            "RSA" | "RSA-HSM" => {
                if let Some(e) = self.public_exponent
                    && e != 65537
                {
                    return Err(WireError::invalid(
                        "only the public exponent 65537 is supported",
                    ));
                }
                Ok(KeySpec::Rsa {
                    bits: self.key_size.unwrap_or(2048),
                })
            }
            "EC" | "EC-HSM" => {
                let curve = match &self.crv {
                    Some(name) => Curve::from_jwk_name(name)?,
                    None => Curve::P256,
                };
                if self.key_size.is_some_and(|s| s != curve.bits()) {
                    return Err(WireError::invalid("key_size does not match the curve"));
                }
                Ok(KeySpec::Ec { curve })
            }
            "oct" | "oct-HSM" => {
                let bits = self.key_size.unwrap_or(256);
                if self.x_mhsm.as_ref().is_some_and(|x| x.generic_secret) {
                    Ok(KeySpec::Secret { bits })
                } else {
                    Ok(KeySpec::Aes { bits })
                }
            }
            other => Err(WireError::invalid(format!("unknown key type '{other}'"))),
        }
    }

    /// What the core's `create_key` takes.
    pub fn to_core(&self) -> Result<(KeySpec, KeyOptions)> {
        let spec = self.spec()?;
        let opts = options(
            self.attributes.as_ref(),
            self.key_ops.as_deref(),
            self.tags.as_ref(),
            self.release_policy.as_ref(),
            self.x_mhsm.as_ref(),
        )?;
        Ok((spec, opts))
    }
}

/// A JSON web key with private parts, as imported (and as some servers export). Its
/// strings are zeroized when dropped; it has no `Debug` or `Clone`.
#[derive(Serialize, Deserialize, Default)]
pub struct JsonWebKeyPrivate {
    /// `RSA`, `EC`, `oct` (with or without `-HSM`).
    #[serde(default)]
    pub kty: String,
    /// Allowed operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// RSA private exponent, or the EC private scalar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// RSA CRT exponent of p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// RSA CRT exponent of q.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// RSA CRT coefficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    /// RSA prime p.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// RSA prime q.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// The symmetric key (oct).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    /// The curve (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// The public point's x (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// The public point's y (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl Drop for JsonWebKeyPrivate {
    fn drop(&mut self) {
        for part in [
            &mut self.d,
            &mut self.dp,
            &mut self.dq,
            &mut self.qi,
            &mut self.p,
            &mut self.q,
            &mut self.k,
        ]
        .into_iter()
        .flatten()
        {
            part.zeroize();
        }
    }
}

fn field(v: &Option<String>, name: &str) -> Result<Vec<u8>> {
    match v {
        Some(v) => unb64(v, name),
        None => Err(WireError::invalid(format!("the key has no '{name}'"))),
    }
}

fn secret(v: &Option<String>, name: &str) -> Result<SecretBytes> {
    field(v, name).map(SecretBytes::new)
}

fn optional_secret(v: &Option<String>, name: &str) -> Result<Option<SecretBytes>> {
    v.as_ref().map(|_| secret(v, name)).transpose()
}

impl JsonWebKeyPrivate {
    /// The JWK of key material (the EC public point computed by the core's provider).
    pub fn of(material: &KeyMaterial) -> Result<JsonWebKeyPrivate> {
        let mut jwk = JsonWebKeyPrivate::default();
        let put = |v: &[u8]| Some(b64(v));
        match material {
            KeyMaterial::Rsa(parts) => {
                jwk.kty = "RSA".into();
                jwk.n = put(&parts.n);
                jwk.e = put(&parts.e);
                jwk.d = put(parts.d.expose_secret());
                jwk.p = put(parts.p.expose_secret());
                jwk.q = put(parts.q.expose_secret());
                jwk.dp = parts.dp.as_ref().and_then(|v| put(v.expose_secret()));
                jwk.dq = parts.dq.as_ref().and_then(|v| put(v.expose_secret()));
                jwk.qi = parts.qi.as_ref().and_then(|v| put(v.expose_secret()));
            }
            KeyMaterial::Ec { curve, d } => {
                jwk.kty = "EC".into();
                jwk.crv = Some(curve.jwk_name().into());
                jwk.d = put(d.expose_secret());
                // Azure wants the public point too; mhsm computes it either way.
                let loaded = hsm_core::crypto::default_provider().load(material)?;
                if let Some(PublicKey::Ec { x, y, .. }) = loaded.public_key() {
                    jwk.x = put(&x);
                    jwk.y = put(&y);
                }
            }
            KeyMaterial::Aes(k) | KeyMaterial::Secret(k) => {
                jwk.kty = "oct".into();
                jwk.k = put(k.expose_secret());
            }
        }
        Ok(jwk)
    }

    /// The key material the JWK holds.
    pub fn to_material(&self) -> Result<KeyMaterial> {
        match self.kty.as_str() {
            "RSA" | "RSA-HSM" => Ok(KeyMaterial::Rsa(RsaPrivateParts {
                n: field(&self.n, "n")?,
                e: field(&self.e, "e")?,
                d: secret(&self.d, "d")?,
                p: secret(&self.p, "p")?,
                q: secret(&self.q, "q")?,
                dp: optional_secret(&self.dp, "dp")?,
                dq: optional_secret(&self.dq, "dq")?,
                qi: optional_secret(&self.qi, "qi")?,
            })),
            "EC" | "EC-HSM" => {
                let curve = Curve::from_jwk_name(self.crv.as_deref().unwrap_or(""))?;
                Ok(KeyMaterial::Ec {
                    curve,
                    d: secret(&self.d, "d")?,
                })
            }
            "oct" | "oct-HSM" => Ok(KeyMaterial::Aes(secret(&self.k, "k")?)),
            other => Err(WireError::invalid(format!("unknown key type '{other}'"))),
        }
    }
}

/// `KeyImportParameters` (`PUT /keys/{name}`). It holds key material: no `Debug`, no
/// `Clone`; the JWK's strings are zeroized when dropped. Write it with
/// [`crate::secret_json`] (a zeroizing buffer).
#[derive(Serialize, Deserialize)]
pub struct KeyImport {
    /// The key, private parts included.
    pub key: JsonWebKeyPrivate,
    /// Azure's flag for key material in the clear (`RSA-HSM` there means a BYOK blob);
    /// mhsm takes both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsm: Option<bool>,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<AttributesIn>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// The release policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_policy: Option<Value>,
    /// mhsm's additions (the answer is then the extended bundle).
    #[serde(rename = "x-mhsm", default, skip_serializing_if = "Option::is_none")]
    pub x_mhsm: Option<KeyExtensionIn>,
}

impl KeyImport {
    /// The body importing `material` with `opts`; `ext` adds the `x-mhsm` block (which a
    /// generic secret needs).
    pub fn new(material: &KeyMaterial, opts: &KeyOptions, ext: bool) -> Result<KeyImport> {
        let generic_secret = matches!(material, KeyMaterial::Secret(_));
        if generic_secret && !ext {
            return Err(needs_extension());
        }
        let mut key = JsonWebKeyPrivate::of(material)?;
        key.key_ops = opts.ops.map(key_op_names);
        Ok(KeyImport {
            key,
            hsm: Some(true),
            attributes: Some(attributes_of(opts)),
            tags: opts.tags.clone(),
            release_policy: opts
                .release_policy
                .as_deref()
                .map(policy_json)
                .transpose()?,
            x_mhsm: ext.then(|| KeyExtensionIn::of(opts, generic_secret)),
        })
    }

    /// What the core's `import_key` takes.
    pub fn to_core(&self) -> Result<(KeyMaterial, KeyOptions)> {
        let material = match self.key.to_material()? {
            KeyMaterial::Aes(k) if self.x_mhsm.as_ref().is_some_and(|x| x.generic_secret) => {
                KeyMaterial::Secret(k)
            }
            other => other,
        };
        let opts = options(
            self.attributes.as_ref(),
            self.key.key_ops.as_deref(),
            self.tags.as_ref(),
            self.release_policy.as_ref(),
            self.x_mhsm.as_ref(),
        )?;
        Ok((material, opts))
    }
}

/// `KeyUpdateParameters` (`PATCH /keys/{name}/{version}`). A date or policy sent as `null`
/// is cleared.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct KeyUpdateParameters {
    /// New allowed operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// Attribute changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<AttributesIn>,
    /// New tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// A new release policy (`Some(None)`: cleared).
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub release_policy: Option<Option<Value>>,
}

impl KeyUpdateParameters {
    /// The body of a core update.
    pub fn from_core(update: &KeyUpdate) -> Result<KeyUpdateParameters> {
        let attributes = AttributesIn {
            enabled: update.enabled,
            exp: update.expires.map(|t| t.map(|t| t.0)),
            exportable: update.exportable,
            nbf: update.not_before.map(|t| t.map(|t| t.0)),
        };
        let release_policy = match &update.release_policy {
            Some(Some(bytes)) => Some(Some(policy_json(bytes)?)),
            Some(None) => Some(None),
            None => None,
        };
        Ok(KeyUpdateParameters {
            key_ops: update.ops.map(key_op_names),
            attributes: (attributes != AttributesIn::default()).then_some(attributes),
            tags: update.tags.clone(),
            release_policy,
        })
    }

    /// What the core's `update_key` takes.
    pub fn to_core(&self) -> Result<KeyUpdate> {
        let a = self.attributes.clone().unwrap_or_default();
        Ok(KeyUpdate {
            ops: self.key_ops.as_deref().map(key_ops).transpose()?,
            enabled: a.enabled,
            not_before: a.nbf.map(|t| t.map(UnixTime)),
            expires: a.exp.map(|t| t.map(UnixTime)),
            exportable: a.exportable,
            tags: self.tags.clone(),
            release_policy: self
                .release_policy
                .as_ref()
                .map(|p| p.as_ref().map(|v| v.to_string().into_bytes())),
        })
    }
}

/// A JSON body holding secrets, written into a buffer sized up front (so it does not grow
/// and leave copies behind) and returned as [`SecretBytes`].
pub fn secret_json(value: &impl Serialize, size_hint: usize) -> SecretBytes {
    let mut out = Vec::with_capacity(4096 + 2 * size_hint);
    serde_json::to_writer(&mut out, value).expect("a wire type serializes");
    SecretBytes::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsm_core::key::{KeyOperation, KeyOps};
    use serde_json::json;

    #[test]
    fn generic_secrets_need_the_extension() {
        let opts = KeyOptions::default();
        let secret = KeySpec::Secret { bits: 160 };
        assert!(KeyCreate::new(secret, &opts, false).is_err());
        let body = KeyCreate::new(secret, &opts, true).unwrap();
        let v = json!(body);
        assert_eq!(v["kty"], "oct-HSM");
        assert_eq!(v["key_size"], 160);
        assert_eq!(v["x-mhsm"]["genericSecret"], true);
        assert_eq!(body.spec().unwrap(), secret);
        let aes = KeyCreate::new(KeySpec::Aes { bits: 128 }, &opts, true).unwrap();
        assert!(json!(aes)["x-mhsm"].get("genericSecret").is_none());
        assert_eq!(aes.spec().unwrap(), KeySpec::Aes { bits: 128 });

        let material = KeyMaterial::Secret(SecretBytes::from_slice(b"Jefe"));
        assert!(KeyImport::new(&material, &opts, false).is_err());
        let import = KeyImport::new(&material, &opts, true).unwrap();
        let text = secret_json(&import, 64);
        let parsed: KeyImport = serde_json::from_slice(text.expose_secret()).unwrap();
        let (back, _) = parsed.to_core().unwrap();
        assert!(matches!(&back, KeyMaterial::Secret(k) if k.expose_secret() == b"Jefe"));
        // Without the flag, the same `oct` JWK is an AES key (of a size the core refuses).
        let plain: KeyImport =
            serde_json::from_value(json!({"key": {"kty": "oct", "k": "SmVmZQ"}})).unwrap();
        assert!(matches!(plain.to_core().unwrap().0, KeyMaterial::Aes(_)));
    }

    #[test]
    fn create_bodies_carry_the_extension_only_when_asked() {
        let mut opts = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Sign])),
            enabled: Some(true),
            expires: Some(UnixTime(99)),
            new_key_only: true,
            ..KeyOptions::default()
        };
        opts.extra.insert("id".into(), vec![7]);
        let plain =
            json!(KeyCreate::new(KeySpec::Ec { curve: Curve::P384 }, &opts, false).unwrap());
        assert_eq!(plain["kty"], "EC-HSM");
        assert_eq!(plain["crv"], "P-384");
        assert_eq!(plain["key_ops"], json!(["sign"]));
        assert_eq!(plain["attributes"]["exp"], 99);
        assert!(plain.get("x-mhsm").is_none());
        let ext = KeyCreate::new(KeySpec::Aes { bits: 128 }, &opts, true).unwrap();
        let v = json!(ext);
        assert_eq!(v["kty"], "oct-HSM");
        assert_eq!(v["key_size"], 128);
        assert_eq!(v["x-mhsm"]["newKeyOnly"], true);
        assert_eq!(v["x-mhsm"]["extra"]["id"], "Bw");
        // What the client sends is what the server makes of it.
        let parsed: KeyCreate = crate::parse(v.to_string().as_bytes()).unwrap();
        let (spec, back) = parsed.to_core().unwrap();
        assert_eq!(spec, KeySpec::Aes { bits: 128 });
        assert_eq!(back, opts);
    }

    #[test]
    fn create_bodies_are_checked() {
        let bad = |body: Value| crate::parse::<KeyCreate>(body.to_string().as_bytes())?.to_core();
        assert!(bad(json!({"kty": "RSA", "public_exponent": 3})).is_err());
        assert!(bad(json!({"kty": "EC", "crv": "P-384", "key_size": 256})).is_err());
        assert!(matches!(
            bad(json!({"kty": "EC", "crv": "P-999"})),
            Err(WireError::Core(_))
        ));
        assert!(bad(json!({"kty": "DSA"})).is_err());
        assert!(bad(json!({"kty": "oct", "key_ops": ["frobnicate"]})).is_err());
        assert!(bad(json!({"kty": "oct", "x-mhsm": {"extra": {"id": "!"}}})).is_err());
        assert!(bad(json!({"kty": "oct", "x-mhsm": {"unknown": 1}})).is_err());
        let (spec, opts) = bad(json!({"kty": "RSA-HSM"})).unwrap();
        assert_eq!(
            (spec, opts),
            (KeySpec::Rsa { bits: 2048 }, KeyOptions::default())
        );
    }

    #[test]
    fn import_bodies_hold_the_private_parts() {
        let material = KeyMaterial::Aes(SecretBytes::new(vec![9; 16]));
        let body = KeyImport::new(&material, &KeyOptions::default(), false).unwrap();
        let text = secret_json(&body, 64);
        let v: Value = serde_json::from_slice(text.expose_secret()).unwrap();
        assert_eq!(v["key"]["kty"], "oct");
        assert_eq!(v["key"]["k"], b64(&[9; 16]));
        assert_eq!(v["hsm"], true);
        let parsed: KeyImport = crate::parse(text.expose_secret()).unwrap();
        let (back, _) = parsed.to_core().unwrap();
        assert!(matches!(back, KeyMaterial::Aes(k) if k.expose_secret() == [9; 16]));
        let no_d: KeyImport = crate::parse(br#"{"key":{"kty":"EC","crv":"P-256"}}"#).unwrap();
        assert!(no_d.to_core().is_err());
    }

    #[test]
    fn private_jwks_carry_material_both_ways() {
        let s = |b: u8, n: usize| SecretBytes::new(vec![b; n]);
        let rsa = KeyMaterial::Rsa(RsaPrivateParts {
            n: vec![0xc1; 256],
            e: vec![1, 0, 1],
            d: s(2, 256),
            p: s(3, 128),
            q: s(4, 128),
            dp: Some(s(5, 128)),
            dq: None,
            qi: Some(s(6, 128)),
        });
        let jwk = JsonWebKeyPrivate::of(&rsa).unwrap();
        assert_eq!((jwk.kty.as_str(), jwk.e.as_deref()), ("RSA", Some("AQAB")));
        let KeyMaterial::Rsa(back) = jwk.to_material().unwrap() else {
            panic!("not RSA")
        };
        assert_eq!((back.n, back.e), (vec![0xc1; 256], vec![1, 0, 1]));
        assert_eq!(back.q.expose_secret(), [4; 128]);
        assert!(back.dq.is_none());
        assert_eq!(back.qi.unwrap().expose_secret(), [6; 128]);
        // EC: the public point comes with the scalar, computed by the core's provider.
        let ec = KeyMaterial::Ec {
            curve: Curve::P256,
            d: s(1, 32),
        };
        let jwk = JsonWebKeyPrivate::of(&ec).unwrap();
        assert_eq!(jwk.crv.as_deref(), Some("P-256"));
        assert_eq!(unb64(jwk.x.as_deref().unwrap(), "x").unwrap().len(), 32);
        let KeyMaterial::Ec { curve, d } = jwk.to_material().unwrap() else {
            panic!("not EC")
        };
        assert_eq!((curve, d.expose_secret()), (Curve::P256, &[1u8; 32][..]));
        let missing_p: JsonWebKeyPrivate =
            crate::parse(br#"{"kty":"RSA-HSM","n":"AQ","e":"AQAB","d":"AQ","q":"AQ"}"#).unwrap();
        assert_eq!(
            missing_p.to_material().err().map(|e| e.to_string()),
            Some("the key has no 'p'".to_string())
        );
    }

    #[test]
    fn update_bodies_send_and_take_cleared_dates_as_null() {
        let update = KeyUpdate {
            enabled: Some(false),
            expires: Some(None),
            not_before: Some(Some(UnixTime(3))),
            release_policy: Some(None),
            ..KeyUpdate::default()
        };
        let v = json!(KeyUpdateParameters::from_core(&update).unwrap());
        assert_eq!(
            v["attributes"],
            json!({"enabled": false, "exp": null, "nbf": 3})
        );
        assert_eq!(v["release_policy"], Value::Null);
        assert!(v.get("key_ops").is_none() && v.get("tags").is_none());
        let parsed: KeyUpdateParameters = crate::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.to_core().unwrap(), update);
        let empty: KeyUpdateParameters = crate::parse(b"{}").unwrap();
        assert_eq!(empty.to_core().unwrap(), KeyUpdate::default());
    }
}
