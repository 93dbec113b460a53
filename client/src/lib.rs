//! # mhsm-client: hsm-core's pool API over a running server
//!
//! The second implementation of [`hsm_core::HsmApi`] and [`hsm_core::PoolApi`] (the first is
//! the in-process core): a client of `mhsm serve` or of a real Azure Managed HSM
//! (`docs/REMOTE.md`), used by the PKCS#11 module's remote mode.
//!
//! [`RemoteHsm`] is one server (one connection pool, one outage state); [`RemotePool`] one of
//! its pools, each call one request (or a few) of the Managed HSM REST API, plus mhsm's
//! optional extension API under `/x-mhsm/pkcs11/`. Against a server without the extension
//! (a real Managed HSM) PINs are the configured [`FixedPins`], checked in the core's rules.
//! Errors are core errors: the server's, rebuilt from `innererror` ([`errors`]), or
//! `Unavailable` when the server cannot be reached ([`transport`]).
//!
//! Every body sent and read is a type of `mhsm-wire`, the crate the server speaks through:
//! the JSON is defined once.
//!
//! - [`hsm`]: [`RemoteHsm`], the server and its pools.
//! - [`pool`]: [`RemotePool`]: keys ([`pool::keys`]), key operations ([`pool::ops`]),
//!   documents and PINs of the extension ([`pool::ext`]).
//! - [`api`]: the two traits of the core over them.
//! - [`transport`]: the blocking HTTPS client, retries, outage logging, token, resolver.
//! - [`alg`]: algorithm names.

mod alg;
mod api;
mod errors;
mod hsm;
mod pool;
mod transport;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use hsm_core::pin::{FixedPins, PinPolicy};
use hsm_core::{Error, Result, SecretBytes};
use mhsm_wire::WireError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use errors::Context;
pub use hsm::RemoteHsm;
pub use pool::RemotePool;
use transport::Reply;
pub use transport::TokenSource;

/// How to reach the server.
pub struct RemoteSettings {
    /// The server's URL (`https://127.0.0.1:8443`): its own host serves the default pool.
    pub url: String,
    /// The CA to trust, PEM (None: the public roots, for a real Managed HSM).
    pub ca_pem: Option<Vec<u8>>,
    /// The bearer token.
    pub token: TokenSource,
    /// Connecting gives up after this long.
    pub connect_timeout: Duration,
    /// A whole request gives up after this long.
    pub request_timeout: Duration,
    /// The total time spent waiting out 429 answers before giving up.
    pub max_retry_wait: Duration,
    /// How long a pool's generation is trusted before asking again.
    pub refresh_interval: Duration,
    /// The single token's name against a server without `/mhsm/pools` (default: the first
    /// label of the URL's host).
    pub token_label: Option<String>,
    /// The PINs of tokens whose server keeps none (no extension API).
    pub fixed_pins: Arc<FixedPins>,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings {
            url: String::new(),
            ca_pem: None,
            token: TokenSource::None,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
            max_retry_wait: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(1),
            token_label: None,
            fixed_pins: Arc::new(FixedPins::new(None, None, PinPolicy::default())),
        }
    }
}

impl std::fmt::Debug for RemoteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSettings")
            .field("url", &self.url)
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("token", &self.token)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("refresh_interval", &self.refresh_interval)
            .field("token_label", &self.token_label)
            .field("fixed_pins", &self.fixed_pins)
            .finish()
    }
}

/// A path segment, percent-encoded.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The 2xx body of an answer, or the core error it carries.
fn expect(reply: Reply, ctx: &Context) -> Result<SecretBytes> {
    if reply.is_success() {
        Ok(reply.body)
    } else {
        Err(errors::decode(
            reply.status,
            reply.body.expose_secret(),
            ctx,
        ))
    }
}

/// An answer the client cannot read: the server speaks another protocol than expected.
fn not_understood(e: WireError) -> Error {
    Error::Internal {
        message: format!("the server's answer is not understood: {e}"),
    }
}

/// A request body the core's values cannot make: the core's refusal (a release policy that
/// is not JSON, material the provider refuses), or a bad parameter.
fn refused(e: WireError) -> Error {
    match e {
        WireError::Core(e) => e,
        WireError::Invalid { message } => Error::BadParameter { message },
    }
}

/// Parses a 2xx answer into its wire type.
fn read<T: DeserializeOwned>(body: &SecretBytes) -> Result<T> {
    mhsm_wire::parse(body.expose_secret()).map_err(not_understood)
}

/// A body without secrets.
fn to_json(body: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| Error::Internal {
        message: e.to_string(),
    })
}
