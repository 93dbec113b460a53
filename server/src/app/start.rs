//! Starting and stopping the server: the HSM, the default pool, the TLS identity, the
//! listener, the maintenance timer and `server.json`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::http::HeaderValue;
use hsm_core::names::Tags;
use hsm_core::time::OffsetClock;
use hsm_core::{Hsm, HsmConfig, PoolSettings};

use super::{AppState, TENANT};
use crate::access_log::AccessLog;
use crate::auth::TokenPolicy;
use crate::compute::ComputePool;
use crate::routes::jobs::Jobs;
use crate::tls;

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

pub use mhsm_wire::pools::DISCOVERY_FILE;

/// `server.json` while the server runs: written whole (a temporary file renamed over it, so
/// a reader never sees half of it), removed when dropped, so every way the server stops
/// short of a crash (`shutdown` after SIGINT or SIGTERM, an error, a dropped `Running`)
/// takes it away.
struct Discovery(PathBuf);

impl Discovery {
    fn write(data_dir: &std::path::Path, info: &mhsm_wire::pools::Discovery) -> Result<Discovery> {
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
    // Reads run inline on the async workers and must not write: maintenance runs on the
    // timer below and, when due, before a read (`dispatch`), on the blocking pool.
    state.hsm.defer_maintenance();
    let maintenance = spawn_maintenance(state.hsm.clone());
    let app = Router::new()
        .fallback(super::dispatch::dispatch)
        .with_state(state);
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
    let info = mhsm_wire::pools::Discovery {
        ca: ca_path.clone(),
        pid: Some(std::process::id()),
        url: url.clone(),
    };
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
            maintain(&hsm).await;
        }
    })
}

/// Runs the core's due maintenance on the blocking pool (it writes). A failure is logged:
/// a request that waited for it goes on and sees the state as it is.
pub(super) async fn maintain(hsm: &Hsm) {
    let hsm = hsm.clone();
    match tokio::task::spawn_blocking(move || hsm.maintain()).await {
        Ok(Err(e)) => tracing::warn!(error = %e, "maintenance failed"),
        Err(_) => tracing::warn!("maintenance panicked"),
        Ok(Ok(())) => {}
    }
}
