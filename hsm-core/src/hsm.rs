//! The HSM: a data directory (or memory) holding pools, one security domain, one provider.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::cache::{DEFAULT_CAPACITY, KeyCache};
use crate::crypto::{
    CryptoProvider, HashAlg, Hasher, PublicKey, SignAlgorithm, check, provider_from_env,
};
use crate::error::{Error, Result};
use crate::key::Deletion;
use crate::names::{Tags, new_id, validate_pool_name, validate_tags};
use crate::pin::InitialPins;
use crate::pool::{
    Documents, KeyEntry, Pool, PoolInfo, PoolSettings, PoolState, PoolUpdate, VersionEntry,
};
use crate::record::{
    FORMAT, KeyRecord, META_PATH, MetaRecord, PoolRecord, VersionRecord, doc_path, doc_prefix,
    key_path, key_prefix, master_aad, pool_path, record_aad, version_path, version_prefix,
};
use crate::root::{self, RootKeySource, SecurityDomain};
use crate::seal::SealKey;
use crate::secret::SecretBytes;
use crate::store::{Batch, MemoryStore, SledStore, Store};
use crate::time::{Clock, SystemClock, UnixTime};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "MHSM_DATA_DIR";

/// The largest random request (1 MiB).
pub const MAX_RANDOM: usize = 1 << 20;

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

pub(crate) struct HsmInner {
    pub store: Box<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub provider: Arc<dyn CryptoProvider>,
    pub domain: SecurityDomain,
    pub cache: KeyCache,
    pub data_dir: Option<PathBuf>,
    /// Live and deleted pools.
    pools: RwLock<BTreeMap<String, Arc<PoolState>>>,
    /// Serialises pool creation, deletion, recovery and purge.
    pools_write: Mutex<()>,
    /// Earliest scheduled purge among deleted pools (`i64::MAX`: none).
    next_pool_purge: AtomicI64,
    /// Set in a forked child process: it shares the parent's store and must not write.
    read_only: AtomicBool,
    /// Reads leave due maintenance to the caller ([`Hsm::defer_maintenance`]).
    deferred_maintenance: AtomicBool,
    /// How many times key material left this HSM in the clear ([`Hsm::plaintext_exports`]).
    plaintext_exports: AtomicU64,
}

impl HsmInner {
    pub(crate) fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::SeqCst)
    }

    /// Whether reads leave due maintenance to the caller.
    pub(crate) fn maintenance_deferred(&self) -> bool {
        self.deferred_maintenance.load(Ordering::Relaxed)
    }

    /// Counts one export of key material in the clear.
    pub(crate) fn count_plaintext_export(&self) {
        self.plaintext_exports.fetch_add(1, Ordering::Relaxed);
    }

    /// Refuses writes in read-only mode.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    pub(crate) fn pool_info(&self, record: &PoolRecord) -> PoolInfo {
        PoolInfo {
            name: record.name.clone(),
            settings: record.settings.clone(),
            tags: record.tags.clone(),
            created: record.created,
            updated: record.updated,
            deletion: record.deleted.clone(),
            security_domain: self.domain.id.clone(),
        }
    }

    pub(crate) fn seal_pool_record(&self, record: &PoolRecord) -> Result<Vec<u8>> {
        let path = pool_path(&record.name);
        let json = SecretBytes::new(
            serde_json::to_vec(record)
                .map_err(|e| Error::internal(format!("encoding {path}: {e}")))?,
        );
        self.domain
            .records
            .seal(&record_aad(&path), json.expose_secret())
    }

    fn recompute_next_purge(&self, pools: &BTreeMap<String, Arc<PoolState>>) {
        let next = pools
            .values()
            .filter_map(|p| {
                p.data
                    .read()
                    .record
                    .deleted
                    .as_ref()
                    .map(|d| d.scheduled_purge.0)
            })
            .min()
            .unwrap_or(i64::MAX);
        self.next_pool_purge.store(next, Ordering::SeqCst);
    }
}

/// What a new pool starts with besides its settings and tags
/// ([`Hsm::create_pool_with`]): its PINs, and administrators (object ids) that make its RBAC
/// strict from the first moment.
#[derive(Clone, Debug, Default)]
pub struct NewPool<'a> {
    /// The PIN policy and PINs.
    pub pins: InitialPins<'a>,
    /// Object ids granted the Administrator role at `/`; any makes the pool strict.
    pub admins: Vec<String>,
}

