//! The HTTP edge: pool from `Host`, api-version, bearer challenge and principal, body limit,
//! routing, and the local RBAC check of every route.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hsm_core::crypto::{CipherAlgorithm, Curve, SignAlgorithm, jwa};
use hsm_core::names::Tags;
use hsm_core::rbac::{DataAction as A, Scope};
use hsm_core::time::OffsetClock;
use hsm_core::{Hsm, HsmConfig, PoolSettings};

use crate::access_log::{AccessLog, Operation};
use crate::auth::{Principal, TokenPolicy};
use crate::compute::ComputePool;
use crate::error::ApiError;
use crate::jobs::{self, JobCtx, Jobs};
use crate::keys::{self, Ctx};
use crate::{pkcs11_ext, rbac, settings, tls};

/// api-versions accepted (the SDK's default first).
pub const API_VERSIONS: &[&str] = &["2025-07-01", "7.6", "7.5", "7.4", "7.3", "7.2"];
/// The largest request body (1 MiB).
pub const BODY_LIMIT: usize = 1 << 20;
/// The tenant named in the bearer challenge.
pub const TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Extra DNS names: `{pool}.{domain}` addresses a pool, `{domain}` the default pool.
    pub domains: Vec<String>,
    /// The pool addressed by `127.0.0.1`, `localhost` and the bare domains (created if missing).
    pub default_pool: String,
    /// Serve plain HTTP instead of HTTPS (the Azure SDK refuses it).
    pub insecure_http: bool,
    /// The resource named in the bearer challenge (default `https://localhost:{port}`).
    pub resource: Option<String>,
    /// Offer test hooks (the time shift of `POST /mhsm/time-shift`).
    pub test_hooks: bool,
    /// How bearer tokens are checked.
    pub tokens: TokenPolicy,
    /// Serve only what Azure Managed HSM serves: no `/mhsm/` management API and no
    /// `/x-mhsm/` extension (to try clients, such as the PKCS#11 module, as they would run
    /// against the real service).
    pub standard_api_only: bool,
    /// The crypto provider by name (`aws-lc`, `rustcrypto`); `None`: `MHSM_CRYPTO_PROVIDER`,
    /// else the build's default.
    pub crypto_provider: Option<String>,
}

impl ServeConfig {
    /// Embedded defaults: `./mhsm-data`, `127.0.0.1:8443`, pool `default`, HTTPS.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            domains: Vec::new(),
            default_pool: "default".into(),
            insecure_http: false,
            resource: None,
            test_hooks: false,
            tokens: TokenPolicy::Unchecked,
            standard_api_only: false,
            crypto_provider: None,
        }
    }
}

/// What every request shares.
pub struct AppState {
    hsm: Hsm,
    domains: Vec<String>,
    default_pool: String,
    challenge: HeaderValue,
    tokens: TokenPolicy,
    data_dir: PathBuf,
    jobs: Arc<Jobs>,
    /// The shiftable clock, when test hooks are on.
    clock: Option<OffsetClock>,
    access_log: AccessLog,
    /// See [`ServeConfig::standard_api_only`].
    standard_api_only: bool,
    /// The threads for long computations ([`Placement::Compute`]): one per core.
    compute: ComputePool,
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The base URL of the default pool.
    pub url: String,
    /// The CA certificate to trust (None over plain HTTP).
    pub ca_path: Option<PathBuf>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    maintenance: tokio::task::JoinHandle<()>,
    discovery: Discovery,
}

/// The file in the data directory that tells other processes a server holds it.
pub const DISCOVERY_FILE: &str = "server.json";

/// `server.json` while the server runs: written whole (a temporary file renamed over it, so
/// a reader never sees half of it), removed when dropped, so every way the server stops
/// short of a crash (`shutdown` after SIGINT or SIGTERM, an error, a dropped `Running`)
/// takes it away.
struct Discovery(PathBuf);

impl Discovery {
    fn write(data_dir: &std::path::Path, info: &serde_json::Value) -> Result<Discovery> {
        let path = data_dir.join(DISCOVERY_FILE);
        let tmp = data_dir.join(format!("{DISCOVERY_FILE}.{}.tmp", std::process::id()));
        let written = std::fs::write(&tmp, serde_json::to_vec_pretty(info)?)
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.with_context(|| format!("writing {}", path.display()))?;
        Ok(Discovery(path))
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to 10 s), and waits.
    /// `server.json` goes first, so no new client is sent to a server that is stopping.
    pub async fn shutdown(self) -> Result<()> {
        drop(self.discovery);
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
        let served = self.task.await.context("server task");
        // The timer holds the HSM (and so the data directory's lock): stop it too.
        self.maintenance.abort();
        let _ = self.maintenance.await;
        served??;
        Ok(())
    }
}

