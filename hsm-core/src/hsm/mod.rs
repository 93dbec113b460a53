//! The HSM: a data directory (or memory) holding pools, one security domain, one provider.
//!
//! `Hsm` is split by concern: opening a data directory (`open`: `HsmConfig`, `Hsm::open`),
//! reading its records back (`load`), the pool lifecycle (`pools`: create, list, update,
//! delete, recover, purge) and maintenance (`maintenance`: due purges and rotations). This
//! file holds the shared state and the calls that need no pool.

mod load;
mod maintenance;
mod open;
mod pools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::cache::KeyCache;
use crate::crypto::{CryptoProvider, HashAlg, Hasher, PublicKey, SignAlgorithm, check};
use crate::error::{Error, Result};
use crate::pool::{PoolInfo, PoolState};
use crate::record::{PoolRecord, pool_path, record_aad};
use crate::root::SecurityDomain;
use crate::secret::SecretBytes;
use crate::store::Store;
use crate::time::{Clock, UnixTime};

// For the fuzz targets (`crate::fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) use load::{decode, load_pools};
pub use open::{DATA_DIR_ENV, HsmConfig, default_data_dir};
pub use pools::NewPool;

/// The largest random request (1 MiB).
pub const MAX_RANDOM: usize = 1 << 20;

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

impl Hsm {
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
    fn state(&self, name: &str) -> Option<Arc<PoolState>> {
        self.inner.pools.read().get(name).cloned()
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
