//! Key bundles: the standard one, mhsm's extended one (`x-mhsm`), the deleted one, list
//! items and pages; and their conversion from and to [`KeyInfo`].
//!
//! Times are unix seconds, bytes base64url without padding, `kty` carries the `-HSM`
//! suffix, `key_ops` is always present, private parts never appear.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hsm_core::crypto::{Curve, KeySpec, PublicKey};
use hsm_core::key::{Deletion, KeyInfo, KeyOperation, KeyOps, RecoveryLevel, VersionAttributes};
use hsm_core::time::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::b64::{b64, unb64};
use crate::{Result, WireError};

/// A public JSON web key.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct JsonWebKey {
    /// The curve (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<Cow<'static, str>>,
    /// The public exponent (RSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// The operations allowed.
    #[serde(default)]
    pub key_ops: Vec<Cow<'static, str>>,
    /// `https://host/keys/{name}/{version}`.
    #[serde(default)]
    pub kid: String,
    /// `RSA-HSM`, `EC-HSM`, `oct-HSM` (or without the suffix).
    #[serde(default)]
    pub kty: Cow<'static, str>,
    /// The modulus (RSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// The point's x (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// The point's y (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// Key attributes as Azure shows them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Attributes {
    /// Creation time.
    #[serde(default)]
    pub created: i64,
    /// Whether the version may be used.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Expiry time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Whether the material may leave the HSM.
    #[serde(default)]
    pub exportable: bool,
    /// A symmetric key's size in bits (read-only, api-version 2026-04-01's `key_size`;
    /// fields in the order of their names: answers print as a sorted map would).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
    /// Not-before time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The pool's soft-delete retention in days.
    #[serde(rename = "recoverableDays", default = "ninety")]
    pub recoverable_days: u32,
    /// The pool's recovery level (`Recoverable+Purgeable`, ...).
    #[serde(rename = "recoveryLevel", default)]
    pub recovery_level: Cow<'static, str>,
    /// Last change of the attributes.
    #[serde(default)]
    pub updated: i64,
}

fn yes() -> bool {
    true
}

fn ninety() -> u32 {
    90
}

impl Default for Attributes {
    fn default() -> Attributes {
        Attributes {
            created: 0,
            enabled: true,
            exp: None,
            exportable: false,
            nbf: None,
            recoverable_days: 90,
            recovery_level: Cow::Borrowed(""),
            updated: 0,
            key_size: None,
        }
    }
}

impl Attributes {
    /// The attributes of a key version.
    pub fn of(info: &KeyInfo) -> Attributes {
        let a = &info.attributes;
        Attributes {
            created: a.created.0,
            enabled: a.enabled,
            exp: a.expires.map(|t| t.0),
            exportable: a.exportable,
            nbf: a.not_before.map(|t| t.0),
            recoverable_days: info.recoverable_days,
            recovery_level: Cow::Borrowed(info.recovery_level.azure_name()),
            updated: a.updated.0,
            key_size: match info.spec {
                KeySpec::Aes { bits } | KeySpec::Secret { bits } => Some(bits),
                KeySpec::Rsa { .. } | KeySpec::Ec { .. } => None,
            },
        }
    }

    /// The core's version attributes (`generated` is not among Azure's attributes).
    pub fn to_core(&self, generated: bool) -> VersionAttributes {
        VersionAttributes {
            enabled: self.enabled,
            not_before: self.nbf.map(UnixTime),
            expires: self.exp.map(UnixTime),
            created: UnixTime(self.created),
            updated: UnixTime(self.updated),
            exportable: self.exportable,
            generated,
        }
    }

    /// The recovery level named (an unknown or missing name: `Recoverable+Purgeable`).
    pub fn recovery_level(&self) -> RecoveryLevel {
        match self.recovery_level.as_ref() {
            "Recoverable" => RecoveryLevel::Recoverable,
            "CustomizedRecoverable+Purgeable" => RecoveryLevel::CustomizedRecoverablePurgeable,
            "CustomizedRecoverable" => RecoveryLevel::CustomizedRecoverable,
            _ => RecoveryLevel::RecoverablePurgeable,
        }
    }
}

