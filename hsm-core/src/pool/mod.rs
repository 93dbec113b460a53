//! A managed HSM pool: one isolated key space with its own master key, and the key API.
//!
//! [`Pool`] is a cheap handle (from [`crate::Hsm::pool`]). Reads take a shared lock for a
//! moment; writes are serialised per pool, made durable in the store, and only then applied
//! to memory, so what a caller sees acknowledged is on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

mod keys;
mod ops;

pub use ops::{KeyRef, ResolvedKey, wrap_form, wrap_form_len_bound, wrapped_len_bound};

use crate::cache::cache_id;
use crate::crypto::{KeyMaterial, KeySpec, LoadedKey};
use crate::error::{Error, Result};
use crate::hsm::HsmInner;
use crate::key::version::validate_window;
use crate::key::{
    Deletion, KeyInfo, KeyOps, KeyOptions, KeyUpdate, RecoveryLevel, RotationPolicy,
    VersionAttributes,
};
use crate::names::{Page, PageRequest, Tags, new_id, paginate, validate_key_name, validate_tags};
use crate::record::{
    KeyRecord, PoolRecord, VersionRecord, key_path, material_aad, record_aad, version_path,
};
use crate::seal::SealKey;
use crate::secret::SecretBytes;
use crate::store::Batch;
use crate::time::UnixTime;

/// Soft-delete and purge settings of a pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSettings {
    /// Days a deleted key (or the deleted pool) stays recoverable: 7 to 90.
    pub soft_delete_retention_days: u32,
    /// Once on, deleted objects cannot be purged before their retention ends; never turns off.
    pub purge_protection: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            soft_delete_retention_days: 90,
            purge_protection: false,
        }
    }
}

impl PoolSettings {
    /// Checks the retention range.
    pub fn validate(&self) -> Result<()> {
        if !(7..=90).contains(&self.soft_delete_retention_days) {
            return Err(Error::bad_parameter(format!(
                "soft-delete retention must be 7 to 90 days, got {}",
                self.soft_delete_retention_days
            )));
        }
        Ok(())
    }

    /// The recovery level these settings give.
    pub fn recovery_level(&self) -> RecoveryLevel {
        RecoveryLevel::of(self.soft_delete_retention_days, self.purge_protection)
    }
}

/// What the core shows of a pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolInfo {
    /// Pool name.
    pub name: String,
    /// Settings.
    pub settings: PoolSettings,
    /// Tags.
    pub tags: Tags,
    /// Creation time.
    pub created: UnixTime,
    /// Last change of settings or tags.
    pub updated: UnixTime,
    /// Set when the pool is deleted.
    pub deletion: Option<Deletion>,
    /// The security domain the pool belongs to.
    pub security_domain: String,
}

/// Changes to a pool; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolUpdate {
    /// New retention (7 to 90 days; applies to objects deleted from now on).
    pub soft_delete_retention_days: Option<u32>,
    /// Turn purge protection on (turning it off is refused).
    pub purge_protection: Option<bool>,
    /// Replace the tags.
    pub tags: Option<Tags>,
}

pub(crate) struct VersionEntry {
    pub record: VersionRecord,
    pub cache_id: Option<u128>,
}

impl VersionEntry {
    pub(crate) fn new(record: VersionRecord) -> Arc<VersionEntry> {
        let cache_id = cache_id(&record.id);
        Arc::new(VersionEntry { record, cache_id })
    }
}

#[derive(Clone)]
pub(crate) struct KeyEntry {
    pub record: KeyRecord,
    pub versions: HashMap<String, Arc<VersionEntry>>,
}

impl KeyEntry {
    fn latest(&self) -> Result<&Arc<VersionEntry>> {
        self.record
            .versions
            .last()
            .and_then(|v| self.versions.get(v))
            .ok_or_else(|| Error::internal(format!("key '{}' has no versions", self.record.name)))
    }

