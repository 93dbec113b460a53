//! Azure's JSON shapes, and their conversion from and to the core's types.
//!
//! Times are unix seconds, bytes base64url without padding, `kty` carries the `-HSM` suffix,
//! `key_ops` is always present, private parts never appear. Role definitions and
//! assignments have Azure's ids, which do not name the host.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hsm_core::crypto::{KeySpec, PublicKey};
use hsm_core::key::{KeyInfo, KeyOperation, KeyOps};
use hsm_core::rbac::{Permission, RoleAssignment, RoleDefinition, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// Bytes as base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url as a JSON string that is printed as it is: serde_json escapes a string byte by
/// byte, which for the 5.5 KB of a 4 KiB encryption cost more than the encoding, and the
/// base64url alphabet needs no escaping.
pub fn b64_json(bytes: &[u8]) -> Box<RawValue> {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4 + 2);
    text.push('"');
    URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
    text.push('"');
    RawValue::from_string(text).expect("a base64url string is a JSON string")
}

/// Decodes base64url (or standard base64), with or without padding.
pub fn unb64(text: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(text))
        .map_err(|_| ApiError::bad_parameter(format!("'{field}' is not valid base64url")))
}

/// The JWK `kty` Azure shows for a key.
pub fn kty(spec: &KeySpec) -> &'static str {
    match spec {
        KeySpec::Rsa { .. } => "RSA-HSM",
        KeySpec::Ec { .. } => "EC-HSM",
        KeySpec::Aes { .. } => "oct-HSM",
    }
}

/// Parses `key_ops` names.
pub fn key_ops(names: &[String]) -> Result<KeyOps, ApiError> {
    let ops = names
        .iter()
        .map(|n| KeyOperation::from_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KeyOps::of(&ops))
}

/// A public JSON web key.
// The fields of the answer structs here are in the order of their JSON names, the order in
// which serde_json's `Value` (a sorted map) prints them: an answer serialized straight from
// the struct is the same bytes as through `json!` (see the test below).
#[derive(Serialize)]
pub struct JsonWebKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    key_ops: Vec<&'static str>,
    kid: String,
    kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
}

/// Key attributes as Azure shows them.
#[derive(Serialize)]
pub struct Attributes {
    created: i64,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    exportable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(rename = "recoverableDays")]
    recoverable_days: u32,
    #[serde(rename = "recoveryLevel")]
    recovery_level: &'static str,
    updated: i64,
}

fn attributes(info: &KeyInfo) -> Attributes {
    let a = &info.attributes;
    Attributes {
        enabled: a.enabled,
        nbf: a.not_before.map(|t| t.0),
        exp: a.expires.map(|t| t.0),
        created: a.created.0,
        updated: a.updated.0,
        recovery_level: info.recovery_level.azure_name(),
        recoverable_days: info.recoverable_days,
        exportable: a.exportable,
    }
}

/// The base URL of the pool as the client addressed it (`https://host[:port]`).
pub fn base_url(host: &str) -> String {
    format!("https://{host}")
}

/// `https://host/keys/{name}/{version}`.
pub fn kid(host: &str, info: &KeyInfo) -> String {
    version_id(host, &info.name, &info.version)
}

/// `https://host/keys/{name}/{version}`, from the names (one allocation: every key
/// operation answers with it).
pub fn version_id(host: &str, name: &str, version: &str) -> String {
    ["https://", host, "/keys/", name, "/", version].concat()
}

fn jwk(host: &str, info: &KeyInfo) -> JsonWebKey {
    let mut key = JsonWebKey {
        kid: kid(host, info),
        kty: kty(&info.spec),
        key_ops: info.ops.iter().map(KeyOperation::name).collect(),
        n: None,
        e: None,
        crv: None,
        x: None,
        y: None,
    };
    match &info.public_key {
        Some(PublicKey::Rsa { n, e }) => {
            key.n = Some(b64(n));
            key.e = Some(b64(e));
        }
        Some(PublicKey::Ec { curve, x, y }) => {
            key.crv = Some(curve.jwk_name());
            key.x = Some(b64(x));
            key.y = Some(b64(y));
        }
        None => {}
    }
    key
}

fn release_policy(info: &KeyInfo) -> Option<Value> {
    info.release_policy
        .as_ref()
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
}

/// A key bundle (`KeyBundle`).
#[derive(Serialize)]
pub struct KeyBundle {
    attributes: Attributes,
    key: JsonWebKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    release_policy: Option<Value>,
    tags: BTreeMap<String, String>,
}

