//! The optional configuration file, named by `MHSM_PKCS11_CONFIG` (TOML).
//!
//! ```toml
//! data_dir = "/var/lib/mhsm"     # MHSM_DATA_DIR wins over this
//!
//! [slots]
//! uninitialized = 0              # slot id of the uninitialized token (default 0)
//! [slots.pools]                  # fixed slot ids; other pools get ids derived from their names
//! default = 1
//!
//! [pin]                          # PIN policy of the pools C_InitToken creates
//! min_len = 4                    # (stored in the pool; shown by the uninitialized token)
//! max_len = 255
//! max_failures = 10              # wrong PINs in a row before a PIN locks
//!
//! [remote]                       # remote mode (docs/REMOTE.md); the env variables win
//! url = "https://127.0.0.1:8443" # MHSM_URL: the mhsm server (or a Managed HSM)
//! ca_file = "/path/ca.pem"       # MHSM_CA_FILE: the CA to trust (default: the system's)
//! token = "..."                  # MHSM_TOKEN: the bearer token (default "mhsm-pkcs11")
//! token_file = "/path/token"     # MHSM_TOKEN_FILE: re-read when it changes
//! connect_timeout_ms = 2000
//! request_timeout_ms = 30000
//! max_retry_wait_ms = 10000      # total wait for 429 Retry-After before CKR_DEVICE_ERROR
//! refresh_ms = 1000              # how long a process trusts its object list
//! token_label = "my-hsm"         # the one token against a server that does not list pools
//! user_pin = "..."               # PINs checked locally, only against a server without
//! so_pin = "..."                 #   mhsm's extension API (a real Managed HSM)
//!
//! [crypto]                       # MHSM_CRYPTO_PROVIDER wins over this
//! provider = "aws-lc"            # or "rustcrypto" (default: aws-lc when built)
//!
//! [log]                          # MHSM_LOG wins over this
//! filter = "info"                # a tracing filter: off, error, warn, info, debug, trace
//! file = "/tmp/mhsm-pkcs11.log"  # default: stderr
//! ```
//!
//! Without a URL, a data directory holding `server.json` (written by a running `mhsm serve`,
//! whose pid is alive) selects remote mode with the URL and CA written there.
//!
//! Everything is optional; with no file the defaults apply. A file that cannot be read or
//! parsed, an unknown key (a typo must not silently weaken the PIN policy) or a bad value
//! makes `C_Initialize` fail with `CKR_GENERAL_ERROR` (SoftHSMv2's answer to a bad
//! configuration) and one line saying what is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cryptoki_sys::CK_SLOT_ID;
use hsm_core::pin::PinPolicy;
use serde::Deserialize;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "MHSM_PKCS11_CONFIG";

/// The module's configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The data directory (`MHSM_DATA_DIR` takes precedence).
    pub data_dir: Option<PathBuf>,
    /// Slot ids.
    #[serde(default)]
    pub slots: SlotsConfig,
    /// PIN policy.
    #[serde(default)]
    pub pin: PinConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Remote mode.
    #[serde(default)]
    pub remote: RemoteConfig,
    /// The crypto provider of embedded mode.
    #[serde(default)]
    pub crypto: CryptoConfig,
}

/// `[crypto]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CryptoConfig {
    /// `aws-lc` or `rustcrypto` (`MHSM_CRYPTO_PROVIDER` takes precedence).
    pub provider: Option<String>,
}

