//! [`RemotePool`]: one pool of a server, its caches (extension offered or not, generation,
//! key specs) and the requests common to every call. Keys are in [`keys`], key operations
//! in [`ops`], the extension's documents and PINs in [`ext`].

pub(crate) mod ext;
pub(crate) mod keys;
pub(crate) mod ops;
pub(crate) mod resolved;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hsm_core::crypto::KeySpec;
use hsm_core::key::KeyInfo;
use hsm_core::rbac::DataAction;
use hsm_core::{Error, Result};
use mhsm_wire::ErrorEnvelope;
use mhsm_wire::pkcs11::GenerationState;
use parking_lot::Mutex;

use crate::errors::Context;
use crate::hsm::RemoteHsm;
use crate::transport::{Replay, Reply, Request};
use crate::{expect, read, seg};

/// The path of the extension API.
pub(crate) const EXT: &str = "/x-mhsm/pkcs11";

/// What a pool's client remembers between calls.
pub(crate) struct PoolState {
    /// Whether the server offers the extension API (asked once).
    extension: Mutex<Option<bool>>,
    /// The last generation read, and when.
    generation: Mutex<Option<(u64, Instant)>>,
    /// Without the extension: the start of the local clock-driven generation.
    started: Instant,
    /// Without the extension: own writes, which move the local generation too.
    writes: AtomicU64,
    /// name → (version, spec) of keys seen, to name algorithms.
    specs: Mutex<HashMap<String, (String, KeySpec)>>,
}

impl PoolState {
    pub(crate) fn new() -> PoolState {
        PoolState {
            extension: Mutex::new(None),
            generation: Mutex::new(None),
            started: Instant::now(),
            writes: AtomicU64::new(0),
            specs: Mutex::new(HashMap::new()),
        }
    }
}

/// One pool of a server. Cheap to clone; clones share caches.
#[derive(Clone)]
pub struct RemotePool {
    remote: RemoteHsm,
    name: Arc<str>,
    base: Arc<str>,
    state: Arc<PoolState>,
}

impl std::fmt::Debug for RemotePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePool")
            .field("name", &self.name)
            .field("url", &self.base)
            .finish()
    }
}

/// An operation the standard API cannot express.
fn needs_extension(what: &str) -> Error {
    Error::BadParameter {
        message: format!("{what} needs the mhsm PKCS#11 extension API, which the server lacks"),
    }
}

impl RemotePool {
    pub(crate) fn new(
        remote: RemoteHsm,
        name: &str,
        base: &str,
        state: Arc<PoolState>,
    ) -> RemotePool {
        RemotePool {
            remote,
            name: name.into(),
            base: base.into(),
            state,
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&[u8]>,
        replay: Replay,
    ) -> Result<Reply> {
        self.remote.inner.transport.send(&Request {
            method,
            url: format!("{}{path}", self.base),
            body,
            replay,
        })
    }

    fn ctx(&self, action: DataAction) -> Context<'_> {
        Context::pool(&self.name, action)
    }

    /// Whether the server offers the extension API (asked once; a 404 means no).
    pub fn has_extension(&self) -> Result<bool> {
        if let Some(known) = *self.state.extension.lock() {
            return Ok(known);
        }
        let reply = self.send("GET", &format!("{EXT}/state"), None, Replay::Safe)?;
        let offered = if reply.status == 404 {
            if let Some(Error::PoolNotFound { name }) = self.inner_pool_error(&reply) {
                return Err(Error::PoolNotFound { name });
            }
            false
        } else {
            let body = expect(reply, &self.ctx(DataAction::ReadKey))?;
            let state: GenerationState = read(&body)?;
            *self.state.generation.lock() = Some((state.generation, Instant::now()));
            true
        };
        tracing::debug!(pool = %self.name, offered, "extension API");
        *self.state.extension.lock() = Some(offered);
        Ok(offered)
    }

    /// `PoolNotFound`, when a 404 names it in `innererror`.
    fn inner_pool_error(&self, reply: &Reply) -> Option<Error> {
        let envelope = ErrorEnvelope::read(reply.body.expose_secret());
        (envelope.error.inner_code() == "PoolNotFound").then(|| Error::PoolNotFound {
            name: self.name.to_string(),
        })
    }

    /// A number that changes when the pool changes (cached for the refresh interval; own
    /// writes forget it). Without the extension, a local counter that moves every refresh
    /// interval and on every own write, so the module rebuilds its index that often.
    pub fn generation(&self) -> Result<u64> {
        let interval = self.remote.inner.refresh_interval;
        if !self.has_extension()? {
            let ticks = self.state.started.elapsed().as_nanos() / interval.as_nanos().max(1);
            let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
            return Ok(ticks.wrapping_add(self.state.writes.load(Ordering::SeqCst)));
        }
        if let Some((generation, at)) = *self.state.generation.lock()
            && at.elapsed() < interval
        {
            return Ok(generation);
        }
        let reply = self.send("GET", &format!("{EXT}/state"), None, Replay::Safe)?;
        let body = expect(reply, &self.ctx(DataAction::ReadKey))?;
        let state: GenerationState = read(&body)?;
        *self.state.generation.lock() = Some((state.generation, Instant::now()));
        Ok(state.generation)
    }

    /// Forgets the cached generation: the next [`RemotePool::generation`] asks.
    pub fn invalidate(&self) {
        *self.state.generation.lock() = None;
        self.state.writes.fetch_add(1, Ordering::SeqCst);
    }

    fn remember(&self, info: &KeyInfo) {
        self.state
            .specs
            .lock()
            .insert(info.name.clone(), (info.version.clone(), info.spec));
    }

    /// A standard bundle cannot tell an `oct` key's size, nor a generic secret from an AES
    /// key: keep the spec seen before, if any.
    fn with_known_size(&self, mut info: KeyInfo) -> KeyInfo {
        if let KeySpec::Aes { .. } = info.spec
            && let Some((_, spec)) = self.state.specs.lock().get(&info.name)
            && spec.is_symmetric()
        {
            info.spec = *spec;
        }
        info
    }

    /// The spec of a key version, from what was seen or asked.
    fn spec(&self, name: &str, version: Option<&str>) -> Result<KeySpec> {
        if let Some((seen, spec)) = self.state.specs.lock().get(name)
            && version.is_none_or(|v| v == seen)
        {
            return Ok(*spec);
        }
        Ok(self.get_key(name, version)?.spec)
    }

    fn crypto_path(name: &str, version: Option<&str>, op: &str) -> String {
        format!(
            "/keys/{}/{}/{op}",
            seg(name),
            seg(version.unwrap_or_default())
        )
    }
}