/// An HSM: pools of keys in one security domain. `Send + Sync`; clone it freely.
#[derive(Clone)]
pub struct Hsm {
    inner: Arc<HsmInner>,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm")
            .field("data_dir", &self.inner.data_dir)
            .field("security_domain", &self.inner.domain.id)
            .field("provider", &self.inner.provider.name())
            .finish()
    }
}

fn corrupted(path: &[u8]) -> Error {
    Error::Corrupted {
        record: String::from_utf8_lossy(path).into_owned(),
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    path: &[u8],
    plain: Option<SecretBytes>,
) -> Result<T> {
    let plain = plain.ok_or_else(|| corrupted(path))?;
    serde_json::from_slice(plain.expose_secret()).map_err(|_| corrupted(path))
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

    /// Makes this handle (and every clone, in this process) read-only: reads and crypto work,
    /// every write fails with [`Error::ReadOnly`], and no purge or rotation runs. For a forked
    /// child process, which shares its parent's store and must leave it to the parent.
    pub fn set_read_only(&self) {
        self.inner.read_only.store(true, Ordering::SeqCst);
    }

    /// Whether [`Hsm::set_read_only`] was called.
    pub fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }

    /// How many times key material has left this HSM in the clear since it opened (each
    /// [`Pool::export_key`]): an audit figure, and what tests read to show that an operation
    /// (wrapping a stored key) moves no plaintext out of the core.
    pub fn plaintext_exports(&self) -> u64 {
        self.inner.plaintext_exports.load(Ordering::Relaxed)
    }

    /// The data directory (None in memory).
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.data_dir.as_deref()
    }

    /// The security domain's public id.
    pub fn security_domain(&self) -> &str {
        &self.inner.domain.id
    }

    /// The crypto provider in use.
    pub fn provider(&self) -> &Arc<dyn CryptoProvider> {
        &self.inner.provider
    }

    /// The current time by the HSM's clock.
    pub fn now(&self) -> UnixTime {
        self.inner.now()
    }

    /// Purges deleted pools whose retention has elapsed (and, in live pools, deleted keys
    /// whose retention has elapsed). Runs lazily before pool calls; callers may also run it
    /// on a timer.
    pub fn maintain(&self) -> Result<()> {
        if self.inner.is_read_only() {
            return Ok(());
        }
        let now = self.now();
        if now.0 >= self.inner.next_pool_purge.load(Ordering::SeqCst) {
            let due: Vec<String> = self
                .inner
                .pools
                .read()
                .values()
                .filter(|p| {
                    p.data
                        .read()
                        .record
                        .deleted
                        .as_ref()
                        .is_some_and(|d| d.scheduled_purge <= now)
                })
                .map(|p| p.name.clone())
                .collect();
            for name in due {
                self.erase_pool(&name)?;
                tracing::info!(pool = %name, "purged a pool past its retention");
            }
        }
        let live: Vec<Pool> = self
            .inner
            .pools
            .read()
            .values()
            .map(|state| Pool {
                hsm: self.inner.clone(),
                state: state.clone(),
            })
            .collect();
        for pool in live {
            pool.maintain()?;
        }
        Ok(())
    }

    fn maintain_pools(&self) -> Result<()> {
        if self.now().0 >= self.inner.next_pool_purge.load(Ordering::SeqCst) {
            self.maintain()?;
        }
        Ok(())
    }

    /// Before a read: due maintenance, unless the caller runs it ([`Hsm::defer_maintenance`]).
    fn maintain_pools_for_read(&self) -> Result<()> {
        if self.inner.maintenance_deferred() {
            return Ok(());
        }
        self.maintain_pools()
    }

    /// Reads stop running due maintenance (purges past retention, rotations by policy),
    /// which writes and fsyncs: the caller runs [`Hsm::maintain`] where blocking is
    /// allowed, on a timer and whenever [`Hsm::maintenance_due`] says so before a read. A
    /// server does this so that the reads it answers on its async workers never write;
    /// writes still run due maintenance first.
    pub fn defer_maintenance(&self) {
        self.inner
            .deferred_maintenance
            .store(true, Ordering::Relaxed);
    }

    /// Whether maintenance is due for the HSM's pools or in the pool `pool` (a cheap check:
    /// the clock and three counters).
    pub fn maintenance_due(&self, pool: &str) -> bool {
        let now = self.now();
        if now.0 >= self.inner.next_pool_purge.load(Ordering::SeqCst) {
            return true;
        }
        self.state(pool).is_some_and(|s| s.maintenance_due(now))
    }

    fn state(&self, name: &str) -> Option<Arc<PoolState>> {
        self.inner.pools.read().get(name).cloned()
    }

    /// Creates a pool with a fresh master key.
    pub fn create_pool(&self, name: &str, settings: PoolSettings, tags: Tags) -> Result<PoolInfo> {
        self.create_pool_with(name, settings, tags, &NewPool::default())
    }

    /// Creates a pool with a fresh master key and its PINs, in one commit.
    pub fn create_pool_with_pins(
        &self,
        name: &str,
        settings: PoolSettings,
        tags: Tags,
        pins: &InitialPins<'_>,
    ) -> Result<PoolInfo> {
        let new = NewPool {
            pins: *pins,
            admins: Vec::new(),
        };
        self.create_pool_with(name, settings, tags, &new)
    }

    /// Creates a pool with a fresh master key, its PINs and its administrators, in one
    /// commit: the pool exists with all of them (purge protection included, when the
    /// settings ask for it), or not at all.
    pub fn create_pool_with(
        &self,
        name: &str,
        settings: PoolSettings,
        tags: Tags,
        new: &NewPool<'_>,
    ) -> Result<PoolInfo> {
        validate_pool_name(name)?;
        settings.validate()?;
        validate_tags(&tags)?;
        // PINs are hashed (slowly) before the writer lock is taken.
        let mut documents = new.pins.documents()?;
        documents.extend(crate::rbac::strict_documents(&new.admins)?);
        self.maintain_pools()?;
        let _writer = self.inner.pools_write.lock();
        // Pool names are host names (`{pool}.localhost`), which DNS compares without case:
        // two pools may not differ in case only.
        if let Some(taken) = self.name_in_use(name)
            && let Some(existing) = self.state(&taken)
        {
            let deleted = existing.data.read().record.deleted.is_some();
            return Err(Error::Conflict {
                message: if deleted {
                    format!("pool '{taken}' is deleted but recoverable: recover or purge it first")
                } else {
                    format!("pool '{taken}' already exists")
                },
            });
        }
        let now = self.now();
        let uid = new_id()?;
        let mut master = SecretBytes::zeroed(32);
        self.inner
            .provider
            .fill_random(master.expose_secret_mut())?;
        let record = PoolRecord {
            name: name.to_string(),
            uid: uid.clone(),
            created: now,
            updated: now,
            settings,
            tags,
            wrapped_master: self
                .inner
                .domain
                .master_wrap
                .seal(&master_aad(name, &uid), master.expose_secret())?,
            deleted: None,
        };
        let seal = SealKey::new(&master)?;
        let mut batch = Batch::new();
        batch.put(pool_path(name), self.inner.seal_pool_record(&record)?);
        let mut docs = Documents::new();
        for (kind, id, json) in documents {
            let path = doc_path(name, kind, &id);
            batch.put(path.clone(), seal.seal(&record_aad(&path), &json)?);
            docs.insert((kind.to_string(), id), Arc::new(json));
        }
        self.inner.check_writable()?;
        self.inner.store.commit(batch)?;
        let info = self.inner.pool_info(&record);
        let state = Arc::new(PoolState::new(record, seal, BTreeMap::new(), docs));
        self.inner.pools.write().insert(name.to_string(), state);
        tracing::info!(pool = name, "pool created");
        Ok(info)
    }

    /// The pool name (live or deleted) equal to `name` but for ASCII case, as it was created:
    /// host names carry pool names, and hosts are compared without case.
    pub fn name_in_use(&self, name: &str) -> Option<String> {
        let pools = self.inner.pools.read();
        if pools.contains_key(name) {
            return Some(name.to_string());
        }
        pools.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
    }

    /// A handle on a live pool.
    pub fn pool(&self, name: &str) -> Result<Pool> {
        self.maintain_pools_for_read()?;
        Ok(Pool {
            hsm: self.inner.clone(),
            state: self.live_state(name)?,
        })
    }

    fn live_state(&self, name: &str) -> Result<Arc<PoolState>> {
        self.state(name)
            .filter(|s| s.data.read().record.deleted.is_none())
            .ok_or_else(|| Error::PoolNotFound { name: name.into() })
    }

    /// A live pool's description.
    pub fn get_pool(&self, name: &str) -> Result<PoolInfo> {
        self.pool(name)?.info()
    }

    /// All live pools, by name.
    pub fn list_pools(&self) -> Result<Vec<PoolInfo>> {
        self.list(false)
    }

    /// All deleted pools, by name.
    pub fn list_deleted_pools(&self) -> Result<Vec<PoolInfo>> {
        self.list(true)
    }

    fn list(&self, deleted: bool) -> Result<Vec<PoolInfo>> {
        self.maintain_pools_for_read()?;
        Ok(self
            .inner
            .pools
            .read()
            .values()
            .map(|p| p.data.read().record.clone())
            .filter(|r| r.deleted.is_some() == deleted)
            .map(|r| self.inner.pool_info(&r))
            .collect())
    }

    /// A deleted pool's description.
    pub fn get_deleted_pool(&self, name: &str) -> Result<PoolInfo> {
        self.maintain_pools_for_read()?;
        let state = self.deleted_state(name)?;
        let info = self.inner.pool_info(&state.data.read().record);
        Ok(info)
    }

    fn deleted_state(&self, name: &str) -> Result<Arc<PoolState>> {
        self.state(name)
            .filter(|s| s.data.read().record.deleted.is_some())
            .ok_or_else(|| Error::DeletedPoolNotFound { name: name.into() })
    }

    /// Rewrites a pool record under the pool's writer lock.
    fn update_record(
        &self,
        state: &PoolState,
        f: impl FnOnce(&mut PoolRecord, UnixTime) -> Result<()>,
    ) -> Result<PoolInfo> {
        let _writer = state.write.lock();
        let mut record = state.data.read().record.clone();
        let now = self.now();
        f(&mut record, now)?;
        let mut batch = Batch::new();
        batch.put(
            pool_path(&record.name),
            self.inner.seal_pool_record(&record)?,
        );
        self.inner.check_writable()?;
        self.inner.store.commit(batch)?;
        let info = self.inner.pool_info(&record);
        let mut data = state.data.write();
        data.record = record;
        state.bump(&mut data);
        drop(data);
        Ok(info)
    }

    /// Changes a live pool's settings or tags. Purge protection can be turned on, never off.
    pub fn update_pool(&self, name: &str, update: &PoolUpdate) -> Result<PoolInfo> {
        let pool = self.pool(name)?;
        if let Some(tags) = &update.tags {
            validate_tags(tags)?;
        }
        self.update_record(&pool.state, |record, now| {
            let mut settings = record.settings.clone();
            if let Some(days) = update.soft_delete_retention_days {
                settings.soft_delete_retention_days = days;
            }
            if let Some(protect) = update.purge_protection {
                if settings.purge_protection && !protect {
                    return Err(Error::bad_parameter(
                        "purge protection cannot be turned off once on",
                    ));
                }
                settings.purge_protection = protect;
            }
            settings.validate()?;
            record.settings = settings;
            if let Some(tags) = &update.tags {
                record.tags = tags.clone();
            }
            record.updated = now;
            Ok(())
        })
    }

    /// Soft-deletes a pool: its keys become unreachable until it is recovered, and it is
    /// purged when its retention ends.
    pub fn delete_pool(&self, name: &str) -> Result<PoolInfo> {
        self.maintain_pools()?;
        let _pools = self.inner.pools_write.lock();
        let state = self.live_state(name)?;
        let info = self.update_record(&state, |record, now| {
            record.deleted = Some(Deletion {
                deleted_on: now,
                scheduled_purge: now.plus_days(record.settings.soft_delete_retention_days),
                recovery_id: format!("deletedpools/{name}"),
            });
            Ok(())
        })?;
        self.inner.recompute_next_purge(&self.inner.pools.read());
        tracing::info!(pool = name, "pool deleted");
        Ok(info)
    }

    /// Brings a deleted pool back with all its keys.
    pub fn recover_pool(&self, name: &str) -> Result<PoolInfo> {
        self.maintain_pools()?;
        let _pools = self.inner.pools_write.lock();
        let state = self.deleted_state(name)?;
        let info = self.update_record(&state, |record, _| {
            record.deleted = None;
            Ok(())
        })?;
        self.inner.recompute_next_purge(&self.inner.pools.read());
        tracing::info!(pool = name, "pool recovered");
        Ok(info)
    }

    /// Erases a deleted pool and all its keys for good. Refused under purge protection until
    /// its scheduled purge date.
    pub fn purge_pool(&self, name: &str) -> Result<()> {
        self.maintain_pools()?;
        let state = self.deleted_state(name)?;
        {
            let data = state.data.read();
            if let Some(d) = &data.record.deleted
                && data.record.settings.purge_protection
                && self.now() < d.scheduled_purge
            {
                return Err(Error::PurgeProtected {
                    name: name.into(),
                    scheduled_purge: d.scheduled_purge,
                });
            }
        }
        self.erase_pool(name)?;
        tracing::info!(pool = name, "pool purged");
        Ok(())
    }

    /// Removes a deleted pool's records and memory.
    fn erase_pool(&self, name: &str) -> Result<()> {
        let _pools = self.inner.pools_write.lock();
        let state = self.deleted_state(name)?;
        let _writer = state.write.lock();
        let mut batch = Batch::new();
        let mut evict = Vec::new();
        {
            let data = state.data.read();
            for entry in data.keys.values() {
                state.erase_key(&mut batch, entry);
                evict.extend(entry.versions.values().filter_map(|v| v.cache_id));
            }
            for (kind, id) in data.docs.keys() {
                batch.delete(doc_path(name, kind, id));
            }
        }
        batch.delete(pool_path(name));
        self.inner.check_writable()?;
        self.inner.store.commit(batch)?;
        {
            let mut data = state.data.write();
            data.keys.clear();
            data.rebuild_purges();
            data.docs.clear();
        }
        let mut pools = self.inner.pools.write();
        pools.remove(name);
        self.inner.recompute_next_purge(&pools);
        drop(pools);
        self.inner.cache.remove(evict);
        Ok(())
    }

    /// `n` random bytes (at most [`MAX_RANDOM`]).
    pub fn random(&self, n: usize) -> Result<Vec<u8>> {
        if n > MAX_RANDOM {
            return Err(Error::bad_parameter(format!(
                "at most {MAX_RANDOM} random bytes per call"
            )));
        }
        let mut out = vec![0; n];
        self.inner.provider.fill_random(&mut out)?;
        Ok(out)
    }

    /// Seals a front end's own secret (a TLS private key, say) for storing in a file: sealed
    /// under a key derived from the root key, bound to `purpose`.
    pub fn seal_secret(&self, purpose: &str, secret: &[u8]) -> Result<Vec<u8>> {
        self.inner
            .domain
            .aux
            .seal(format!("mhsm/v1/aux/{purpose}").as_bytes(), secret)
    }

    /// Opens what [`Hsm::seal_secret`] sealed for the same `purpose`.
    pub fn open_secret(&self, purpose: &str, sealed: &[u8]) -> Result<SecretBytes> {
        self.inner
            .domain
            .aux
            .open(format!("mhsm/v1/aux/{purpose}").as_bytes(), sealed)
            .ok_or_else(|| Error::Corrupted {
                record: format!("sealed secret '{purpose}'"),
            })
    }

    /// The digest of `data`.
    pub fn digest(&self, alg: HashAlg, data: &[u8]) -> Vec<u8> {
        let mut h = self.inner.provider.hasher(alg);
        h.update(data);
        h.finish()
    }

    /// Checks an HMAC tag under a caller's key (any length) in constant time.
    pub fn verify_hmac(
        &self,
        hash: HashAlg,
        key: &SecretBytes,
        message: &[u8],
        tag: &[u8],
    ) -> Result<bool> {
        check::max_input(message.len())?;
        self.inner
            .provider
            .verify_hmac(hash, key.expose_secret(), message, tag)
    }

    /// Verifies a signature with a public key that is not in a pool (a JWT issuer's key, say).
    pub fn verify_with_public_key(
        &self,
        public: &PublicKey,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let key = self.inner.provider.load_public(public)?;
        check::sign(&key.spec(), alg, input.len())?;
        key.verify(alg, input, signature)
    }

    /// A streaming digest.
    pub fn hasher(&self, alg: HashAlg) -> Box<dyn Hasher> {
        self.inner.provider.hasher(alg)
    }

    pub(crate) fn inner(&self) -> &Arc<HsmInner> {
        &self.inner
    }

    /// Installs a fully built pool state (used by restore).
    pub(crate) fn install_pool(&self, state: Arc<PoolState>) {
        let mut pools = self.inner.pools.write();
        pools.insert(state.name.clone(), state);
        self.inner.recompute_next_purge(&pools);
    }

    pub(crate) fn pools_write(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.inner.pools_write.lock()
    }

    pub(crate) fn pool_state(&self, name: &str) -> Option<Arc<PoolState>> {
        self.state(name)
    }
}

