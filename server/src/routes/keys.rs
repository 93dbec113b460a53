//! The key routes: keys and versions, deleted keys, a key's backup and restore, rotation
//! policies, random bytes. The key operations are in [`super::key_ops`].

use axum::http::Method;
use hsm_core::key::KeyInfo;
use hsm_core::names::{Page, PageRequest};
use hsm_core::rbac::{DataAction as A, Scope};
use mhsm_wire::key::{
    KeyBundle, KeyCreate, KeyImport, KeyItem, KeyUpdateParameters, ListResult, RandomRequest,
    RotationPolicyBody, ValueBody,
};
use serde_json::json;

use super::{Ctx, Request, Routed, body, key_scope, no_content, ok, version};
use crate::error::ApiError;

/// Azure's largest page.
const MAX_RESULTS: usize = 25;

/// The key routes' table.
pub fn route(req: &Request, segments: &[&str]) -> Routed {
    let (ctx, allow, bytes, query) = (&req.ctx, req.allow, req.body, req.query);
    let key = key_scope;
    let response = match (req.method.clone(), segments) {
        (Method::GET, ["keys", name, "rotationpolicy"]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(get_rotation_policy(ctx, name)?)
        }
        (Method::PUT, ["keys", name, "rotationpolicy"]) => {
            allow(A::WriteKey, &key(name)?)?;
            ok(set_rotation_policy(ctx, name, bytes)?)
        }
        (Method::GET, ["keys", name, v, "attestation"]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(attestation(ctx, name, version(v))?)
        }
        (Method::POST, ["rng"]) => {
            allow(A::Random, &Scope::All)?;
            ok(rng(req.hsm, bytes)?)
        }
        (Method::GET, ["keys"] | ["keys", ""]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            ok(list(ctx, query)?)
        }
        (Method::POST, ["keys", "restore"]) => {
            allow(A::RestoreKey, &Scope::Keys)?;
            ok(restore(ctx, bytes)?)
        }
        (Method::PUT, ["keys", name]) => {
            allow(A::ImportKey, &key(name)?)?;
            ok(import(ctx, name, bytes)?)
        }
        (Method::DELETE, ["keys", name]) => {
            allow(A::DeleteKey, &key(name)?)?;
            ok(delete(ctx, name)?)
        }
        (Method::GET, ["keys", name]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(get(ctx, name, None)?)
        }
        (Method::POST, ["keys", name, "create"]) => {
            allow(A::CreateKey, &key(name)?)?;
            ok(create(ctx, name, bytes)?)
        }
        (Method::POST, ["keys", name, "rotate"]) => {
            allow(A::RotateKey, &key(name)?)?;
            ok(rotate(ctx, name)?)
        }
        (Method::POST, ["keys", name, "backup"]) => {
            allow(A::BackupKey, &key(name)?)?;
            ok(backup(ctx, name)?)
        }
        (Method::GET, ["keys", name, "versions"]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(list_versions(ctx, name, query)?)
        }
        (Method::GET, ["keys", name, v]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(get(ctx, name, version(v))?)
        }
        (Method::PATCH, ["keys", name, v]) => {
            allow(A::WriteKey, &key(name)?)?;
            ok(update(ctx, name, version(v), bytes)?)
        }
        (Method::GET, ["deletedkeys"] | ["deletedkeys", ""]) => {
            allow(A::ReadDeletedKey, &Scope::Keys)?;
            ok(list_deleted(ctx, query)?)
        }
        (Method::GET, ["deletedkeys", name]) => {
            allow(A::ReadDeletedKey, &key(name)?)?;
            ok(get_deleted(ctx, name)?)
        }
        (Method::DELETE, ["deletedkeys", name]) => {
            allow(A::PurgeDeletedKey, &key(name)?)?;
            ctx.pool.purge_deleted_key(name)?;
            no_content()
        }
        (Method::POST, ["deletedkeys", name, "recover"]) => {
            allow(A::RecoverDeletedKey, &key(name)?)?;
            ok(recover(ctx, name)?)
        }
        _ => return Ok(None),
    };
    Ok(Some(response))
}

/// The answer to a create or import: the extended bundle when the request had `x-mhsm`.
fn created_bundle(ctx: &Ctx, info: &KeyInfo, extended: bool) -> KeyBundle {
    if extended {
        KeyBundle::extended(ctx.host, info)
    } else {
        KeyBundle::of(ctx.host, info)
    }
}

/// `POST /keys/{name}/create`.
pub fn create(ctx: &Ctx, name: &str, bytes: &[u8]) -> Result<KeyBundle, ApiError> {
    let req: KeyCreate = body(bytes)?;
    let (spec, opts) = req.to_core()?;
    let info = ctx.pool.create_key(name, spec, &opts)?;
    Ok(created_bundle(ctx, &info, req.x_mhsm.is_some()))
}

/// `PUT /keys/{name}`.
pub fn import(ctx: &Ctx, name: &str, bytes: &[u8]) -> Result<KeyBundle, ApiError> {
    let req: KeyImport = body(bytes)?;
    let (material, opts) = req.to_core()?;
    let info = ctx.pool.import_key(name, material, &opts)?;
    Ok(created_bundle(ctx, &info, req.x_mhsm.is_some()))
}

/// `GET /keys/{name}/{version}`.
pub fn get(ctx: &Ctx, name: &str, version: Option<&str>) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.get_key(name, version)?;
    Ok(KeyBundle::of(ctx.host, &info))
}

