//! # server: the mhsm REST front end
//!
//! Speaks the Azure Managed HSM data-plane API over HTTPS, so the official Azure SDKs work
//! against a local HSM unchanged. A thin adapter: JSON in ([`mhsm_wire`] types, each body
//! parsed once), [`hsm_core`] calls, Azure-shaped JSON out; every rule of the domain lives
//! in the core.
//!
//! - [`app`]: the HTTP edge (pool from `Host`, api-version, bearer challenge, body limit,
//!   one tracing span per request, placement, routing, the RBAC check of every route) and
//!   [`app::start`].
//! - [`routes`]: one routing table per resource — keys, key operations, RBAC, settings,
//!   jobs, mhsm's extension for the PKCS#11 module (`/x-mhsm/pkcs11/`), pool management
//!   (`/mhsm/`).
//! - [`auth`]: the principal of a request from its bearer token. [`compute`]: the threads
//!   for long computations (RSA private-key operations, ECDSA on P-384 and P-521); other
//!   routes run on the async worker (reads, key operations) or the blocking pool (anything
//!   that may write).
//! - [`error`]: the one mapping of core errors to Azure error bodies. [`tls`]: the local CA
//!   and server certificate. [`access_log`]: the per-pool access logs.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod app;
pub mod auth;
pub mod compute;
pub mod error;
pub mod routes;
pub mod tls;

pub use app::{Running, ServeConfig, start};
pub use routes::pools;