    /// The version asked for; `None` or an empty string mean the latest.
    fn version(&self, version: Option<&str>) -> Result<&Arc<VersionEntry>> {
        match version {
            None | Some("") => self.latest(),
            Some(v) => self
                .versions
                .get(v)
                .ok_or_else(|| Error::KeyVersionNotFound {
                    name: self.record.name.clone(),
                    version: v.to_string(),
                }),
        }
    }
}

/// Documents of a pool by (kind, id).
pub(crate) type Documents = BTreeMap<(String, String), Arc<Vec<u8>>>;

pub(crate) struct PoolData {
    pub record: PoolRecord,
    pub keys: BTreeMap<String, Arc<KeyEntry>>,
    pub docs: Documents,
    /// The deleted keys by scheduled purge date, kept beside `keys` so the next purge date
    /// is known without a scan of the pool at each deletion change.
    purges: BTreeSet<(i64, String)>,
    /// What the last generations changed, for [`Pool::changes_since`].
    changelog: ChangeLog,
}

/// How many changed names the change log keeps; a front end further behind rebuilds its view.
const CHANGE_LOG_LEN: usize = 4096;

/// The names the recent generations changed.
#[derive(Default)]
struct ChangeLog {
    /// The oldest generation the log answers for: every change after it is in `entries`.
    floor: u64,
    /// (generation, what changed at it), oldest first.
    entries: VecDeque<(u64, Changed)>,
}

/// One changed name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Changed {
    Key(String),
    Doc(String, String),
}

/// What changed in a pool since a generation: each changed key and document once, as it is
/// now (`None`: gone, or the key is deleted).
#[derive(Debug)]
pub struct PoolChanges {
    /// The generation this answer is current at.
    pub generation: u64,
    /// Changed keys by name: the latest version of a live key, or `None`.
    pub keys: Vec<(String, Option<KeyInfo>)>,
    /// Changed documents by (kind, id): the value, or `None`.
    pub documents: Vec<DocumentChange>,
}

/// A changed document: kind, id, and its value now (`None`: gone).
pub type DocumentChange = (String, String, Option<Arc<Vec<u8>>>);

impl PoolData {
    fn new(record: PoolRecord, keys: BTreeMap<String, Arc<KeyEntry>>, docs: Documents) -> Self {
        let mut data = PoolData {
            record,
            keys,
            docs,
            purges: BTreeSet::new(),
            changelog: ChangeLog::default(),
        };
        data.rebuild_purges();
        data
    }

    /// Recomputes the purge schedule from the keys (after `keys` was replaced whole).
    pub(crate) fn rebuild_purges(&mut self) {
        self.purges = self.keys.values().filter_map(|k| purge_slot(k)).collect();
    }

    /// Notes that `old` (if any) became `new` (if any) in the purge schedule.
    fn reschedule(&mut self, old: Option<&KeyEntry>, new: Option<&KeyEntry>) {
        if let Some(slot) = old.and_then(purge_slot) {
            self.purges.remove(&slot);
        }
        if let Some(slot) = new.and_then(purge_slot) {
            self.purges.insert(slot);
        }
    }
}

/// A deleted key's place in the purge schedule.
fn purge_slot(k: &KeyEntry) -> Option<(i64, String)> {
    k.record
        .deleted
        .as_ref()
        .map(|d| (d.scheduled_purge.0, k.record.name.clone()))
}

pub(crate) struct PoolState {
    pub name: String,
    pub master: SealKey,
    pub data: RwLock<PoolData>,
    /// Serialises mutations of this pool (held across the durable commit).
    pub write: Mutex<()>,
    /// Earliest scheduled purge among deleted keys (`i64::MAX`: none).
    next_key_purge: AtomicI64,
    /// Earliest rotation due by a rotation policy (`i64::MAX`: none).
    next_rotation: AtomicI64,
    /// Counts the pool's changes, so front ends can tell when their views are stale.
    generation: AtomicU64,
}

