//! The key routes: JSON in, core calls, Azure-shaped JSON out. No rule of the domain here.

use hsm_core::crypto::{Curve, KeyMaterial, KeySpec, RsaPrivateParts, jwa};
use hsm_core::key::rotation::{IsoDuration, LifetimeAction, RotationAction, Trigger};
use hsm_core::key::{KeyOptions, KeyUpdate, RotationPolicy};
use hsm_core::names::{Page, PageRequest};
use hsm_core::time::UnixTime;
use std::borrow::Cow;

use hsm_core::{Pool, SecretBytes};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::model::{
    self, AttributesIn, CreateKeyIn, CryptIn, ImportKeyIn, KeyBundle, KeyExtensionIn,
    KeyOperationResult, ListResult, RngIn, SignIn, UpdateKeyIn, ValueIn, VerifyIn, b64, b64_json,
    unb64,
};

/// Azure's largest page.
const MAX_RESULTS: usize = 25;
/// Azure's limit on one random-bytes request.
const MAX_RNG: i64 = 128;

/// Parses a JSON body.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_parameter(format!("the request body is not valid: {e}")))
}

/// The request's context for building responses.
pub struct Ctx<'a> {
    /// The pool addressed.
    pub pool: &'a Pool,
    /// The host (and port) the client used, for ids in responses.
    pub host: &'a str,
    /// The api-version asked for, for next links.
    pub api_version: &'a str,
}

fn options(attrs: Option<AttributesIn>, ops: Option<&[String]>) -> Result<KeyOptions, ApiError> {
    let a = attrs.unwrap_or_default();
    Ok(KeyOptions {
        ops: ops.map(model::key_ops).transpose()?,
        enabled: a.enabled,
        not_before: a.nbf.map(UnixTime),
        expires: a.exp.map(UnixTime),
        exportable: a.exportable.unwrap_or(false),
        tags: None,
        release_policy: None,
        ..KeyOptions::default()
    })
}

fn policy_bytes(policy: Option<Value>) -> Option<Vec<u8>> {
    policy.map(|v| v.to_string().into_bytes())
}

fn spec_of(req: &CreateKeyIn) -> Result<KeySpec, ApiError> {
    match req.kty.as_str() {
        "RSA" | "RSA-HSM" => {
            if let Some(e) = req.public_exponent
                && e != 65537
            {
                return Err(ApiError::bad_parameter(
                    "only the public exponent 65537 is supported",
                ));
            }
            Ok(KeySpec::Rsa {
                bits: req.key_size.unwrap_or(2048),
            })
        }
        "EC" | "EC-HSM" => {
            let curve = match &req.crv {
                Some(name) => Curve::from_jwk_name(name)?,
                None => Curve::P256,
            };
            if req.key_size.is_some_and(|s| s != curve.bits()) {
                return Err(ApiError::bad_parameter("key_size does not match the curve"));
            }
            Ok(KeySpec::Ec { curve })
        }
        "oct" | "oct-HSM" => Ok(KeySpec::Aes {
            bits: req.key_size.unwrap_or(256),
        }),
        other => Err(ApiError::bad_parameter(format!(
            "unknown key type '{other}'"
        ))),
    }
}

/// Applies mhsm's `x-mhsm` request block (front-end attributes, new key only).
fn extension(opts: &mut KeyOptions, ext: Option<&KeyExtensionIn>) -> Result<(), ApiError> {
    if let Some(ext) = ext {
        for (attr, value) in &ext.extra {
            opts.extra.insert(attr.clone(), unb64(value, attr)?);
        }
        opts.new_key_only = ext.new_key_only;
    }
    Ok(())
}

/// The answer to a create or import: the extended bundle when the request had `x-mhsm`.
fn created_bundle(ctx: &Ctx, info: &hsm_core::key::KeyInfo, extended: bool) -> Value {
    if extended {
        json!(model::extended_bundle(ctx.host, info))
    } else {
        json!(model::key_bundle(ctx.host, info))
    }
}

