//! A request's path from the socket to the answer: the edge's checks, the body read once
//! (a key operation's parsed once, before placement), the route run where it belongs, and
//! the access log.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use hsm_core::rbac::{DataAction as A, Scope};
use tracing::Instrument;
use tracing::field::Empty;

use super::edge::{Edge, is_status_url, query_pairs};
use super::placement::{Placement, placement};
use super::{API_VERSIONS, AppState, BODY_LIMIT};
use crate::access_log::Operation;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::key_ops::OpBody;

/// Every request comes here: checks, then routes by method and path segments (by hand, so
/// that `/keys/{name}/` and `/keys/{name}//attestation` route as the SDK sends them).
pub(super) async fn dispatch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let edge = Edge::read(&state, &parts);
    let span = request_span(&parts.method, parts.uri.path(), edge.pool.as_deref());
    let handled = handle(&state, &parts, &edge, body)
        .instrument(span.clone())
        .await;
    let entered = span.enter();
    let mut response = match handled {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && parts.version < Version::HTTP_2 {
        // The rest of the body was not read, so an HTTP/1 connection cannot carry another
        // request: say so, or a client reusing it gets a broken pipe. (HTTP/2 ends only the
        // stream, and forbids the header: with it the client sees a framing error instead
        // of the 413.)
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let latency = started.elapsed();
    let (method, path) = (&parts.method, parts.uri.path());
    tracing::debug!(%method, %path, status = response.status().as_u16(), micros = latency.as_micros() as u64, "request");
    drop(entered);
    if let Some(pool) = edge.pool.as_deref()
        && !path.starts_with("/mhsm/")
        && let Some(days) = access_log_days(&state, pool)
    {
        let operation = response
            .extensions_mut()
            .remove::<Operation>()
            .unwrap_or_default();
        let principal = match &edge.principal {
            Some(Ok(p)) => p.clone(),
            _ => Principal::anonymous(),
        };
        let record = AccessRecord {
            pool: pool.to_string(),
            principal,
            client,
            request: format!("{method} {path}"),
            operation,
            status: response.status().as_u16(),
            latency,
        };
        // The line is written (a file append, now and then a new file and old ones pruned)
        // on the blocking pool, never on the async worker; answered once it is written.
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || record.write(&state, days)).await;
    }
    response
}

/// One span per request: pool, method and path now; the data action, key and version
/// when the route knows them (`app::route`, `routes::key_ops`). Never bodies, tokens or
/// query strings.
pub(super) fn request_span(method: &Method, path: &str, pool: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(
        "request",
        pool = Empty,
        method = %method,
        path = %path,
        action = Empty,
        key = Empty,
        version = Empty,
    );
    if let Some(pool) = pool {
        span.record("pool", pool);
    }
    span
}

/// The days the pool keeps its access log, if it has it on (a read of its settings).
fn access_log_days(state: &AppState, pool_name: &str) -> Option<u32> {
    state.hsm.pool(pool_name).ok()?.access_log_policy().ok()?
}

/// A request as its pool's access log records it.
struct AccessRecord {
    pool: String,
    principal: Principal,
    client: SocketAddr,
    /// `{method} {path}`.
    request: String,
    operation: Operation,
    status: u16,
    latency: Duration,
}

impl AccessRecord {
    /// Writes the line into the pool's access log.
    fn write(mut self, state: &AppState, days: u32) {
        if self.operation.version.is_none() {
            // `/keys/{name}/{version}/...`: the version, when the path names one.
            let path = self.request.split_once(' ').map_or("", |(_, p)| p);
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            if let ["keys", _, v, ..] = segments.as_slice()
                && hsm_core::names::validate_version(v)
            {
                self.operation.version = Some(v.to_string());
            }
        }
        state.access_log.record(
            state.hsm.now().0,
            days,
            &crate::access_log::Entry {
                pool: &self.pool,
                principal: &self.principal,
                ip: Some(self.client.ip()),
                method: &self.request,
                operation: &self.operation,
                status: self.status,
                latency_ms: self.latency.as_secs_f64() * 1000.0,
            },
        );
    }
}