/// A change to apply in memory once its batch is durable.
pub(crate) enum KeyChange {
    Put(Arc<KeyEntry>),
    Remove(String),
    PutDoc(String, String, Arc<Vec<u8>>),
    RemoveDoc(String, String),
}

/// What a mutation produced: records to write, memory to change, a result.
pub(crate) struct Mutation<R> {
    pub batch: Batch,
    pub changes: Vec<KeyChange>,
    pub result: R,
}

impl PoolState {
    pub(crate) fn new(
        record: PoolRecord,
        master: SealKey,
        keys: BTreeMap<String, Arc<KeyEntry>>,
        docs: Documents,
    ) -> PoolState {
        let state = PoolState {
            name: record.name.clone(),
            master,
            data: RwLock::new(PoolData::new(record, keys, docs)),
            write: Mutex::new(()),
            next_key_purge: AtomicI64::new(i64::MAX),
            next_rotation: AtomicI64::new(i64::MAX),
            generation: AtomicU64::new(0),
        };
        state.recompute_next_purge(&state.data.read());
        state.recompute_next_rotation(&state.data.read());
        state
    }

    /// When the next rotation is due by the live keys' policies.
    fn recompute_next_rotation(&self, data: &PoolData) {
        let next = data
            .keys
            .values()
            .filter(|k| k.record.deleted.is_none())
            .filter_map(|k| {
                let policy = k.record.rotation_policy.as_ref()?;
                let latest = k.latest().ok()?;
                let a = &latest.record.attributes;
                policy.rotation_due(a.created, a.expires)
            })
            .map(|t| t.0)
            .min()
            .unwrap_or(i64::MAX);
        self.next_rotation.store(next, Ordering::SeqCst);
    }

    /// Whether a purge or a rotation is due at `now`.
    pub(crate) fn maintenance_due(&self, now: UnixTime) -> bool {
        now.0 >= self.next_rotation.load(Ordering::SeqCst)
            || now.0 >= self.next_key_purge.load(Ordering::SeqCst)
    }

