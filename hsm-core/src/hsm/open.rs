//! Opening an HSM: its configuration, the store, the root key and the security domain, and
//! the records read back and checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};

use parking_lot::{Mutex, RwLock};

use super::load::{decode, load_pools};
use super::{Hsm, HsmInner};
use crate::cache::{DEFAULT_CAPACITY, KeyCache};
use crate::crypto::{CryptoProvider, provider_from_env};
use crate::error::{Error, Result};
use crate::record::{FORMAT, META_PATH, MetaRecord, record_aad};
use crate::root::{self, RootKeySource, SecurityDomain};
use crate::secret::SecretBytes;
use crate::store::{Batch, MemoryStore, SledStore, Store};
use crate::time::{Clock, SystemClock};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "MHSM_DATA_DIR";

/// How to open an HSM.
pub struct HsmConfig {
    data_dir: Option<PathBuf>,
    root_key: RootKeySource,
    provider: Option<Arc<dyn CryptoProvider>>,
    clock: Option<Arc<dyn Clock>>,
    cache_capacity: usize,
}

impl std::fmt::Debug for HsmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmConfig")
            .field("data_dir", &self.data_dir)
            .field("root_key", &self.root_key)
            .field("provider", &self.provider.as_ref().map(|p| p.name()))
            .field("cache_capacity", &self.cache_capacity)
            .finish()
    }
}

impl HsmConfig {
    /// An HSM persisted in `data_dir` (created if missing), root key from the default source.
    pub fn new(data_dir: impl Into<PathBuf>) -> HsmConfig {
        HsmConfig {
            data_dir: Some(data_dir.into()),
            root_key: RootKeySource::Default,
            provider: None,
            clock: None,
            cache_capacity: DEFAULT_CAPACITY,
        }
    }

    /// An HSM in memory only (for tests), with a random root key unless one is given.
    pub fn in_memory() -> HsmConfig {
        HsmConfig {
            data_dir: None,
            ..HsmConfig::new("")
        }
    }

    /// Sets the root key source.
    pub fn root_key(mut self, source: RootKeySource) -> Self {
        self.root_key = source;
        self
    }

    /// Sets the crypto provider (default: the one `MHSM_CRYPTO_PROVIDER` names, else
    /// [`crate::crypto::default_provider`]).
    pub fn provider(mut self, provider: Arc<dyn CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Sets the clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets how many parsed keys are cached (0 disables the cache).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }
}

/// The default data directory: `$MHSM_DATA_DIR`, else `$XDG_DATA_HOME/mhsm`, else
/// `~/.local/share/mhsm`.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(xdg).join("mhsm"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/mhsm"))
}

impl Hsm {
    /// Opens (or creates) an HSM. Fails at once with [`Error::StoreLocked`] when another
    /// process holds the data directory, and with [`Error::Corrupted`] when any record fails
    /// authentication.
    pub fn open(config: HsmConfig) -> Result<Hsm> {
        let HsmConfig {
            data_dir,
            root_key,
            provider,
            clock,
            cache_capacity,
        } = config;
        // Before anything touches the store: a misspelt provider is an error, not a default.
        let provider = match provider {
            Some(provider) => provider,
            None => provider_from_env()?,
        };
        let store: Box<dyn Store> = match &data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| Error::Storage {
                    message: format!("cannot create {}: {e}", dir.display()),
                })?;
                Box::new(SledStore::open(&dir.join("store"))?)
            }
            None => Box::new(MemoryStore::new()),
        };
        let meta = store.get(META_PATH.as_bytes())?;
        let root = match (&data_dir, root_key) {
            (None, RootKeySource::Default) => {
                let mut key = SecretBytes::zeroed(32);
                getrandom::fill(key.expose_secret_mut()).map_err(|_| Error::RandomFailure)?;
                key
            }
            (dir, source) => root::load(source, dir.as_deref(), meta.is_none())?,
        };
        let domain = SecurityDomain::from_root(&root)?;
        drop(root);
        let dir_for_errors = data_dir.clone().unwrap_or_default();
        match meta {
            Some(sealed) => {
                let plain = domain
                    .records
                    .open(&record_aad(META_PATH), &sealed)
                    .ok_or_else(|| Error::RootKeyMismatch {
                        path: dir_for_errors.clone(),
                    })?;
                let meta: MetaRecord = decode(META_PATH.as_bytes(), Some(plain))?;
                if meta.format != FORMAT {
                    return Err(Error::Storage {
                        message: format!(
                            "unknown store format {} (expected {FORMAT})",
                            meta.format
                        ),
                    });
                }
                if meta.security_domain != domain.id {
                    return Err(Error::RootKeyMismatch {
                        path: dir_for_errors,
                    });
                }
            }
            None => {
                let meta = MetaRecord {
                    format: FORMAT,
                    security_domain: domain.id.clone(),
                };
                let json = serde_json::to_vec(&meta).map_err(|e| Error::internal(e.to_string()))?;
                let mut batch = Batch::new();
                batch.put(
                    META_PATH,
                    domain.records.seal(&record_aad(META_PATH), &json)?,
                );
                store.commit(batch)?;
            }
        }
        let inner = Arc::new(HsmInner {
            store,
            clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
            provider,
            domain,
            cache: KeyCache::new(cache_capacity),
            data_dir,
            pools: RwLock::new(BTreeMap::new()),
            pools_write: Mutex::new(()),
            next_pool_purge: AtomicI64::new(i64::MAX),
            read_only: AtomicBool::new(false),
            deferred_maintenance: AtomicBool::new(false),
            plaintext_exports: AtomicU64::new(0),
        });
        let pools = load_pools(&inner)?;
        inner.recompute_next_purge(&pools);
        *inner.pools.write() = pools;
        let hsm = Hsm { inner };
        hsm.maintain()?;
        tracing::info!(
            data_dir = ?hsm.inner.data_dir,
            provider = hsm.inner.provider.name(),
            pools = hsm.inner.pools.read().len(),
            "hsm opened"
        );
        Ok(hsm)
    }
}
