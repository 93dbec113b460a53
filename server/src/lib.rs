//! # server: the mhsm REST front end
//!
//! Speaks the Azure Managed HSM data-plane API over HTTPS, so the official Azure SDKs work
//! against a local HSM unchanged. A thin adapter: JSON in, [`hsm_core`] calls, Azure-shaped
//! JSON out; every rule of the domain lives in the core.
//!
//! - [`app`]: the HTTP edge (pool from `Host`, api-version, bearer challenge, body limit,
//!   routing, the RBAC check of every route) and [`app::start`].
//! - [`auth`]: the principal of a request from its bearer token. [`compute`]: the threads
//!   for long computations (RSA private-key operations, ECDSA on P-384 and P-521); other
//!   routes run on the async worker (reads, key operations) or the blocking pool (durable
//!   writes).
//! - [`keys`]: the key routes. [`rbac`]: the role definition and assignment routes.
//!   [`model`]: Azure's JSON shapes. [`error`]: the one mapping of core errors to Azure
//!   error bodies. [`tls`]: the local CA and server certificate.
//! - [`pkcs11_ext`]: mhsm's extension API for the PKCS#11 module in remote mode
//!   (`/x-mhsm/pkcs11/`).
#![forbid(unsafe_code)]

pub mod access_log;
pub mod app;
pub mod auth;
pub mod compute;
pub mod error;
pub mod jobs;
pub mod keys;
pub mod model;
pub mod pkcs11_ext;
pub mod pools;
pub mod rbac;
pub mod settings;
pub mod tls;

pub use app::{Running, ServeConfig, start};