/// Reads every pool, key and version record, checking each one's authentication.
pub(crate) fn load_pools(inner: &HsmInner) -> Result<BTreeMap<String, Arc<PoolState>>> {
    let mut records = Vec::new();
    inner.store.scan_prefix(b"p/", &mut |path, sealed| {
        let path_str = std::str::from_utf8(path).map_err(|_| corrupted(path))?;
        let record: PoolRecord = decode(
            path,
            inner.domain.records.open(&record_aad(path_str), sealed),
        )?;
        if pool_path(&record.name) != path_str {
            return Err(corrupted(path));
        }
        records.push(record);
        Ok(())
    })?;
    let mut pools = BTreeMap::new();
    for record in records {
        let master = inner
            .domain
            .master_wrap
            .open(
                &master_aad(&record.name, &record.uid),
                &record.wrapped_master,
            )
            .ok_or_else(|| corrupted(pool_path(&record.name).as_bytes()))?;
        let master = SealKey::new(&master)?;
        let keys = load_keys(inner.store.as_ref(), &record.name, &master)?;
        let docs = load_documents(inner.store.as_ref(), &record.name, &master)?;
        let name = record.name.clone();
        pools.insert(name, Arc::new(PoolState::new(record, master, keys, docs)));
    }
    Ok(pools)
}

