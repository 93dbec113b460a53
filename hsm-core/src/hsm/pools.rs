//! The pool lifecycle: create (with PINs and administrators, one commit), look up, list,
//! update, soft-delete, recover, purge and erase.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Hsm;
use crate::error::{Error, Result};
use crate::key::Deletion;
use crate::names::{Tags, new_id, validate_pool_name, validate_tags};
use crate::pin::InitialPins;
use crate::pool::{Documents, Pool, PoolInfo, PoolSettings, PoolState, PoolUpdate};
use crate::record::{PoolRecord, doc_path, master_aad, pool_path, record_aad};
use crate::seal::SealKey;
use crate::secret::SecretBytes;
use crate::store::Batch;
use crate::time::UnixTime;

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

impl Hsm {
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
    pub(super) fn erase_pool(&self, name: &str) -> Result<()> {
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
}
