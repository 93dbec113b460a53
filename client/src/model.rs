//! The JSON of the key API: bundles in, request bodies out.
//!
//! Bundles are read leniently (a real Managed HSM adds fields and leaves some out). Bodies
//! that carry secrets (key material, plaintext, PINs) are built into [`SecretBytes`] and their
//! intermediate strings zeroized.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hsm_core::crypto::{Curve, KeyMaterial, KeySpec, PublicKey};
use hsm_core::key::{
    Deletion, KeyInfo, KeyOperation, KeyOps, KeyOptions, KeyUpdate, RecoveryLevel,
    VersionAttributes,
};
use hsm_core::time::UnixTime;
use hsm_core::{Error, Result, SecretBytes};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

/// Bytes as base64url without padding.
pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (or standard base64), with or without padding.
pub(super) fn unb64(text: &str, field: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(text))
        .map_err(|_| invalid(&format!("'{field}' is not base64url")))
}

/// An answer the client cannot read: the server speaks another protocol than expected.
pub(super) fn invalid(what: &str) -> Error {
    Error::Internal {
        message: format!("the server's answer is not understood: {what}"),
    }
}

/// Parses a JSON answer.
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| invalid(&e.to_string()))
}

/// A JSON body with secrets: serialized into a zeroizing buffer, then every string of the
/// value (base64 of key material, plaintext, PINs) is zeroized.
pub(super) fn secret_json(mut value: Value) -> SecretBytes {
    // Sized up front so the buffer does not grow (and leave copies behind) while writing.
    let mut out = Vec::with_capacity(4096 + 2 * approx_len(&value));
    serde_json::to_writer(&mut out, &value).expect("a JSON value serializes");
    scrub(&mut value);
    SecretBytes::new(out)
}

fn approx_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 8,
        Value::Array(a) => a.iter().map(approx_len).sum::<usize>() + 8,
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + approx_len(v) + 8).sum(),
        _ => 32,
    }
}

/// Zeroizes every string in a JSON value.
pub(super) fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(scrub),
        Value::Object(o) => o.values_mut().for_each(scrub),
        _ => {}
    }
}

/// The secret `value` of an answer (`{"value": b64}`: plaintext, unwrapped key, shared secret).
pub(super) fn secret_value(body: &SecretBytes) -> Result<SecretBytes> {
    #[derive(Deserialize)]
    struct Out {
        value: String,
    }
    let mut out: Out = parse(body.expose_secret())?;
    let bytes = unb64(&out.value, "value");
    out.value.zeroize();
    bytes.map(SecretBytes::new)
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: String,
    #[serde(default)]
    kty: String,
    #[serde(default)]
    key_ops: Vec<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize, Default)]
struct Attributes {
    #[serde(default = "yes")]
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    updated: i64,
    #[serde(default)]
    exportable: bool,
    #[serde(rename = "recoveryLevel")]
    recovery_level: Option<String>,
    #[serde(rename = "recoverableDays")]
    recoverable_days: Option<u32>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
struct Extension {
    #[serde(rename = "keySize")]
    key_size: Option<u32>,
    #[serde(default)]
    extra: BTreeMap<String, String>,
    /// Whether the material was made in the HSM (PKCS#11's `CKA_LOCAL`), if the server says.
    generated: Option<bool>,
}

/// A key bundle, a deleted key bundle or an extended key bundle.
#[derive(Deserialize)]
pub(super) struct Bundle {
    key: Jwk,
    #[serde(default)]
    attributes: Attributes,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    release_policy: Option<Value>,
    #[serde(rename = "x-mhsm")]
    extension: Option<Extension>,
    #[serde(rename = "recoveryId")]
    recovery_id: Option<String>,
    #[serde(rename = "deletedDate")]
    deleted_date: Option<i64>,
    #[serde(rename = "scheduledPurgeDate")]
    scheduled_purge_date: Option<i64>,
}

fn recovery_level(name: Option<&str>) -> RecoveryLevel {
    match name {
        Some("Recoverable") => RecoveryLevel::Recoverable,
        Some("CustomizedRecoverable+Purgeable") => RecoveryLevel::CustomizedRecoverablePurgeable,
        Some("CustomizedRecoverable") => RecoveryLevel::CustomizedRecoverable,
        _ => RecoveryLevel::RecoverablePurgeable,
    }
}

/// `https://host/keys/{name}/{version}` → (name, version).
fn split_kid(kid: &str) -> Result<(String, String)> {
    let after = kid
        .split_once("/keys/")
        .map(|(_, rest)| rest)
        .ok_or_else(|| invalid("a kid without /keys/"))?;
    let mut parts = after.split('/');
    let name = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("a kid without a key name"));
    }
    Ok((name.to_string(), version.to_string()))
}