fn load_documents(store: &dyn Store, pool: &str, master: &SealKey) -> Result<Documents> {
    let mut docs = Documents::new();
    let prefix = doc_prefix(pool);
    store.scan_prefix(prefix.as_bytes(), &mut |path, sealed| {
        let path_str = std::str::from_utf8(path).map_err(|_| corrupted(path))?;
        let plain = master
            .open(&record_aad(path_str), sealed)
            .ok_or_else(|| corrupted(path))?;
        let (kind, id) = path_str[prefix.len()..]
            .split_once('/')
            .ok_or_else(|| corrupted(path))?;
        docs.insert(
            (kind.to_string(), id.to_string()),
            Arc::new(plain.expose_secret().to_vec()),
        );
        Ok(())
    })?;
    Ok(docs)
}

fn load_keys(
    store: &dyn Store,
    pool: &str,
    master: &SealKey,
) -> Result<BTreeMap<String, Arc<KeyEntry>>> {
    let mut keys: BTreeMap<String, KeyRecord> = BTreeMap::new();
    store.scan_prefix(key_prefix(pool).as_bytes(), &mut |path, sealed| {
        let path_str = std::str::from_utf8(path).map_err(|_| corrupted(path))?;
        let record: KeyRecord = decode(path, master.open(&record_aad(path_str), sealed))?;
        if key_path(pool, &record.name) != path_str {
            return Err(corrupted(path));
        }
        keys.insert(record.name.clone(), record);
        Ok(())
    })?;
    let mut versions: BTreeMap<(String, String), VersionRecord> = BTreeMap::new();
    let prefix = version_prefix(pool);
    store.scan_prefix(prefix.as_bytes(), &mut |path, sealed| {
        let path_str = std::str::from_utf8(path).map_err(|_| corrupted(path))?;
        let record: VersionRecord = decode(path, master.open(&record_aad(path_str), sealed))?;
        let (key, _) = path_str[prefix.len()..]
            .split_once('/')
            .ok_or_else(|| corrupted(path))?;
        if version_path(pool, key, &record.id) != path_str {
            return Err(corrupted(path));
        }
        versions.insert((key.to_string(), record.id.clone()), record);
        Ok(())
    })?;
    let mut out = BTreeMap::new();
    for (name, record) in keys {
        let mut entry = KeyEntry {
            record,
            versions: Default::default(),
        };
        for v in &entry.record.versions {
            let version = versions
                .remove(&(name.clone(), v.clone()))
                .ok_or_else(|| corrupted(version_path(pool, &name, v).as_bytes()))?;
            entry.versions.insert(v.clone(), VersionEntry::new(version));
        }
        if entry.record.versions.is_empty() {
            return Err(corrupted(key_path(pool, &name).as_bytes()));
        }
        out.insert(name, Arc::new(entry));
    }
    if !versions.is_empty() {
        // Batches are atomic, so an unreferenced version means the store was tampered with.
        tracing::warn!(
            pool,
            orphans = versions.len(),
            "ignoring key versions no key refers to"
        );
    }
    Ok(out)
}