/// `PATCH /keys/{name}/{version}`.
pub fn update(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    bytes: &[u8],
) -> Result<KeyBundle, ApiError> {
    let update = body::<KeyUpdateParameters>(bytes)?.to_core()?;
    let info = ctx.pool.update_key(name, version, &update)?;
    Ok(KeyBundle::of(ctx.host, &info))
}

/// `DELETE /keys/{name}`.
pub fn delete(ctx: &Ctx, name: &str) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.delete_key(name)?;
    Ok(KeyBundle::deleted(ctx.host, &info))
}

/// `POST /keys/{name}/rotate`.
pub fn rotate(ctx: &Ctx, name: &str) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.rotate_key(name)?;
    Ok(KeyBundle::of(ctx.host, &info))
}

/// `POST /keys/{name}/backup`.
pub fn backup(ctx: &Ctx, name: &str) -> Result<ValueBody, ApiError> {
    Ok(ValueBody::of(&ctx.pool.backup_key(name)?))
}

/// `POST /keys/restore`.
pub fn restore(ctx: &Ctx, bytes: &[u8]) -> Result<KeyBundle, ApiError> {
    let blob = body::<ValueBody>(bytes)?.bytes()?;
    let info = ctx.pool.restore_key(&blob)?;
    Ok(KeyBundle::of(ctx.host, &info))
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

fn list_result(
    ctx: &Ctx,
    path: &str,
    req: &PageRequest,
    page: Page<KeyInfo>,
    item: impl Fn(&KeyInfo) -> KeyItem,
) -> ListResult<KeyItem> {
    let next_link = page.next.map(|token| {
        format!(
            "https://{}{path}?api-version={}&maxresults={}&$skiptoken={token}",
            ctx.host,
            ctx.api_version,
            req.max.unwrap_or(MAX_RESULTS)
        )
    });
    ListResult {
        next_link,
        value: page.items.iter().map(item).collect(),
    }
}

/// `GET /keys`.
pub fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<ListResult<KeyItem>, ApiError> {
    let req = page_request(query)?;
    let page = ctx.pool.list_keys(&req)?;
    Ok(list_result(ctx, "/keys", &req, page, |i| {
        KeyItem::of(ctx.host, i, false)
    }))
}

/// `GET /keys/{name}/versions`.
pub fn list_versions(
    ctx: &Ctx,
    name: &str,
    query: &[(String, String)],
) -> Result<ListResult<KeyItem>, ApiError> {
    let req = page_request(query)?;
    let page = ctx.pool.list_versions(name, &req)?;
    let path = format!("/keys/{name}/versions");
    Ok(list_result(ctx, &path, &req, page, |i| {
        KeyItem::of(ctx.host, i, true)
    }))
}

/// `GET /deletedkeys`.
pub fn list_deleted(
    ctx: &Ctx,
    query: &[(String, String)],
) -> Result<ListResult<KeyItem>, ApiError> {
    let req = page_request(query)?;
    let page = ctx.pool.list_deleted_keys(&req)?;
    Ok(list_result(ctx, "/deletedkeys", &req, page, |i| {
        KeyItem::of(ctx.host, i, false)
    }))
}

/// `GET /deletedkeys/{name}`.
pub fn get_deleted(ctx: &Ctx, name: &str) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.get_deleted_key(name)?;
    Ok(KeyBundle::deleted(ctx.host, &info))
}

/// `POST /deletedkeys/{name}/recover`.
pub fn recover(ctx: &Ctx, name: &str) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.recover_deleted_key(name)?;
    Ok(KeyBundle::of(ctx.host, &info))
}

/// `POST /rng`.
pub fn rng(hsm: &hsm_core::Hsm, bytes: &[u8]) -> Result<ValueBody, ApiError> {
    let count = body::<RandomRequest>(bytes)?.to_core()?;
    Ok(ValueBody::of(&hsm.random(count)?))
}

fn rotation_policy_id(ctx: &Ctx, name: &str) -> String {
    format!("https://{}/keys/{name}/rotationpolicy", ctx.host)
}

/// `GET /keys/{name}/rotationpolicy`.
pub fn get_rotation_policy(ctx: &Ctx, name: &str) -> Result<RotationPolicyBody, ApiError> {
    let info = ctx.pool.get_key(name, None)?;
    let id = rotation_policy_id(ctx, name);
    Ok(RotationPolicyBody::of(id, info.rotation_policy.as_ref()))
}

/// `PUT /keys/{name}/rotationpolicy`.
pub fn set_rotation_policy(
    ctx: &Ctx,
    name: &str,
    bytes: &[u8],
) -> Result<RotationPolicyBody, ApiError> {
    let policy = body::<RotationPolicyBody>(bytes)?.to_core()?;
    let info = ctx.pool.set_rotation_policy(name, Some(policy))?;
    let id = rotation_policy_id(ctx, name);
    Ok(RotationPolicyBody::of(id, info.rotation_policy.as_ref()))
}

/// `GET /keys/{name}/{version}/attestation`: the key bundle with an attestation block.
/// mhsm has no hardware to attest; the block says so.
pub fn attestation(ctx: &Ctx, name: &str, version: Option<&str>) -> Result<KeyBundle, ApiError> {
    let info = ctx.pool.get_key(name, version)?;
    Ok(KeyBundle {
        attestation: Some(json!({ "version": "mhsm-1.0" })),
        ..KeyBundle::of(ctx.host, &info)
    })
}