/// The key name of a list item's `kid` (`https://host/keys/{name}`).
pub(super) fn name_of_kid(kid: &str) -> Result<String> {
    split_kid(kid).map(|(name, _)| name)
}

fn spec_of(jwk: &Jwk, key_size: Option<u32>) -> Result<(KeySpec, Option<PublicKey>)> {
    let kty = jwk.kty.strip_suffix("-HSM").unwrap_or(&jwk.kty);
    let field = |v: &Option<String>, name: &str| -> Result<Vec<u8>> {
        unb64(
            v.as_deref()
                .ok_or_else(|| invalid(&format!("the key has no '{name}'")))?,
            name,
        )
    };
    match kty {
        "RSA" => {
            let n = field(&jwk.n, "n")?;
            let e = field(&jwk.e, "e")?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            let bits = u32::try_from(significant * 8).map_err(|_| invalid("n"))?;
            Ok((KeySpec::Rsa { bits }, Some(PublicKey::Rsa { n, e })))
        }
        "EC" => {
            let curve = Curve::from_jwk_name(jwk.crv.as_deref().unwrap_or_default())
                .map_err(|_| invalid("an unknown curve"))?;
            let public = PublicKey::Ec {
                curve,
                x: field(&jwk.x, "x")?,
                y: field(&jwk.y, "y")?,
            };
            Ok((KeySpec::Ec { curve }, Some(public)))
        }
        "oct" => Ok((
            KeySpec::Aes {
                bits: key_size.unwrap_or(256),
            },
            None,
        )),
        other => Err(invalid(&format!("the key type '{other}'"))),
    }
}

impl Bundle {
    /// The core's view of the key version the bundle shows.
    pub fn into_info(self) -> Result<KeyInfo> {
        let (name, version) = split_kid(&self.key.kid)?;
        let ext = self.extension.unwrap_or_default();
        let (spec, public_key) = spec_of(&self.key, ext.key_size)?;
        let ops: Vec<KeyOperation> = self
            .key
            .key_ops
            .iter()
            .filter_map(|op| match KeyOperation::from_name(op) {
                Ok(op) => Some(op),
                Err(_) => {
                    tracing::debug!(key = %name, op = %op, "ignoring an unknown key operation");
                    None
                }
            })
            .collect();
        let a = self.attributes;
        let mut extra = BTreeMap::new();
        for (attr, value) in ext.extra {
            extra.insert(attr.clone(), unb64(&value, &attr)?);
        }
        let deletion = self.deleted_date.map(|deleted| Deletion {
            deleted_on: UnixTime(deleted),
            scheduled_purge: UnixTime(self.scheduled_purge_date.unwrap_or(deleted)),
            recovery_id: self.recovery_id.clone().unwrap_or_default(),
        });
        Ok(KeyInfo {
            name,
            version,
            spec,
            public_key,
            attributes: VersionAttributes {
                enabled: a.enabled,
                not_before: a.nbf.map(UnixTime),
                expires: a.exp.map(UnixTime),
                created: UnixTime(a.created),
                updated: UnixTime(a.updated),
                exportable: a.exportable,
                // Standard bundles do not tell whether the material was made in the HSM.
                generated: ext.generated.unwrap_or(false),
            },
            ops: KeyOps::of(&ops),
            tags: self.tags.unwrap_or_default(),
            release_policy: self.release_policy.map(|p| p.to_string().into_bytes()),
            rotation_policy: None,
            recoverable_days: a.recoverable_days.unwrap_or(90),
            recovery_level: recovery_level(a.recovery_level.as_deref()),
            deletion,
            extra,
        })
    }
}

/// Parses a bundle answer into a [`KeyInfo`].
pub(super) fn key_info(body: &[u8]) -> Result<KeyInfo> {
    parse::<Bundle>(body)?.into_info()
}

fn ops_json(ops: KeyOps) -> Value {
    json!(ops.iter().map(KeyOperation::name).collect::<Vec<_>>())
}

fn release_policy(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|_| Error::BadParameter {
        message: "a release policy is JSON".into(),
    })
}

