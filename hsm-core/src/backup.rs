//! Backups: one key (all its versions) as an opaque blob, or a whole pool to a directory.
//!
//! A blob is `magic (8) || security domain id (16) || sealed body`, sealed under a key derived
//! from the root key, with magic and domain id as associated data. It restores only in the
//! same security domain (an HSM holding the same root key), into any pool there: material is
//! re-sealed under the target pool's master key. Inside, secrets live only in zeroizing
//! buffers allocated once at their final size.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoProvider, KeyMaterial, KeySpec, PublicKey};
use crate::error::{Error, Result};
use crate::hsm::Hsm;
use crate::key::{KeyInfo, VersionAttributes};
use crate::names::{
    Tags, new_id, validate_key_name, validate_pool_name, validate_tags, validate_version,
};
use crate::pool::{
    Documents, KeyChange, KeyEntry, Mutation, Pool, PoolInfo, PoolSettings, PoolState,
    VersionEntry, key_info,
};
use crate::record::{KeyRecord, PoolRecord, VersionRecord, doc_path, master_aad, pool_path};
use crate::root::SecurityDomain;
use crate::seal::SealKey;
use crate::secret::SecretBytes;
use crate::store::Batch;
use crate::time::UnixTime;

const KEY_MAGIC: &[u8; 8] = b"MHSMKEY1";
const POOL_MAGIC: &[u8; 8] = b"MHSMPOL1";
/// File names inside a pool backup directory.
pub const MANIFEST_FILE: &str = "mhsm-backup.json";
/// The sealed body of a pool backup.
pub const POOL_BLOB_FILE: &str = "pool.bak";
const MANIFEST_FORMAT: &str = "mhsm-pool-backup/1";

/// How a pool backup goes into an existing pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreMode {
    /// Only into a new pool, or an existing one without keys.
    IntoEmpty,
    /// Replace the existing pool's keys and documents (its settings stay).
    Replace,
}

/// The public description of a pool backup, written beside it as `mhsm-backup.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolBackupManifest {
    /// Format name and version.
    pub format: String,
    /// The pool backed up.
    pub pool: String,
    /// When.
    pub created: UnixTime,
    /// The security domain it restores into.
    pub security_domain: String,
    /// How many keys (live and deleted) it holds.
    pub keys: usize,
}

/// The non-secret part of one version in a backup.
#[derive(Serialize, Deserialize)]
struct VersionMeta {
    id: String,
    spec: KeySpec,
    public_key: Option<PublicKey>,
    attributes: VersionAttributes,
}

#[derive(Serialize, Deserialize)]
struct KeyHeader {
    record: KeyRecord,
    versions: Vec<VersionMeta>,
}

#[derive(Serialize, Deserialize)]
struct PoolHeader {
    name: String,
    created: UnixTime,
    settings: PoolSettings,
    tags: Tags,
    keys: usize,
    #[serde(default)]
    documents: Vec<DocumentCopy>,
}

/// A pool document inside a pool backup.
#[derive(Serialize, Deserialize)]
struct DocumentCopy {
    kind: String,
    id: String,
    #[serde(with = "crate::serde_b64")]
    value: Vec<u8>,
}

/// Concatenates length-prefixed parts into one zeroizing buffer of exact size.
fn frame(parts: &[&[u8]]) -> Result<SecretBytes> {
    let total = parts.iter().map(|p| 4 + p.len()).sum();
    let mut out = Vec::with_capacity(total);
    for p in parts {
        let len =
            u32::try_from(p.len()).map_err(|_| Error::bad_parameter("backup part too large"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(p);
    }
    Ok(SecretBytes::new(out))
}

/// Splits what [`frame`] joined.
fn unframe(mut bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = || Error::BackupInvalid {
        message: "malformed backup body".into(),
    };
    let mut parts = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad())?;
        if rest.len() < len {
            return Err(bad());
        }
        let (part, rest) = rest.split_at(len);
        parts.push(part);
        bytes = rest;
    }
    Ok(parts)
}

fn domain_bytes(domain: &SecurityDomain) -> Result<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(&domain.id, &mut out).map_err(|_| Error::internal("domain id"))?;
    Ok(out)
}

