//! The key operations: `POST /keys/{name}/{version}/{sign|verify|encrypt|decrypt|wrapkey|
//! unwrapkey}`. The edge parses their bodies ([`OpBody::parse`]) before it places them
//! (the `alg` decides where the work runs), and the route takes that parse: each body is
//! parsed once.

use axum::http::Method;
use axum::response::Response;
use hsm_core::ResolvedKey;
use hsm_core::key::KeyOperation;
use hsm_core::rbac::DataAction as A;
use mhsm_wire::b64_json;
use mhsm_wire::key::{
    KeyOperationRequest, KeyOperationResult, SignRequest, VerifyRequest, VerifyResult, version_id,
};

use super::{Ctx, Request, Routed, body, key_scope, ok, version};
use crate::error::ApiError;

/// A key operation's body, parsed once.
pub enum OpBody {
    /// `sign`.
    Sign(SignRequest),
    /// `verify`.
    Verify(VerifyRequest),
    /// `encrypt`.
    Encrypt(KeyOperationRequest),
    /// `decrypt`.
    Decrypt(KeyOperationRequest),
    /// `wrapkey`.
    Wrap(KeyOperationRequest),
    /// `unwrapkey`.
    Unwrap(KeyOperationRequest),
}

impl OpBody {
    /// The body of a key operation request, when `segments` name one
    /// (`keys/{name}/{version}/{op}`); `None` for any other request.
    pub fn parse(
        method: &Method,
        segments: &[&str],
        bytes: &[u8],
    ) -> Option<Result<OpBody, ApiError>> {
        if *method != Method::POST {
            return None;
        }
        let ["keys", _, _, op] = segments else {
            return None;
        };
        Some(match *op {
            "sign" => body(bytes).map(OpBody::Sign),
            "verify" => body(bytes).map(OpBody::Verify),
            "encrypt" => body(bytes).map(OpBody::Encrypt),
            "decrypt" => body(bytes).map(OpBody::Decrypt),
            "wrapkey" => body(bytes).map(OpBody::Wrap),
            "unwrapkey" => body(bytes).map(OpBody::Unwrap),
            _ => return None,
        })
    }

    /// The data action the operation needs.
    fn action(&self) -> A {
        match self {
            OpBody::Sign(_) => A::Sign,
            OpBody::Verify(_) => A::Verify,
            OpBody::Encrypt(_) => A::Encrypt,
            OpBody::Decrypt(_) => A::Decrypt,
            OpBody::Wrap(_) => A::Wrap,
            OpBody::Unwrap(_) => A::Unwrap,
        }
    }
}

/// The data action of an operation's path segment.
fn action_of(op: &str) -> Option<A> {
    Some(match op {
        "sign" => A::Sign,
        "verify" => A::Verify,
        "encrypt" => A::Encrypt,
        "decrypt" => A::Decrypt,
        "wrapkey" => A::Wrap,
        "unwrapkey" => A::Unwrap,
        _ => return None,
    })
}

/// The key operations' table. The RBAC check comes before the body's errors, as on every
/// route.
pub fn route(req: &Request, segments: &[&str]) -> Routed {
    let ["keys", name, v, op] = segments else {
        return Ok(None);
    };
    if *req.method != Method::POST {
        return Ok(None);
    }
    let Some(action) = action_of(op) else {
        return Ok(None);
    };
    (req.allow)(action, &key_scope(name)?)?;
    let parsed;
    let op_body = match req.op {
        Some(done) => done,
        None => {
            // Not parsed at the edge (a direct call): parse here, still once.
            parsed = OpBody::parse(req.method, segments, req.body).ok_or_else(|| req.no_route())?;
            &parsed
        }
    };
    let op_body = op_body.as_ref().map_err(Clone::clone)?;
    debug_assert_eq!(op_body.action(), action);
    run(&req.ctx, name, version(v), op_body).map(Some)
}