/// The shared part of create and import bodies: attributes, tags, release policy.
fn common(body: &mut Map<String, Value>, opts: &KeyOptions) -> Result<()> {
    let mut attributes = json!({ "exportable": opts.exportable });
    if let Some(enabled) = opts.enabled {
        attributes["enabled"] = json!(enabled);
    }
    if let Some(nbf) = opts.not_before {
        attributes["nbf"] = json!(nbf.0);
    }
    if let Some(exp) = opts.expires {
        attributes["exp"] = json!(exp.0);
    }
    body.insert("attributes".into(), attributes);
    if let Some(tags) = &opts.tags {
        body.insert("tags".into(), json!(tags));
    }
    if let Some(policy) = &opts.release_policy {
        body.insert("release_policy".into(), release_policy(policy)?);
    }
    Ok(())
}

/// The `x-mhsm` member of create and import bodies.
pub(super) fn extension(opts: &KeyOptions) -> Value {
    let extra: Map<String, Value> = opts
        .extra
        .iter()
        .map(|(k, v)| (k.clone(), json!(b64(v))))
        .collect();
    json!({ "extra": extra, "newKeyOnly": opts.new_key_only })
}

/// The body of `POST /keys/{name}/create`.
pub(super) fn create_body(spec: KeySpec, opts: &KeyOptions, ext: bool) -> Result<Vec<u8>> {
    let mut body = Map::new();
    match spec {
        KeySpec::Rsa { bits } => {
            body.insert("kty".into(), json!("RSA-HSM"));
            body.insert("key_size".into(), json!(bits));
        }
        KeySpec::Ec { curve } => {
            body.insert("kty".into(), json!("EC-HSM"));
            body.insert("crv".into(), json!(curve.jwk_name()));
        }
        KeySpec::Aes { bits } => {
            body.insert("kty".into(), json!("oct-HSM"));
            body.insert("key_size".into(), json!(bits));
        }
    }
    if let Some(ops) = opts.ops {
        body.insert("key_ops".into(), ops_json(ops));
    }
    common(&mut body, opts)?;
    if ext {
        body.insert("x-mhsm".into(), extension(opts));
    }
    Ok(Value::Object(body).to_string().into_bytes())
}

/// The body of `PUT /keys/{name}`: the JWK with its private parts. The plain `kty` with
/// `"hsm": true` is how Azure takes key material in the clear (`RSA-HSM` there means a
/// BYOK transfer blob); mhsm takes both.
pub(super) fn import_body(
    material: &KeyMaterial,
    opts: &KeyOptions,
    ext: bool,
) -> Result<SecretBytes> {
    let mut key = Map::new();
    let mut put = |k: &str, v: &[u8]| {
        key.insert(k.into(), json!(b64(v)));
    };
    let kty = match material {
        KeyMaterial::Rsa(parts) => {
            put("n", &parts.n);
            put("e", &parts.e);
            put("d", parts.d.expose_secret());
            put("p", parts.p.expose_secret());
            put("q", parts.q.expose_secret());
            for (name, v) in [("dp", &parts.dp), ("dq", &parts.dq), ("qi", &parts.qi)] {
                if let Some(v) = v {
                    put(name, v.expose_secret());
                }
            }
            "RSA"
        }
        KeyMaterial::Ec { curve, d } => {
            put("d", d.expose_secret());
            // Azure wants the public point too; mhsm computes it either way.
            let loaded = hsm_core::crypto::default_provider().load(material)?;
            if let Some(PublicKey::Ec { x, y, .. }) = loaded.public_key() {
                put("x", &x);
                put("y", &y);
            }
            key.insert("crv".into(), json!(curve.jwk_name()));
            "EC"
        }
        KeyMaterial::Aes(k) => {
            put("k", k.expose_secret());
            "oct"
        }
    };
    key.insert("kty".into(), json!(kty));
    if let Some(ops) = opts.ops {
        key.insert("key_ops".into(), ops_json(ops));
    }
    let mut body = Map::new();
    body.insert("key".into(), Value::Object(key));
    body.insert("hsm".into(), json!(true));
    let result = common(&mut body, opts);
    if ext {
        body.insert("x-mhsm".into(), extension(opts));
    }
    let mut value = Value::Object(body);
    if let Err(e) = result {
        scrub(&mut value);
        return Err(e);
    }
    Ok(secret_json(value))
}