/// The answer of a key operation (`KeyOperationResult`; `iv`, `tag` and `aad` for AES-GCM
/// encryption only).
#[derive(Serialize)]
pub struct KeyOperationResult {
    /// The additional authenticated data, as given ([`b64_json`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aad: Option<Box<RawValue>>,
    /// The IV used ([`b64_json`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iv: Option<Box<RawValue>>,
    /// The id of the key version used.
    pub kid: String,
    /// The authentication tag ([`b64_json`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Box<RawValue>>,
    /// The result ([`b64_json`]).
    pub value: Box<RawValue>,
}

/// The bundle of a key version.
pub fn key_bundle(host: &str, info: &KeyInfo) -> KeyBundle {
    KeyBundle {
        key: jwk(host, info),
        attributes: attributes(info),
        tags: info.tags.clone(),
        release_policy: release_policy(info),
    }
}

/// mhsm's additions to a key bundle (the extension API of `docs/REMOTE.md`).
#[derive(Serialize)]
pub struct KeyExtension {
    #[serde(rename = "keySize")]
    key_size: u32,
    /// Front-end attributes, base64url.
    extra: BTreeMap<String, String>,
    /// The version's material was made in the HSM (PKCS#11's `CKA_LOCAL`).
    generated: bool,
}

/// A key bundle with mhsm's additions under `x-mhsm`.
#[derive(Serialize)]
pub struct ExtendedKeyBundle {
    #[serde(flatten)]
    bundle: KeyBundle,
    #[serde(rename = "x-mhsm")]
    extension: KeyExtension,
}

/// The extended bundle of a key version: the standard bundle, the key size and the
/// front-end attributes.
pub fn extended_bundle(host: &str, info: &KeyInfo) -> ExtendedKeyBundle {
    ExtendedKeyBundle {
        bundle: key_bundle(host, info),
        extension: KeyExtension {
            key_size: info.spec.bits(),
            extra: info
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), b64(v)))
                .collect(),
            generated: info.attributes.generated,
        },
    }
}

/// A deleted key bundle (`DeletedKeyBundle`).
#[derive(Serialize)]
pub struct DeletedKeyBundle {
    #[serde(flatten)]
    bundle: KeyBundle,
    #[serde(rename = "recoveryId")]
    recovery_id: String,
    #[serde(rename = "deletedDate")]
    deleted_date: i64,
    #[serde(rename = "scheduledPurgeDate")]
    scheduled_purge_date: i64,
}

/// The bundle of a deleted key.
pub fn deleted_bundle(host: &str, info: &KeyInfo) -> DeletedKeyBundle {
    let (deleted, purge) = info
        .deletion
        .as_ref()
        .map_or((0, 0), |d| (d.deleted_on.0, d.scheduled_purge.0));
    DeletedKeyBundle {
        bundle: key_bundle(host, info),
        recovery_id: format!("{}/deletedkeys/{}", base_url(host), info.name),
        deleted_date: deleted,
        scheduled_purge_date: purge,
    }
}

/// A list item (`KeyItem` / `DeletedKeyItem`).
#[derive(Serialize)]
pub struct KeyItem {
    kid: String,
    attributes: Attributes,
    tags: BTreeMap<String, String>,
    #[serde(rename = "recoveryId", skip_serializing_if = "Option::is_none")]
    recovery_id: Option<String>,
    #[serde(rename = "deletedDate", skip_serializing_if = "Option::is_none")]
    deleted_date: Option<i64>,
    #[serde(rename = "scheduledPurgeDate", skip_serializing_if = "Option::is_none")]
    scheduled_purge_date: Option<i64>,
}

/// A list item; `with_version` for version lists (the key list shows bare key ids).
pub fn key_item(host: &str, info: &KeyInfo, with_version: bool) -> KeyItem {
    let kid = if with_version {
        kid(host, info)
    } else {
        format!("{}/keys/{}", base_url(host), info.name)
    };
    KeyItem {
        kid,
        attributes: attributes(info),
        tags: info.tags.clone(),
        recovery_id: info
            .deletion
            .as_ref()
            .map(|_| format!("{}/deletedkeys/{}", base_url(host), info.name)),
        deleted_date: info.deletion.as_ref().map(|d| d.deleted_on.0),
        scheduled_purge_date: info.deletion.as_ref().map(|d| d.scheduled_purge.0),
    }
}

/// A page of a list.
#[derive(Serialize)]
pub struct ListResult<T> {
    /// The items.
    pub value: Vec<T>,
    /// The next page's URL, or null.
    #[serde(rename = "nextLink")]
    pub next_link: Option<String>,
}

