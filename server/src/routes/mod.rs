//! The routes, one table per resource: each matches its paths by method and segments,
//! names its RBAC data action and scope through [`Request::allow`], parses its body once
//! into its [`mhsm_wire`] type, calls the core, and answers with a wire type. No rule of
//! the domain here.
//!
//! - [`keys`]: keys, versions, deleted keys, backups of a key, rotation policies, random
//!   bytes. [`key_ops`]: the key operations (sign, verify, encrypt, decrypt, wrap, unwrap),
//!   whose bodies the edge parses before it places them ([`key_ops::OpBody`]).
//! - [`rbac`]: role definitions and assignments. [`settings`]: pool settings.
//!   [`jobs`]: full backup and restore, selective key restore.
//! - [`pkcs11_ext`]: mhsm's extension for the PKCS#11 module (`/x-mhsm/pkcs11/`).
//! - [`pools`]: pool management (`/mhsm/`), also behind the `mhsm pool` commands.

pub mod jobs;
pub mod key_ops;
pub mod keys;
pub mod pkcs11_ext;
pub mod pools;
pub mod rbac;
pub mod settings;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hsm_core::rbac::{DataAction, Scope};
use hsm_core::{Hsm, Pool};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses a JSON body into its wire type (once: the handler that needs it does).
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

/// The RBAC check of a route: records the action and key (access log, tracing span), then
/// authorizes.
pub type Allow<'a> = dyn Fn(DataAction, &Scope) -> Result<(), ApiError> + 'a;

/// A request past the edge's checks, as the route tables take it.
pub struct Request<'a> {
    /// Pool, host, api-version.
    pub ctx: Ctx<'a>,
    /// The HSM (random bytes, jobs).
    pub hsm: &'a Hsm,
    /// The method.
    pub method: &'a Method,
    /// The path.
    pub path: &'a str,
    /// The decoded query pairs.
    pub query: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
    /// A key operation's body, parsed at the edge.
    pub op: Option<&'a Result<key_ops::OpBody, ApiError>>,
    /// The RBAC check.
    pub allow: &'a Allow<'a>,
    /// What the jobs need.
    pub jobs: jobs::JobCtx<'a>,
}

impl Request<'_> {
    /// The 404 of a path no table routes.
    pub fn no_route(&self) -> ApiError {
        ApiError::no_route(self.method.as_str(), self.path)
    }
}

/// What a table answers: `Ok(None)` when none of its routes matches.
pub type Routed = Result<Option<Response>, ApiError>;

/// A 200 answer with a JSON body, serialized straight from `value`.
pub fn ok(value: impl serde::Serialize) -> Response {
    axum::Json(value).into_response()
}

/// A 201 answer with a JSON body.
pub fn created(value: impl serde::Serialize) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

/// A 204 answer.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The scope of one key.
pub fn key_scope(name: &str) -> Result<Scope, ApiError> {
    Ok(Scope::key(name)?)
}

/// A version segment: empty (`/keys/{name}/`) means the latest.
pub fn version(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}