/// A request past the edge's checks, as [`super::route::route`] takes it.
pub(super) struct Call<'a> {
    pub pool: &'a str,
    pub host: &'a str,
    pub api_version: &'a str,
    pub method: &'a Method,
    pub path: &'a str,
    pub segments: &'a [&'a str],
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
    /// A key operation's body, parsed once at the edge.
    pub op: Option<&'a Result<OpBody, ApiError>>,
    pub principal: &'a Principal,
}

/// Routes a call and answers, the error included, with what the route recorded for the
/// access log in the response's extensions.
fn answer(state: &AppState, call: &Call) -> Response {
    let operation = RefCell::new(Operation::default());
    let mut response = match super::route::route(state, call, &operation) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(operation.into_inner());
    response
}

/// The 500 of a route whose thread failed.
fn failed() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "the request failed",
    )
}

/// How much of an oversized HTTP/2 request body is read and dropped before its 413: h2
/// resets a stream whose request is still arriving once the response is queued, and the
/// reset can overtake the response (the client then sees a framing error, not the 413).
/// A body larger still is cut off at this point.
const DRAIN_LIMIT: usize = 16 * BODY_LIMIT;

/// The body, up to [`BODY_LIMIT`] (413 beyond it). Over HTTP/1 the rest of an oversized
/// body is left unread (the response closes the connection); over HTTP/2 it is read and
/// dropped up to [`DRAIN_LIMIT`], so that the 413 reaches the client.
async fn read_body(mut body: Body, version: Version) -> Result<Bytes, ApiError> {
    use axum::body::HttpBody;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadParameter",
            format!("the request body exceeds {BODY_LIMIT} bytes"),
        )
    };
    let drain = version >= Version::HTTP_2;
    // The frames as they come: one (the common case) is the body, with no copy.
    let mut kept: Vec<Bytes> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let Ok(data) = frame
            .map_err(|_| ApiError::bad_parameter("the request body could not be read"))?
            .into_data()
        else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= BODY_LIMIT {
            kept.push(data);
        } else if !drain || seen > DRAIN_LIMIT {
            return Err(too_large());
        }
    }
    if seen > BODY_LIMIT {
        return Err(too_large());
    }
    Ok(match <[Bytes; 1]>::try_from(kept) {
        Ok([body]) => body,
        Err(frames) => Bytes::from(frames.concat()),
    })
}

/// The api-version asked for (status URLs are polled without one), checked.
fn api_version<'a>(query: &'a [(String, String)], path: &str) -> Result<&'a str, ApiError> {
    let api_version = match query.iter().find(|(k, _)| k == "api-version") {
        Some((_, v)) => v.as_str(),
        None if is_status_url(path) => API_VERSIONS[0],
        None => {
            return Err(ApiError::bad_parameter(
                "the api-version query parameter is missing",
            ));
        }
    };
    if API_VERSIONS.contains(&api_version) {
        return Ok(api_version);
    }
    if newer_than_known(api_version) {
        // Answered as the newest known; echoed as asked (in `nextLink` and status URLs).
        note_newer_version(api_version);
        return Ok(api_version);
    }
    Err(ApiError::bad_parameter(format!(
        "api-version '{api_version}' is not supported (use one of {}, or a later date)",
        API_VERSIONS.join(", ")
    )))
}

/// Whether `v` is a dated api-version (`YYYY-MM-DD`, or with a `-preview` suffix) later than
/// the newest known.
fn newer_than_known(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    // Same shape as the newest known: the later date sorts later.
    shaped && date > API_VERSIONS[0]
}