/// Opens the HSM, makes the default pool and the TLS identity if missing, and starts serving.
pub async fn start(config: ServeConfig) -> Result<Running> {
    let clock = OffsetClock::new();
    let mut hsm_config = HsmConfig::new(&config.data_dir).clock(Arc::new(clock.clone()));
    if let Some(name) = &config.crypto_provider {
        hsm_config = hsm_config.provider(hsm_core::crypto::provider_by_name(name)?);
    }
    let hsm = Hsm::open(hsm_config)
        .with_context(|| format!("opening the data directory {}", config.data_dir.display()))?;
    if hsm.get_pool(&config.default_pool).is_err() {
        hsm.create_pool(&config.default_pool, PoolSettings::default(), Tags::new())
            .with_context(|| format!("creating the pool '{}'", config.default_pool))?;
        tracing::info!(pool = %config.default_pool, "created the default pool");
    }
    let identity = if config.insecure_http {
        None
    } else {
        Some(tls::load_or_create(
            &hsm,
            &config.data_dir,
            &config.domains,
        )?)
    };

    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("binding {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let resource = config
        .resource
        .clone()
        .unwrap_or_else(|| format!("https://localhost:{}", addr.port()));
    let challenge = HeaderValue::from_str(&format!(
        "Bearer authorization=\"https://login.microsoftonline.com/{TENANT}\", resource=\"{resource}\""
    ))
    .context("the challenge resource must be a plain URL")?;
    let state = Arc::new(AppState {
        hsm,
        domains: config.domains.clone(),
        default_pool: config.default_pool.clone(),
        challenge,
        tokens: config.tokens.clone(),
        data_dir: config.data_dir.clone(),
        jobs: Arc::new(Jobs::default()),
        clock: config.test_hooks.then_some(clock),
        access_log: AccessLog::new(&config.data_dir),
        standard_api_only: config.standard_api_only,
        compute: ComputePool::new(cores()).context("starting the compute threads")?,
    });
    let maintenance = spawn_maintenance(state.hsm.clone());
    let app = Router::new().fallback(dispatch).with_state(state);
    let handle = axum_server::Handle::new();
    // TCP_NODELAY: an answer goes out as soon as it is written, never held back waiting for
    // the client's ACK of an earlier segment (Nagle's algorithm beside delayed ACKs).
    let nodelay = axum_server::accept::NoDelayAcceptor::new();
    let task = match &identity {
        Some(id) => {
            let rustls = axum_server::tls_rustls::RustlsConfig::from_config(id.config.clone());
            let server = axum_server::from_tcp_rustls(listener, rustls)?
                .map(|tls| tls.acceptor(nodelay))
                .handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service_with_connect_info::<SocketAddr>()))
        }
        None => {
            let server = axum_server::from_tcp(listener)?
                .acceptor(nodelay)
                .handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service_with_connect_info::<SocketAddr>()))
        }
    };
    let scheme = if identity.is_some() { "https" } else { "http" };
    let host = if addr.ip().is_loopback() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let url = format!("{scheme}://{host}");
    let ca_path = identity.map(|i| i.ca_path);
    // Tell other processes (the `mhsm pool` commands, the PKCS#11 module) where to reach us.
    let info = serde_json::json!({ "url": url, "ca": ca_path, "pid": std::process::id() });
    let discovery = Discovery::write(&config.data_dir, &info)?;
    Ok(Running {
        addr,
        url,
        ca_path,
        handle,
        task,
        maintenance,
        discovery,
    })
}

/// The cores this process may use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How often due purges and policy rotations are looked for when no request comes.
const MAINTENANCE_PERIOD: Duration = Duration::from_secs(5);

/// Runs the core's maintenance (purges past retention, rotations by policy) on a timer, so
/// they happen on schedule even when nobody calls.
fn spawn_maintenance(hsm: Hsm) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(MAINTENANCE_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let hsm = hsm.clone();
            match tokio::task::spawn_blocking(move || hsm.maintain()).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "maintenance failed"),
                Err(_) => tracing::warn!("maintenance panicked"),
                Ok(Ok(())) => {}
            }
        }
    })
}

