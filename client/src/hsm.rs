//! [`RemoteHsm`]: one server, its connection pool and the caches of its pools.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hsm_core::pin::{FixedPins, InitialPins};
use hsm_core::rbac::DataAction;
use hsm_core::{Error, Result};
use mhsm_wire::pkcs11::PinPolicyBody;
use mhsm_wire::pools::{PoolBody, PoolCreate, ValueList};
use parking_lot::Mutex;
use zeroize::Zeroize;

use crate::errors::Context;
use crate::pool::{PoolState, RemotePool};
use crate::transport::{Endpoint, Replay, Request, Transport};
use crate::{RemoteSettings, expect, read};

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) endpoint: Endpoint,
    pub(crate) token_label: String,
    pub(crate) refresh_interval: Duration,
    /// Per-pool caches, shared by every [`RemotePool`] of the same name.
    pools: Mutex<HashMap<String, Arc<PoolState>>>,
    pub(crate) fixed_pins: Arc<FixedPins>,
}

/// One server: its connection pool and outage state. Cheap to clone.
#[derive(Clone)]
pub struct RemoteHsm {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteHsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHsm")
            .field("url", &self.url())
            .finish()
    }
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
        let pools: ValueList<PoolBody> = read(&expect(reply, &ctx)?)?;
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
        let mut create = PoolCreate {
            name: name.to_string(),
            pin_policy: pins.policy.map(PinPolicyBody::from),
            ..PoolCreate::default()
        };
        create.so_pin = text(pins.so)?;
        create.user_pin = text(pins.user)?;
        let size = name.len() + pins.so.map_or(0, <[u8]>::len) + pins.user.map_or(0, <[u8]>::len);
        let body = mhsm_wire::secret_json(&create, size);
        create.so_pin.zeroize();
        create.user_pin.zeroize();
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
        RemotePool::new(self.clone(), name, &base, state)
    }
}