/// Logs once per version (up to a few: a client cannot grow the set) that a version newer
/// than the newest known is answered as the newest.
fn note_newer_version(v: &str) {
    static NOTED: parking_lot::Mutex<Vec<String>> = parking_lot::Mutex::new(Vec::new());
    let mut noted = NOTED.lock();
    if noted.len() < 16 && !noted.iter().any(|n| n == v) {
        noted.push(v.to_string());
        tracing::warn!(
            api_version = v,
            answered_as = API_VERSIONS[0],
            "api-version newer than the newest known: answered as the newest"
        );
    }
}

async fn handle(
    state: &Arc<AppState>,
    parts: &axum::http::request::Parts,
    edge: &Edge,
    body: Body,
) -> Result<Response, ApiError> {
    let host = edge
        .host
        .as_deref()
        .ok_or_else(|| ApiError::bad_parameter("the request has no Host"))?;
    let path = parts.uri.path();
    if state.standard_api_only && (path.starts_with("/mhsm/") || path.starts_with("/x-mhsm/")) {
        return Err(ApiError::no_route(parts.method.as_str(), path));
    }
    if let Some(rest) = path.strip_prefix("/mhsm/") {
        return manage(state, parts, edge, body, rest).await;
    }
    let pool_name = edge.pool.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no pool is served at {host}"),
        )
    })?;
    let query = query_pairs(parts.uri.query());
    let api_version = api_version(&query, path)?;
    let principal = edge.principal(state)?;
    let bytes = read_body(body, parts.version).await?;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let op = OpBody::parse(&parts.method, &segments, &bytes);
    let placement = placement(&parts.method, op.as_ref());
    if placement == Placement::Inline {
        // Due purges and rotations write: they run first, on the blocking pool, so the read
        // sees their result and the worker never writes.
        if state.hsm.maintenance_due(pool_name) {
            super::start::maintain(&state.hsm).await;
        }
        return Ok(answer(
            state,
            &Call {
                pool: pool_name,
                host,
                api_version,
                method: &parts.method,
                path,
                segments: &segments,
                query: &query,
                body: &bytes,
                op: op.as_ref(),
                principal,
            },
        ));
    }
    let (shared, pool_name, host, api_version, method, path, principal) = (
        state.clone(),
        pool_name.to_string(),
        host.to_string(),
        api_version.to_string(),
        parts.method.clone(),
        path.to_string(),
        principal.clone(),
    );
    let span = tracing::Span::current();
    let work = move || {
        let _entered = span.enter();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        answer(
            &shared,
            &Call {
                pool: &pool_name,
                host: &host,
                api_version: &api_version,
                method: &method,
                path: &path,
                segments: &segments,
                query: &query,
                body: &bytes,
                op: op.as_ref(),
                principal: &principal,
            },
        )
    };
    let answered = match placement {
        Placement::Compute => state.compute.run(work).await,
        _ => tokio::task::spawn_blocking(work).await.ok(),
    };
    answered.ok_or_else(failed)
}

/// The management API (`/mhsm/...`): host-independent, bearer token required; when the
/// default pool is strict, only its administrators may use it.
async fn manage(
    state: &Arc<AppState>,
    parts: &axum::http::request::Parts,
    edge: &Edge,
    body: Body,
    rest: &str,
) -> Result<Response, ApiError> {
    let principal = edge.principal(state)?.clone();
    let bytes = read_body(body, parts.version).await?;
    let state = state.clone();
    let method = parts.method.clone();
    let rest = rest.to_string();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let default = state.hsm.pool(&state.default_pool)?;
        hsm_core::rbac::authorize(
            &default,
            principal.object_id.as_deref(),
            A::WriteRoleDefinition,
            &Scope::All,
        )?;
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let (status, value) = crate::routes::pools::route(
            &state.hsm,
            state.clock.as_ref(),
            &method,
            &segments,
            &bytes,
        )?;
        Ok(match value {
            Some(v) => (status, axum::Json(v)).into_response(),
            None => status.into_response(),
        })
    })
    .await
    .map_err(|_| failed())?
}