/// The body of `PATCH /keys/{name}/{version}`. A cleared date or policy is sent as `null`.
pub(super) fn update_body(update: &KeyUpdate) -> Result<Vec<u8>> {
    let mut body = Map::new();
    if let Some(ops) = update.ops {
        body.insert("key_ops".into(), ops_json(ops));
    }
    let mut attributes = Map::new();
    if let Some(enabled) = update.enabled {
        attributes.insert("enabled".into(), json!(enabled));
    }
    if let Some(nbf) = update.not_before {
        attributes.insert("nbf".into(), json!(nbf.map(|t| t.0)));
    }
    if let Some(exp) = update.expires {
        attributes.insert("exp".into(), json!(exp.map(|t| t.0)));
    }
    if let Some(exportable) = update.exportable {
        attributes.insert("exportable".into(), json!(exportable));
    }
    if !attributes.is_empty() {
        body.insert("attributes".into(), Value::Object(attributes));
    }
    if let Some(tags) = &update.tags {
        body.insert("tags".into(), json!(tags));
    }
    if let Some(policy) = &update.release_policy {
        let v = match policy {
            Some(bytes) => release_policy(bytes)?,
            None => Value::Null,
        };
        body.insert("release_policy".into(), v);
    }
    Ok(Value::Object(body).to_string().into_bytes())
}

/// Exported material (`{"value": b64}` of the core's encoding, or a JWK with private parts).
pub(super) fn material(body: &SecretBytes, spec: &KeySpec) -> Result<KeyMaterial> {
    let mut v: Value = parse(body.expose_secret())?;
    let result = material_of(&v, spec);
    scrub(&mut v);
    result
}

