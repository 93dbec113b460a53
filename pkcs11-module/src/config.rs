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
//! [log]                          # MHSM_LOG wins over this
//! filter = "info"                # a tracing filter: off, error, warn, info, debug, trace
//! file = "/tmp/mhsm-pkcs11.log"  # default: stderr
//! ```
//!
//! Everything is optional; with no file the defaults apply. A file that cannot be read or
//! parsed, an unknown key (a typo must not silently weaken the PIN policy) or a bad value
//! makes `C_Initialize` fail with `CKR_GENERAL_ERROR` (SoftHSMv2's answer to a bad
//! configuration) and one line saying what is wrong.

use std::collections::BTreeMap;
use std::path::PathBuf;

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
        if let Some(filter) = &self.log.filter {
            crate::logging::check_filter(filter).map_err(|e| format!("[log] filter: {e}"))?;
        }
        Ok(())
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