    /// Notes a change of the pool that the change log does not name (settings, a restore):
    /// a front end's view from before it is rebuilt whole. Called with the new data in place
    /// (under the write lock), so a reader never sees the new generation with old data.
    pub(crate) fn bump(&self, data: &mut PoolData) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        data.changelog.entries.clear();
        data.changelog.floor = generation;
    }

    /// Notes changes of keys and documents, as [`PoolState::bump`] does.
    fn bump_with(&self, data: &mut PoolData, changed: impl IntoIterator<Item = Changed>) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let log = &mut data.changelog;
        log.entries
            .extend(changed.into_iter().map(|c| (generation, c)));
        while log.entries.len() > CHANGE_LOG_LEN {
            if let Some((g, _)) = log.entries.pop_front() {
                log.floor = log.floor.max(g);
            }
        }
    }

    /// Recomputes when the next key purge is due.
    pub(crate) fn refresh_next_purge(&self) {
        let data = self.data.read();
        self.recompute_next_purge(&data);
        self.recompute_next_rotation(&data);
    }

    fn recompute_next_purge(&self, data: &PoolData) {
        let next = data.purges.first().map_or(i64::MAX, |(t, _)| *t);
        self.next_key_purge.store(next, Ordering::SeqCst);
    }

    pub(crate) fn seal_bytes(&self, path: &str, value: &[u8]) -> Result<Vec<u8>> {
        self.master.seal(&record_aad(path), value)
    }

    pub(crate) fn seal_record<T: Serialize>(&self, path: &str, record: &T) -> Result<Vec<u8>> {
        let json = SecretBytes::new(
            serde_json::to_vec(record)
                .map_err(|e| Error::internal(format!("encoding {path}: {e}")))?,
        );
        self.master.seal(&record_aad(path), json.expose_secret())
    }

    pub(crate) fn seal_material(
        &self,
        key: &str,
        version: &str,
        material: &KeyMaterial,
    ) -> Result<Vec<u8>> {
        let encoded = material.encode();
        self.master.seal(
            &material_aad(&self.name, key, version),
            encoded.expose_secret(),
        )
    }

    pub(crate) fn open_material(&self, key: &str, version: &VersionRecord) -> Result<KeyMaterial> {
        let corrupted = || Error::Corrupted {
            record: version_path(&self.name, key, &version.id),
        };
        let plain = self
            .master
            .open(
                &material_aad(&self.name, key, &version.id),
                &version.sealed_material,
            )
            .ok_or_else(corrupted)?;
        KeyMaterial::decode(plain.expose_secret()).map_err(|_| corrupted())
    }

    /// Adds the writes for a key entry (the key record and the given versions) to `batch`.
    pub(crate) fn write_key(
        &self,
        batch: &mut Batch,
        entry: &KeyEntry,
        versions: &[&VersionRecord],
    ) -> Result<()> {
        let path = key_path(&self.name, &entry.record.name);
        batch.put(path.clone(), self.seal_record(&path, &entry.record)?);
        for v in versions {
            let path = version_path(&self.name, &entry.record.name, &v.id);
            batch.put(path.clone(), self.seal_record(&path, v)?);
        }
        Ok(())
    }

    /// The mutation that stores `entry` with new or changed `versions`, showing the version
    /// `show` (None: the latest).
    fn put_key(
        &self,
        settings: &PoolSettings,
        mut entry: KeyEntry,
        versions: Vec<VersionRecord>,
        show: Option<&str>,
    ) -> Result<Mutation<KeyInfo>> {
        let mut batch = Batch::new();
        self.write_key(&mut batch, &entry, &versions.iter().collect::<Vec<_>>())?;
        for v in versions {
            entry.versions.insert(v.id.clone(), VersionEntry::new(v));
        }
        let result = key_info(settings, &entry, entry.version(show)?);
        Ok(Mutation {
            batch,
            changes: vec![KeyChange::Put(Arc::new(entry))],
            result,
        })
    }

    /// Adds the deletes of a key and all its versions to `batch`.
    pub(crate) fn erase_key(&self, batch: &mut Batch, entry: &KeyEntry) {
        batch.delete(key_path(&self.name, &entry.record.name));
        for v in &entry.record.versions {
            batch.delete(version_path(&self.name, &entry.record.name, v));
        }
    }
}

pub(crate) fn key_info(
    settings: &PoolSettings,
    entry: &KeyEntry,
    version: &VersionEntry,
) -> KeyInfo {
    KeyInfo {
        name: entry.record.name.clone(),
        version: version.record.id.clone(),
        spec: version.record.spec,
        public_key: version.record.public_key.clone(),
        attributes: version.record.attributes.clone(),
        ops: entry.record.ops,
        tags: entry.record.tags.clone(),
        release_policy: entry.record.release_policy.clone(),
        rotation_policy: entry.record.rotation_policy.clone(),
        recoverable_days: settings.soft_delete_retention_days,
        recovery_level: settings.recovery_level(),
        deletion: entry.record.deleted.clone(),
        extra: entry
            .record
            .extra
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), URL_SAFE_NO_PAD.decode(v).ok()?)))
            .collect(),
    }
}

/// Most front-end attributes a key keeps.
pub const MAX_EXTRA: usize = 32;
/// The largest front-end attribute value.
pub const MAX_EXTRA_VALUE: usize = 4096;

fn validate_extra(name: &str, value: Option<&[u8]>) -> Result<()> {
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !name_ok {
        return Err(Error::bad_parameter(format!(
            "invalid attribute name {name:?}"
        )));
    }
    if value.is_some_and(|v| v.len() > MAX_EXTRA_VALUE) {
        return Err(Error::bad_parameter(format!(
            "attribute values are at most {MAX_EXTRA_VALUE} bytes"
        )));
    }
    Ok(())
}

