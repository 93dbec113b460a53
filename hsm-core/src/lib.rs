//! # hsm-core: the in-process HSM behind mhsm
//!
//! mhsm emulates a managed HSM (in the manner of Azure Key Vault Managed HSM) with two front
//! ends: a PKCS#11 module and a REST server speaking the Azure data-plane API. Both are thin
//! adapters over this crate, which holds every rule of the domain. It knows nothing of
//! PKCS#11 or HTTP.
//!
//! ## Where to start
//! - [`Hsm`] opens a data directory ([`HsmConfig`]) and manages **pools**: create, list,
//!   update, soft-delete, recover, purge, back up to a directory and restore.
//! - [`Pool`] is one isolated key space: create, import, get, list, update, rotate,
//!   soft-delete, recover, purge, back up and restore keys, and the one operation API both
//!   front ends map onto: [`Pool::sign`], [`Pool::verify`], [`Pool::encrypt`],
//!   [`Pool::decrypt`], [`Pool::wrap_key`], [`Pool::unwrap_key`], [`Pool::derive_ecdh`]
//!   with the algorithms of [`crypto::alg`] ([`crypto::jwa`] maps Azure's names onto them).
//! - [`HsmApi`] and [`PoolApi`] ([`api`]) are the one API a front end holds: implemented here
//!   by [`Hsm`] and [`Pool`], and by `mhsm-client` over a running server.
//! - [`Error`] is the one error type; [`Error::code`] gives each variant's stable name.
//!
//! ## How it holds together
//! - **Policy** (disabled keys, validity windows, allowed operations, algorithm against key
//!   type, input sizes, purge protection) is checked here, in [`key`], [`crypto::check`] and
//!   [`Pool`], before any provider is called.
//! - **Crypto** goes through a [`crypto::CryptoProvider`] (RustCrypto by default), chosen when
//!   the HSM opens; nothing else names a crypto crate.
//! - **Secrets** live in [`SecretBytes`] and [`crypto::KeyMaterial`]: zeroized on drop,
//!   redacted in `Debug`. At rest, each version's material is sealed (AES-256-GCM) under the
//!   pool's master key, bound to pool, key and version; master keys are sealed under keys
//!   derived from the root key ([`root`]), which also defines the security domain.
//! - **Storage** is a [`store::Store`] (sled on disk, or memory); every mutation is one
//!   atomic batch, flushed before the call returns. State is held in memory and rebuilt from
//!   the store, checking every record's authentication, when the HSM opens.
//! - **Time** comes from an injectable [`time::Clock`]; purges of deleted keys and pools
//!   happen lazily once their retention has elapsed by that clock.
//! - **Concurrency**: [`Hsm`] and [`Pool`] are `Send + Sync`. Writes are serialised per pool;
//!   crypto operations take a shared lock for a moment and use parsed keys from a bounded
//!   cache, so many threads can sign with one key at once.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod backup;
mod cache;
pub mod crypto;
pub mod document;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hsm;
pub mod key;
pub mod names;
pub mod pin;
pub mod pool;
pub mod rbac;
mod record;
pub mod root;
mod seal;
pub mod secret;
mod serde_b64;
pub mod settings;
pub mod store;
pub mod time;

pub use api::{HsmApi, OpKey, PoolApi};
pub use error::{Error, Result};
pub use hsm::{Hsm, HsmConfig, NewPool};
pub use pool::{KeyRef, Pool, PoolChanges, PoolInfo, PoolSettings, PoolUpdate, ResolvedKey};
pub use secret::SecretBytes;