/// Long-running-operation status URLs, which the SDK polls without an api-version.
fn is_status_url(path: &str) -> bool {
    let s: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    matches!(s.as_slice(), ["backup" | "restore", _, "pending"])
}

/// The pool a `Host` addresses: `{pool}.localhost`, `{pool}.{domain}`, or the default pool
/// for loopback addresses, `localhost` and the bare domains. Hosts are compared without case
/// (clients lowercase them), so the name is the pool's as created when one matches.
fn pool_for_host(state: &AppState, host: &str) -> Option<String> {
    let name = host_pool(state, host)?;
    Some(
        state
            .hsm
            .name_in_use(name)
            .unwrap_or_else(|| name.to_string()),
    )
}

/// The pool name a `Host` carries, as written.
fn host_pool<'a>(state: &'a AppState, host: &'a str) -> Option<&'a str> {
    let name = match host.rsplit_once(':') {
        // An IPv6 literal is bracketed; a port follows the last colon otherwise.
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    let name = name.trim_end_matches('.');
    if matches!(name, "127.0.0.1" | "localhost" | "[::1]")
        || state.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
    {
        return Some(&state.default_pool);
    }
    if let Some(pool) = name.strip_suffix(".localhost") {
        return Some(pool);
    }
    state.domains.iter().find_map(|d| {
        name.len()
            .checked_sub(d.len() + 1)
            .filter(|&cut| name[cut..].eq_ignore_ascii_case(&format!(".{d}")))
            .map(|cut| &name[..cut])
    })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// What the edge reads of a request once, for routing and for the access log.
struct Edge {
    /// `Host`, else the URI's authority.
    host: Option<String>,
    /// The pool the host addresses ([`pool_for_host`]).
    pool: Option<String>,
    /// The caller: `None` without a bearer token, an error for a token the policy refuses.
    principal: Option<Result<Principal, ApiError>>,
}

impl Edge {
    fn read(state: &AppState, parts: &axum::http::request::Parts) -> Edge {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()));
        let pool = host.as_deref().and_then(|h| pool_for_host(state, h));
        let principal = bearer(&parts.headers).map(|t| state.tokens.principal(&state.hsm, t));
        Edge {
            host,
            pool,
            principal,
        }
    }

    /// The caller, or the 401 (with the challenge when there is no token).
    fn principal(&self, state: &AppState) -> Result<&Principal, ApiError> {
        match &self.principal {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(e.clone()),
            None => {
                let mut e = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "AKV10000: Request is missing a Bearer or PoP token.",
                );
                e.challenge = Some(state.challenge.clone());
                Err(e)
            }
        }
    }
}

/// Every request comes here: checks, then routes by method and path segments (by hand, so
/// that `/keys/{name}/` and `/keys/{name}//attestation` route as the SDK sends them).
async fn dispatch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let edge = Edge::read(&state, &parts);
    let mut response = match handle(&state, &parts, &edge, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read, so the connection cannot carry another
        // request: say so, or a client reusing it gets a broken pipe.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let latency = started.elapsed();
    let (method, path) = (&parts.method, parts.uri.path());
    tracing::debug!(%method, %path, status = response.status().as_u16(), micros = latency.as_micros() as u64, "request");
    if let Some(pool) = edge.pool.as_deref()
        && !path.starts_with("/mhsm/")
    {
        let operation = response
            .extensions_mut()
            .remove::<Operation>()
            .unwrap_or_default();
        let anonymous = Principal::anonymous();
        let principal = match &edge.principal {
            Some(Ok(p)) => p,
            _ => &anonymous,
        };
        log_access(
            &state,
            pool,
            principal,
            client,
            method,
            path,
            operation,
            response.status().as_u16(),
            latency,
        );
    }
    response
}

/// Writes the request into the pool's access log, if the pool has it on.
#[allow(clippy::too_many_arguments)]
fn log_access(
    state: &AppState,
    pool_name: &str,
    principal: &Principal,
    client: SocketAddr,
    method: &Method,
    path: &str,
    mut operation: Operation,
    status: u16,
    latency: Duration,
) {
    let Ok(pool) = state.hsm.pool(pool_name) else {
        return;
    };
    let Ok(Some(days)) = pool.access_log_policy() else {
        return;
    };
    if operation.version.is_none() {
        // `/keys/{name}/{version}/...`: the version, when the path names one.
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ["keys", _, v, ..] = segments.as_slice()
            && hsm_core::names::validate_version(v)
        {
            operation.version = Some(v.to_string());
        }
    }
    state.access_log.record(
        state.hsm.now().0,
        days,
        &crate::access_log::Entry {
            pool: pool_name,
            principal,
            ip: Some(client.ip()),
            method: &format!("{method} {path}"),
            operation: &operation,
            status,
            latency_ms: latency.as_secs_f64() * 1000.0,
        },
    );
}