fn material_of(v: &Value, spec: &KeySpec) -> Result<KeyMaterial> {
    let get = |name: &str| -> Result<SecretBytes> {
        let s = v[name]
            .as_str()
            .or_else(|| v["key"][name].as_str())
            .ok_or_else(|| invalid(&format!("exported material without '{name}'")))?;
        unb64(s, name).map(SecretBytes::new)
    };
    let opt = |name: &str| get(name).ok();
    let is_jwk = v.get("d").is_some()
        || v.get("k").is_some()
        || v["key"].get("d").is_some()
        || v["key"].get("k").is_some();
    if !is_jwk {
        // `{"value": ...}`: the core's encoding of the material, or the raw secret of the
        // key type (AES key, EC scalar).
        let value = get("value")?;
        if let Ok(material) = KeyMaterial::decode(value.expose_secret()) {
            return Ok(material);
        }
        return match spec {
            KeySpec::Aes { .. } => Ok(KeyMaterial::Aes(value)),
            KeySpec::Ec { curve } => Ok(KeyMaterial::Ec {
                curve: *curve,
                d: value,
            }),
            KeySpec::Rsa { .. } => Err(invalid("RSA material needs its JWK components")),
        };
    }
    Ok(match spec {
        KeySpec::Aes { .. } => KeyMaterial::Aes(get("k")?),
        KeySpec::Ec { curve } => KeyMaterial::Ec {
            curve: *curve,
            d: get("d")?,
        },
        KeySpec::Rsa { .. } => KeyMaterial::Rsa(hsm_core::crypto::RsaPrivateParts {
            n: get("n")?.expose_secret().to_vec(),
            e: get("e")?.expose_secret().to_vec(),
            d: get("d")?,
            p: get("p")?,
            q: get("q")?,
            dp: opt("dp"),
            dq: opt("dq"),
            qi: opt("qi"),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(key: Value, ext: Option<Value>) -> Vec<u8> {
        let mut b = json!({
            "key": key,
            "attributes": {
                "enabled": false, "nbf": 10, "exp": 20, "created": 5, "updated": 6,
                "exportable": true, "recoveryLevel": "CustomizedRecoverable",
                "recoverableDays": 7
            },
            "tags": {"a": "b"},
            "release_policy": {"contentType": "x", "data": "eyJ9"}
        });
        if let Some(e) = ext {
            b["x-mhsm"] = e;
        }
        b.to_string().into_bytes()
    }

    #[test]
    fn rsa_bundles_read_in_full() {
        let mut n = vec![0u8];
        n.extend([0xc5; 256]);
        let info = key_info(&bundle(
            json!({"kid": "https://h:1/keys/k1/0123abcd", "kty": "RSA-HSM",
                   "key_ops": ["sign", "verify", "frobnicate"], "n": b64(&n), "e": "AQAB"}),
            None,
        ))
        .unwrap();
        assert_eq!(info.name, "k1");
        assert_eq!(info.version, "0123abcd");
        assert_eq!(info.spec, KeySpec::Rsa { bits: 2048 });
        assert_eq!(
            info.ops,
            KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify])
        );
        let a = &info.attributes;
        assert!(!a.enabled && a.exportable);
        assert_eq!(
            (a.not_before, a.expires, a.created, a.updated),
            (
                Some(UnixTime(10)),
                Some(UnixTime(20)),
                UnixTime(5),
                UnixTime(6)
            )
        );
        assert_eq!(info.recovery_level, RecoveryLevel::CustomizedRecoverable);
        assert_eq!(info.recoverable_days, 7);
        assert_eq!(info.tags["a"], "b");
        assert!(info.release_policy.is_some());
        assert!(info.extra.is_empty() && info.deletion.is_none());
        assert!(matches!(info.public_key, Some(PublicKey::Rsa { ref e, .. }) if e == &[1, 0, 1]));
    }

    #[test]
    fn ec_and_oct_bundles_and_the_extension() {
        for (crv, curve) in [
            ("P-256", Curve::P256),
            ("P-384", Curve::P384),
            ("P-521", Curve::P521),
            ("P-256K", Curve::Secp256k1),
        ] {
            let info = key_info(&bundle(
                json!({"kid": "https://h/keys/e/v", "kty": "EC", "crv": crv, "x": "AQ", "y": "Ag"}),
                None,
            ))
            .unwrap();
            assert_eq!(info.spec, KeySpec::Ec { curve });
        }
        let oct = json!({"kid": "https://h/keys/a/v", "kty": "oct-HSM", "key_ops": []});
        assert_eq!(
            key_info(&bundle(oct.clone(), None)).unwrap().spec,
            KeySpec::Aes { bits: 256 }
        );
        let ext = json!({"keySize": 128, "extra": {"id": b64(b"\x01\x02")}});
        let info = key_info(&bundle(oct, Some(ext))).unwrap();
        assert_eq!(info.spec, KeySpec::Aes { bits: 128 });
        assert_eq!(info.extra["id"], vec![1, 2]);
    }

    #[test]
    fn bad_bundles_are_refused() {
        for key in [
            json!({"kid": "https://h/nokeys", "kty": "oct"}),
            json!({"kid": "https://h/keys/a/v", "kty": "XYZ"}),
            json!({"kid": "https://h/keys/a/v", "kty": "RSA"}),
            json!({"kid": "https://h/keys/a/v", "kty": "EC", "crv": "P-999", "x": "", "y": ""}),
        ] {
            assert!(key_info(&bundle(key, None)).is_err());
        }
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
        let plain: Value = serde_json::from_slice(
            &create_body(KeySpec::Ec { curve: Curve::P384 }, &opts, false).unwrap(),
        )
        .unwrap();
        assert_eq!(plain["kty"], "EC-HSM");
        assert_eq!(plain["crv"], "P-384");
        assert_eq!(plain["key_ops"], json!(["sign"]));
        assert_eq!(plain["attributes"]["exp"], 99);
        assert!(plain.get("x-mhsm").is_none());
        let ext: Value =
            serde_json::from_slice(&create_body(KeySpec::Aes { bits: 128 }, &opts, true).unwrap())
                .unwrap();
        assert_eq!(ext["kty"], "oct-HSM");
        assert_eq!(ext["key_size"], 128);
        assert_eq!(ext["x-mhsm"]["newKeyOnly"], true);
        assert_eq!(ext["x-mhsm"]["extra"]["id"], "Bw");
    }

    #[test]
    fn import_bodies_hold_the_private_parts() {
        let material = KeyMaterial::Aes(SecretBytes::new(vec![9; 16]));
        let body = import_body(&material, &KeyOptions::default(), false).unwrap();
        let v: Value = serde_json::from_slice(body.expose_secret()).unwrap();
        assert_eq!(v["key"]["kty"], "oct");
        assert_eq!(v["key"]["k"], b64(&[9; 16]));
        let back = material_of(&v, &KeySpec::Aes { bits: 128 }).unwrap();
        assert!(matches!(back, KeyMaterial::Aes(k) if k.expose_secret() == [9; 16]));
    }

    #[test]
    fn update_bodies_send_cleared_dates_as_null() {
        let update = KeyUpdate {
            enabled: Some(false),
            expires: Some(None),
            not_before: Some(Some(UnixTime(3))),
            ..KeyUpdate::default()
        };
        let v: Value = serde_json::from_slice(&update_body(&update).unwrap()).unwrap();
        assert_eq!(
            v["attributes"],
            json!({"enabled": false, "exp": null, "nbf": 3})
        );
        assert!(v.get("key_ops").is_none());
    }

    #[test]
    fn secret_values_decode_and_scrub() {
        let body = SecretBytes::new(br#"{"value":"AQID"}"#.to_vec());
        assert_eq!(secret_value(&body).unwrap().expose_secret(), [1, 2, 3]);
        let mut v = json!({"a": ["secret"], "b": {"c": "more"}});
        scrub(&mut v);
        assert_eq!(v, json!({"a": [""], "b": {"c": ""}}));
    }
}