/// `https://host/keys/{name}/{version}`, from the names (one allocation: every key
/// operation answers with it).
pub fn version_id(host: &str, name: &str, version: &str) -> String {
    ["https://", host, "/keys/", name, "/", version].concat()
}

/// `https://host/keys/{name}/{version}` of a key version.
pub fn kid(host: &str, info: &KeyInfo) -> String {
    version_id(host, &info.name, &info.version)
}

/// `https://host/keys/{name}[/{version}]` → (name, version; empty when absent).
pub fn split_kid(kid: &str) -> Result<(String, String)> {
    let after = kid
        .split_once("/keys/")
        .map(|(_, rest)| rest)
        .ok_or_else(|| WireError::invalid("a kid without /keys/"))?;
    let mut parts = after.split('/');
    let name = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    if name.is_empty() {
        return Err(WireError::invalid("a kid without a key name"));
    }
    Ok((name.to_string(), version.to_string()))
}

/// The key name of a list item's `kid` (`https://host/keys/{name}`).
pub fn name_of_kid(kid: &str) -> Result<String> {
    split_kid(kid).map(|(name, _)| name)
}

impl JsonWebKey {
    /// The public JWK of a key version.
    pub fn of(host: &str, info: &KeyInfo) -> JsonWebKey {
        let mut key = JsonWebKey {
            kid: kid(host, info),
            kty: Cow::Borrowed(crate::key::kty(&info.spec)),
            key_ops: info.ops.iter().map(|op| Cow::Borrowed(op.name())).collect(),
            ..JsonWebKey::default()
        };
        match &info.public_key {
            Some(PublicKey::Rsa { n, e }) => {
                key.n = Some(b64(n));
                key.e = Some(b64(e));
            }
            Some(PublicKey::Ec { curve, x, y }) => {
                key.crv = Some(Cow::Borrowed(curve.jwk_name()));
                key.x = Some(b64(x));
                key.y = Some(b64(y));
            }
            None => {}
        }
        key
    }

    /// The key's type and size and its public key (`oct` keys show no size: the extension's
    /// `key_size`, else 256; the extension's `genericSecret` makes an `oct` key a generic
    /// secret rather than AES).
    pub fn spec(&self, ext: &KeyExtension) -> Result<(KeySpec, Option<PublicKey>)> {
        let kty = self.kty.strip_suffix("-HSM").unwrap_or(&self.kty);
        let field = |v: &Option<String>, name: &str| -> Result<Vec<u8>> {
            let text = v
                .as_deref()
                .ok_or_else(|| WireError::invalid(format!("the key has no '{name}'")))?;
            unb64(text, name)
        };
        match kty {
            "RSA" => {
                let n = field(&self.n, "n")?;
                let e = field(&self.e, "e")?;
                let significant = n.iter().skip_while(|b| **b == 0).count();
                let bits = u32::try_from(significant * 8)
                    .map_err(|_| WireError::invalid("the modulus is too long"))?;
                Ok((KeySpec::Rsa { bits }, Some(PublicKey::Rsa { n, e })))
            }
            "EC" => {
                let curve = Curve::from_jwk_name(self.crv.as_deref().unwrap_or_default())
                    .map_err(|_| WireError::invalid("an unknown curve"))?;
                let public = PublicKey::Ec {
                    curve,
                    x: field(&self.x, "x")?,
                    y: field(&self.y, "y")?,
                };
                Ok((KeySpec::Ec { curve }, Some(public)))
            }
            "oct" => {
                let bits = ext.key_size.unwrap_or(256);
                let spec = if ext.generic_secret {
                    KeySpec::Secret { bits }
                } else {
                    KeySpec::Aes { bits }
                };
                Ok((spec, None))
            }
            other => Err(WireError::invalid(format!("unknown key type '{other}'"))),
        }
    }

    /// The operations named; unknown names (a newer service's) are left out.
    pub fn ops(&self) -> KeyOps {
        let ops: Vec<KeyOperation> = self
            .key_ops
            .iter()
            .filter_map(|op| KeyOperation::from_name(op).ok())
            .collect();
        KeyOps::of(&ops)
    }
}

