//! # mhsm-client: hsm-core's pool API over a running server
//!
//! The second implementation of [`hsm_core::HsmApi`] and [`hsm_core::PoolApi`] (the first is
//! the in-process core): a client of `mhsm serve` or of a real Azure Managed HSM
//! (`docs/REMOTE.md`), used by the PKCS#11 module's remote mode.
//!
//! [`RemoteHsm`] is one server (one connection pool, one outage state); [`RemotePool`] one of
//! its pools, each call one request (or a few) of the Managed HSM REST API, plus mhsm's
//! optional extension API under `/x-mhsm/pkcs11/`. Against a server without the extension
//! (a real Managed HSM) PINs are the configured [`FixedPins`], checked in the core's rules. Errors are core errors: the server's, rebuilt from `innererror`
//! ([`errors`]), or `Unavailable` when the server cannot be reached ([`transport`]).
//!
//! - [`transport`]: the blocking HTTPS client, retries, outage logging, token, resolver.
//! - [`model`]: bundles in, bodies out. [`alg`]: algorithm names.

mod alg;
mod errors;
mod model;
mod transport;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hsm_core::crypto::{
    CipherAlgorithm, Ciphertext, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm,
};
use hsm_core::key::{KeyInfo, KeyOperation, KeyOptions, KeyUpdate};
use hsm_core::pin::{FixedPins, InitialPins, PinPolicy, PinRole, PinStatus};
use hsm_core::rbac::DataAction;
use hsm_core::{Error, HsmApi, KeyRef, PoolApi, PoolChanges, Result, SecretBytes};
use mhsm_wire::pkcs11::WrapStored;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};

use errors::Context;
use model::{b64, parse, secret_json, unb64};
pub use transport::TokenSource;
use transport::{Endpoint, Replay, Reply, Request, Transport};

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

struct Inner {
    transport: Transport,
    endpoint: Endpoint,
    token_label: String,
    refresh_interval: Duration,
    /// Per-pool caches, shared by every [`RemotePool`] of the same name.
    pools: Mutex<HashMap<String, Arc<PoolState>>>,
    fixed_pins: Arc<FixedPins>,
}

/// One server: its connection pool and outage state. Cheap to clone.
#[derive(Clone)]
pub struct RemoteHsm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteHsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHsm")
            .field("url", &self.url())
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