/// Where a route's work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// On the async worker that read the request: reads of memory (every GET) and the key
    /// operations, which compute for microseconds. Handing such work to another thread
    /// costs more than the work (a thread wake-up each way).
    Inline,
    /// On the compute threads ([`ComputePool`], one per core): operations of 100 us or more,
    /// which would stall every other connection on the worker (inline) or crowd out the
    /// workers (the blocking pool). Measured through the core (aws-lc), one thread: RSA-2048
    /// sign 0.86 ms (3072: 2.8 ms), ES384 sign/verify 0.13/0.29 ms, ES512 0.28/0.57 ms;
    /// inline stay ES256 (0.03/0.09 ms), ES256K (0.05/0.09 ms), RSA public-key operations
    /// (0.03-0.05 ms) and AES.
    Compute,
    /// On the blocking pool: everything else, which may write durably (fsync).
    Blocking,
}

/// Where a request's route runs (see [`Placement`]), by the key operation and its `alg` (the
/// body is only peeked at for it). A body that does not parse is refused by the route, which
/// runs inline; so does a vendor ECDSA name that leaves the curve to the key.
fn placement(method: &Method, path: &str, body: &[u8]) -> Placement {
    if *method == Method::GET {
        return Placement::Inline;
    }
    if *method != Method::POST {
        return Placement::Blocking;
    }
    let mut segments = path.trim_start_matches('/').split('/');
    let operation = match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some("keys"), Some(_), Some(_), Some(op), None) => op,
        _ => return Placement::Blocking,
    };
    #[derive(serde::Deserialize)]
    struct Alg<'a> {
        #[serde(borrow)]
        alg: std::borrow::Cow<'a, str>,
    }
    let alg = || {
        serde_json::from_slice::<Alg>(body)
            .map(|a| a.alg)
            .unwrap_or_default()
    };
    let long_signature = |private: bool| match jwa::sign_algorithm(&alg()) {
        Ok(
            SignAlgorithm::RsaPkcs1v15 { .. }
            | SignAlgorithm::RsaPss { .. }
            | SignAlgorithm::RsaRaw,
        ) => private,
        Ok(SignAlgorithm::Ecdsa {
            curve: Some(Curve::P384 | Curve::P521),
            ..
        }) => true,
        _ => false,
    };
    let long = match operation {
        "encrypt" | "wrapkey" => false,
        "sign" => long_signature(true),
        "verify" => long_signature(false),
        "decrypt" => matches!(
            jwa::cipher_algorithm(&alg(), None, None),
            Ok(CipherAlgorithm::RsaPkcs1v15
                | CipherAlgorithm::RsaRaw
                | CipherAlgorithm::RsaOaep { .. })
        ),
        "unwrapkey" => jwa::wrap_algorithm(&alg()).is_ok_and(|w| w.as_rsa_cipher().is_some()),
        _ => return Placement::Blocking,
    };
    if long {
        Placement::Compute
    } else {
        Placement::Inline
    }
}

/// A request past the edge's checks, as [`route`] takes it.
struct Call<'a> {
    pool: &'a str,
    host: &'a str,
    api_version: &'a str,
    method: &'a Method,
    path: &'a str,
    query: &'a [(String, String)],
    body: &'a [u8],
    principal: &'a Principal,
}