/// `[remote]`. Read (and checked) in every build; its settings are used only with the
/// `remote` feature.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub(crate) struct RemoteConfig {
    /// The server's URL.
    pub url: Option<String>,
    /// The CA certificate file (PEM).
    pub ca_file: Option<PathBuf>,
    /// The bearer token.
    pub token: Option<String>,
    /// A file holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Connection timeout.
    pub connect_timeout_ms: Option<u64>,
    /// Request timeout.
    pub request_timeout_ms: Option<u64>,
    /// Total wait for `429 Retry-After`.
    pub max_retry_wait_ms: Option<u64>,
    /// How long a process trusts its object list.
    pub refresh_ms: Option<u64>,
    /// The token's label against a server that does not list pools.
    pub token_label: Option<String>,
    /// The user PIN, against a server without the extension API.
    pub user_pin: Option<String>,
    /// The SO PIN, against a server without the extension API.
    pub so_pin: Option<String>,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens and PINs are secrets: only whether they are set.
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("ca_file", &self.ca_file)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("token_file", &self.token_file)
            .field("token_label", &self.token_label)
            .field("user_pin", &self.user_pin.as_ref().map(|_| "<set>"))
            .field("so_pin", &self.so_pin.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// The environment variable naming the server (remote mode).
pub const URL_ENV: &str = "MHSM_URL";
/// The environment variable naming the CA file of remote mode.
pub const CA_ENV: &str = "MHSM_CA_FILE";
/// The environment variable holding the bearer token of remote mode.
pub const TOKEN_ENV: &str = "MHSM_TOKEN";
/// The environment variable naming a file holding the bearer token.
pub const TOKEN_FILE_ENV: &str = "MHSM_TOKEN_FILE";
/// The file a running `mhsm serve` writes into its data directory.
pub const DISCOVERY_FILE: &str = "server.json";
/// The bearer token sent when none is configured.
pub const DEFAULT_TOKEN: &str = "mhsm-pkcs11";

/// Where remote mode's server is, resolved from the environment, the file and the data
/// directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The server's URL.
    pub url: String,
    /// The CA file, if any.
    pub ca_file: Option<PathBuf>,
    /// How it was found (for the log).
    pub source: &'static str,
}

/// What `server.json` holds.
#[derive(Deserialize)]
struct Discovery {
    url: String,
    ca: Option<PathBuf>,
    pid: Option<u32>,
}

/// `[slots]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlotsConfig {
    /// The uninitialized token's slot id.
    #[serde(default)]
    pub uninitialized: CK_SLOT_ID,
    /// Fixed slot ids by pool name.
    #[serde(default)]
    pub pools: BTreeMap<String, CK_SLOT_ID>,
}

/// `[pin]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PinConfig {
    /// Shortest PIN.
    pub min_len: u32,
    /// Longest PIN.
    pub max_len: u32,
    /// Wrong PINs in a row before the PIN locks.
    pub max_failures: u32,
}

impl PinConfig {
    /// The core's PIN policy with these values.
    pub fn policy(&self) -> PinPolicy {
        PinPolicy {
            min_len: self.min_len as usize,
            max_len: self.max_len as usize,
            max_failures: self.max_failures,
        }
    }
}