fn seal_blob(domain: &SecurityDomain, magic: &[u8; 8], body: &SecretBytes) -> Result<Vec<u8>> {
    let mut header = magic.to_vec();
    header.extend_from_slice(&domain_bytes(domain)?);
    let sealed = domain.backup.seal(&header, body.expose_secret())?;
    header.extend_from_slice(&sealed);
    Ok(header)
}

fn open_blob(domain: &SecurityDomain, magic: &[u8; 8], blob: &[u8]) -> Result<SecretBytes> {
    if blob.len() < 24 || &blob[..8] != magic {
        return Err(Error::BackupInvalid {
            message: "not an mhsm backup of this kind".into(),
        });
    }
    if blob[8..24] != domain_bytes(domain)? {
        return Err(Error::SecurityDomainMismatch);
    }
    domain
        .backup
        .open(&blob[..24], &blob[24..])
        .ok_or_else(|| Error::BackupInvalid {
            message: "the backup failed authentication".into(),
        })
}

fn key_header(entry: &KeyEntry) -> KeyHeader {
    KeyHeader {
        record: entry.record.clone(),
        versions: entry
            .record
            .versions
            .iter()
            .filter_map(|v| entry.versions.get(v))
            .map(|v| VersionMeta {
                id: v.record.id.clone(),
                spec: v.record.spec,
                public_key: v.record.public_key.clone(),
                attributes: v.record.attributes.clone(),
            })
            .collect(),
    }
}

/// The framed plaintext of one key: header, then each version's material.
fn key_section(state: &PoolState, entry: &KeyEntry) -> Result<SecretBytes> {
    let header =
        serde_json::to_vec(&key_header(entry)).map_err(|e| Error::internal(e.to_string()))?;
    let mut materials = Vec::with_capacity(entry.record.versions.len());
    for v in &entry.record.versions {
        let version = entry
            .versions
            .get(v)
            .ok_or_else(|| Error::internal("missing version"))?;
        materials.push(
            state
                .open_material(&entry.record.name, &version.record)?
                .encode(),
        );
    }
    let mut parts: Vec<&[u8]> = vec![&header];
    parts.extend(materials.iter().map(SecretBytes::expose_secret));
    frame(&parts)
}

/// A key read back from a backup, checked, ready to be sealed into a pool.
struct RestoredKey {
    record: KeyRecord,
    versions: Vec<(VersionMeta, KeyMaterial)>,
}

fn parse_key_section(provider: &dyn CryptoProvider, section: &[u8]) -> Result<RestoredKey> {
    let invalid = |m: &str| Error::BackupInvalid { message: m.into() };
    let parts = unframe(section)?;
    let (header, materials) = parts
        .split_first()
        .ok_or_else(|| invalid("empty key section"))?;
    let header: KeyHeader =
        serde_json::from_slice(header).map_err(|_| invalid("malformed key header"))?;
    validate_key_name(&header.record.name)?;
    validate_tags(&header.record.tags)?;
    let ids: Vec<&str> = header.versions.iter().map(|v| v.id.as_str()).collect();
    let listed: Vec<&str> = header.record.versions.iter().map(String::as_str).collect();
    if ids != listed || ids.is_empty() || materials.len() != ids.len() {
        return Err(invalid("key versions do not match"));
    }
    let mut versions = Vec::with_capacity(ids.len());
    for (meta, bytes) in header.versions.into_iter().zip(materials) {
        if !validate_version(&meta.id) {
            return Err(invalid("malformed version id"));
        }
        let material = KeyMaterial::decode(bytes)?;
        if material.spec() != meta.spec {
            return Err(invalid("key material does not match its version"));
        }
        let loaded = provider.load(&material)?;
        if loaded.public_key() != meta.public_key {
            return Err(invalid("public key does not match the material"));
        }
        versions.push((meta, material));
    }
    Ok(RestoredKey {
        record: header.record,
        versions,
    })
}