/// Routes a call and answers, the error included, with what the route recorded for the
/// access log in the response's extensions.
fn answer(state: &AppState, call: &Call) -> Response {
    let operation = RefCell::new(Operation::default());
    let mut response = match route(state, call, &operation) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(operation.into_inner());
    response
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
    let api_version = match query.iter().find(|(k, _)| k == "api-version") {
        Some((_, v)) => v.as_str(),
        None if is_status_url(path) => API_VERSIONS[0],
        None => {
            return Err(ApiError::bad_parameter(
                "the api-version query parameter is missing",
            ));
        }
    };
    if !API_VERSIONS.contains(&api_version) {
        return Err(ApiError::bad_parameter(format!(
            "api-version '{api_version}' is not supported (use one of {})",
            API_VERSIONS.join(", ")
        )));
    }
    let principal = edge.principal(state)?;
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadParameter",
            format!("the request body exceeds {BODY_LIMIT} bytes"),
        )
    })?;
    let call = Call {
        pool: pool_name,
        host,
        api_version,
        method: &parts.method,
        path,
        query: &query,
        body: &bytes,
        principal,
    };
    let placement = placement(&parts.method, path, &bytes);
    if placement == Placement::Inline {
        return Ok(answer(state, &call));
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
    let work = move || {
        answer(
            &shared,
            &Call {
                pool: &pool_name,
                host: &host,
                api_version: &api_version,
                method: &method,
                path: &path,
                query: &query,
                body: &bytes,
                principal: &principal,
            },
        )
    };
    let answered = match placement {
        Placement::Compute => state.compute.run(work).await,
        _ => tokio::task::spawn_blocking(work).await.ok(),
    };
    answered.ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the request failed",
        )
    })
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
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadParameter",
            format!("the request body exceeds {BODY_LIMIT} bytes"),
        )
    })?;
    let state = state.clone();
    let method = parts.method.clone();
    let rest = rest.to_string();
    tokio::task::spawn_blocking(move || {
        let default = state.hsm.pool(&state.default_pool)?;
        hsm_core::rbac::authorize(
            &default,
            principal.object_id.as_deref(),
            A::WriteRoleDefinition,
            &Scope::All,
        )?;
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let (status, value) =
            crate::pools::route(&state.hsm, state.clock.as_ref(), &method, &segments, &bytes)?;
        Ok(match value {
            Some(v) => (status, axum::Json(v)).into_response(),
            None => status.into_response(),
        })
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the request failed",
        )
    })?
}

/// A 200 answer with a JSON body, serialized straight from `value` (the hot routes' typed
/// answers skip `serde_json::Value`, a map of owned strings built only to be printed).
fn json(value: impl serde::Serialize) -> Result<Response, ApiError> {
    Ok(axum::Json(value).into_response())
}

