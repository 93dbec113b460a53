//! Starting an mhsm server for a test, on a free port, over a fresh data directory.
#![allow(dead_code)]

use std::net::SocketAddr;

use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings};
use server::{Running, ServeConfig};

/// `mhsm serve` in this process (`server::start`) over `config`'s data directory, once sled
/// has let go of the directory's lock: it does so a moment after the last handle drops (the
/// test's own setup, or a server just stopped), so try again for a while, as `pkcs11_common`
/// does.
pub fn start_when_free(runtime: &tokio::runtime::Runtime, config: &ServeConfig) -> Running {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match runtime.block_on(server::start(config.clone())) {
            Ok(running) => return running,
            Err(e)
                if std::time::Instant::now() < deadline && format!("{e:#}").contains("in use") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("mhsm serve: {e:#}"),
        }
    }
}

/// A server running in this process.
pub struct TestServer {
    pub runtime: tokio::runtime::Runtime,
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub ca_pem: Vec<u8>,
}

impl TestServer {
    /// Starts a server whose data directory already holds `pools` (besides `default`).
    pub fn start(pools: &[&str]) -> TestServer {
        TestServer::start_with(pools, |_| {})
    }

    /// Starts a server as [`TestServer::start`] does, after `configure` has changed its
    /// configuration.
    pub fn start_with(pools: &[&str], configure: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        {
            let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
            for p in pools {
                hsm.create_pool(p, PoolSettings::default(), Tags::new())
                    .unwrap();
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = ServeConfig::new(dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.domains = vec!["hsm.test".into()];
        configure(&mut config);
        let running = start_when_free(&runtime, &config);
        let ca_pem = std::fs::read(running.ca_path.as_ref().unwrap()).unwrap();
        TestServer {
            addr: running.addr,
            runtime,
            running: Some(running),
            dir,
            ca_pem,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A client trusting the server's CA, resolving `*.localhost` and `hsm.test` names here.
    pub fn client(&self, hosts: &[&str]) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem).unwrap())
            .tls_built_in_root_certs(false);
        for h in hosts {
            b = b.resolve(h, self.addr);
        }
        b.build().unwrap()
    }

    /// Stops the server and opens its data directory with the core, once sled has let go of
    /// the directory's lock (a moment after the server's last handle drops).
    pub fn stop_and_open(&mut self) -> Hsm {
        self.stop();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Hsm::open(HsmConfig::new(self.dir.path())) {
                Ok(hsm) => return hsm,
                Err(hsm_core::Error::StoreLocked { .. })
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("opening the stopped server's data directory: {e}"),
            }
        }
    }

    /// Stops the server gracefully.
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            self.runtime.block_on(r.shutdown()).unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
