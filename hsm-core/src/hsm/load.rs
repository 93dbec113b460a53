//! Reading an HSM's records back: every pool, key, version and document, each one
//! authenticated at the path it sits at.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::HsmInner;
use crate::error::{Error, Result};
use crate::pool::{Documents, KeyEntry, PoolState, VersionEntry};
use crate::record::{
    KeyRecord, PoolRecord, VersionRecord, doc_prefix, key_path, key_prefix, master_aad, pool_path,
    record_aad, version_path, version_prefix,
};
use crate::seal::SealKey;
use crate::secret::SecretBytes;
use crate::store::Store;

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