/// The documents [`Pool::clear`] keeps: what governs the pool, not what it holds.
fn survives_clear(kind: &str, id: &str) -> bool {
    match kind {
        crate::settings::KIND
        | crate::rbac::ASSIGNMENT_KIND
        | crate::rbac::DEFINITION_KIND
        | crate::rbac::MODE_KIND => true,
        crate::pin::KIND => id != crate::pin::PinRole::User.id(),
        _ => false,
    }
}

fn ensure_live(name: &str, data: &PoolData) -> Result<()> {
    if data.record.deleted.is_some() {
        return Err(Error::PoolNotFound { name: name.into() });
    }
    Ok(())
}

fn live_key<'a>(data: &'a PoolData, name: &str) -> Result<&'a Arc<KeyEntry>> {
    match data.keys.get(name) {
        Some(k) if k.record.deleted.is_none() => Ok(k),
        _ => Err(Error::KeyNotFound { name: name.into() }),
    }
}

fn deleted_key<'a>(data: &'a PoolData, name: &str) -> Result<&'a Arc<KeyEntry>> {
    match data.keys.get(name) {
        Some(k) if k.record.deleted.is_some() => Ok(k),
        _ => Err(Error::DeletedKeyNotFound { name: name.into() }),
    }
}

/// A handle on a live pool: the key API.
#[derive(Clone)]
pub struct Pool {
    pub(crate) hsm: Arc<HsmInner>,
    pub(crate) state: Arc<PoolState>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.state.name)
            .finish()
    }
}

impl Pool {
    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// A number that changes whenever the pool changes (keys, versions, attributes,
    /// documents, settings): a front end caching a view of the pool refreshes it when this
    /// differs from what it saw.
    pub fn generation(&self) -> u64 {
        self.state.generation.load(Ordering::SeqCst)
    }

    /// The pool's current description.
    pub fn info(&self) -> Result<PoolInfo> {
        let data = self.read()?;
        Ok(self.hsm.pool_info(&data.record))
    }