/// Seals a restored key into `state`'s records, adding the writes to `batch`.
fn seal_restored(state: &PoolState, key: RestoredKey, batch: &mut Batch) -> Result<KeyEntry> {
    let name = key.record.name.clone();
    let mut entry = KeyEntry {
        record: key.record,
        versions: HashMap::new(),
    };
    let mut records = Vec::with_capacity(key.versions.len());
    for (meta, material) in key.versions {
        records.push(VersionRecord {
            sealed_material: state.seal_material(&name, &meta.id, &material)?,
            id: meta.id,
            spec: meta.spec,
            public_key: meta.public_key,
            attributes: meta.attributes,
        });
    }
    state.write_key(batch, &entry, &records.iter().collect::<Vec<_>>())?;
    for r in records {
        entry.versions.insert(r.id.clone(), VersionEntry::new(r));
    }
    Ok(entry)
}

impl Pool {
    /// Backs up a live key with all its versions into an opaque, sealed blob.
    pub fn backup_key(&self, name: &str) -> Result<Vec<u8>> {
        self.maintain()?;
        let entry = {
            let data = self.state.data.read();
            if data.record.deleted.is_some() {
                return Err(Error::PoolNotFound {
                    name: self.state.name.clone(),
                });
            }
            match data.keys.get(name) {
                Some(k) if k.record.deleted.is_none() => k.clone(),
                _ => return Err(Error::KeyNotFound { name: name.into() }),
            }
        };
        let section = key_section(&self.state, &entry)?;
        seal_blob(&self.hsm.domain, KEY_MAGIC, &section)
    }

    /// Restores a key backup into this pool under its original name. Refused when the name
    /// exists, live or deleted; refused when the blob comes from another security domain.
    pub fn restore_key(&self, blob: &[u8]) -> Result<KeyInfo> {
        self.maintain()?;
        let body = open_blob(&self.hsm.domain, KEY_MAGIC, blob)?;
        let mut key = parse_key_section(self.hsm.provider.as_ref(), body.expose_secret())?;
        drop(body);
        key.record.deleted = None;
        self.restore_parsed(key, Existing::Refuse)
    }

    /// Writes a key read back from a backup into this pool; a key of its name is refused
    /// or, live and with [`Existing::Replace`], replaced with all its versions.
    fn restore_parsed(&self, mut key: RestoredKey, existing: Existing) -> Result<KeyInfo> {
        let name = key.record.name.clone();
        let (info, evict) = self.mutate(|data, now| {
            let mut batch = Batch::new();
            let mut evict = Vec::new();
            if let Some(old) = data.keys.get(&name) {
                match (existing, old.record.deleted.is_some()) {
                    (Existing::Replace, false) => {
                        self.state.erase_key(&mut batch, old);
                        evict.extend(old.versions.values().filter_map(|v| v.cache_id));
                    }
                    (Existing::Replace, true) => {
                        return Err(Error::Conflict {
                            message: format!(
                                "key '{name}' is deleted: recover or purge it before restoring it"
                            ),
                        });
                    }
                    (Existing::Refuse, _) => {
                        return Err(Error::Conflict {
                            message: format!("key '{name}' already exists (live or deleted)"),
                        });
                    }
                }
            }
            key.record.updated = now;
            let entry = seal_restored(&self.state, key, &mut batch)?;
            let latest = entry
                .record
                .versions
                .last()
                .and_then(|v| entry.versions.get(v))
                .ok_or_else(|| Error::internal("restored key without versions"))?;
            let info = key_info(&data.record.settings, &entry, latest);
            Ok(Mutation {
                batch,
                changes: vec![KeyChange::Put(Arc::new(entry))],
                result: (info, evict),
            })
        })?;
        // The replaced versions' parsed keys leave memory with them.
        self.hsm.cache.remove(evict);
        tracing::info!(pool = %self.state.name, key = %name, "key restored from backup");
        Ok(info)
    }
}

/// What restoring a key does to a key of the same name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    /// Refuses it, live or deleted (a key backup blob's restore).
    Refuse,
    /// Replaces a live one with all its versions (Azure's selective key restore); refuses
    /// a deleted one.
    Replace,
}

fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |e: std::io::Error| Error::Storage {
        message: format!("cannot write {}: {e}", path.display()),
    };
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}