/// `POST /keys/{name}/create`.
pub fn create(ctx: &Ctx, name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let req: CreateKeyIn = body(bytes)?;
    let spec = spec_of(&req)?;
    let mut opts = options(req.attributes, req.key_ops.as_deref())?;
    opts.tags = req.tags;
    opts.release_policy = policy_bytes(req.release_policy);
    extension(&mut opts, req.x_mhsm.as_ref())?;
    let info = ctx.pool.create_key(name, spec, &opts)?;
    Ok(created_bundle(ctx, &info, req.x_mhsm.is_some()))
}

fn field(jwk: &Option<String>, name: &str) -> Result<Vec<u8>, ApiError> {
    match jwk {
        Some(v) => unb64(v, name),
        None => Err(ApiError::bad_parameter(format!("the key has no '{name}'"))),
    }
}

fn secret(jwk: &Option<String>, name: &str) -> Result<SecretBytes, ApiError> {
    field(jwk, name).map(SecretBytes::new)
}

fn optional_secret(jwk: &Option<String>, name: &str) -> Result<Option<SecretBytes>, ApiError> {
    jwk.as_ref().map(|_| secret(jwk, name)).transpose()
}

fn material(key: &model::JwkIn) -> Result<KeyMaterial, ApiError> {
    match key.kty.as_str() {
        "RSA" | "RSA-HSM" => Ok(KeyMaterial::Rsa(RsaPrivateParts {
            n: field(&key.n, "n")?,
            e: field(&key.e, "e")?,
            d: secret(&key.d, "d")?,
            p: secret(&key.p, "p")?,
            q: secret(&key.q, "q")?,
            dp: optional_secret(&key.dp, "dp")?,
            dq: optional_secret(&key.dq, "dq")?,
            qi: optional_secret(&key.qi, "qi")?,
        })),
        "EC" | "EC-HSM" => {
            let curve = Curve::from_jwk_name(key.crv.as_deref().unwrap_or(""))?;
            Ok(KeyMaterial::Ec {
                curve,
                d: secret(&key.d, "d")?,
            })
        }
        "oct" | "oct-HSM" => Ok(KeyMaterial::Aes(secret(&key.k, "k")?)),
        other => Err(ApiError::bad_parameter(format!(
            "unknown key type '{other}'"
        ))),
    }
}

/// `PUT /keys/{name}`.
pub fn import(ctx: &Ctx, name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let req: ImportKeyIn = body(bytes)?;
    let material = material(&req.key)?;
    let mut opts = options(req.attributes, req.key.key_ops.as_deref())?;
    opts.tags = req.tags;
    opts.release_policy = policy_bytes(req.release_policy);
    extension(&mut opts, req.x_mhsm.as_ref())?;
    let info = ctx.pool.import_key(name, material, &opts)?;
    Ok(created_bundle(ctx, &info, req.x_mhsm.is_some()))
}

/// `GET /keys/{name}/{version}`.
pub fn get(ctx: &Ctx, name: &str, version: Option<&str>) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.get_key(name, version)?;
    Ok(model::key_bundle(ctx.host, &info))
}

/// `PATCH /keys/{name}/{version}`.
pub fn update(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let req: UpdateKeyIn = body(bytes)?;
    let a = req.attributes.unwrap_or_default();
    let update = KeyUpdate {
        ops: req.key_ops.as_deref().map(model::key_ops).transpose()?,
        enabled: a.enabled,
        not_before: a.nbf.map(|t| Some(UnixTime(t))),
        expires: a.exp.map(|t| Some(UnixTime(t))),
        exportable: a.exportable,
        tags: req.tags,
        release_policy: req.release_policy.map(|v| Some(v.to_string().into_bytes())),
    };
    let info = ctx.pool.update_key(name, version, &update)?;
    Ok(json!(model::key_bundle(ctx.host, &info)))
}

/// `DELETE /keys/{name}`.
pub fn delete(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let info = ctx.pool.delete_key(name)?;
    Ok(json!(model::deleted_bundle(ctx.host, &info)))
}

/// `POST /keys/{name}/rotate`.
pub fn rotate(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let info = ctx.pool.rotate_key(name)?;
    Ok(json!(model::key_bundle(ctx.host, &info)))
}

/// `POST /keys/{name}/backup`.
pub fn backup(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let blob = ctx.pool.backup_key(name)?;
    Ok(json!({ "value": b64(&blob) }))
}