    /// A read view of a live pool, after running any purge that is due.
    pub(crate) fn read(&self) -> Result<parking_lot::RwLockReadGuard<'_, PoolData>> {
        self.maintain_for_read()?;
        let data = self.state.data.read();
        ensure_live(&self.state.name, &data)?;
        Ok(data)
    }

    /// Before a read: due maintenance, unless the caller runs it (`Hsm::defer_maintenance`).
    pub(crate) fn maintain_for_read(&self) -> Result<()> {
        if self.hsm.maintenance_deferred() {
            return Ok(());
        }
        self.maintain()
    }

    /// Purges deleted keys whose retention has elapsed and rotates keys whose rotation
    /// policy says so. Runs lazily before every call; cheap when nothing is due.
    pub fn maintain(&self) -> Result<()> {
        if self.hsm.is_read_only() {
            return Ok(());
        }
        let now = self.hsm.now();
        if now.0 >= self.state.next_rotation.load(Ordering::SeqCst) {
            self.rotate_due(now)?;
        }
        if now.0 < self.state.next_key_purge.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.purge_due()
    }

    /// Rotates the live keys whose policy's rotation time has come.
    fn rotate_due(&self, now: UnixTime) -> Result<()> {
        let due: Vec<String> = {
            let data = self.state.data.read();
            if data.record.deleted.is_some() {
                return Ok(());
            }
            data.keys
                .values()
                .filter(|k| k.record.deleted.is_none())
                .filter(|k| {
                    let (Some(policy), Ok(latest)) = (&k.record.rotation_policy, k.latest()) else {
                        return false;
                    };
                    let a = &latest.record.attributes;
                    policy
                        .rotation_due(a.created, a.expires)
                        .is_some_and(|t| t <= now)
                })
                .map(|k| k.record.name.clone())
                .collect()
        };
        for name in due {
            match self.rotate_inner(&name) {
                Ok(info) => {
                    tracing::info!(pool = %self.state.name, key = %name, version = %info.version, "rotated by policy")
                }
                Err(e) => {
                    tracing::warn!(pool = %self.state.name, key = %name, error = %e, "rotation by policy failed")
                }
            }
        }
        // Failed rotations stay due; push the schedule so a failing key is retried on the
        // next call, not in a loop within this one.
        self.state.recompute_next_rotation(&self.state.data.read());
        Ok(())
    }

    fn purge_due(&self) -> Result<()> {
        let purged = self.mutate(|data, now| {
            let mut m = Mutation {
                batch: Batch::new(),
                changes: Vec::new(),
                result: 0usize,
            };
            for entry in data.keys.values() {
                if let Some(d) = &entry.record.deleted
                    && d.scheduled_purge <= now
                {
                    self.state.erase_key(&mut m.batch, entry);
                    m.changes.push(KeyChange::Remove(entry.record.name.clone()));
                    m.result += 1;
                }
            }
            Ok(m)
        });
        match purged {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(pool = %self.state.name, purged = n, "purged keys past their retention");
                }
                Ok(())
            }
            // A deleted pool keeps its keys until it is recovered or purged itself.
            Err(Error::PoolNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs a mutation: serialised per pool, durable before it is applied to memory.
    pub(crate) fn mutate<R>(
        &self,
        f: impl FnOnce(&PoolData, UnixTime) -> Result<Mutation<R>>,
    ) -> Result<R> {
        let _writer = self.state.write.lock();
        let now = self.hsm.now();
        let m = {
            let data = self.state.data.read();
            ensure_live(&self.state.name, &data)?;
            f(&data, now)?
        };
        self.hsm.check_writable()?;
        self.hsm.store.commit(m.batch)?;
        let mut evict = Vec::new();
        let mut changed = Vec::with_capacity(m.changes.len());
        // The purge schedule follows each change (an ordered set, no scan of the pool).
        let mut deletions_changed = false;
        let mut rotations_changed = false;
        let mut data = self.state.data.write();
        for change in m.changes {
            match change {
                KeyChange::Put(entry) => {
                    let old = data.keys.get(&entry.record.name).cloned();
                    let was_deleted = old.as_ref().is_some_and(|o| o.record.deleted.is_some());
                    deletions_changed |= was_deleted || entry.record.deleted.is_some();
                    rotations_changed |= entry.record.rotation_policy.is_some()
                        || old
                            .as_ref()
                            .is_some_and(|o| o.record.rotation_policy.is_some());
                    data.reschedule(old.as_deref(), Some(entry.as_ref()));
                    changed.push(Changed::Key(entry.record.name.clone()));
                    data.keys.insert(entry.record.name.clone(), entry);
                }
                KeyChange::Remove(name) => {
                    changed.push(Changed::Key(name.clone()));
                    if let Some(old) = data.keys.remove(&name) {
                        deletions_changed |= old.record.deleted.is_some();
                        rotations_changed |= old.record.rotation_policy.is_some();
                        data.reschedule(Some(old.as_ref()), None);
                        evict.extend(old.versions.values().filter_map(|v| v.cache_id));
                    }
                }
                KeyChange::PutDoc(kind, id, value) => {
                    changed.push(Changed::Doc(kind.clone(), id.clone()));
                    data.docs.insert((kind, id), value);
                }
                KeyChange::RemoveDoc(kind, id) => {
                    changed.push(Changed::Doc(kind.clone(), id.clone()));
                    data.docs.remove(&(kind, id));
                }
            }
        }
        if deletions_changed {
            self.state.recompute_next_purge(&data);
        }
        if rotations_changed {
            self.state.recompute_next_rotation(&data);
        }
        self.state.bump_with(&mut data, changed);
        drop(data);
        self.hsm.cache.remove(evict);
        Ok(m.result)
    }
}