/// Attributes a client may set.
#[derive(Deserialize, Default)]
pub struct AttributesIn {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub exportable: Option<bool>,
}

/// `KeyCreateParameters`.
#[derive(Deserialize)]
pub struct CreateKeyIn {
    pub kty: String,
    pub key_size: Option<u32>,
    pub public_exponent: Option<u64>,
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<AttributesIn>,
    pub tags: Option<BTreeMap<String, String>>,
    pub crv: Option<String>,
    pub release_policy: Option<Value>,
    #[serde(rename = "x-mhsm")]
    pub x_mhsm: Option<KeyExtensionIn>,
}

/// mhsm's additions to a create or import request.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyExtensionIn {
    /// Front-end attributes (base64url), written in the same commit as the key.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// Refuse (409) a name that exists, live or deleted.
    #[serde(default)]
    pub new_key_only: bool,
}

/// A JSON web key with private parts, as imported.
#[derive(Deserialize)]
pub struct JwkIn {
    pub kty: String,
    pub key_ops: Option<Vec<String>>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub d: Option<String>,
    pub dp: Option<String>,
    pub dq: Option<String>,
    pub qi: Option<String>,
    pub p: Option<String>,
    pub q: Option<String>,
    pub k: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// `KeyImportParameters`.
#[derive(Deserialize)]
pub struct ImportKeyIn {
    pub key: JwkIn,
    pub attributes: Option<AttributesIn>,
    pub tags: Option<BTreeMap<String, String>>,
    pub release_policy: Option<Value>,
    #[serde(rename = "x-mhsm")]
    pub x_mhsm: Option<KeyExtensionIn>,
}

/// `KeyUpdateParameters`.
#[derive(Deserialize)]
pub struct UpdateKeyIn {
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<AttributesIn>,
    pub tags: Option<BTreeMap<String, String>>,
    pub release_policy: Option<Value>,
}

/// `KeySignParameters`.
#[derive(Deserialize)]
pub struct SignIn {
    pub alg: String,
    pub value: String,
}

/// `KeyVerifyParameters`.
#[derive(Deserialize)]
pub struct VerifyIn {
    pub alg: String,
    pub digest: String,
    pub value: String,
}

/// `KeyOperationsParameters` (encrypt, decrypt, wrap, unwrap).
#[derive(Deserialize)]
pub struct CryptIn {
    pub alg: String,
    pub value: String,
    pub iv: Option<String>,
    pub aad: Option<String>,
    pub tag: Option<String>,
}

/// `KeyRestoreParameters` and `BackupKeyResult`'s `value`.
#[derive(Deserialize)]
pub struct ValueIn {
    pub value: String,
}

/// `GetRandomBytesRequest`.
#[derive(Deserialize)]
pub struct RngIn {
    pub count: i64,
}

/// A role definition's permission block, as Azure shows and takes it.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PermissionJson {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

impl From<&Permission> for PermissionJson {
    fn from(p: &Permission) -> PermissionJson {
        PermissionJson {
            actions: p.actions.clone(),
            not_actions: p.not_actions.clone(),
            data_actions: p.data_actions.clone(),
            not_data_actions: p.not_data_actions.clone(),
        }
    }
}

impl From<PermissionJson> for Permission {
    fn from(p: PermissionJson) -> Permission {
        Permission {
            actions: p.actions,
            not_actions: p.not_actions,
            data_actions: p.data_actions,
            not_data_actions: p.not_data_actions,
        }
    }
}

/// `RoleDefinitionProperties`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    assignable_scopes: Vec<String>,
    description: String,
    permissions: Vec<PermissionJson>,
    role_name: String,
    #[serde(rename = "type")]
    role_type: &'static str,
}

/// `RoleDefinition`: the id is Azure's, the same in every pool and host.
#[derive(Serialize)]
pub struct RoleDefinitionJson {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    properties: RoleDefinitionProperties,
}

/// The JSON of a role definition.
pub fn role_definition(d: &RoleDefinition) -> RoleDefinitionJson {
    RoleDefinitionJson {
        id: d.id(),
        name: d.name.clone(),
        kind: "Microsoft.Authorization/roleDefinitions",
        properties: RoleDefinitionProperties {
            assignable_scopes: d.assignable_scopes.iter().map(Scope::to_string).collect(),
            description: d.description.clone(),
            permissions: d.permissions.iter().map(PermissionJson::from).collect(),
            role_name: d.role_name.clone(),
            role_type: d.role_type.azure_name(),
        },
    }
}