impl Hsm {
    /// Backs up a live pool (settings, tags, every key live or deleted, every version) into
    /// `dir`: a sealed `pool.bak` and a public `mhsm-backup.json` manifest. Refuses a
    /// directory that already holds a backup.
    pub fn backup_pool(&self, name: &str, dir: &Path) -> Result<PoolBackupManifest> {
        let pool = self.pool(name)?;
        let manifest_path = dir.join(MANIFEST_FILE);
        if manifest_path.exists() {
            return Err(Error::Conflict {
                message: format!("{} already holds a backup", dir.display()),
            });
        }
        fs::create_dir_all(dir).map_err(|e| Error::Storage {
            message: format!("cannot create {}: {e}", dir.display()),
        })?;
        // A consistent snapshot: no writer may change the pool while it is read.
        let (header, sections) = {
            let _writer = pool.state.write.lock();
            let data = pool.state.data.read();
            let header = PoolHeader {
                name: name.to_string(),
                created: self.now(),
                settings: data.record.settings.clone(),
                tags: data.record.tags.clone(),
                keys: data.keys.len(),
                documents: data
                    .docs
                    .iter()
                    .map(|((kind, id), value)| DocumentCopy {
                        kind: kind.clone(),
                        id: id.clone(),
                        value: value.to_vec(),
                    })
                    .collect(),
            };
            let sections = data
                .keys
                .values()
                .map(|entry| key_section(&pool.state, entry))
                .collect::<Result<Vec<_>>>()?;
            (header, sections)
        };
        let header_json =
            serde_json::to_vec(&header).map_err(|e| Error::internal(e.to_string()))?;
        let mut parts: Vec<&[u8]> = vec![&header_json];
        parts.extend(sections.iter().map(SecretBytes::expose_secret));
        let body = frame(&parts)?;
        drop(sections);
        let blob = seal_blob(&self.inner().domain, POOL_MAGIC, &body)?;
        drop(body);
        write_file_atomically(&dir.join(POOL_BLOB_FILE), &blob)?;
        let manifest = PoolBackupManifest {
            format: MANIFEST_FORMAT.into(),
            pool: name.to_string(),
            created: header.created,
            security_domain: self.security_domain().to_string(),
            keys: header.keys,
        };
        let json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::internal(e.to_string()))?;
        write_file_atomically(&manifest_path, &json)?;
        tracing::info!(pool = name, dir = %dir.display(), keys = header.keys, "pool backed up");
        Ok(manifest)
    }

    /// Reads and checks a pool backup directory.
    fn read_pool_backup(&self, dir: &Path) -> Result<(PoolHeader, Vec<RestoredKey>)> {
        let read = |file: &str| {
            fs::read(dir.join(file)).map_err(|e| Error::BackupInvalid {
                message: format!("cannot read {}: {e}", dir.join(file).display()),
            })
        };
        let manifest: PoolBackupManifest =
            serde_json::from_slice(&read(MANIFEST_FILE)?).map_err(|_| Error::BackupInvalid {
                message: "malformed manifest".into(),
            })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(Error::BackupInvalid {
                message: format!("unknown backup format '{}'", manifest.format),
            });
        }
        self.open_pool_blob(&read(POOL_BLOB_FILE)?)
    }

    /// Opens and checks the sealed body of a pool backup (`pool.bak`).
    fn open_pool_blob(&self, blob: &[u8]) -> Result<(PoolHeader, Vec<RestoredKey>)> {
        let body = open_blob(&self.inner().domain, POOL_MAGIC, blob)?;
        let parts = unframe(body.expose_secret())?;
        let (header, sections) = parts.split_first().ok_or_else(|| Error::BackupInvalid {
            message: "empty pool backup".into(),
        })?;
        let header: PoolHeader =
            serde_json::from_slice(header).map_err(|_| Error::BackupInvalid {
                message: "malformed pool header".into(),
            })?;
        if header.keys != sections.len() {
            return Err(Error::BackupInvalid {
                message: "key count does not match".into(),
            });
        }
        header.settings.validate()?;
        validate_tags(&header.tags)?;
        for d in &header.documents {
            crate::document::validate(&d.kind, &d.id)?;
        }
        let keys = sections
            .iter()
            .map(|s| parse_key_section(self.provider().as_ref(), s))
            .collect::<Result<Vec<_>>>()?;
        Ok((header, keys))
    }

    /// Restores one key from a pool backup directory into the live pool `pool`, under its
    /// name, with all its versions (Azure's selective key restore). A live key of that name
    /// is replaced by the backup's, versions and attributes, as the service does; refused
    /// when a deleted key holds the name, or the backup has no such key.
    pub fn restore_key_from_backup(&self, dir: &Path, pool: &str, key: &str) -> Result<KeyInfo> {
        let target = self.pool(pool)?;
        let (_, keys) = self.read_pool_backup(dir)?;
        let mut found = keys
            .into_iter()
            .find(|k| k.record.name == key)
            .ok_or_else(|| Error::KeyNotFound { name: key.into() })?;
        found.record.deleted = None;
        target.restore_parsed(found, Existing::Replace)
    }

    /// Restores a pool backup from `dir` into the pool `name`. A pool that does not exist is
    /// created with the backup's settings and tags. An existing live pool keeps its settings;
    /// with [`RestoreMode::IntoEmpty`] it must hold no keys (live or deleted), with
    /// [`RestoreMode::Replace`] its keys and documents are replaced by the backup's (Azure's
    /// full restore). Refused across security domains.
    pub fn restore_pool(&self, dir: &Path, name: &str, mode: RestoreMode) -> Result<PoolInfo> {
        validate_pool_name(name)?;
        let (header, keys) = self.read_pool_backup(dir)?;
        let count = header.keys;
        let info = self.restore_parsed_pool(name, mode, header, keys)?;
        tracing::info!(pool = name, dir = %dir.display(), keys = count, "pool restored");
        Ok(info)
    }

    /// Writes a pool backup read back by [`Hsm::open_pool_blob`] into the pool `name`.
    fn restore_parsed_pool(
        &self,
        name: &str,
        mode: RestoreMode,
        header: PoolHeader,
        keys: Vec<RestoredKey>,
    ) -> Result<PoolInfo> {
        self.maintain()?;
        let _pools = self.pools_write();
        let now = self.now();
        let (state, new_record) = self.restore_target(name, mode, &header, now)?;
        let _writer = state.write.lock();
        let mut batch = Batch::new();
        if let Some(record) = &new_record {
            batch.put(pool_path(name), self.inner().seal_pool_record(record)?);
        }
        let mut entries = BTreeMap::new();
        for key in keys {
            let entry = seal_restored(&state, key, &mut batch)?;
            let name = entry.record.name.clone();
            if entries.insert(name.clone(), Arc::new(entry)).is_some() {
                return Err(Error::BackupInvalid {
                    message: format!("key '{name}' appears twice"),
                });
            }
        }
        // What the backup replaces (Replace mode): old keys and documents not overwritten.
        let evict = if mode == RestoreMode::Replace {
            erase_replaced(&state, name, &entries, &header, &mut batch)
        } else {
            Vec::new()
        };
        let mut docs = Vec::with_capacity(header.documents.len());
        for d in &header.documents {
            let path = doc_path(name, &d.kind, &d.id);
            batch.put(path.clone(), state.seal_bytes(&path, &d.value)?);
            docs.push(((d.kind.clone(), d.id.clone()), Arc::new(d.value.clone())));
        }
        self.inner().check_writable()?;
        self.inner().store.commit(batch)?;
        {
            let mut data = state.data.write();
            data.keys = entries;
            data.rebuild_purges();
            if mode == RestoreMode::Replace {
                data.docs.clear();
            }
            data.docs.extend(docs);
            state.bump(&mut data);
        }
        self.inner().cache.remove(evict);
        state.refresh_next_purge();
        let info = self.inner().pool_info(&state.data.read().record);
        if new_record.is_some() {
            self.install_pool(state.clone());
        }
        Ok(info)
    }

    /// The pool a backup is restored into: the live pool `name` (refused when deleted, or
    /// not empty for [`RestoreMode::IntoEmpty`]), else a new one with the backup's settings
    /// and tags, and its record to write.
    fn restore_target(
        &self,
        name: &str,
        mode: RestoreMode,
        header: &PoolHeader,
        now: UnixTime,
    ) -> Result<(Arc<PoolState>, Option<PoolRecord>)> {
        let target = match self.pool_state(name) {
            Some(state) => {
                let data = state.data.read();
                if data.record.deleted.is_some() {
                    return Err(Error::Conflict {
                        message: format!("pool '{name}' is deleted but recoverable"),
                    });
                }
                if mode == RestoreMode::IntoEmpty && !data.keys.is_empty() {
                    return Err(Error::Conflict {
                        message: format!(
                            "pool '{name}' is not empty: restore into a new or empty pool"
                        ),
                    });
                }
                drop(data);
                (state, None)
            }
            None => {
                let uid = new_id()?;
                let mut master = SecretBytes::zeroed(32);
                self.provider().fill_random(master.expose_secret_mut())?;
                let record = PoolRecord {
                    name: name.to_string(),
                    uid: uid.clone(),
                    created: now,
                    updated: now,
                    settings: header.settings.clone(),
                    tags: header.tags.clone(),
                    wrapped_master: self
                        .inner()
                        .domain
                        .master_wrap
                        .seal(&master_aad(name, &uid), master.expose_secret())?,
                    deleted: None,
                };
                let state = Arc::new(PoolState::new(
                    record.clone(),
                    SealKey::new(&master)?,
                    BTreeMap::new(),
                    Documents::new(),
                ));
                (state, Some(record))
            }
        };
        Ok(target)
    }
}