/// `POST /keys/restore`.
pub fn restore(ctx: &Ctx, bytes: &[u8]) -> Result<Value, ApiError> {
    let req: ValueIn = body(bytes)?;
    let info = ctx.pool.restore_key(&unb64(&req.value, "value")?)?;
    Ok(json!(model::key_bundle(ctx.host, &info)))
}

/// The page request of `maxresults` and `$skiptoken`.
pub fn page_request(query: &[(String, String)]) -> Result<PageRequest, ApiError> {
    let mut req = PageRequest {
        max: Some(MAX_RESULTS),
        token: None,
    };
    for (k, v) in query {
        match k.as_str() {
            "maxresults" => {
                let n: usize = v
                    .parse()
                    .map_err(|_| ApiError::bad_parameter("maxresults must be a number"))?;
                if !(1..=MAX_RESULTS).contains(&n) {
                    return Err(ApiError::bad_parameter(format!(
                        "maxresults must be 1 to {MAX_RESULTS}"
                    )));
                }
                req.max = Some(n);
            }
            "$skiptoken" => req.token = Some(v.clone()),
            _ => {}
        }
    }
    Ok(req)
}

fn list_result<T: serde::Serialize>(
    ctx: &Ctx,
    path: &str,
    req: &PageRequest,
    page: Page<hsm_core::key::KeyInfo>,
    item: impl Fn(&hsm_core::key::KeyInfo) -> T,
) -> Value {
    let next_link = page.next.map(|token| {
        format!(
            "{}{path}?api-version={}&maxresults={}&$skiptoken={token}",
            model::base_url(ctx.host),
            ctx.api_version,
            req.max.unwrap_or(MAX_RESULTS)
        )
    });
    json!(ListResult {
        value: page.items.iter().map(item).collect(),
        next_link,
    })
}

/// `GET /keys`.
pub fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Value, ApiError> {
    let req = page_request(query)?;
    let page = ctx.pool.list_keys(&req)?;
    Ok(list_result(ctx, "/keys", &req, page, |i| {
        model::key_item(ctx.host, i, false)
    }))
}

/// `GET /keys/{name}/versions`.
pub fn list_versions(ctx: &Ctx, name: &str, query: &[(String, String)]) -> Result<Value, ApiError> {
    let req = page_request(query)?;
    let page = ctx.pool.list_versions(name, &req)?;
    let path = format!("/keys/{name}/versions");
    Ok(list_result(ctx, &path, &req, page, |i| {
        model::key_item(ctx.host, i, true)
    }))
}

/// `GET /deletedkeys`.
pub fn list_deleted(ctx: &Ctx, query: &[(String, String)]) -> Result<Value, ApiError> {
    let req = page_request(query)?;
    let page = ctx.pool.list_deleted_keys(&req)?;
    Ok(list_result(ctx, "/deletedkeys", &req, page, |i| {
        model::key_item(ctx.host, i, false)
    }))
}

/// `GET /deletedkeys/{name}`.
pub fn get_deleted(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let info = ctx.pool.get_deleted_key(name)?;
    Ok(json!(model::deleted_bundle(ctx.host, &info)))
}

/// `POST /deletedkeys/{name}/recover`.
pub fn recover(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let info = ctx.pool.recover_deleted_key(name)?;
    Ok(json!(model::key_bundle(ctx.host, &info)))
}

/// `DELETE /deletedkeys/{name}` (answered 204).
pub fn purge(ctx: &Ctx, name: &str) -> Result<(), ApiError> {
    ctx.pool.purge_deleted_key(name)?;
    Ok(())
}

/// The version a key operation uses: the one the path names, else the latest, looked up
/// first and then named to the operation, so the answer's `kid` names the version that did
/// it even if the key is rotated meanwhile. A named version needs no lookup for its `kid`:
/// the core finds keys and versions by their exact names.
fn version_used<'a>(
    ctx: &Ctx,
    name: &str,
    version: Option<&'a str>,
) -> Result<Cow<'a, str>, ApiError> {
    Ok(match version {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(ctx.pool.get_key(name, None)?.version),
    })
}

/// The answer of a key operation without an IV, tag or AAD.
fn result(ctx: &Ctx, name: &str, version: &str, value: &[u8]) -> KeyOperationResult {
    KeyOperationResult {
        aad: None,
        iv: None,
        kid: model::version_id(ctx.host, name, version),
        tag: None,
        value: b64_json(value),
    }
}