impl Default for PinConfig {
    fn default() -> Self {
        PinConfig {
            min_len: 4,
            max_len: 255,
            max_failures: 10,
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogConfig {
    /// A tracing filter (`info`, `mhsm_pkcs11=debug,hsm_core=info`, ...).
    pub filter: Option<String>,
    /// A file to append to instead of stderr.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Reads the file named by `MHSM_PKCS11_CONFIG`, or the defaults when it is unset.
    pub fn load() -> Result<Config, String> {
        match std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
            None => Ok(Config::default()),
            Some(path) => {
                let path = PathBuf::from(path);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "cannot read the config file {} ({CONFIG_ENV}): {e}",
                        path.display()
                    )
                })?;
                Config::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
            }
        }
    }

    /// Parses and validates a configuration.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let mut seen = BTreeMap::new();
        seen.insert(
            self.slots.uninitialized,
            "the uninitialized token".to_string(),
        );
        for (pool, id) in &self.slots.pools {
            hsm_core::names::validate_pool_name(pool)
                .map_err(|e| format!("[slots.pools] {pool:?}: {e}"))?;
            if let Some(other) = seen.insert(*id, format!("pool {pool:?}")) {
                return Err(format!(
                    "[slots] slot id {id} is given to {other} and to pool {pool:?}"
                ));
            }
        }
        if let Some(id) = seen.keys().find(|id| **id > CK_SLOT_ID::from(u32::MAX)) {
            return Err(format!("[slots] slot id {id} does not fit in 32 bits"));
        }
        let pin = &self.pin;
        pin.policy().validate().map_err(|e| {
            format!(
                "[pin] {e} (got min_len {}, max_len {}, max_failures {})",
                pin.min_len, pin.max_len, pin.max_failures
            )
        })?;
        if let Some(name) = &self.crypto.provider {
            hsm_core::crypto::provider_by_name(name).map_err(|e| format!("[crypto] {e}"))?;
        }
        if let Some(filter) = &self.log.filter {
            crate::logging::check_filter(filter).map_err(|e| format!("[log] filter: {e}"))?;
        }
        Ok(())
    }

    /// The server of remote mode: `MHSM_URL` (with `MHSM_CA_FILE`), else `[remote] url`, else
    /// the data directory's `server.json` when the server it names is alive; `None`: embedded.
    pub fn endpoint(&self) -> Result<Option<Endpoint>, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let ca_file = env(CA_ENV)
            .map(PathBuf::from)
            .or_else(|| self.remote.ca_file.clone());
        if let Some(url) = env(URL_ENV) {
            return Ok(Some(Endpoint {
                url,
                ca_file,
                source: URL_ENV,
            }));
        }
        if let Some(url) = &self.remote.url {
            return Ok(Some(Endpoint {
                url: url.clone(),
                ca_file,
                source: "[remote] url",
            }));
        }
        let Some(dir) = self.data_dir() else {
            return Ok(None);
        };
        let path = dir.join(DISCOVERY_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let found: Discovery = serde_json::from_slice(&text)
            .map_err(|e| format!("{} is not a server description: {e}", path.display()))?;
        if let Some(pid) = found.pid
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            // A server that was killed leaves its file behind; the directory is free.
            tracing::debug!(path = %path.display(), pid, "stale server.json ignored");
            return Ok(None);
        }
        Ok(Some(Endpoint {
            url: found.url,
            ca_file: ca_file.or(found.ca),
            source: "server.json",
        }))
    }

    /// The bearer token of remote mode: `MHSM_TOKEN`, `MHSM_TOKEN_FILE`, the file's `token`
    /// or `token_file`, else [`DEFAULT_TOKEN`]. `Err` holds the path of the token file.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub fn token(&self) -> Result<String, PathBuf> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = env(TOKEN_ENV) {
            return Ok(token);
        }
        if let Some(file) = env(TOKEN_FILE_ENV) {
            return Err(PathBuf::from(file));
        }
        if let Some(token) = &self.remote.token {
            return Ok(token.clone());
        }
        if let Some(file) = &self.remote.token_file {
            return Err(file.clone());
        }
        Ok(DEFAULT_TOKEN.to_string())
    }

    /// The data directory: `MHSM_DATA_DIR`, else `data_dir`, else the core's default.
    pub fn data_dir(&self) -> Option<PathBuf> {
        std::env::var_os(hsm_core::hsm::DATA_DIR_ENV)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.data_dir.clone())
            .or_else(hsm_core::hsm::default_data_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_means_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.slots.uninitialized, 0);
        assert!(c.slots.pools.is_empty());
        assert_eq!(
            (c.pin.min_len, c.pin.max_len, c.pin.max_failures),
            (4, 255, 10)
        );
        assert_eq!(c.pin.policy(), PinPolicy::default());
        assert!(c.log.filter.is_none());
    }

    #[test]
    fn crypto_table_names_a_built_provider() {
        let c = Config::parse("[crypto]\nprovider = \"rustcrypto\"").unwrap();
        assert_eq!(c.crypto.provider.as_deref(), Some("rustcrypto"));
        assert!(Config::parse("").unwrap().crypto.provider.is_none());
        let err = Config::parse("[crypto]\nprovider = \"openssl\"").unwrap_err();
        assert!(err.contains("[crypto]") && err.contains("openssl"), "{err}");
        assert!(Config::parse("[crypto]\nengine = \"x\"").is_err());
    }

    #[test]
    fn full_file() {
        let c = Config::parse(
            r#"
            data_dir = "/tmp/x"
            [slots]
            uninitialized = 9
            [slots.pools]
            default = 1
            other = 2
            [pin]
            min_len = 6
            max_failures = 3
            [log]
            filter = "mhsm_pkcs11=debug"
            file = "/tmp/log"
            "#,
        )
        .unwrap();
        assert_eq!(c.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(c.slots.uninitialized, 9);
        assert_eq!(c.slots.pools["other"], 2);
        assert_eq!(
            (c.pin.min_len, c.pin.max_len, c.pin.max_failures),
            (6, 255, 3)
        );
        assert_eq!(c.log.file, Some(PathBuf::from("/tmp/log")));
    }

    #[test]
    fn a_running_servers_file_selects_remote_mode() {
        if std::env::var_os(URL_ENV).is_some()
            || std::env::var_os(hsm_core::hsm::DATA_DIR_ENV).is_some()
        {
            return; // the environment decides; this test is about the file
        }
        let dir = std::env::temp_dir().join(format!("mhsm-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config {
            data_dir: Some(dir.clone()),
            ..Config::default()
        };
        assert_eq!(config.endpoint().unwrap(), None, "no file: embedded");

        let file = dir.join(DISCOVERY_FILE);
        let me = std::process::id();
        std::fs::write(
            &file,
            format!(r#"{{"url": "https://127.0.0.1:9", "ca": "/x/ca.pem", "pid": {me}}}"#),
        )
        .unwrap();
        let found = config.endpoint().unwrap().unwrap();
        assert_eq!(found.url, "https://127.0.0.1:9");
        assert_eq!(found.ca_file, Some(PathBuf::from("/x/ca.pem")));

        // pid_max is at most 2^22 on Linux: this one cannot be alive.
        std::fs::write(
            &file,
            r#"{"url": "https://127.0.0.1:9", "ca": null, "pid": 4294967295}"#,
        )
        .unwrap();
        assert_eq!(
            config.endpoint().unwrap(),
            None,
            "a dead server's file is ignored"
        );

        std::fs::write(&file, "not json").unwrap();
        assert!(config.endpoint().unwrap_err().contains("server.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn remote_table_and_secrets_stay_out_of_debug() {
        let c = Config::parse(
            r#"
            [remote]
            url = "https://hsm.example:8443"
            token = "eyJ-secret-token"
            user_pin = "123456"
            refresh_ms = 250
            "#,
        )
        .unwrap();
        assert_eq!(c.remote.refresh_ms, Some(250));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("eyJ-secret-token") && !shown.contains("123456"),
            "{shown}"
        );
        assert!(
            Config::parse("[remote]\nurl_typo = 1")
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        for (text, says) in [
            ("[pin]\nmax_failure = 3", "unknown field"),
            ("colour = 1", "unknown field"),
            (
                "[slots]\nuninitialized = 1\n[slots.pools]\np1x = 1",
                "slot id 1",
            ),
            ("[slots.pools]\nbad_name = 5", "bad_name"),
            ("[slots.pools]\nabc = 4294967296", "32 bits"),
            ("[pin]\nmin_len = 0", "min_len"),
            ("[pin]\nmin_len = 9\nmax_len = 8", "min_len"),
            ("[pin]\nmax_failures = 0", "max_failures"),
            ("[log]\nfilter = \"=[\"", "filter"),
            ("[slots", "expected"),
        ] {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
