//! mhsm's extension API under `/x-mhsm/pkcs11/` (`docs/REMOTE.md`): what a PKCS#11 module in
//! remote mode needs beyond the standard key API (the pool's generation, extended key
//! bundles and front-end attributes, ECDH, export, documents, PINs, clearing the pool).
//!
//! Reached from `app::route` after the same checks as every route; each route here names
//! its data action and scope through the caller's `allow`, once. PINs and key material
//! pass through in request and answer bodies only: never in messages or logs.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hsm_core::crypto::KeyMaterial;
use hsm_core::document;
use hsm_core::pin::{PinPolicy, PinRole, PinStatus};
use hsm_core::rbac::{DataAction as A, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::keys::{Ctx, body};
use crate::model::{self, ValueIn, b64, unb64};

/// The RBAC check of the calling route: records the action and key, then authorizes.
pub type Allow<'a> = dyn Fn(A, &Scope) -> Result<(), ApiError> + 'a;

/// `{"value": b64url | null}`.
#[derive(Deserialize)]
struct OptionalValueIn {
    value: Option<String>,
}

/// `{"pin": b64url}`.
#[derive(Deserialize)]
struct PinIn {
    pin: String,
}

/// The PIN policy as the extension shows and takes it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyJson {
    min_len: usize,
    max_len: usize,
    max_failures: u32,
}

impl From<PinPolicy> for PolicyJson {
    fn from(p: PinPolicy) -> PolicyJson {
        PolicyJson {
            min_len: p.min_len,
            max_len: p.max_len,
            max_failures: p.max_failures,
        }
    }
}

fn status_json(s: PinStatus) -> Value {
    json!({
        "initialized": s.initialized,
        "failures": s.failures,
        "locked": s.locked,
        "remaining": s.remaining,
    })
}

/// The role of a path segment the route matched as `user` or `so`.
fn role(name: &str) -> PinRole {
    if name == "so" {
        PinRole::So
    } else {
        PinRole::User
    }
}

fn ok(v: Value) -> Result<Response, ApiError> {
    Ok(axum::Json(v).into_response())
}

fn no_content() -> Result<Response, ApiError> {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", what)
}

fn version(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

/// The material of an exported key as the answer carries it: PKCS#8 DER for RSA and EC
/// private keys (`KeyMaterial::from_pkcs8_der` reads it back), the raw key for AES
/// (`KeyMaterial::Aes`).
fn export_bytes(material: &KeyMaterial) -> Result<hsm_core::SecretBytes, ApiError> {
    Ok(match material {
        KeyMaterial::Aes(k) => k.duplicate(),
        KeyMaterial::Rsa(_) | KeyMaterial::Ec { .. } => material.to_pkcs8_der()?,
    })
}

/// Routes `/x-mhsm/pkcs11/{segments...}`.
pub fn route(
    ctx: &Ctx,
    method: &Method,
    segments: &[&str],
    bytes: &[u8],
    allow: &Allow,
) -> Result<Response, ApiError> {
    let pool = ctx.pool;
    let key = |name: &str| -> Result<Scope, ApiError> { Ok(Scope::key(name)?) };
    match (method.clone(), segments) {
        (Method::GET, ["state"]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            ok(json!({ "generation": pool.generation() }))
        }
        (Method::GET, ["keys"] | ["keys", ""]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            let (generation, keys) = pool.snapshot_keys()?;
            let keys: Vec<_> = keys
                .iter()
                .map(|info| model::extended_bundle(ctx.host, info))
                .collect();
            ok(json!({ "generation": generation, "keys": keys }))
        }
        (Method::GET, ["keys", name]) => {
            allow(A::ReadKey, &key(name)?)?;
            let info = pool.get_key(name, None)?;
            ok(json!(model::extended_bundle(ctx.host, &info)))
        }
        (Method::PUT, ["keys", name, "extra", attr]) => {
            allow(A::WriteKey, &key(name)?)?;
            let req: OptionalValueIn = body(bytes)?;
            let value = req.value.map(|v| unb64(&v, "value")).transpose()?;
            let info = pool.set_key_extra(name, attr, value.as_deref())?;
            ok(json!(model::extended_bundle(ctx.host, &info)))
        }
        (Method::POST, ["keys", name, v, "derive"]) => {
            allow(A::Derive, &key(name)?)?;
            let req: ValueIn = body(bytes)?;
            let secret = pool.derive_ecdh(name, version(v), &unb64(&req.value, "value")?)?;
            ok(json!({ "value": b64(secret.expose_secret()) }))
        }
        (Method::POST, ["keys", name, v, "export"]) => {
            allow(A::ExportKey, &key(name)?)?;
            let (_, material) = pool.export_key(name, version(v))?;
            let bytes = export_bytes(&material)?;
            ok(json!({ "value": b64(bytes.expose_secret()) }))
        }
        (Method::GET, ["documents", kind] | ["documents", kind, ""]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            let docs: Vec<Value> = pool
                .list_documents(kind)?
                .iter()
                .map(|(id, value)| json!({ "id": id, "value": b64(value) }))
                .collect();
            ok(json!({ "documents": docs }))
        }
        (Method::GET, ["documents", kind, id]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            match pool.get_document(kind, id)? {
                Some(value) => ok(json!({ "id": id, "value": b64(&value) })),
                None => Err(not_found(format!("no document {kind}/{id}"))),
            }
        }
        (Method::PUT, ["documents", kind, id]) => {
            allow(A::WriteKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            let req: ValueIn = body(bytes)?;
            pool.put_document(kind, id, &unb64(&req.value, "value")?)?;
            no_content()
        }
        (Method::DELETE, ["documents", kind, id]) => {
            allow(A::DeleteKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            if pool.delete_document(kind, id)? {
                no_content()
            } else {
                Err(not_found(format!("no document {kind}/{id}")))
            }
        }
        (Method::GET, ["pins"]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            ok(json!({
                "policy": PolicyJson::from(pool.pin_policy()?),
                "user": status_json(pool.pin_status(PinRole::User)?),
                "so": status_json(pool.pin_status(PinRole::So)?),
            }))
        }
        (Method::PUT, ["pins", "policy"]) => {
            allow(A::WriteKey, &Scope::Keys)?;
            let p: PolicyJson = body(bytes)?;
            pool.set_pin_policy(&PinPolicy {
                min_len: p.min_len,
                max_len: p.max_len,
                max_failures: p.max_failures,
            })?;
            no_content()
        }
        (Method::PUT, ["pins", who @ ("user" | "so")]) => {
            allow(A::WriteKey, &Scope::Keys)?;
            let req: PinIn = body(bytes)?;
            let pin = hsm_core::SecretBytes::new(unb64(&req.pin, "pin")?);
            pool.set_pin(role(who), pin.expose_secret())?;
            no_content()
        }
        (Method::POST, ["pins", who @ ("user" | "so"), "verify"]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            let req: PinIn = body(bytes)?;
            let pin = hsm_core::SecretBytes::new(unb64(&req.pin, "pin")?);
            pool.verify_pin(role(who), pin.expose_secret())?;
            no_content()
        }
        (Method::POST, ["clear"]) => {
            allow(A::PurgeDeletedKey, &Scope::Keys)?;
            ok(json!({ "removed": pool.clear()? }))
        }
        _ => Err(ApiError::no_route(
            method.as_str(),
            &format!("/x-mhsm/pkcs11/{}", segments.join("/")),
        )),
    }
}