/// `POST /keys/{name}/{version}/sign`.
pub fn sign(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<KeyOperationResult, ApiError> {
    let req: SignIn = body(bytes)?;
    let alg = jwa::sign_algorithm(&req.alg)?;
    let input = unb64(&req.value, "value")?;
    let version = version_used(ctx, name, version)?;
    let sig = ctx.pool.sign(name, Some(&version), &alg, &input)?;
    Ok(result(ctx, name, &version, &sig))
}

/// `POST /keys/{name}/{version}/verify`.
pub fn verify(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let req: VerifyIn = body(bytes)?;
    let alg = jwa::sign_algorithm(&req.alg)?;
    let ok = ctx.pool.verify(
        name,
        version,
        &alg,
        &unb64(&req.digest, "digest")?,
        &unb64(&req.value, "value")?,
    )?;
    Ok(json!({ "value": ok }))
}

fn optional(v: &Option<String>, name: &str) -> Result<Option<Vec<u8>>, ApiError> {
    v.as_ref().map(|s| unb64(s, name)).transpose()
}

/// `POST /keys/{name}/{version}/encrypt`.
pub fn encrypt(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<KeyOperationResult, ApiError> {
    let req: CryptIn = body(bytes)?;
    let aad = optional(&req.aad, "aad")?;
    let alg = jwa::cipher_algorithm(&req.alg, optional(&req.iv, "iv")?, aad.clone())?;
    let plaintext = unb64(&req.value, "value")?;
    let version = version_used(ctx, name, version)?;
    let ct = ctx.pool.encrypt(name, Some(&version), &alg, &plaintext)?;
    let mut out = result(ctx, name, &version, &ct.data);
    out.iv = ct.iv.as_deref().map(b64_json);
    if let Some(tag) = &ct.tag {
        out.tag = Some(b64_json(tag));
        out.aad = aad.as_deref().map(b64_json);
    }
    Ok(out)
}

/// `POST /keys/{name}/{version}/decrypt`.
pub fn decrypt(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<KeyOperationResult, ApiError> {
    let req: CryptIn = body(bytes)?;
    let alg = jwa::cipher_algorithm(
        &req.alg,
        optional(&req.iv, "iv")?,
        optional(&req.aad, "aad")?,
    )?;
    let mut data = unb64(&req.value, "value")?;
    if let Some(tag) = optional(&req.tag, "tag")? {
        data.extend_from_slice(&tag);
    }
    let version = version_used(ctx, name, version)?;
    let plain = ctx.pool.decrypt(name, Some(&version), &alg, &data)?;
    Ok(result(ctx, name, &version, plain.expose_secret()))
}

/// `POST /keys/{name}/{version}/wrapkey`.
pub fn wrap(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<KeyOperationResult, ApiError> {
    let req: CryptIn = body(bytes)?;
    // A vendor OAEP name takes its label from `aad`.
    let alg = jwa::wrap_algorithm_with_aad(&req.alg, optional(&req.aad, "aad")?)?;
    let key = unb64(&req.value, "value")?;
    let version = version_used(ctx, name, version)?;
    let wrapped = ctx.pool.wrap_key(name, Some(&version), &alg, &key)?;
    Ok(result(ctx, name, &version, &wrapped))
}

/// `POST /keys/{name}/{version}/unwrapkey`.
pub fn unwrap(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<KeyOperationResult, ApiError> {
    let req: CryptIn = body(bytes)?;
    // A vendor OAEP name takes its label from `aad`.
    let alg = jwa::wrap_algorithm_with_aad(&req.alg, optional(&req.aad, "aad")?)?;
    let wrapped = unb64(&req.value, "value")?;
    let version = version_used(ctx, name, version)?;
    let key = ctx.pool.unwrap_key(name, Some(&version), &alg, &wrapped)?;
    Ok(result(ctx, name, &version, key.expose_secret()))
}

/// `POST /rng`.
pub fn rng(hsm: &hsm_core::Hsm, bytes: &[u8]) -> Result<Value, ApiError> {
    let req: RngIn = body(bytes)?;
    if !(1..=MAX_RNG).contains(&req.count) {
        return Err(ApiError::bad_parameter(format!(
            "count must be 1 to {MAX_RNG}"
        )));
    }
    let out = hsm.random(req.count as usize)?;
    Ok(json!({ "value": b64(&out) }))
}

/// The policy Azure shows for a key that has none.
fn default_rotation_policy(id: &str) -> Value {
    json!({
        "id": id,
        "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
        "attributes": {}
    })
}

fn rotation_policy_json(id: &str, p: &RotationPolicy) -> Value {
    let actions: Vec<Value> = p
        .lifetime_actions
        .iter()
        .map(|a| {
            let trigger = match &a.trigger {
                Trigger::AfterCreate(d) => json!({ "timeAfterCreate": d.as_str() }),
                Trigger::BeforeExpiry(d) => json!({ "timeBeforeExpiry": d.as_str() }),
            };
            let kind = match a.action {
                RotationAction::Rotate => "Rotate",
                RotationAction::Notify => "Notify",
            };
            json!({ "trigger": trigger, "action": { "type": kind } })
        })
        .collect();
    let mut attributes = json!({ "created": p.created.0, "updated": p.updated.0 });
    if let Some(exp) = &p.expiry_time {
        attributes["expiryTime"] = json!(exp.as_str());
    }
    json!({ "id": id, "lifetimeActions": actions, "attributes": attributes })
}

fn parse_rotation_policy(bytes: &[u8]) -> Result<RotationPolicy, ApiError> {
    let v: Value = body(bytes)?;
    let bad = |m: &str| ApiError::bad_parameter(format!("rotation policy: {m}"));
    let mut lifetime_actions = Vec::new();
    for a in v["lifetimeActions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let t = &a["trigger"];
        let trigger = match (
            t["timeAfterCreate"].as_str(),
            t["timeBeforeExpiry"].as_str(),
        ) {
            (Some(d), None) => Trigger::AfterCreate(IsoDuration::parse(d)?),
            (None, Some(d)) => Trigger::BeforeExpiry(IsoDuration::parse(d)?),
            _ => {
                return Err(bad(
                    "each trigger has exactly one of timeAfterCreate and timeBeforeExpiry",
                ));
            }
        };
        let action = match a["action"]["type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("rotate") => RotationAction::Rotate,
            Some("notify") => RotationAction::Notify,
            _ => return Err(bad("action.type is Rotate or Notify")),
        };
        lifetime_actions.push(LifetimeAction { trigger, action });
    }
    let expiry_time = match v["attributes"]["expiryTime"].as_str() {
        Some(d) => Some(IsoDuration::parse(d)?),
        None => None,
    };
    Ok(RotationPolicy {
        lifetime_actions,
        expiry_time,
        created: UnixTime(0),
        updated: UnixTime(0),
    })
}

/// `GET /keys/{name}/rotationpolicy`.
pub fn get_rotation_policy(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let info = ctx.pool.get_key(name, None)?;
    let id = format!("{}/keys/{name}/rotationpolicy", model::base_url(ctx.host));
    Ok(match &info.rotation_policy {
        Some(p) => rotation_policy_json(&id, p),
        None => default_rotation_policy(&id),
    })
}

/// `PUT /keys/{name}/rotationpolicy`.
pub fn set_rotation_policy(ctx: &Ctx, name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let policy = parse_rotation_policy(bytes)?;
    let info = ctx.pool.set_rotation_policy(name, Some(policy))?;
    let id = format!("{}/keys/{name}/rotationpolicy", model::base_url(ctx.host));
    match &info.rotation_policy {
        Some(p) => Ok(rotation_policy_json(&id, p)),
        None => Ok(default_rotation_policy(&id)),
    }
}

/// `GET /keys/{name}/{version}/attestation`: the key bundle with an attestation block.
/// mhsm has no hardware to attest; the block says so.
pub fn attestation(ctx: &Ctx, name: &str, version: Option<&str>) -> Result<Value, ApiError> {
    let info = ctx.pool.get_key(name, version)?;
    let mut bundle = json!(model::key_bundle(ctx.host, &info));
    bundle["attestation"] = json!({ "version": "mhsm-1.0" });
    Ok(bundle)
}