/// mhsm's additions to a key bundle (the extension API of `docs/REMOTE.md`).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct KeyExtension {
    /// Front-end attributes, base64url.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// The version's material was made in the HSM (PKCS#11's `CKA_LOCAL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<bool>,
    /// An `oct` key that is a generic secret (HMAC only, PKCS#11's `CKK_GENERIC_SECRET`),
    /// not an AES key.
    #[serde(
        rename = "genericSecret",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub generic_secret: bool,
    /// The key size in bits.
    #[serde(rename = "keySize", default, skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
}

/// A key bundle (`KeyBundle`), and with the optional members a deleted key bundle
/// (`DeletedKeyBundle`), mhsm's extended bundle (`x-mhsm`) or an attested one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct KeyBundle {
    /// An attestation block (`GET /keys/{name}/{version}/attestation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Value>,
    /// The version's attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// When it was deleted (deleted bundles).
    #[serde(
        rename = "deletedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_date: Option<i64>,
    /// The public key.
    pub key: JsonWebKey,
    /// `https://host/deletedkeys/{name}` (deleted bundles).
    #[serde(
        rename = "recoveryId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_id: Option<String>,
    /// The release policy, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_policy: Option<Value>,
    /// When it will be purged (deleted bundles).
    #[serde(
        rename = "scheduledPurgeDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_purge_date: Option<i64>,
    /// The key's tags (`null` reads as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: BTreeMap<String, String>,
    /// mhsm's additions (extended bundles).
    #[serde(rename = "x-mhsm", default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<KeyExtension>,
}

/// Tags sent as `null` are none (answers are read leniently).
fn null_as_empty<'de, D>(d: D) -> std::result::Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<BTreeMap<String, String>>::deserialize(d).map(Option::unwrap_or_default)
}

fn release_policy(info: &KeyInfo) -> Option<Value> {
    info.release_policy
        .as_ref()
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
}

/// `https://host/deletedkeys/{name}`.
fn recovery_id(host: &str, name: &str) -> String {
    format!("https://{host}/deletedkeys/{name}")
}

impl KeyBundle {
    /// The bundle of a key version.
    pub fn of(host: &str, info: &KeyInfo) -> KeyBundle {
        KeyBundle {
            attestation: None,
            attributes: Attributes::of(info),
            deleted_date: None,
            key: JsonWebKey::of(host, info),
            recovery_id: None,
            release_policy: release_policy(info),
            scheduled_purge_date: None,
            tags: info.tags.clone(),
            extension: None,
        }
    }

    /// The extended bundle: the standard bundle, the key size and the front-end attributes.
    pub fn extended(host: &str, info: &KeyInfo) -> KeyBundle {
        KeyBundle {
            extension: Some(KeyExtension {
                extra: info
                    .extra
                    .iter()
                    .map(|(k, v)| (k.clone(), b64(v)))
                    .collect(),
                generated: Some(info.attributes.generated),
                generic_secret: matches!(info.spec, KeySpec::Secret { .. }),
                key_size: Some(info.spec.bits()),
            }),
            ..KeyBundle::of(host, info)
        }
    }

    /// The bundle of a deleted key.
    pub fn deleted(host: &str, info: &KeyInfo) -> KeyBundle {
        let (deleted, purge) = info
            .deletion
            .as_ref()
            .map_or((0, 0), |d| (d.deleted_on.0, d.scheduled_purge.0));
        KeyBundle {
            deleted_date: Some(deleted),
            recovery_id: Some(recovery_id(host, &info.name)),
            scheduled_purge_date: Some(purge),
            ..KeyBundle::of(host, info)
        }
    }

    /// The core's view of the key version the bundle shows.
    pub fn into_info(self) -> Result<KeyInfo> {
        let (name, version) = split_kid(&self.key.kid)?;
        let ext = self.extension.unwrap_or_default();
        let (spec, public_key) = self.key.spec(&ext)?;
        let mut extra = BTreeMap::new();
        for (attr, value) in ext.extra {
            let bytes = unb64(&value, &attr)?;
            extra.insert(attr, bytes);
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
            // Standard bundles do not tell whether the material was made in the HSM.
            attributes: self.attributes.to_core(ext.generated.unwrap_or(false)),
            ops: self.key.ops(),
            tags: self.tags,
            release_policy: self.release_policy.map(|p| p.to_string().into_bytes()),
            rotation_policy: None,
            recoverable_days: self.attributes.recoverable_days,
            recovery_level: self.attributes.recovery_level(),
            deletion,
            extra,
        })
    }
}

