//! The key API of a pool: create and import (new keys and new versions), get and list, update,
//! rotate, soft-delete, recover and purge, front-end attributes, and clearing the pool.

// The pool's types and helpers (`mod.rs`) and its imports: this file is the rest of `Pool`.
use super::*;

impl Pool {
    fn validate_options(spec: &KeySpec, opts: &KeyOptions) -> Result<KeyOps> {
        spec.validate_for_pool()?;
        let ops = opts.ops.unwrap_or_else(|| KeyOps::default_for(spec));
        ops.validate_for(spec)?;
        if let Some(tags) = &opts.tags {
            validate_tags(tags)?;
        }
        validate_window(opts.not_before, opts.expires)?;
        if opts.extra.len() > MAX_EXTRA {
            return Err(Error::bad_parameter(format!(
                "a key keeps at most {MAX_EXTRA} attributes"
            )));
        }
        for (attr, value) in &opts.extra {
            validate_extra(attr, Some(value))?;
        }
        Ok(ops)
    }

    /// Generates a new key, or a new version of an existing key with this name.
    pub fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        validate_key_name(name)?;
        let ops = Self::validate_options(&spec, opts)?;
        drop(self.read()?);
        // Generation (slow for RSA) runs outside the pool's write lock.
        let (material, loaded) = self.hsm.provider.generate_loaded(spec)?;
        self.add_version(name, material, Some(loaded), ops, opts, false)
    }

    /// Imports key material as a new key, or a new version of an existing key.
    pub fn import_key(
        &self,
        name: &str,
        material: KeyMaterial,
        opts: &KeyOptions,
    ) -> Result<KeyInfo> {
        validate_key_name(name)?;
        let ops = Self::validate_options(&material.spec(), opts)?;
        drop(self.read()?);
        self.add_version(name, material, None, ops, opts, false)
    }

    /// Adds a version; with `must_exist`, only to a live key (rotation). `loaded` is the
    /// material already parsed, if the caller has it.
    fn add_version(
        &self,
        name: &str,
        material: KeyMaterial,
        loaded: Option<Arc<dyn LoadedKey>>,
        ops: KeyOps,
        opts: &KeyOptions,
        must_exist: bool,
    ) -> Result<KeyInfo> {
        let spec = material.spec();
        // Keys come parsed only from generation; imports are parsed (and validated) here.
        let generated = loaded.is_some();
        let loaded = match loaded {
            Some(key) => key,
            None => self.hsm.provider.load(&material)?,
        };
        let version_id = new_id()?;
        let info = self.mutate(|data, now| {
            let existing = data.keys.get(name);
            if opts.new_key_only && existing.is_some() {
                return Err(Error::Conflict {
                    message: format!("a key named '{name}' exists already"),
                });
            }
            if must_exist {
                live_key(data, name)?;
            }
            if existing.is_some_and(|k| k.record.deleted.is_some()) {
                return Err(Error::Conflict {
                    message: format!(
                        "key '{name}' is deleted but recoverable: recover or purge it first"
                    ),
                });
            }
            let version = VersionRecord {
                id: version_id.clone(),
                spec,
                public_key: loaded.public_key(),
                attributes: VersionAttributes {
                    enabled: opts.enabled.unwrap_or(true),
                    not_before: opts.not_before,
                    expires: opts.expires,
                    created: now,
                    updated: now,
                    exportable: opts.exportable,
                    generated,
                },
                sealed_material: self.state.seal_material(name, &version_id, &material)?,
            };
            let mut entry = match existing {
                Some(k) => KeyEntry::clone(k),
                None => KeyEntry {
                    record: KeyRecord {
                        name: name.to_string(),
                        created: now,
                        updated: now,
                        ops,
                        tags: Tags::new(),
                        release_policy: None,
                        rotation_policy: None,
                        versions: Vec::new(),
                        deleted: None,
                        extra: BTreeMap::new(),
                    },
                    versions: HashMap::new(),
                },
            };
            entry.record.ops = ops;
            entry.record.updated = now;
            if let Some(tags) = &opts.tags {
                entry.record.tags = tags.clone();
            }
            if let Some(policy) = &opts.release_policy {
                entry.record.release_policy = Some(policy.clone());
            }
            for (attr, value) in &opts.extra {
                entry
                    .record
                    .extra
                    .insert(attr.clone(), URL_SAFE_NO_PAD.encode(value));
            }
            if entry.record.extra.len() > MAX_EXTRA {
                return Err(Error::bad_parameter(format!(
                    "a key keeps at most {MAX_EXTRA} attributes"
                )));
            }
            entry.record.versions.push(version_id.clone());
            self.state
                .put_key(&data.record.settings, entry, vec![version], None)
        })?;
        if let Some(id) = cache_id(&version_id) {
            self.hsm.cache.insert(id, loaded);
        }
        tracing::info!(pool = %self.state.name, key = name, version = %version_id, "key version added");
        Ok(info)
    }

    /// A key version (`None`: the latest). Public material only.
    pub fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        let data = self.read()?;
        let entry = live_key(&data, name)?;
        Ok(key_info(
            &data.record.settings,
            entry,
            entry.version(version)?,
        ))
    }

    /// One page of the live keys, by name, each shown by its latest version.
    pub fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        self.list_by_name("keys", false, page)
    }

    /// Every live key, by name, each shown by its latest version, with the
    /// [`Pool::generation`] they were read at (read first, so a cache keyed by it can only be
    /// too new, never too old). For front ends that index the whole pool.
    pub fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        let generation = self.generation();
        let data = self.read()?;
        let settings = &data.record.settings;
        let keys = data
            .keys
            .values()
            .filter(|k| k.record.deleted.is_none())
            .filter_map(|k| Some(key_info(settings, k, k.latest().ok()?)))
            .collect();
        Ok((generation, keys))
    }

    /// What changed since `generation` (a [`Pool::generation`] the caller saw), so a front
    /// end can bring its view up to date without reading the whole pool; `None` when the
    /// pool no longer remembers that far back (or changed in a way it does not itemize, such
    /// as its settings or a restore): read it whole then.
    pub fn changes_since(&self, generation: u64) -> Result<Option<PoolChanges>> {
        let data = self.read()?;
        // Generations move only under the data write lock: this one matches `data`.
        let now = self.generation();
        let log = &data.changelog;
        if generation < log.floor || generation > now {
            return Ok(None);
        }
        let changed: BTreeSet<&Changed> = log
            .entries
            .iter()
            .rev()
            .take_while(|(g, _)| *g > generation)
            .map(|(_, c)| c)
            .collect();
        let settings = &data.record.settings;
        let mut changes = PoolChanges {
            generation: now,
            keys: Vec::new(),
            documents: Vec::new(),
        };
        for c in changed {
            match c {
                Changed::Key(name) => {
                    let info = data
                        .keys
                        .get(name)
                        .filter(|k| k.record.deleted.is_none())
                        .and_then(|k| Some(key_info(settings, k, k.latest().ok()?)));
                    changes.keys.push((name.clone(), info));
                }
                Changed::Doc(kind, id) => {
                    let value = data.docs.get(&(kind.clone(), id.clone())).cloned();
                    changes.documents.push((kind.clone(), id.clone(), value));
                }
            }
        }
        Ok(Some(changes))
    }

    /// A page of the live or the deleted keys, by name, each shown by its latest version.
    fn list_by_name(&self, kind: &str, deleted: bool, page: &PageRequest) -> Result<Page<KeyInfo>> {
        let data = self.read()?;
        let settings = &data.record.settings;
        paginate(kind, page, |after| {
            let range = match after {
                Some(a) => data
                    .keys
                    .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
                None => data.keys.range::<str, _>(..),
            };
            range
                .filter(move |(_, k)| k.record.deleted.is_some() == deleted)
                .filter_map(|(n, k)| Some((n.clone(), key_info(settings, k, k.latest().ok()?))))
        })
    }

    /// One page of a live key's versions, oldest first.
    pub fn list_versions(&self, name: &str, page: &PageRequest) -> Result<Page<KeyInfo>> {
        let data = self.read()?;
        let entry = live_key(&data, name)?;
        let settings = &data.record.settings;
        paginate("versions", page, |_| {
            entry
                .record
                .versions
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let version = entry.versions.get(v)?;
                    Some((format!("{i:010}"), key_info(settings, entry, version)))
                })
        })
    }

    /// Updates a key's allowed operations, tags and release policy, and the attributes of
    /// one version (`None`: the latest).
    pub fn update_key(
        &self,
        name: &str,
        version: Option<&str>,
        update: &KeyUpdate,
    ) -> Result<KeyInfo> {
        if let Some(tags) = &update.tags {
            validate_tags(tags)?;
        }
        self.maintain()?;
        self.mutate(|data, now| {
            let mut entry = KeyEntry::clone(live_key(data, name)?);
            let mut v = entry.version(version)?.record.clone();
            if let Some(ops) = update.ops {
                ops.validate_for(&v.spec)?;
                entry.record.ops = ops;
            }
            if let Some(exportable) = update.exportable
                && exportable != v.attributes.exportable
            {
                return Err(Error::bad_parameter("exportability cannot be changed"));
            }
            let a = &mut v.attributes;
            if let Some(enabled) = update.enabled {
                a.enabled = enabled;
            }
            if let Some(nbf) = update.not_before {
                a.not_before = nbf;
            }
            if let Some(exp) = update.expires {
                a.expires = exp;
            }
            validate_window(a.not_before, a.expires)?;
            a.updated = now;
            if let Some(tags) = &update.tags {
                entry.record.tags = tags.clone();
            }
            if let Some(policy) = &update.release_policy {
                entry.record.release_policy = policy.clone();
            }
            entry.record.updated = now;
            let shown = v.id.clone();
            self.state
                .put_key(&data.record.settings, entry, vec![v], Some(&shown))
        })
    }

    /// Adds a new version of the same type and size, with the key's operations and tags;
    /// under a rotation policy with an expiry time, the new version expires accordingly.
    pub fn rotate_key(&self, name: &str) -> Result<KeyInfo> {
        self.maintain()?;
        self.rotate_inner(name)
    }

    /// Rotation without running maintenance first (maintenance itself rotates).
    pub(super) fn rotate_inner(&self, name: &str) -> Result<KeyInfo> {
        let (spec, ops, exportable, policy) = {
            let data = self.state.data.read();
            ensure_live(&self.state.name, &data)?;
            let entry = live_key(&data, name)?;
            let latest = entry.latest()?;
            (
                latest.record.spec,
                entry.record.ops,
                latest.record.attributes.exportable,
                entry.record.rotation_policy.clone(),
            )
        };
        let (material, loaded) = self.hsm.provider.generate_loaded(spec)?;
        let opts = KeyOptions {
            exportable,
            expires: policy.and_then(|p| p.expiry_for(self.hsm.now())),
            ..KeyOptions::default()
        };
        self.add_version(name, material, Some(loaded), ops, &opts, true)
    }

    /// Sets (or, with None, clears) the key's rotation policy. Its `created` and `updated`
    /// times are the core's; the policy is checked against Azure's rules.
    pub fn set_rotation_policy(
        &self,
        name: &str,
        policy: Option<RotationPolicy>,
    ) -> Result<KeyInfo> {
        if let Some(p) = &policy {
            p.validate()?;
        }
        self.maintain()?;
        self.mutate(|data, now| {
            let mut entry = KeyEntry::clone(live_key(data, name)?);
            entry.record.rotation_policy = policy.map(|mut p| {
                p.created = entry
                    .record
                    .rotation_policy
                    .as_ref()
                    .map_or(now, |old| old.created);
                p.updated = now;
                p
            });
            entry.record.updated = now;
            self.state
                .put_key(&data.record.settings, entry, Vec::new(), None)
        })
    }

    /// Soft-deletes a key: it moves to the deleted set until recovered or purged.
    pub fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        self.maintain()?;
        let info = self.mutate(|data, now| {
            let mut entry = KeyEntry::clone(live_key(data, name)?);
            entry.record.deleted = Some(Deletion {
                deleted_on: now,
                scheduled_purge: now.plus_days(data.record.settings.soft_delete_retention_days),
                recovery_id: format!("deletedkeys/{name}"),
            });
            self.state
                .put_key(&data.record.settings, entry, Vec::new(), None)
        })?;
        tracing::info!(pool = %self.state.name, key = name, "key deleted");
        Ok(info)
    }

    /// A deleted key (its latest version).
    pub fn get_deleted_key(&self, name: &str) -> Result<KeyInfo> {
        let data = self.read()?;
        let entry = deleted_key(&data, name)?;
        Ok(key_info(&data.record.settings, entry, entry.latest()?))
    }

    /// One page of the deleted keys, by name.
    pub fn list_deleted_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        self.list_by_name("deleted", true, page)
    }

    /// Brings a deleted key back, with all its versions.
    pub fn recover_deleted_key(&self, name: &str) -> Result<KeyInfo> {
        self.maintain_for_read()?;
        let info = self.mutate(|data, now| {
            let mut entry = KeyEntry::clone(deleted_key(data, name)?);
            entry.record.deleted = None;
            entry.record.updated = now;
            self.state
                .put_key(&data.record.settings, entry, Vec::new(), None)
        })?;
        tracing::info!(pool = %self.state.name, key = name, "key recovered");
        Ok(info)
    }

    /// Erases a deleted key for good. Refused under purge protection until its scheduled
    /// purge date.
    pub fn purge_deleted_key(&self, name: &str) -> Result<()> {
        self.maintain()?;
        self.mutate(|data, now| {
            let entry = deleted_key(data, name)?;
            if let Some(d) = &entry.record.deleted
                && data.record.settings.purge_protection
                && now < d.scheduled_purge
            {
                return Err(Error::PurgeProtected {
                    name: name.into(),
                    scheduled_purge: d.scheduled_purge,
                });
            }
            let mut batch = Batch::new();
            self.state.erase_key(&mut batch, entry);
            Ok(Mutation {
                batch,
                changes: vec![KeyChange::Remove(name.to_string())],
                result: (),
            })
        })?;
        tracing::info!(pool = %self.state.name, key = name, "key purged");
        Ok(())
    }

    /// Sets (or, with None, removes) a front-end attribute of a live key.
    pub fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        validate_extra(attr, value)?;
        self.maintain()?;
        self.mutate(|data, now| {
            let mut entry = KeyEntry::clone(live_key(data, name)?);
            match value {
                Some(v) => {
                    if !entry.record.extra.contains_key(attr)
                        && entry.record.extra.len() >= MAX_EXTRA
                    {
                        return Err(Error::bad_parameter(format!(
                            "a key keeps at most {MAX_EXTRA} attributes"
                        )));
                    }
                    entry
                        .record
                        .extra
                        .insert(attr.to_string(), URL_SAFE_NO_PAD.encode(v));
                }
                None => {
                    entry.record.extra.remove(attr);
                }
            }
            entry.record.updated = now;
            self.state
                .put_key(&data.record.settings, entry, Vec::new(), None)
        })
    }

    /// Empties the pool (PKCS#11's `C_InitToken` on an existing token), in one commit: every
    /// key (live or deleted), every front-end object and the user PIN go, for good. What
    /// governs the pool stays: its settings, access control (RBAC mode, role definitions and
    /// assignments), PIN policy and SO PIN. Refused under purge protection while the pool
    /// holds any key.
    pub fn clear(&self) -> Result<usize> {
        self.maintain()?;
        let cleared = self.mutate(|data, _| {
            if data.record.settings.purge_protection && !data.keys.is_empty() {
                return Err(Error::Conflict {
                    message: format!(
                        "pool '{}' has purge protection: its keys cannot be erased",
                        self.state.name
                    ),
                });
            }
            let mut batch = Batch::new();
            let mut changes = Vec::new();
            for entry in data.keys.values() {
                self.state.erase_key(&mut batch, entry);
                changes.push(KeyChange::Remove(entry.record.name.clone()));
            }
            for (kind, id) in data.docs.keys().filter(|(k, i)| !survives_clear(k, i)) {
                batch.delete(crate::record::doc_path(&self.state.name, kind, id));
                changes.push(KeyChange::RemoveDoc(kind.clone(), id.clone()));
            }
            Ok(Mutation {
                batch,
                result: data.keys.len(),
                changes,
            })
        })?;
        tracing::info!(pool = %self.state.name, keys = cleared, "pool cleared");
        Ok(cleared)
    }
}