/// Replace mode: erases from `batch` the pool's keys, versions and documents the backup does
/// not hold; returns the cache ids of every old version.
fn erase_replaced(
    state: &PoolState,
    name: &str,
    entries: &BTreeMap<String, Arc<KeyEntry>>,
    header: &PoolHeader,
    batch: &mut Batch,
) -> Vec<u128> {
    let mut evict = Vec::new();
    let data = state.data.read();
    for entry in data.keys.values() {
        if !entries.contains_key(&entry.record.name) {
            state.erase_key(batch, entry);
        } else {
            // Versions of the old key that the restored one lacks.
            for v in &entry.record.versions {
                if !entries[&entry.record.name].versions.contains_key(v) {
                    batch.delete(crate::record::version_path(name, &entry.record.name, v));
                }
            }
        }
        evict.extend(entry.versions.values().filter_map(|v| v.cache_id));
    }
    for (kind, id) in data.docs.keys() {
        if !header
            .documents
            .iter()
            .any(|d| &d.kind == kind && &d.id == id)
        {
            batch.delete(doc_path(name, kind, id));
        }
    }
    evict
}

/// Hooks for the fuzz targets (`crate::fuzzing`): authentic blobs with chosen contents.
#[cfg(feature = "fuzzing")]
impl Hsm {
    /// Seals `body` as a key backup (`pool` false) or a pool backup of this HSM's domain.
    pub(crate) fn fuzz_seal_backup(&self, pool: bool, body: &[u8]) -> Result<Vec<u8>> {
        let magic = if pool { POOL_MAGIC } else { KEY_MAGIC };
        seal_blob(&self.inner().domain, magic, &SecretBytes::from_slice(body))
    }

    /// Opens a blob [`Hsm::fuzz_seal_backup`] (or a backup) sealed: its plaintext body.
    pub(crate) fn fuzz_open_backup(&self, pool: bool, blob: &[u8]) -> Result<SecretBytes> {
        let magic = if pool { POOL_MAGIC } else { KEY_MAGIC };
        open_blob(&self.inner().domain, magic, blob)
    }

    /// Restores the sealed body of a pool backup (`pool.bak`) into the pool `name`, as
    /// [`Hsm::restore_pool`] does after reading the directory.
    pub(crate) fn fuzz_restore_pool_blob(
        &self,
        name: &str,
        blob: &[u8],
        mode: RestoreMode,
    ) -> Result<PoolInfo> {
        let (header, keys) = self.open_pool_blob(blob)?;
        self.restore_parsed_pool(name, mode, header, keys)
    }
}
