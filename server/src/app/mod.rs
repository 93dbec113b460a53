//! The HTTP edge and the server's life: [`start`] opens the HSM and serves
//! ([`ServeConfig`], [`Running`]); every request goes through `dispatch` (the edge's
//! checks: pool from `Host`, api-version, bearer challenge and principal, body limit; one
//! tracing span per request), is placed by `placement` (inline on the async worker, on the
//! compute threads, or on the blocking pool), and is routed by `route` to the tables of
//! [`crate::routes`], each route with its local RBAC check.
//!
//! - `start.rs`: configuration, start, shutdown, the maintenance timer, `server.json`.
//! - `edge.rs`: what the edge reads of a request (host, pool, query, bearer token).
//! - `dispatch.rs`: the request's path from the socket to the answer, and the access log.
//! - `placement.rs`: where a route's work runs. `route.rs`: the routing table of tables.

mod dispatch;
mod edge;
mod placement;
mod route;
mod start;

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::HeaderValue;
use hsm_core::Hsm;
use hsm_core::time::OffsetClock;

use crate::access_log::AccessLog;
use crate::auth::TokenPolicy;
use crate::compute::ComputePool;
use crate::routes::jobs::Jobs;

pub use start::{DISCOVERY_FILE, Running, ServeConfig, start};

/// api-versions known, the newest first (the default of azure-keyvault-secrets and
/// -certificates 4.12; azure-keyvault-keys 4.11 and -administration 4.7 send 2025-07-01). A
/// dated version newer than the newest is accepted as the newest ([`dispatch`]'s
/// `api_version`), so an SDK upgrade does not break its users.
pub const API_VERSIONS: &[&str] = &[
    "2026-04-01",
    "2025-07-01",
    "7.6",
    "7.5",
    "7.4",
    "7.3",
    "7.2",
];
/// The largest request body (1 MiB).
pub const BODY_LIMIT: usize = 1 << 20;
/// The tenant named in the bearer challenge.
pub const TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// What every request shares.
pub struct AppState {
    pub(crate) hsm: Hsm,
    pub(crate) domains: Vec<String>,
    pub(crate) default_pool: String,
    pub(crate) challenge: HeaderValue,
    pub(crate) tokens: TokenPolicy,
    pub(crate) data_dir: PathBuf,
    pub(crate) jobs: Arc<Jobs>,
    /// The shiftable clock, when test hooks are on.
    pub(crate) clock: Option<OffsetClock>,
    pub(crate) access_log: AccessLog,
    /// See [`ServeConfig::standard_api_only`].
    pub(crate) standard_api_only: bool,
    /// The threads for long computations ([`Placement::Compute`]): one per core.
    pub(crate) compute: ComputePool,
}

#[cfg(test)]
impl AppState {
    /// A state over an in-memory HSM, for the edge's tests.
    pub(crate) fn for_tests(domains: &[&str]) -> AppState {
        AppState {
            hsm: hsm_core::Hsm::open(hsm_core::HsmConfig::in_memory()).unwrap(),
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
}