impl RemoteHsm {
    /// Builds the client (TLS, resolver, connection pool). Sends nothing.
    pub fn connect(settings: RemoteSettings) -> Result<RemoteHsm> {
        let endpoint = Endpoint::parse(&settings.url)?;
        let token_label = settings.token_label.clone().unwrap_or_else(|| {
            let host = endpoint.host.trim_start_matches('[').trim_end_matches(']');
            if host.parse::<std::net::IpAddr>().is_ok() {
                host.to_string()
            } else {
                host.split('.').next().unwrap_or(host).to_string()
            }
        });
        let refresh_interval = settings.refresh_interval;
        let fixed_pins = settings.fixed_pins.clone();
        let transport = Transport::new(settings, &endpoint)?;
        Ok(RemoteHsm {
            inner: Arc::new(Inner {
                fixed_pins,
                transport,
                endpoint,
                token_label,
                refresh_interval,
                pools: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        self.inner.transport.url()
    }

    /// The names of the server's live pools; against a server without `/mhsm/pools` (a real
    /// Managed HSM), the one token label.
    pub fn list_pools(&self) -> Result<Vec<String>> {
        let reply = self.inner.transport.send(&Request {
            method: "GET",
            url: format!("{}/mhsm/pools", self.url()),
            body: None,
            replay: Replay::Safe,
        })?;
        if reply.status == 404 {
            return Ok(vec![self.inner.token_label.clone()]);
        }
        let ctx = Context::pool("", DataAction::ReadRoleDefinition);
        let body = expect(reply, &ctx)?;
        #[derive(Deserialize)]
        struct Pools {
            value: Vec<PoolJson>,
        }
        #[derive(Deserialize)]
        struct PoolJson {
            name: String,
        }
        let pools: Pools = parse(body.expose_secret())?;
        Ok(pools.value.into_iter().map(|p| p.name).collect())
    }

    /// Creates a pool with default settings and its PINs (`POST /mhsm/pools`; the server
    /// creates it in one commit).
    pub fn create_pool_with_pins(&self, name: &str, pins: &InitialPins<'_>) -> Result<()> {
        let text = |pin: Option<&[u8]>| -> Result<Option<String>> {
            pin.map(|p| {
                String::from_utf8(p.to_vec()).map_err(|_| Error::PinInvalid {
                    message: "PINs are printable UTF-8".into(),
                })
            })
            .transpose()
        };
        let mut body = json!({ "name": name });
        if let Some(p) = pins.policy {
            body["pinPolicy"] =
                json!({ "minLen": p.min_len, "maxLen": p.max_len, "maxFailures": p.max_failures });
        }
        if let Some(so) = text(pins.so)? {
            body["soPin"] = json!(so);
        }
        if let Some(user) = text(pins.user)? {
            body["userPin"] = json!(user);
        }
        let body = secret_json(body);
        let reply = self.inner.transport.send(&Request {
            method: "POST",
            url: format!("{}/mhsm/pools", self.url()),
            body: Some(body.expose_secret()),
            replay: Replay::Never,
        })?;
        expect(reply, &Context::pool(name, DataAction::WriteRoleDefinition)).map(drop)
    }

    /// A pool of the server: `https://{pool}.localhost:PORT` on a loopback server, the URL
    /// itself for the token label, `https://{pool}.{host}` otherwise.
    pub fn pool(&self, name: &str) -> RemotePool {
        let inner = &self.inner;
        let base = if inner.endpoint.loopback().is_some() {
            inner.endpoint.with_host(&format!("{name}.localhost"))
        } else if name.eq_ignore_ascii_case(&inner.token_label) {
            self.url().to_string()
        } else {
            inner
                .endpoint
                .with_host(&format!("{name}.{}", inner.endpoint.host))
        };
        let state = inner
            .pools
            .lock()
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(PoolState::new()))
            .clone();
        RemotePool {
            remote: self.clone(),
            name: name.into(),
            base: base.into(),
            state,
        }
    }
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

/// What a pool's client remembers between calls.
struct PoolState {
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
    fn new() -> PoolState {
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

const EXT: &str = "/x-mhsm/pkcs11";

#[derive(Deserialize)]
struct StateJson {
    generation: u64,
}

#[derive(Deserialize)]
struct SnapshotJson {
    generation: u64,
    keys: Vec<model::Bundle>,
}

#[derive(Deserialize)]
struct PageJson {
    #[serde(default)]
    value: Vec<ItemJson>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct ItemJson {
    kid: String,
}

#[derive(Deserialize)]
struct DocumentJson {
    id: String,
    value: String,
}

#[derive(Deserialize)]
struct DocumentsJson {
    documents: Vec<DocumentJson>,
}

#[derive(Deserialize)]
struct PolicyJson {
    #[serde(alias = "minLen")]
    min_len: usize,
    #[serde(alias = "maxLen")]
    max_len: usize,
    #[serde(alias = "maxFailures")]
    max_failures: u32,
}

#[derive(Deserialize)]
struct StatusJson {
    initialized: bool,
    #[serde(default)]
    failures: u32,
    #[serde(default)]
    locked: bool,
    #[serde(default)]
    remaining: u32,
}

#[derive(Deserialize)]
struct PinsJson {
    policy: PolicyJson,
    user: StatusJson,
    so: StatusJson,
}

fn role_path(role: PinRole) -> &'static str {
    match role {
        PinRole::User => "user",
        PinRole::So => "so",
    }
}

/// An operation the standard API cannot express.
fn needs_extension(what: &str) -> Error {
    Error::BadParameter {
        message: format!("{what} needs the mhsm PKCS#11 extension API, which the server lacks"),
    }
}

impl RemotePool {
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
            let state: StateJson = parse(body.expose_secret())?;
            *self.state.generation.lock() = Some((state.generation, Instant::now()));
            true
        };
        tracing::debug!(pool = %self.name, offered, "extension API");
        *self.state.extension.lock() = Some(offered);
        Ok(offered)
    }

    /// `PoolNotFound`, when a 404 names it in `innererror`.
    fn inner_pool_error(&self, reply: &Reply) -> Option<Error> {
        let body: Value = serde_json::from_slice(reply.body.expose_secret()).ok()?;
        (body["error"]["innererror"]["code"] == "PoolNotFound").then(|| Error::PoolNotFound {
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
        let state: StateJson = parse(body.expose_secret())?;
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

    /// A standard bundle cannot tell an AES key's size: keep the one seen before, if any.
    fn with_known_size(&self, mut info: KeyInfo) -> KeyInfo {
        if let KeySpec::Aes { .. } = info.spec
            && let Some((_, spec @ KeySpec::Aes { .. })) = self.state.specs.lock().get(&info.name)
        {
            info.spec = *spec;
        }
        info
    }

    /// Every live key at its latest version, with the generation read before them.
    pub fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        if self.has_extension()? {
            let reply = self.send("GET", &format!("{EXT}/keys"), None, Replay::Safe)?;
            let body = expect(reply, &self.ctx(DataAction::ReadKey))?;
            let snapshot: SnapshotJson = parse(body.expose_secret())?;
            *self.state.generation.lock() = Some((snapshot.generation, Instant::now()));
            let keys = snapshot
                .keys
                .into_iter()
                .map(model::Bundle::into_info)
                .collect::<Result<Vec<_>>>()?;
            keys.iter().for_each(|k| self.remember(k));
            return Ok((snapshot.generation, keys));
        }
        let generation = self.generation()?;
        let mut names = Vec::new();
        let mut url = format!(
            "{}/keys?api-version={}&maxresults=25",
            self.base,
            transport::API_VERSION
        );
        loop {
            let reply = self.remote.inner.transport.send(&Request {
                method: "GET",
                url: url.clone(),
                body: None,
                replay: Replay::Safe,
            })?;
            let body = expect(reply, &self.ctx(DataAction::ReadKey))?;
            let page: PageJson = parse(body.expose_secret())?;
            for item in page.value {
                names.push(model::name_of_kid(&item.kid)?);
            }
            match page.next_link {
                // The token goes to this pool's origin only.
                Some(next) if next.starts_with(&format!("{}/", self.base)) => url = next,
                Some(_) => return Err(model::invalid("a nextLink to another host")),
                None => break,
            }
        }
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            match self.get_key(&name, None) {
                Ok(info) => keys.push(info),
                // Deleted since it was listed.
                Err(Error::KeyNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((generation, keys))
    }

    fn get_standard(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        let path = match version {
            Some(v) => format!("/keys/{}/{}", seg(name), seg(v)),
            None => format!("/keys/{}", seg(name)),
        };
        let reply = self.send("GET", &path, None, Replay::Safe)?;
        let ctx = Context::key(&self.name, name, DataAction::ReadKey);
        let body = expect(reply, &ctx)?;
        Ok(self.with_known_size(model::key_info(body.expose_secret())?))
    }

    fn get_extended(&self, name: &str) -> Result<KeyInfo> {
        let reply = self.send(
            "GET",
            &format!("{EXT}/keys/{}", seg(name)),
            None,
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::ReadKey);
        model::key_info(expect(reply, &ctx)?.expose_secret())
    }

    /// A key version (`None`: the latest).
    pub fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        let info = if self.has_extension()? {
            let latest = self.get_extended(name)?;
            match version {
                Some(v) if v != latest.version => {
                    // An older version: its own attributes, the key's extra.
                    let mut info = self.get_standard(name, Some(v))?;
                    info.extra = latest.extra;
                    if let (KeySpec::Aes { .. }, KeySpec::Aes { .. }) = (info.spec, latest.spec) {
                        info.spec = latest.spec;
                    }
                    info
                }
                _ => latest,
            }
        } else {
            self.get_standard(name, version)?
        };
        self.remember(&info);
        Ok(info)
    }

    /// Without the extension, `new_key_only` is a look first: a live or deleted key of the
    /// name refuses (not atomic, unlike the extension's).
    fn refuse_existing(&self, name: &str) -> Result<()> {
        for path in [
            format!("/keys/{}", seg(name)),
            format!("/deletedkeys/{}", seg(name)),
        ] {
            let reply = self.send("GET", &path, None, Replay::Safe)?;
            if reply.is_success() {
                return Err(Error::Conflict {
                    message: format!("a key named '{name}' exists"),
                });
            }
            if reply.status != 404 {
                let ctx = Context::key(&self.name, name, DataAction::ReadKey);
                return Err(errors::decode(
                    reply.status,
                    reply.body.expose_secret(),
                    &ctx,
                ));
            }
        }
        Ok(())
    }

    /// Checks what the extension would carry; returns whether to send it.
    fn prepare_new(&self, name: &str, opts: &KeyOptions) -> Result<bool> {
        let ext = self.has_extension()?;
        if !ext {
            if opts.new_key_only {
                self.refuse_existing(name)?;
            }
            if !opts.extra.is_empty() {
                tracing::debug!(pool = %self.name, key = name, "no extension API: PKCS#11 attributes not stored");
            }
        }
        Ok(ext)
    }

    fn finish_write(&self, info: KeyInfo) -> KeyInfo {
        self.invalidate();
        self.remember(&info);
        info
    }

    /// Generates a key (or a new version).
    pub fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        let ext = self.prepare_new(name, opts)?;
        let body = model::create_body(spec, opts, ext)?;
        let reply = self.send(
            "POST",
            &format!("/keys/{}/create", seg(name)),
            Some(&body),
            Replay::Never,
        );
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::CreateKey);
        let info = model::key_info(expect(reply?, &ctx)?.expose_secret())?;
        // The standard answer does not tell an AES key's size; the request did.
        let info = KeyInfo { spec, ..info };
        Ok(self.finish_write(info))
    }

    /// Imports key material (a new key or version).
    pub fn import_key(
        &self,
        name: &str,
        material: KeyMaterial,
        opts: &KeyOptions,
    ) -> Result<KeyInfo> {
        let ext = self.prepare_new(name, opts)?;
        let spec = material.spec();
        let body = model::import_body(&material, opts, ext)?;
        drop(material);
        let reply = self.send(
            "PUT",
            &format!("/keys/{}", seg(name)),
            Some(body.expose_secret()),
            Replay::Never,
        );
        drop(body);
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::ImportKey);
        let info = model::key_info(expect(reply?, &ctx)?.expose_secret())?;
        Ok(self.finish_write(KeyInfo { spec, ..info }))
    }

    /// Updates a key's operations, tags and policy and a version's attributes.
    pub fn update_key(
        &self,
        name: &str,
        version: Option<&str>,
        update: &KeyUpdate,
    ) -> Result<KeyInfo> {
        let body = model::update_body(update)?;
        let path = format!("/keys/{}/{}", seg(name), seg(version.unwrap_or_default()));
        // Setting attributes to values: the same outcome if applied twice.
        let reply = self.send("PATCH", &path, Some(&body), Replay::Safe);
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::WriteKey);
        let info = model::key_info(expect(reply?, &ctx)?.expose_secret())?;
        let info = if self.has_extension()? {
            // The standard answer lacks the extension's attributes.
            self.get_key(name, Some(&info.version))?
        } else {
            self.with_known_size(info)
        };
        Ok(self.finish_write(info))
    }

    /// Sets (or with `None` removes) a PKCS#11 attribute kept with the key.
    pub fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        if !self.has_extension()? {
            return Err(needs_extension("storing PKCS#11 attributes"));
        }
        let body = json!({ "value": value.map(b64) }).to_string();
        let path = format!("{EXT}/keys/{}/extra/{}", seg(name), seg(attr));
        let reply = self.send("PUT", &path, Some(body.as_bytes()), Replay::Safe);
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::WriteKey);
        let info = model::key_info(expect(reply?, &ctx)?.expose_secret())?;
        Ok(self.finish_write(info))
    }

    /// Deletes a key (soft-delete).
    pub fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        let reply = self.send(
            "DELETE",
            &format!("/keys/{}", seg(name)),
            None,
            Replay::Never,
        );
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::DeleteKey);
        let info = self.with_known_size(model::key_info(expect(reply?, &ctx)?.expose_secret())?);
        self.state.specs.lock().remove(name);
        Ok(info)
    }

    /// Empties the pool (`C_InitToken`): the number of keys removed.
    pub fn clear(&self) -> Result<usize> {
        if !self.has_extension()? {
            return Err(needs_extension("initializing the token"));
        }
        let reply = self.send("POST", &format!("{EXT}/clear"), None, Replay::Never);
        self.invalidate();
        let body = expect(reply?, &self.ctx(DataAction::PurgeDeletedKey))?;
        #[derive(Deserialize)]
        struct Removed {
            removed: usize,
        }
        let removed: Removed = parse(body.expose_secret())?;
        self.state.specs.lock().clear();
        Ok(removed.removed)
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

    /// The material of an exportable key (extension only).
    pub fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        if !self.has_extension()? {
            return Err(Error::NotExportable { name: name.into() });
        }
        let info = self.get_key(name, version)?;
        let path = format!(
            "{EXT}{}",
            Self::crypto_path(name, Some(&info.version), "export")
        );
        let reply = self.send("POST", &path, None, Replay::Safe)?;
        let ctx = Context::key(&self.name, name, DataAction::ExportKey)
            .crypto(KeyOperation::Export, None);
        let body = expect(reply, &ctx)?;
        let material = model::material(&body, &info.spec)?;
        Ok((info, material))
    }

    /// Signs `input` (a digest or a message, as `alg` says).
    pub fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        let spec = self.spec(name, version)?;
        let alg_name = alg::sign_name(alg, &spec);
        let body = json!({ "alg": alg_name, "value": b64(input) }).to_string();
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "sign"),
            Some(body.as_bytes()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Sign)
            .crypto(KeyOperation::Sign, Some(&alg_name));
        value_bytes(&expect(reply, &ctx)?)
    }

    /// Verifies a signature.
    pub fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let spec = self.spec(name, version)?;
        let alg_name = alg::sign_name(alg, &spec);
        let body =
            json!({ "alg": alg_name, "digest": b64(input), "value": b64(signature) }).to_string();
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "verify"),
            Some(body.as_bytes()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Verify)
            .crypto(KeyOperation::Verify, Some(&alg_name));
        #[derive(Deserialize)]
        struct Verified {
            value: bool,
        }
        let v: Verified = parse(expect(reply, &ctx)?.expose_secret())?;
        Ok(v.value)
    }

    /// Encrypts.
    pub fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        let spec = self.spec(name, version)?;
        let req = alg::cipher_request(alg, &spec);
        let mut body = json!({ "alg": req.alg, "value": b64(plaintext) });
        add_iv_aad(&mut body, &req);
        let body = secret_json(body);
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "encrypt"),
            Some(body.expose_secret()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Encrypt)
            .crypto(KeyOperation::Encrypt, Some(&req.alg));
        #[derive(Deserialize)]
        struct Out {
            value: String,
            iv: Option<String>,
            tag: Option<String>,
        }
        let out: Out = parse(expect(reply, &ctx)?.expose_secret())?;
        Ok(Ciphertext {
            data: unb64(&out.value, "value")?,
            iv: match out.iv {
                Some(iv) => Some(unb64(&iv, "iv")?),
                None => req.iv,
            },
            tag: out.tag.map(|t| unb64(&t, "tag")).transpose()?,
        })
    }

    /// Decrypts (AEAD input is `ciphertext || tag`).
    pub fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        let spec = self.spec(name, version)?;
        let req = alg::cipher_request(alg, &spec);
        let (data, tag) = match alg {
            CipherAlgorithm::AesGcm { tag_len, .. } => {
                if ciphertext.len() < *tag_len {
                    return Err(Error::InvalidInputLength {
                        message: format!("GCM input holds a {tag_len}-byte tag"),
                    });
                }
                let (d, t) = ciphertext.split_at(ciphertext.len() - tag_len);
                (d, Some(t))
            }
            _ => (ciphertext, None),
        };
        let mut body = json!({ "alg": req.alg, "value": b64(data) });
        add_iv_aad(&mut body, &req);
        if let Some(tag) = tag {
            body["tag"] = json!(b64(tag));
        }
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "decrypt"),
            Some(&body.to_string().into_bytes()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Decrypt)
            .crypto(KeyOperation::Decrypt, Some(&req.alg));
        model::secret_value(&expect(reply, &ctx)?)
    }

    /// Wraps caller-supplied key bytes.
    pub fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        let spec = self.spec(name, version)?;
        let req = alg::wrap_request(alg, &spec);
        let mut body = json!({ "alg": req.alg, "value": b64(key) });
        add_iv_aad(&mut body, &req);
        let body = secret_json(body);
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "wrapkey"),
            Some(body.expose_secret()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Wrap)
            .crypto(KeyOperation::WrapKey, Some(&req.alg));
        value_bytes(&expect(reply, &ctx)?)
    }

    /// Wraps a stored key under another, on the server (extension only: the standard API
    /// cannot; without it the target is `NotExportable`, as nothing can leave a Managed HSM).
    pub fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>> {
        if !self.has_extension()? {
            return Err(Error::NotExportable {
                name: target.name.into(),
            });
        }
        let spec = self.spec(wrapping.name, wrapping.version)?;
        let req = alg::wrap_request(alg, &spec);
        let body = WrapStored::new(&req.alg, req.aad.as_deref(), target.name, target.version);
        let body = serde_json::to_vec(&body).map_err(|e| Error::Internal {
            message: e.to_string(),
        })?;
        let path = format!(
            "{EXT}{}",
            Self::crypto_path(wrapping.name, wrapping.version, "wrapstored")
        );
        let reply = self.send("POST", &path, Some(&body), Replay::Safe)?;
        let ctx = Context::key(&self.name, wrapping.name, DataAction::Wrap)
            .crypto(KeyOperation::WrapKey, Some(&req.alg));
        value_bytes(&expect(reply, &ctx)?)
    }

    /// Unwraps key bytes.
    pub fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        let spec = self.spec(name, version)?;
        let req = alg::wrap_request(alg, &spec);
        let mut body = json!({ "alg": req.alg, "value": b64(wrapped) });
        add_iv_aad(&mut body, &req);
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "unwrapkey"),
            Some(&body.to_string().into_bytes()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Unwrap)
            .crypto(KeyOperation::UnwrapKey, Some(&req.alg));
        model::secret_value(&expect(reply, &ctx)?)
    }

    /// ECDH with a peer's SEC1 point (extension only).
    pub fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        if !self.has_extension()? {
            return Err(Error::UnsupportedAlgorithm {
                algorithm: "ECDH (needs the mhsm PKCS#11 extension API)".into(),
            });
        }
        let body = json!({ "value": b64(peer_point) }).to_string();
        let path = format!("{EXT}{}", Self::crypto_path(name, version, "derive"));
        let reply = self.send("POST", &path, Some(body.as_bytes()), Replay::Safe)?;
        let ctx =
            Context::key(&self.name, name, DataAction::Derive).crypto(KeyOperation::Derive, None);
        model::secret_value(&expect(reply, &ctx)?)
    }

    fn document_path(kind: &str, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{EXT}/documents/{}/{}", seg(kind), seg(id)),
            None => format!("{EXT}/documents/{}", seg(kind)),
        }
    }

    /// Stores (or replaces) a document (extension only).
    pub fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        if !self.has_extension()? {
            return Err(needs_extension("storing objects other than keys"));
        }
        // Data objects may be private: the body is treated as a secret.
        let body = secret_json(json!({ "value": b64(value) }));
        let reply = self.send(
            "PUT",
            &Self::document_path(kind, Some(id)),
            Some(body.expose_secret()),
            Replay::Safe,
        );
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::WriteKey)).map(drop)
    }

    /// A document, if it exists (none without the extension).
    pub fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        if !self.has_extension()? {
            return Ok(None);
        }
        let reply = self.send(
            "GET",
            &Self::document_path(kind, Some(id)),
            None,
            Replay::Safe,
        )?;
        if reply.status == 404 && self.inner_pool_error(&reply).is_none() {
            return Ok(None);
        }
        let doc: DocumentJson =
            parse(expect(reply, &self.ctx(DataAction::ReadKey))?.expose_secret())?;
        Ok(Some(Arc::new(unb64(&doc.value, "value")?)))
    }

    /// All documents of a kind, by id (none without the extension).
    pub fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        if !self.has_extension()? {
            return Ok(Vec::new());
        }
        let reply = self.send("GET", &Self::document_path(kind, None), None, Replay::Safe)?;
        let docs: DocumentsJson =
            parse(expect(reply, &self.ctx(DataAction::ReadKey))?.expose_secret())?;
        docs.documents
            .into_iter()
            .map(|d| Ok((d.id, Arc::new(unb64(&d.value, "value")?))))
            .collect()
    }

    /// Removes a document; false when there was none.
    pub fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        if !self.has_extension()? {
            return Ok(false);
        }
        let reply = self.send(
            "DELETE",
            &Self::document_path(kind, Some(id)),
            None,
            Replay::Never,
        );
        self.invalidate();
        let reply = reply?;
        if reply.status == 404 && self.inner_pool_error(&reply).is_none() {
            return Ok(false);
        }
        expect(reply, &self.ctx(DataAction::DeleteKey)).map(|_| true)
    }

    fn pins(&self) -> Result<PinsJson> {
        if !self.has_extension()? {
            return Err(needs_extension("PINs kept by the server"));
        }
        let reply = self.send("GET", &format!("{EXT}/pins"), None, Replay::Safe)?;
        parse(expect(reply, &self.ctx(DataAction::ReadKey))?.expose_secret())
    }

    /// The configured PINs, when the server keeps none.
    fn fixed_pins(&self) -> Result<Option<&FixedPins>> {
        Ok((!self.has_extension()?).then_some(&*self.remote.inner.fixed_pins))
    }

    /// The pool's PIN policy.
    pub fn pin_policy(&self) -> Result<PinPolicy> {
        if let Some(fixed) = self.fixed_pins()? {
            return Ok(fixed.policy());
        }
        let p = self.pins()?.policy;
        Ok(PinPolicy {
            min_len: p.min_len,
            max_len: p.max_len,
            max_failures: p.max_failures,
        })
    }

    /// Sets the pool's PIN policy (configured PINs cannot change: `ReadOnly`).
    pub fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        if self.fixed_pins()?.is_some() {
            return Err(Error::ReadOnly);
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "minLen": policy.min_len,
            "maxLen": policy.max_len,
            "maxFailures": policy.max_failures,
        }))
        .map_err(|e| Error::Internal {
            message: e.to_string(),
        })?;
        // Setting a value: the same outcome if applied twice.
        let reply = self.send(
            "PUT",
            &format!("{EXT}/pins/policy"),
            Some(&body),
            Replay::Safe,
        );
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::WriteKey)).map(drop)
    }

    /// Sets a PIN (configured PINs cannot change: `ReadOnly`).
    pub fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        if self.fixed_pins()?.is_some() {
            return Err(Error::ReadOnly);
        }
        let body = secret_json(json!({ "pin": b64(pin) }));
        let path = format!("{EXT}/pins/{}", role_path(role));
        let reply = self.send("PUT", &path, Some(body.expose_secret()), Replay::Never);
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::WriteKey)).map(drop)
    }

    /// Checks a PIN; the server counts wrong ones (configured PINs: checked here, uncounted).
    pub fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        if let Some(fixed) = self.fixed_pins()? {
            return fixed.verify(role, pin);
        }
        let body = secret_json(json!({ "pin": b64(pin) }));
        let path = format!("{EXT}/pins/{}/verify", role_path(role));
        let reply = self.send("POST", &path, Some(body.expose_secret()), Replay::Never);
        // A wrong PIN moves the failure counter, a document.
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::ReadKey)).map(drop)
    }

    /// The state of a PIN.
    pub fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        if let Some(fixed) = self.fixed_pins()? {
            return Ok(fixed.status(role));
        }
        let pins = self.pins()?;
        let s = match role {
            PinRole::User => pins.user,
            PinRole::So => pins.so,
        };
        Ok(PinStatus {
            initialized: s.initialized,
            failures: s.failures,
            locked: s.locked,
            remaining: s.remaining,
        })
    }
}

