//! mhsm's extension API under `/x-mhsm/pkcs11/` (`docs/REMOTE.md`): what a PKCS#11 module in
//! remote mode needs beyond the standard key API (the pool's generation, extended key
//! bundles and front-end attributes, ECDH, export, documents, PINs, clearing the pool).
//!
//! Reached from `app::route` after the same checks as every route; each route here names
//! its data action and scope through the caller's `allow`, once. PINs and key material
//! pass through in request and answer bodies only: never in messages or logs.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use hsm_core::pin::{PinPolicy, PinRole};
use hsm_core::rbac::{DataAction as A, Scope};
use hsm_core::{KeyRef, document};
use mhsm_wire::key::{KeyBundle, SecretValue, ValueBody};
use mhsm_wire::pkcs11::{
    DocumentBody, DocumentList, ExtraValue, GenerationState, KeySnapshot, PinBody, PinPolicyBody,
    PinsBody, Removed, WrapStored,
};

use super::{Request, Routed, body, key_scope, no_content, ok, version};
use crate::error::ApiError;

/// The role of a path segment the route matched as `user` or `so`.
fn role(name: &str) -> PinRole {
    if name == "so" {
        PinRole::So
    } else {
        PinRole::User
    }
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", what)
}

/// The extension's table: `/x-mhsm/pkcs11/{segments...}`.
pub fn route(req: &Request, segments: &[&str]) -> Routed {
    let ["x-mhsm", "pkcs11", rest @ ..] = segments else {
        return Ok(None);
    };
    let (pool, allow) = (req.ctx.pool, req.allow);
    let response = match (req.method.clone(), rest) {
        (Method::GET, ["state"]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            ok(GenerationState {
                generation: pool.generation(),
            })
        }
        (_, ["keys", ..]) => keys(req, rest)?,
        (_, ["documents", ..]) => documents(req, rest)?,
        (_, ["pins", ..]) => pins(req, rest)?,
        (Method::POST, ["clear"]) => {
            allow(A::PurgeDeletedKey, &Scope::Keys)?;
            ok(Removed {
                removed: pool.clear()?,
            })
        }
        _ => return Err(req.no_route()),
    };
    Ok(Some(response))
}

/// `keys/...`: the key snapshot, one extended bundle, front-end attributes, ECDH, export,
/// wrapping one stored key under another.
fn keys(req: &Request, rest: &[&str]) -> Result<Response, ApiError> {
    let (pool, host, allow, bytes) = (req.ctx.pool, req.ctx.host, req.allow, req.body);
    let key = key_scope;
    let response = match (req.method.clone(), rest) {
        (Method::GET, ["keys"] | ["keys", ""]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            let (generation, keys) = pool.snapshot_keys()?;
            let keys = keys
                .iter()
                .map(|info| KeyBundle::extended(host, info))
                .collect();
            ok(KeySnapshot { generation, keys })
        }
        (Method::GET, ["keys", name]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(KeyBundle::extended(host, &pool.get_key(name, None)?))
        }
        (Method::PUT, ["keys", name, "extra", attr]) => {
            allow(A::WriteKey, &key(name)?)?;
            let value = body::<ExtraValue>(bytes)?.bytes()?;
            let info = pool.set_key_extra(name, attr, value.as_deref())?;
            ok(KeyBundle::extended(host, &info))
        }
        (Method::POST, ["keys", name, v, "derive"]) => {
            allow(A::Derive, &key(name)?)?;
            let peer = body::<ValueBody>(bytes)?.bytes()?;
            let secret = pool.derive_ecdh(name, version(v), &peer)?;
            ok(SecretValue::of(secret.expose_secret()))
        }
        (Method::POST, ["keys", name, v, "export"]) => {
            allow(A::ExportKey, &key(name)?)?;
            let (_, material) = pool.export_key(name, version(v))?;
            ok(SecretValue::of_material(&material)?)
        }
        (Method::POST, ["keys", name, v, "wrapstored"]) => {
            let req: WrapStored = body(bytes)?;
            // Wrapping needs the wrapping key's wrap action; the target leaves the HSM, so
            // its export action too.
            allow(A::ExportKey, &key(&req.target)?)?;
            allow(A::Wrap, &key(name)?)?;
            let wrapping = KeyRef {
                name,
                version: version(v),
            };
            let target = KeyRef {
                name: &req.target,
                version: req.target_version(),
            };
            let wrapped = pool.wrap_stored_key(wrapping, &req.algorithm()?, target)?;
            ok(ValueBody::of(&wrapped))
        }
        _ => return Err(req.no_route()),
    };
    Ok(response)
}

/// `documents/...`: a pool's front-end documents, by kind.
fn documents(req: &Request, rest: &[&str]) -> Result<Response, ApiError> {
    let (pool, allow, bytes) = (req.ctx.pool, req.allow, req.body);
    let response = match (req.method.clone(), rest) {
        (Method::GET, ["documents", kind] | ["documents", kind, ""]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            let documents = pool
                .list_documents(kind)?
                .iter()
                .map(|(id, value)| DocumentBody::of(id, value))
                .collect();
            ok(DocumentList { documents })
        }
        (Method::GET, ["documents", kind, id]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            match pool.get_document(kind, id)? {
                Some(value) => ok(DocumentBody::of(id, &value)),
                None => return Err(not_found(format!("no document {kind}/{id}"))),
            }
        }
        (Method::PUT, ["documents", kind, id]) => {
            allow(A::WriteKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            let value = body::<DocumentBody>(bytes)?.bytes()?;
            pool.put_document(kind, id, value.expose_secret())?;
            no_content()
        }
        (Method::DELETE, ["documents", kind, id]) => {
            allow(A::DeleteKey, &Scope::Keys)?;
            document::check_front_end_kind(kind)?;
            if !pool.delete_document(kind, id)? {
                return Err(not_found(format!("no document {kind}/{id}")));
            }
            no_content()
        }
        _ => return Err(req.no_route()),
    };
    Ok(response)
}

/// `pins/...`: the PIN policy and status, setting and verifying a PIN.
fn pins(req: &Request, rest: &[&str]) -> Result<Response, ApiError> {
    let (pool, allow, bytes) = (req.ctx.pool, req.allow, req.body);
    let response = match (req.method.clone(), rest) {
        (Method::GET, ["pins"]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            ok(PinsBody {
                policy: pool.pin_policy()?.into(),
                so: pool.pin_status(PinRole::So)?.into(),
                user: pool.pin_status(PinRole::User)?.into(),
            })
        }
        (Method::PUT, ["pins", "policy"]) => {
            allow(A::WriteKey, &Scope::Keys)?;
            let policy: PinPolicyBody = body(bytes)?;
            pool.set_pin_policy(&PinPolicy::from(policy))?;
            no_content()
        }
        (Method::PUT, ["pins", who @ ("user" | "so")]) => {
            allow(A::WriteKey, &Scope::Keys)?;
            let pin = body::<PinBody>(bytes)?.pin()?;
            pool.set_pin(role(who), pin.expose_secret())?;
            no_content()
        }
        (Method::POST, ["pins", who @ ("user" | "so"), "verify"]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            let pin = body::<PinBody>(bytes)?.pin()?;
            pool.verify_pin(role(who), pin.expose_secret())?;
            no_content()
        }
        _ => return Err(req.no_route()),
    };
    Ok(response)
}