/// A list item (`KeyItem` / `DeletedKeyItem`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct KeyItem {
    /// The attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// When it was deleted (deleted items).
    #[serde(
        rename = "deletedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_date: Option<i64>,
    /// `https://host/keys/{name}` (or with `/{version}` in version lists).
    pub kid: String,
    /// `https://host/deletedkeys/{name}` (deleted items).
    #[serde(
        rename = "recoveryId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_id: Option<String>,
    /// When it will be purged (deleted items).
    #[serde(
        rename = "scheduledPurgeDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_purge_date: Option<i64>,
    /// The key's tags (`null` reads as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: BTreeMap<String, String>,
}

impl KeyItem {
    /// A list item; `with_version` for version lists (the key list shows bare key ids).
    pub fn of(host: &str, info: &KeyInfo, with_version: bool) -> KeyItem {
        let kid = if with_version {
            kid(host, info)
        } else {
            format!("https://{host}/keys/{}", info.name)
        };
        KeyItem {
            attributes: Attributes::of(info),
            deleted_date: info.deletion.as_ref().map(|d| d.deleted_on.0),
            kid,
            recovery_id: info
                .deletion
                .as_ref()
                .map(|_| recovery_id(host, &info.name)),
            scheduled_purge_date: info.deletion.as_ref().map(|d| d.scheduled_purge.0),
            tags: info.tags.clone(),
        }
    }

    /// The key's name.
    pub fn name(&self) -> Result<String> {
        name_of_kid(&self.kid)
    }
}

/// A page of a list.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ListResult<T> {
    /// The next page's URL, or null.
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
    /// The items.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
}

