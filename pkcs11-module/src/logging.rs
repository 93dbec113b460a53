//! Logging with `tracing`: off unless `MHSM_LOG` (or `[log]` in the config file) asks for it.
//!
//! `MHSM_LOG=FILTER` logs to stderr, `MHSM_LOG=FILTER@FILE` appends to `FILE`; `FILTER` is a
//! tracing filter (`info`, `debug`, `mhsm_pkcs11=debug,hsm_core=warn`, `off`). Each call
//! logs one line at `debug` (function and `CK_RV`); initialization at `info`. Logs never hold
//! PINs, key material or data. The subscriber is installed once per process (on the first
//! `C_Initialize` that asks for one).
//!
//! A failing `C_Initialize` always says why in one line: in the log when there is one, else
//! on stderr, so that a refused data directory or configuration is never silent.

use std::fs::OpenOptions;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// The environment variable that turns logging on.
pub const LOG_ENV: &str = "MHSM_LOG";

static INSTALLED: OnceLock<()> = OnceLock::new();
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Checks a tracing filter.
pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Installs the subscriber the environment or the config asks for (once per process).
pub(crate) fn init(config: &Config) {
    let from_env = std::env::var(LOG_ENV).ok().filter(|v| !v.trim().is_empty());
    let (filter, file) = match &from_env {
        Some(v) => match v.split_once('@') {
            Some((f, path)) => (f.to_string(), Some(path.into())),
            None => (v.clone(), None),
        },
        None => match &config.log.filter {
            Some(f) => (f.clone(), config.log.file.clone()),
            None => return,
        },
    };
    if filter.trim() == "off" {
        return;
    }
    INSTALLED.get_or_init(|| {
        let env_filter = match EnvFilter::try_new(&filter) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("mhsm-pkcs11: {LOG_ENV}: bad filter {filter:?}: {e}; logging stays off");
                return;
            }
        };
        let builder = tracing_subscriber::fmt()
            .with_env_filter(env_filter)
            .with_ansi(false)
            .with_thread_ids(true);
        let installed = match file {
            Some(path) => match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => builder
                    .with_writer(std::sync::Mutex::new(f))
                    .try_init()
                    .is_ok(),
                Err(e) => {
                    eprintln!(
                        "mhsm-pkcs11: cannot open the log file {}: {e}",
                        path.display()
                    );
                    false
                }
            },
            None => builder.with_writer(std::io::stderr).try_init().is_ok(),
        };
        ACTIVE.store(installed, Ordering::Relaxed);
    });
}

/// Reports why `C_Initialize` failed: one line, in the log if there is one, else on stderr.
pub(crate) fn init_failure(message: &str) {
    if ACTIVE.load(Ordering::Relaxed) {
        tracing::error!("C_Initialize failed: {message}");
    } else {
        eprintln!("mhsm-pkcs11: C_Initialize failed: {message}");
    }
}