fn run(ctx: &Ctx, name: &str, version: Option<&str>, op: &OpBody) -> Result<Response, ApiError> {
    Ok(match op {
        OpBody::Sign(req) => ok(sign(ctx, name, version, req)?),
        OpBody::Verify(req) => ok(verify(ctx, name, version, req)?),
        OpBody::Encrypt(req) => ok(encrypt(ctx, name, version, req)?),
        OpBody::Decrypt(req) => ok(decrypt(ctx, name, version, req)?),
        OpBody::Wrap(req) => ok(wrap(ctx, name, version, req)?),
        OpBody::Unwrap(req) => ok(unwrap(ctx, name, version, req)?),
    })
}

/// The key version for one operation, resolved once by the core (the named version, or the
/// latest): the answer's `kid` names the version that did the work, even if the key is
/// rotated meanwhile. Recorded in the request's span.
fn resolve(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    op: KeyOperation,
) -> Result<ResolvedKey, ApiError> {
    let key = ctx.pool.resolve_key(name, version, op)?;
    tracing::Span::current().record("version", key.version());
    Ok(key)
}

/// The answer of a key operation without an IV, tag or AAD.
fn result(ctx: &Ctx, name: &str, version: &str, value: &[u8]) -> KeyOperationResult {
    KeyOperationResult::new(version_id(ctx.host, name, version), value)
}

/// `POST /keys/{name}/{version}/sign`.
pub fn sign(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    req: &SignRequest,
) -> Result<KeyOperationResult, ApiError> {
    let (alg, input) = req.to_core()?;
    let key = resolve(ctx, name, version, KeyOperation::Sign)?;
    let sig = key.sign(&alg, &input)?;
    Ok(result(ctx, name, key.version(), &sig))
}

/// `POST /keys/{name}/{version}/verify`.
pub fn verify(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    req: &VerifyRequest,
) -> Result<VerifyResult, ApiError> {
    let (alg, digest, signature) = req.to_core()?;
    let value = ctx.pool.verify(name, version, &alg, &digest, &signature)?;
    Ok(VerifyResult { value })
}

/// `POST /keys/{name}/{version}/encrypt`.
pub fn encrypt(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    req: &KeyOperationRequest,
) -> Result<KeyOperationResult, ApiError> {
    let (alg, plaintext, aad) = req.encrypt_input()?;
    let key = resolve(ctx, name, version, KeyOperation::Encrypt)?;
    let ct = key.encrypt(&alg, plaintext.expose_secret())?;
    let mut out = result(ctx, name, key.version(), &ct.data);
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
    req: &KeyOperationRequest,
) -> Result<KeyOperationResult, ApiError> {
    let (alg, data) = req.decrypt_input()?;
    let key = resolve(ctx, name, version, KeyOperation::Decrypt)?;
    let plain = key.decrypt(&alg, &data)?;
    Ok(result(ctx, name, key.version(), plain.expose_secret()))
}

/// `POST /keys/{name}/{version}/wrapkey`.
pub fn wrap(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    req: &KeyOperationRequest,
) -> Result<KeyOperationResult, ApiError> {
    let (alg, key) = req.wrap_input()?;
    let resolved = resolve(ctx, name, version, KeyOperation::WrapKey)?;
    let wrapped = resolved.wrap(&alg, key.expose_secret())?;
    Ok(result(ctx, name, resolved.version(), &wrapped))
}

/// `POST /keys/{name}/{version}/unwrapkey`.
pub fn unwrap(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    req: &KeyOperationRequest,
) -> Result<KeyOperationResult, ApiError> {
    let (alg, wrapped) = req.wrap_input()?;
    let resolved = resolve(ctx, name, version, KeyOperation::UnwrapKey)?;
    let key = resolved.unwrap(&alg, wrapped.expose_secret())?;
    Ok(result(ctx, name, resolved.version(), key.expose_secret()))
}