fn route(
    state: &AppState,
    call: &Call,
    operation: &RefCell<Operation>,
) -> Result<Response, ApiError> {
    let Call {
        pool: pool_name,
        host,
        api_version,
        method,
        path,
        query,
        body,
        principal,
    } = *call;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ok = |v: serde_json::Value| Ok(axum::Json(v).into_response());
    let created = |v: serde_json::Value| Ok((StatusCode::CREATED, axum::Json(v)).into_response());
    let pool = state.hsm.pool(pool_name)?;
    // Local RBAC: each route below names its data action and scope, once, in this call.
    let allow = |action: A, scope: &Scope| -> Result<(), ApiError> {
        {
            let mut op = operation.borrow_mut();
            op.action = Some(action.name());
            if let Scope::Key(name) = scope {
                op.key = Some(name.clone());
            }
        }
        Ok(hsm_core::rbac::authorize(
            &pool,
            principal.object_id.as_deref(),
            action,
            scope,
        )?)
    };
    let key = |name: &str| -> Result<Scope, ApiError> { Ok(Scope::key(name)?) };
    let ctx = Ctx {
        pool: &pool,
        host,
        api_version,
    };
    let job_ctx = JobCtx {
        hsm: &state.hsm,
        jobs: &state.jobs,
        data_dir: &state.data_dir,
        pool: pool_name,
        host,
        api_version,
    };
    let version = |v: &str| {
        if v.is_empty() {
            None
        } else {
            Some(v.to_string())
        }
    };
    const P: &str = "providers";
    const AUTHZ: &str = "Microsoft.Authorization";
    // RBAC paths carry a scope (`/`, `/keys`, `/keys/{name}`) before `providers`, so they
    // are matched before the key routes.
    match (method.clone(), segments.as_slice()) {
        // mhsm's extension API, behind the same checks; it names its own actions.
        (_, ["x-mhsm", "pkcs11", rest @ ..]) => {
            if let ["keys", _, v, _] = rest
                && hsm_core::names::validate_version(v)
            {
                operation.borrow_mut().version = Some(v.to_string());
            }
            pkcs11_ext::route(&ctx, method, rest, body, &allow)
        }
        (
            Method::GET,
            [s @ .., P, AUTHZ, "roleDefinitions"] | [s @ .., P, AUTHZ, "roleDefinitions", ""],
        ) => {
            let scope = rbac::scope(s)?;
            allow(A::ReadRoleDefinition, &scope)?;
            ok(rbac::list_definitions(&pool, &scope, query)?)
        }
        (Method::GET, [s @ .., P, AUTHZ, "roleDefinitions", name]) => {
            let scope = rbac::scope(s)?;
            allow(A::ReadRoleDefinition, &scope)?;
            ok(rbac::get_definition(&pool, &scope, name)?)
        }
        (Method::PUT, [s @ .., P, AUTHZ, "roleDefinitions", name]) => {
            let scope = rbac::scope(s)?;
            allow(A::WriteRoleDefinition, &scope)?;
            created(rbac::set_definition(&pool, &scope, name, body)?)
        }
        (Method::DELETE, [s @ .., P, AUTHZ, "roleDefinitions", name]) => {
            let scope = rbac::scope(s)?;
            allow(A::DeleteRoleDefinition, &scope)?;
            ok(rbac::delete_definition(&pool, &scope, name)?)
        }
        (
            Method::GET,
            [s @ .., P, AUTHZ, "roleAssignments"] | [s @ .., P, AUTHZ, "roleAssignments", ""],
        ) => {
            let scope = rbac::scope(s)?;
            allow(A::ReadRoleAssignment, &scope)?;
            ok(rbac::list_assignments(&pool, &scope, query)?)
        }
        (Method::GET, [s @ .., P, AUTHZ, "roleAssignments", name]) => {
            let scope = rbac::scope(s)?;
            allow(A::ReadRoleAssignment, &scope)?;
            ok(rbac::get_assignment(&pool, &scope, name)?)
        }
        (Method::PUT, [s @ .., P, AUTHZ, "roleAssignments", name]) => {
            let scope = rbac::scope(s)?;
            allow(A::WriteRoleAssignment, &scope)?;
            created(rbac::create_assignment(&pool, &scope, name, body)?)
        }
        (Method::DELETE, [s @ .., P, AUTHZ, "roleAssignments", name]) => {
            let scope = rbac::scope(s)?;
            allow(A::DeleteRoleAssignment, &scope)?;
            ok(rbac::delete_assignment(&pool, &scope, name)?)
        }
        (_, [.., P, AUTHZ, _] | [.., P, AUTHZ, _, _]) => {
            Err(ApiError::no_route(method.as_str(), path))
        }
        (Method::GET, ["settings"] | ["settings", ""]) => {
            allow(A::ReadRoleDefinition, &Scope::All)?;
            ok(settings::list(&pool)?)
        }
        (Method::GET, ["settings", name]) => {
            allow(A::ReadRoleDefinition, &Scope::All)?;
            ok(settings::get(&pool, name)?)
        }
        (Method::PATCH, ["settings", name]) => {
            allow(A::WriteRoleDefinition, &Scope::All)?;
            ok(settings::update(&pool, name, body)?)
        }
        (Method::POST, [op @ ("backup" | "prebackup")]) => {
            allow(A::StartBackup, &Scope::All)?;
            jobs::backup(&job_ctx, body, *op == "prebackup")
        }
        (Method::PUT, [op @ ("restore" | "prerestore")]) => {
            allow(A::StartRestore, &Scope::All)?;
            jobs::restore(&job_ctx, body, *op == "prerestore")
        }
        (Method::GET, ["backup", id, "pending"]) => {
            allow(A::BackupStatus, &Scope::All)?;
            ok(state.jobs.status(jobs::Kind::Backup, pool_name, id)?)
        }
        (Method::GET, ["restore", id, "pending"]) => {
            allow(A::RestoreStatus, &Scope::All)?;
            ok(state.jobs.status(jobs::Kind::Restore, pool_name, id)?)
        }
        (Method::PUT, ["keys", name, "restore"]) => {
            allow(A::StartRestore, &key(name)?)?;
            jobs::restore_key(&job_ctx, name, body)
        }
        (Method::GET, ["keys", name, "rotationpolicy"]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(keys::get_rotation_policy(&ctx, name)?)
        }
        (Method::PUT, ["keys", name, "rotationpolicy"]) => {
            allow(A::WriteKey, &key(name)?)?;
            ok(keys::set_rotation_policy(&ctx, name, body)?)
        }
        (Method::GET, ["keys", name, v, "attestation"]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(keys::attestation(&ctx, name, version(v).as_deref())?)
        }
        (Method::POST, ["rng"]) => {
            allow(A::Random, &Scope::All)?;
            ok(keys::rng(&state.hsm, body)?)
        }
        (Method::GET, ["keys"] | ["keys", ""]) => {
            allow(A::ReadKey, &Scope::Keys)?;
            ok(keys::list(&ctx, query)?)
        }
        (Method::POST, ["keys", "restore"]) => {
            allow(A::RestoreKey, &Scope::Keys)?;
            ok(keys::restore(&ctx, body)?)
        }
        (Method::PUT, ["keys", name]) => {
            allow(A::ImportKey, &key(name)?)?;
            ok(keys::import(&ctx, name, body)?)
        }
        (Method::DELETE, ["keys", name]) => {
            allow(A::DeleteKey, &key(name)?)?;
            ok(keys::delete(&ctx, name)?)
        }
        (Method::GET, ["keys", name]) => {
            allow(A::ReadKey, &key(name)?)?;
            json(keys::get(&ctx, name, None)?)
        }
        (Method::POST, ["keys", name, "create"]) => {
            allow(A::CreateKey, &key(name)?)?;
            ok(keys::create(&ctx, name, body)?)
        }
        (Method::POST, ["keys", name, "rotate"]) => {
            allow(A::RotateKey, &key(name)?)?;
            ok(keys::rotate(&ctx, name)?)
        }
        (Method::POST, ["keys", name, "backup"]) => {
            allow(A::BackupKey, &key(name)?)?;
            ok(keys::backup(&ctx, name)?)
        }
        (Method::GET, ["keys", name, "versions"]) => {
            allow(A::ReadKey, &key(name)?)?;
            ok(keys::list_versions(&ctx, name, query)?)
        }
        (Method::GET, ["keys", name, v]) => {
            allow(A::ReadKey, &key(name)?)?;
            json(keys::get(&ctx, name, version(v).as_deref())?)
        }
        (Method::PATCH, ["keys", name, v]) => {
            allow(A::WriteKey, &key(name)?)?;
            ok(keys::update(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::POST, ["keys", name, v, "sign"]) => {
            allow(A::Sign, &key(name)?)?;
            json(keys::sign(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::POST, ["keys", name, v, "verify"]) => {
            allow(A::Verify, &key(name)?)?;
            ok(keys::verify(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::POST, ["keys", name, v, "encrypt"]) => {
            allow(A::Encrypt, &key(name)?)?;
            json(keys::encrypt(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::POST, ["keys", name, v, "decrypt"]) => {
            allow(A::Decrypt, &key(name)?)?;
            json(keys::decrypt(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::POST, ["keys", name, v, "wrapkey"]) => {
            allow(A::Wrap, &key(name)?)?;
            json(keys::wrap(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::POST, ["keys", name, v, "unwrapkey"]) => {
            allow(A::Unwrap, &key(name)?)?;
            json(keys::unwrap(&ctx, name, version(v).as_deref(), body)?)
        }
        (Method::GET, ["deletedkeys"] | ["deletedkeys", ""]) => {
            allow(A::ReadDeletedKey, &Scope::Keys)?;
            ok(keys::list_deleted(&ctx, query)?)
        }
        (Method::GET, ["deletedkeys", name]) => {
            allow(A::ReadDeletedKey, &key(name)?)?;
            ok(keys::get_deleted(&ctx, name)?)
        }
        (Method::DELETE, ["deletedkeys", name]) => {
            allow(A::PurgeDeletedKey, &key(name)?)?;
            keys::purge(&ctx, name)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Method::POST, ["deletedkeys", name, "recover"]) => {
            allow(A::RecoverDeletedKey, &key(name)?)?;
            ok(keys::recover(&ctx, name)?)
        }
        _ => Err(ApiError::no_route(method.as_str(), path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(domains: &[&str]) -> AppState {
        AppState {
            hsm: Hsm::open(HsmConfig::in_memory()).unwrap(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            default_pool: "default".into(),
            challenge: HeaderValue::from_static("Bearer"),
            tokens: TokenPolicy::default(),
            data_dir: PathBuf::new(),
            jobs: Arc::new(Jobs::default()),
            clock: None,
            access_log: AccessLog::new(std::path::Path::new("/nonexistent")),
            standard_api_only: false,
            compute: ComputePool::new(1).unwrap(),
        }
    }

    #[test]
    fn status_urls_need_no_api_version() {
        assert!(is_status_url("/backup/0123/pending"));
        assert!(is_status_url("/restore/x/pending"));
        assert!(!is_status_url("/backup"));
        assert!(!is_status_url("/keys/k/pending"));
    }

    #[test]
    fn hosts_select_pools() {
        let s = state(&["hsm.example"]);
        for (host, pool) in [
            ("127.0.0.1:8443", Some("default")),
            ("localhost:8443", Some("default")),
            ("localhost", Some("default")),
            ("[::1]:8443", Some("default")),
            ("team-a.localhost:8443", Some("team-a")),
            ("Team-B.localhost", Some("Team-B")),
            ("hsm.example", Some("default")),
            ("team-c.hsm.example:443", Some("team-c")),
            ("TEAM-D.HSM.EXAMPLE", Some("TEAM-D")),
            ("other.example", None),
            ("example", None),
        ] {
            assert_eq!(host_pool(&s, host), pool, "{host}");
        }
    }

    #[test]
    fn hosts_name_pools_without_case() {
        let s = state(&["hsm.example"]);
        s.hsm
            .create_pool("Team-B", PoolSettings::default(), Tags::new())
            .unwrap();
        for host in [
            "team-b.localhost:8443",
            "TEAM-B.localhost",
            "team-b.hsm.example",
        ] {
            assert_eq!(pool_for_host(&s, host).as_deref(), Some("Team-B"), "{host}");
        }
        assert_eq!(pool_for_host(&s, "nope.localhost").as_deref(), Some("nope"));
    }

    #[test]
    fn queries_decode() {
        let q = query_pairs(Some("api-version=7.4&%24skiptoken=a%3Db&maxresults=5&flag"));
        assert_eq!(
            q,
            vec![
                ("api-version".into(), "7.4".into()),
                ("$skiptoken".into(), "a=b".into()),
                ("maxresults".into(), "5".into()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn routes_run_where_their_work_belongs() {
        let post = |path: &str, alg: &str| {
            placement(
                &Method::POST,
                path,
                format!(r#"{{"alg":"{alg}","value":"AA"}}"#).as_bytes(),
            )
        };
        use Placement::{Blocking, Compute, Inline};
        assert_eq!(placement(&Method::GET, "/keys/k/", b""), Inline);
        assert_eq!(placement(&Method::GET, "/keys", b""), Inline);
        assert_eq!(post("/keys/k//sign", "ES256"), Inline);
        assert_eq!(post("/keys/k/0123/sign", "RS256"), Compute);
        assert_eq!(post("/keys/k//sign", "PS384"), Compute);
        assert_eq!(post("/keys/k//verify", "RS256"), Inline);
        assert_eq!(post("/keys/k//verify", "ES256"), Inline);
        assert_eq!(post("/keys/k//sign", "ES256K"), Inline);
        assert_eq!(post("/keys/k//sign", "ES384"), Compute);
        assert_eq!(post("/keys/k//verify", "ES384"), Compute);
        assert_eq!(post("/keys/k//sign", "ES512"), Compute);
        assert_eq!(post("/keys/k//verify", "ES512"), Compute);
        assert_eq!(post("/keys/k//sign", "HS256"), Inline);
        assert_eq!(post("/keys/k//encrypt", "RSA-OAEP"), Inline);
        assert_eq!(post("/keys/k//encrypt", "A256GCM"), Inline);
        assert_eq!(post("/keys/k//decrypt", "RSA-OAEP-256"), Compute);
        assert_eq!(post("/keys/k//decrypt", "RSA1_5"), Compute);
        assert_eq!(post("/keys/k//decrypt", "A256GCM"), Inline);
        assert_eq!(post("/keys/k//wrapkey", "RSA-OAEP"), Inline);
        assert_eq!(post("/keys/k//unwrapkey", "RSA-OAEP"), Compute);
        assert_eq!(post("/keys/k//unwrapkey", "A256KW"), Inline);
        // A body that does not parse is refused by the route, at once.
        assert_eq!(placement(&Method::POST, "/keys/k//sign", b"{"), Inline);
        // Anything that may write durably.
        assert_eq!(post("/keys/k/create", "RS256"), Blocking);
        assert_eq!(post("/keys/k/rotate", "RS256"), Blocking);
        assert_eq!(post("/keys/k/v/export", "RS256"), Blocking);
        assert_eq!(post("/rng", "RS256"), Blocking);
        assert_eq!(placement(&Method::PUT, "/keys/k", b"{}"), Blocking);
        assert_eq!(placement(&Method::PATCH, "/keys/k/v", b"{}"), Blocking);
        assert_eq!(placement(&Method::DELETE, "/keys/k", b""), Blocking);
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
