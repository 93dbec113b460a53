//! Remote mode: the tokens' pools behind a running `mhsm serve` (or a Managed HSM), through
//! `mhsm-client`. Built with the `remote` feature; without it the module has no network
//! code at all (`cargo tree -p pkcs11-module` shows no HTTP or TLS crate), and a configured
//! or discovered server is refused at `C_Initialize` with a message saying so.

use std::sync::Arc;

use hsm_core::HsmApi;

use crate::config::{Config, Endpoint};

/// Connects to the server `endpoint` names: its URL and the pools behind it.
#[cfg(feature = "remote")]
pub(super) fn connect(
    config: &Config,
    endpoint: &Endpoint,
) -> Result<(String, Arc<dyn HsmApi>), String> {
    let settings = client::settings(config, endpoint)?;
    let remote = mhsm_client::RemoteHsm::connect(settings)
        .map_err(|e| format!("cannot use the server {}: {e}", endpoint.url))?;
    tracing::debug!(url = %endpoint.url, source = endpoint.source, "remote mode");
    Ok((remote.url().to_string(), Arc::new(remote)))
}

/// Without the `remote` feature: the server is named, but this build cannot reach it.
#[cfg(not(feature = "remote"))]
pub(super) fn connect(
    _config: &Config,
    endpoint: &Endpoint,
) -> Result<(String, Arc<dyn HsmApi>), String> {
    Err(format!(
        "a server is configured ({}, from {}), but this libmhsm_pkcs11.so was built without \
         remote mode: build it with `cargo build --release -p pkcs11-module --features remote`, \
         or unset the server to use a data directory",
        endpoint.url, endpoint.source
    ))
}

#[cfg(feature = "remote")]
mod client {
    use std::sync::Arc;
    use std::time::Duration;

    use hsm_core::pin::FixedPins;
    use mhsm_client::{RemoteSettings, TokenSource};

    use crate::config::{Config, Endpoint};

    /// The client's settings from the config file and the environment.
    pub(super) fn settings(config: &Config, endpoint: &Endpoint) -> Result<RemoteSettings, String> {
        let r = &config.remote;
        let ca_pem = match &endpoint.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let token = match config.token() {
            Ok(token) => TokenSource::Value(token),
            Err(file) => TokenSource::File(file),
        };
        let ms = |v: Option<u64>, default: u64| Duration::from_millis(v.unwrap_or(default));
        Ok(RemoteSettings {
            url: endpoint.url.clone(),
            ca_pem,
            token,
            connect_timeout: ms(r.connect_timeout_ms, 2_000),
            request_timeout: ms(r.request_timeout_ms, 30_000),
            max_retry_wait: ms(r.max_retry_wait_ms, 10_000),
            refresh_interval: ms(r.refresh_ms, 1_000),
            token_label: r.token_label.clone(),
            fixed_pins: Arc::new(FixedPins::new(
                r.user_pin.as_deref().map(str::as_bytes),
                r.so_pin.as_deref().map(str::as_bytes),
                config.pin.policy(),
            )),
        })
    }
}

#[cfg(all(test, not(feature = "remote")))]
mod tests {
    use super::*;

    #[test]
    fn a_build_without_remote_mode_says_how_to_get_it() {
        let endpoint = Endpoint {
            url: "https://localhost:8443".into(),
            ca_file: None,
            source: "MHSM_URL",
        };
        let err = connect(&Config::default(), &endpoint).unwrap_err();
        assert!(err.contains("https://localhost:8443"), "{err}");
        assert!(err.contains("--features remote"), "{err}");
    }
}