impl HsmApi for RemoteHsm {
    fn identity(&self) -> String {
        self.url().to_string()
    }

    fn is_read_only(&self) -> bool {
        false
    }

    fn list_pools(&self) -> Result<Vec<String>> {
        RemoteHsm::list_pools(self)
    }

    fn pool(&self, name: &str) -> Result<Arc<dyn PoolApi>> {
        Ok(Arc::new(RemoteHsm::pool(self, name)))
    }

    fn create_pool_with_pins(&self, name: &str, pins: &InitialPins<'_>) -> Result<()> {
        RemoteHsm::create_pool_with_pins(self, name, pins)
    }
}

impl PoolApi for RemotePool {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_local(&self) -> bool {
        false
    }

    fn generation(&self) -> Result<u64> {
        RemotePool::generation(self)
    }

    fn invalidate(&self) {
        RemotePool::invalidate(self)
    }

    fn changes_since(&self, _generation: u64) -> Result<Option<PoolChanges>> {
        // The server does not itemize its changes: the caller reads the pool whole.
        Ok(None)
    }

    fn keeps_documents(&self) -> Result<bool> {
        self.has_extension()
    }

    fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        RemotePool::snapshot_keys(self)
    }

    fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        RemotePool::get_key(self, name, version)
    }

    fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        RemotePool::create_key(self, name, spec, opts)
    }

    fn import_key(&self, name: &str, material: KeyMaterial, opts: &KeyOptions) -> Result<KeyInfo> {
        RemotePool::import_key(self, name, material, opts)
    }

    fn update_key(&self, name: &str, version: Option<&str>, update: &KeyUpdate) -> Result<KeyInfo> {
        RemotePool::update_key(self, name, version, update)
    }

    fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        RemotePool::set_key_extra(self, name, attr, value)
    }

    fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        RemotePool::delete_key(self, name)
    }

    fn clear(&self) -> Result<usize> {
        RemotePool::clear(self)
    }

    fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        RemotePool::export_key(self, name, version)
    }

    fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        RemotePool::sign(self, name, version, alg, input)
    }

    fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        RemotePool::verify(self, name, version, alg, input, signature)
    }

    fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        RemotePool::encrypt(self, name, version, alg, plaintext)
    }

    fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        RemotePool::decrypt(self, name, version, alg, ciphertext)
    }

    fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        RemotePool::wrap_key(self, name, version, alg, key)
    }

    fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>> {
        RemotePool::wrap_stored_key(self, wrapping, alg, target)
    }

    fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        RemotePool::unwrap_key(self, name, version, alg, wrapped)
    }

    fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        RemotePool::derive_ecdh(self, name, version, peer_point)
    }

    fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        RemotePool::put_document(self, kind, id, value)
    }

    fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        RemotePool::get_document(self, kind, id)
    }

    fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        RemotePool::list_documents(self, kind)
    }

    fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        RemotePool::delete_document(self, kind, id)
    }

    fn pin_policy(&self) -> Result<PinPolicy> {
        RemotePool::pin_policy(self)
    }

    fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        RemotePool::set_pin_policy(self, policy)
    }

    fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        RemotePool::set_pin(self, role, pin)
    }

    fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        RemotePool::verify_pin(self, role, pin)
    }

    fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        RemotePool::pin_status(self, role)
    }
}

fn add_iv_aad(body: &mut Value, req: &alg::JwaRequest) {
    if let Some(iv) = &req.iv {
        body["iv"] = json!(b64(iv));
    }
    if let Some(aad) = &req.aad {
        body["aad"] = json!(b64(aad));
    }
}

/// The public `value` of an answer (signature, ciphertext, wrapped key).
fn value_bytes(body: &SecretBytes) -> Result<Vec<u8>> {
    #[derive(Deserialize)]
    struct Out {
        value: String,
    }
    let out: Out = parse(body.expose_secret())?;
    unb64(&out.value, "value")
}