/// `RoleDefinitionCreateParameters`.
#[derive(Deserialize)]
pub struct RoleDefinitionIn {
    pub properties: RoleDefinitionPropertiesIn,
}

/// The properties a client sets on a custom role definition.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionPropertiesIn {
    pub role_name: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub role_type: Option<String>,
    pub permissions: Option<Vec<PermissionJson>>,
    pub assignable_scopes: Option<Vec<String>>,
}

/// `RoleAssignmentPropertiesWithScope`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    principal_id: String,
    role_definition_id: String,
    scope: String,
}

/// `RoleAssignment`.
#[derive(Serialize)]
pub struct RoleAssignmentJson {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    properties: RoleAssignmentProperties,
}

/// The JSON of a role assignment. Its id is built from its scope as Azure builds it:
/// `/providers/...` at `/`, `/keys/providers/...` at `/keys`.
pub fn role_assignment(a: &RoleAssignment) -> RoleAssignmentJson {
    let prefix = match a.scope {
        Scope::All => String::new(),
        ref s => s.to_string(),
    };
    RoleAssignmentJson {
        id: format!(
            "{prefix}/providers/Microsoft.Authorization/roleAssignments/{}",
            a.name
        ),
        name: a.name.clone(),
        kind: "Microsoft.Authorization/roleAssignments",
        properties: RoleAssignmentProperties {
            principal_id: a.principal_id.clone(),
            role_definition_id: a.role_definition_id(),
            scope: a.scope.to_string(),
        },
    }
}

/// `RoleAssignmentCreateParameters`.
#[derive(Deserialize)]
pub struct RoleAssignmentIn {
    pub properties: RoleAssignmentPropertiesIn,
}

/// `RoleAssignmentProperties` (both required).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentPropertiesIn {
    pub role_definition_id: String,
    pub principal_id: String,
}

/// A list of role definitions or assignments (Azure answers them in one page).
#[derive(Serialize)]
pub struct ValueList<T> {
    /// The items.
    pub value: Vec<T>,
}

#[cfg(test)]
mod tests {
    use hsm_core::crypto::{Curve, KeySpec};
    use hsm_core::key::KeyOptions;
    use hsm_core::names::Tags;
    use hsm_core::time::UnixTime;
    use hsm_core::{Hsm, HsmConfig, PoolSettings};

    use super::*;

    /// Typed answers are printed straight from their structs; through `json!` (a sorted map)
    /// they were printed with sorted keys. The bytes must not change.
    #[test]
    fn typed_answers_print_as_through_value() {
        let hsm = Hsm::open(HsmConfig::in_memory()).unwrap();
        hsm.create_pool("answers", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("answers").unwrap();
        let tags: Tags = [("zeta", "1"), ("alpha", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let full = KeyOptions {
            not_before: Some(UnixTime(1_000)),
            expires: Some(UnixTime(4_000_000_000)),
            exportable: true,
            tags: Some(tags),
            release_policy: Some(br#"{"version":"1.0","anyOf":[]}"#.to_vec()),
            ..KeyOptions::default()
        };
        for (name, spec, opts) in [
            ("ec", KeySpec::Ec { curve: Curve::P256 }, &full),
            ("rsa", KeySpec::Rsa { bits: 2048 }, &KeyOptions::default()),
            ("aes", KeySpec::Aes { bits: 256 }, &full),
        ] {
            let info = pool.create_key(name, spec, opts).unwrap();
            let bundle = key_bundle("h:1", &info);
            assert_eq!(
                serde_json::to_string(&bundle).unwrap(),
                serde_json::json!(bundle).to_string(),
                "{name}"
            );
        }
        let result = |extras: bool| KeyOperationResult {
            aad: extras.then(|| b64_json(b"a")),
            iv: extras.then(|| b64_json(b"iv")),
            kid: "https://h/keys/k/v".into(),
            tag: extras.then(|| b64_json(&[0xfb; 16])),
            value: b64_json(&[0xff; 4096]),
        };
        for r in [result(true), result(false)] {
            let printed = serde_json::to_string(&r).unwrap();
            assert_eq!(printed, serde_json::json!(r).to_string());
            let parsed: Value = serde_json::from_str(&printed).unwrap();
            assert_eq!(parsed["value"], b64(&[0xff; 4096]));
        }
        assert_eq!(b64_json(b"").get(), r#""""#);
        assert_eq!(version_id("h:1", "k", "v"), "https://h:1/keys/k/v");
    }
}