/// A list answered in one page (role definitions, assignments, pools).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ValueList<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsm_core::crypto::{Curve, KeySpec};
    use hsm_core::key::KeyOptions;
    use hsm_core::names::Tags;
    use hsm_core::{Hsm, HsmConfig, PoolSettings};
    use serde_json::json;

    fn keys() -> Vec<KeyInfo> {
        let hsm = Hsm::open(HsmConfig::in_memory()).unwrap();
        hsm.create_pool("answers", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("answers").unwrap();
        let tags: Tags = [("zeta", "1"), ("alpha", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut full = KeyOptions {
            not_before: Some(UnixTime(1_000)),
            expires: Some(UnixTime(4_000_000_000)),
            exportable: true,
            tags: Some(tags),
            release_policy: Some(br#"{"version":"1.0","anyOf":[]}"#.to_vec()),
            ..KeyOptions::default()
        };
        full.extra.insert("id".into(), vec![1, 2]);
        let mut out = Vec::new();
        for (name, spec, opts) in [
            ("ec", KeySpec::Ec { curve: Curve::P256 }, &full),
            ("rsa", KeySpec::Rsa { bits: 2048 }, &KeyOptions::default()),
            ("aes", KeySpec::Aes { bits: 128 }, &full),
            ("hmac", KeySpec::Secret { bits: 160 }, &full),
        ] {
            out.push(pool.create_key(name, spec, opts).unwrap());
        }
        pool.delete_key("aes").unwrap();
        out.push(pool.get_deleted_key("aes").unwrap());
        out
    }

    /// Typed answers are printed straight from their structs; through `json!` (a sorted
    /// map) they were printed with sorted keys. The bytes must not change.
    #[test]
    fn typed_answers_print_as_through_value() {
        for info in keys() {
            for bundle in [
                KeyBundle::of("h:1", &info),
                KeyBundle::extended("h:1", &info),
                KeyBundle::deleted("h:1", &info),
            ] {
                assert_eq!(
                    serde_json::to_string(&bundle).unwrap(),
                    json!(bundle).to_string(),
                    "{}",
                    info.name
                );
            }
            let item = KeyItem::of("h", &info, true);
            assert_eq!(
                serde_json::to_string(&item).unwrap(),
                json!(item).to_string()
            );
        }
        assert_eq!(version_id("h:1", "k", "v"), "https://h:1/keys/k/v");
    }

    #[test]
    fn bundles_convert_back_to_the_key_they_show() {
        for info in keys() {
            let shown = if info.deletion.is_some() {
                KeyBundle::deleted("h:1", &info)
            } else {
                KeyBundle::extended("h:1", &info)
            };
            let text = serde_json::to_vec(&shown).unwrap();
            let back = crate::parse::<KeyBundle>(&text)
                .unwrap()
                .into_info()
                .unwrap();
            let mut expected = info.clone();
            expected.rotation_policy = None;
            // A policy is JSON on the wire: it comes back as serde_json prints it.
            expected.release_policy = expected.release_policy.map(|p| {
                serde_json::from_slice::<Value>(&p)
                    .unwrap()
                    .to_string()
                    .into_bytes()
            });
            if let Some(d) = &mut expected.deletion {
                d.recovery_id = "https://h:1/deletedkeys/aes".into();
            }
            if info.deletion.is_some() {
                // A deleted bundle has no extension: no size for oct, no extra, no origin.
                expected.spec = KeySpec::Aes { bits: 256 };
                expected.extra.clear();
                expected.attributes.generated = false;
            }
            assert_eq!(back, expected, "{}", info.name);
        }
    }

    /// Only the extension tells a generic secret from an AES key: both are `oct-HSM`.
    #[test]
    fn generic_secrets_are_oct_with_a_flag_in_the_extension() {
        let info = keys().into_iter().find(|k| k.name == "hmac").unwrap();
        let standard = json!(KeyBundle::of("h:1", &info));
        assert_eq!(standard["key"]["kty"], "oct-HSM");
        assert_eq!(standard["key"]["key_ops"], json!(["sign", "verify"]));
        let extended = json!(KeyBundle::extended("h:1", &info));
        assert_eq!(extended["x-mhsm"]["genericSecret"], true);
        assert_eq!(extended["x-mhsm"]["keySize"], 160);
        let aes = KeyInfo {
            spec: KeySpec::Aes { bits: 128 },
            ..info.clone()
        };
        let extended_aes = json!(KeyBundle::extended("h:1", &aes));
        assert!(extended_aes["x-mhsm"].get("genericSecret").is_none());
        let back = |v: &Value| {
            serde_json::from_value::<KeyBundle>(v.clone())
                .unwrap()
                .into_info()
                .unwrap()
                .spec
        };
        assert_eq!(back(&extended), KeySpec::Secret { bits: 160 });
        assert_eq!(back(&extended_aes), KeySpec::Aes { bits: 128 });
    }

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

    fn key_info(body: &[u8]) -> Result<KeyInfo> {
        crate::parse::<KeyBundle>(body)?.into_info()
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
        assert_eq!(
            (info.name.as_str(), info.version.as_str()),
            ("k1", "0123abcd")
        );
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
    }

    #[test]
    fn ec_bundles_name_their_curve() {
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
            assert!(
                matches!(info.public_key, Some(PublicKey::Ec { ref x, ref y, .. }) if x == &[1] && y == &[2])
            );
        }
    }

    #[test]
    fn null_tags_read_as_none() {
        let mut b: Value = serde_json::from_slice(&bundle(
            json!({"kid": "https://h/keys/a/v", "kty": "oct-HSM"}),
            None,
        ))
        .unwrap();
        b["tags"] = Value::Null;
        let info = key_info(b.to_string().as_bytes()).unwrap();
        assert!(info.tags.is_empty());
        let item: KeyItem = crate::parse(br#"{"kid": "https://h/keys/a", "tags": null}"#).unwrap();
        assert_eq!(item.name().unwrap(), "a");
        assert!(crate::parse::<KeyItem>(br#"{"kid": "x", "tags": 1}"#).is_err());
    }

    #[test]
    fn oct_bundles_take_their_size_from_the_extension() {
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
        assert!(key_info(b"{}").is_err());
    }
}
