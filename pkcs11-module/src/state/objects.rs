//! Objects: what each handle names, the per-pool search index, session objects, and the
//! resolution of a handle to an [`Object`] that the function groups work on.
//!
//! - A pool's keys show as objects (RSA and EC: a private and a public key object; AES: a
//!   secret key object), each key by its latest version, and only while that version is
//!   enabled and inside its validity window. Certificates, data objects and public keys
//!   created through PKCS#11 are pool documents of kind [`DOC_KIND`] holding the attribute map.
//! - Session objects (`CKA_TOKEN` false) live in their session ([`super::sessions::Session`])
//!   and die with it.
//! - Handles are stable for the life of the module: the same key half always has the same
//!   handle, and a handle is never reused for another object.
//! - Searches run over an in-memory index of each pool, brought up to date when the pool's
//!   generation counter (`Pool::generation`) moves, from the pool's list of what changed
//!   (`Pool::changes_since`; read whole when there is none); a label index answers label
//!   searches without a scan.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::state::PoolHandle;
use cryptoki_sys::*;
use hsm_core::key::{EphemeralKey, KeyInfo, KeyOperation, KeyOps};
use hsm_core::{Hsm, PoolChanges};
use parking_lot::RwLock;

use crate::attributes::{
    self, Attrs, KeyFacts, Part, Template, class_of, is_true, key_attributes, stored_from_extra,
};
use crate::error::CoreResult;
use crate::state::Module;
use crate::state::sessions::Session;

/// The document kind of PKCS#11 objects kept in a pool (certificates, data, public keys).
pub(crate) const DOC_KIND: &str = "p11-object";

pub(crate) use super::object_model::*;

/// The default `CKA_ID` of a pool key: 16 bytes of SHA-256 over its name, so both halves
/// (and certificates made for it) share it and it survives rotation.
pub(crate) fn default_id(hsm: &Hsm, name: &str) -> Vec<u8> {
    hsm.digest(
        hsm_core::crypto::HashAlg::Sha256,
        format!("mhsm-ckaid:{name}").as_bytes(),
    )[..16]
        .to_vec()
}

/// A pool key's version is shown only while usable. The clock is read only for a key with
/// a validity window (every call on a key checks this).
fn visible(hsm: &Hsm, info: &KeyInfo) -> bool {
    let a = &info.attributes;
    // The clock is read only for a version with a validity window (the hot path has none).
    match (a.not_before, a.expires) {
        (None, None) => a.enabled,
        _ => a.usable_at(hsm.now()),
    }
}

/// A public half destroyed on its own.
fn hidden(info: &KeyInfo, part: Part) -> bool {
    part == Part::Public
        && info
            .extra
            .contains_key(&attributes::extra_name(Part::Public, attributes::HIDDEN))
}

/// The attributes of one part of a pool key.
pub(crate) fn pool_key_attributes(hsm: &Hsm, info: &KeyInfo, part: Part) -> Attrs {
    let stored = stored_from_extra(part, &info.extra);
    let id = default_id(hsm, &info.name);
    key_attributes(
        part,
        &KeyFacts {
            spec: info.spec,
            public: info.public_key.as_ref(),
            ops: info.ops,
            exportable: info.attributes.exportable,
            generated: info.attributes.generated,
            token: true,
            label: info.name.as_bytes(),
            default_id: &id,
            stored: &stored,
        },
    )
}

/// One object in a pool's index.
pub(crate) struct Entry {
    /// Its handle.
    pub handle: CK_OBJECT_HANDLE,
    /// What the handle names.
    id: ObjectId,
    /// The key and the part, for a pool key's object.
    key: Option<(Arc<KeyInfo>, Part)>,
    /// Its attributes: a document's from the start, a key's computed when first needed (a
    /// pool of 100,000 keys would otherwise hold millions of small buffers).
    attrs: OnceLock<Arc<Attrs>>,
}

impl Entry {
    /// Its label: a key's is its name; an object without `CKA_LABEL` has the empty one.
    fn label(&self) -> &[u8] {
        match &self.key {
            Some((info, _)) => info.name.as_bytes(),
            None => self
                .attrs
                .get()
                .and_then(|a| a.get(&CKA_LABEL))
                .map_or(&[], Vec::as_slice),
        }
    }

    /// Its attributes.
    fn attrs(&self, hsm: &Hsm) -> &Arc<Attrs> {
        self.attrs.get_or_init(|| match &self.key {
            Some((info, part)) => Arc::new(pool_key_attributes(hsm, info, *part)),
            // Documents are built with theirs.
            None => Arc::new(Attrs::new()),
        })
    }
}

/// The search index of one pool at one generation; it also resolves handles while the pool
/// is at that generation, so a call on a known object neither asks the pool for the key nor
/// recomputes its attributes. It follows the pool's changes one key or document at a time
/// (`Pool::changes_since`); it is read whole only when the pool cannot itemize them.
pub(crate) struct PoolIndex {
    generation: u64,
    /// The pool's name, shared by its objects' ids.
    pool: Arc<str>,
    /// The objects by handle; handles are made in creation order, and searches answer in it.
    entries: BTreeMap<CK_OBJECT_HANDLE, Entry>,
    by_label: HashMap<Vec<u8>, Vec<CK_OBJECT_HANDLE>>,
    /// The documents' handles by id (a destroyed document's handle is forgotten by the
    /// table before the index hears of its removal).
    docs: HashMap<Arc<str>, CK_OBJECT_HANDLE>,
}

impl PoolIndex {
    /// The generation of the pool this index shows.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The handles of the objects matching `template`, private ones only when `private`.
    pub fn find(
        &self,
        hsm: &Hsm,
        template: &Template,
        private: bool,
        out: &mut Vec<CK_OBJECT_HANDLE>,
    ) {
        let keep = |e: &Entry| {
            // Visibility also depends on the time (not-before, expiry).
            if let Some((info, _)) = &e.key
                && !visible(hsm, info)
            {
                return false;
            }
            let attrs = e.attrs(hsm);
            (private || !is_true(attrs, CKA_PRIVATE)) && template.matches(attrs)
        };
        match template.get(CKA_LABEL) {
            Some(label) => {
                for h in self.by_label.get(label).into_iter().flatten() {
                    if let Some(e) = self.entries.get(h)
                        && keep(e)
                    {
                        out.push(*h);
                    }
                }
            }
            None => out.extend(self.entries.values().filter(|e| keep(e)).map(|e| e.handle)),
        }
    }

    fn insert(&mut self, entry: Entry) {
        let label = entry.label().to_vec();
        let handle = entry.handle;
        if self.entries.insert(handle, entry).is_none() {
            let handles = self.by_label.entry(label).or_default();
            // Label lists stay in handle order, as the entries are.
            let at = handles.partition_point(|h| *h < handle);
            handles.insert(at, handle);
        }
    }

    fn remove(&mut self, handle: CK_OBJECT_HANDLE) {
        let Some(entry) = self.entries.remove(&handle) else {
            return;
        };
        if let ObjectId::Doc { id, .. } = &entry.id {
            self.docs.remove(id);
        }
        let label = entry.label();
        if let Some(handles) = self.by_label.get_mut(label) {
            handles.retain(|h| *h != handle);
            if handles.is_empty() {
                self.by_label.remove(label);
            }
        }
    }

    /// Adds the objects of a live key (each part not destroyed on its own).
    fn insert_key(&mut self, table: &ObjectTable, info: Arc<KeyInfo>) {
        let name: Arc<str> = info.name.as_str().into();
        for part in Part::of(info.spec.kind())
            .iter()
            .filter(|p| !hidden(&info, **p))
        {
            let id = ObjectId::Key {
                pool: self.pool.clone(),
                name: name.clone(),
                part: *part,
            };
            self.insert(Entry {
                handle: table.handle(&id),
                id,
                key: Some((info.clone(), *part)),
                attrs: OnceLock::new(),
            });
        }
    }

    /// Adds a PKCS#11 document (an unreadable one is skipped, and logged).
    fn insert_document(&mut self, table: &ObjectTable, doc: &str, bytes: &[u8]) {
        let Some(attrs) = attributes::decode(bytes) else {
            tracing::warn!(pool = &*self.pool, doc, "unreadable PKCS#11 object skipped");
            return;
        };
        let doc: Arc<str> = doc.into();
        let id = ObjectId::Doc {
            pool: self.pool.clone(),
            id: doc.clone(),
        };
        let handle = table.handle(&id);
        self.docs.insert(doc, handle);
        self.insert(Entry {
            handle,
            id,
            key: None,
            attrs: OnceLock::from(Arc::new(attrs)),
        });
    }

    /// Brings the index to `changes.generation`.
    fn apply(&mut self, table: &ObjectTable, changes: PoolChanges) {
        for (name, info) in changes.keys {
            let name: Arc<str> = name.into();
            for part in [Part::Private, Part::Public, Part::Secret] {
                let id = ObjectId::Key {
                    pool: self.pool.clone(),
                    name: name.clone(),
                    part,
                };
                if let Some(h) = table.existing_handle(&id) {
                    self.remove(h);
                }
            }
            if let Some(info) = info {
                self.insert_key(table, Arc::new(info));
            }
        }
        for (kind, doc, value) in changes.documents {
            if kind != DOC_KIND {
                continue;
            }
            if let Some(h) = self.docs.get(doc.as_str()).copied() {
                self.remove(h);
            }
            if let Some(bytes) = value {
                self.insert_document(table, &doc, &bytes);
            }
        }
        self.generation = changes.generation;
    }
}

#[derive(Default)]
struct Handles {
    by_handle: HashMap<CK_OBJECT_HANDLE, ObjectId>,
    by_id: HashMap<ObjectId, CK_OBJECT_HANDLE>,
}

/// The module's objects: handles and pool indexes.
pub(crate) struct ObjectTable {
    handles: RwLock<Handles>,
    next: AtomicU64,
    indexes: RwLock<HashMap<String, Arc<RwLock<PoolIndex>>>>,
}

/// A pool's index, current when it was handed out.
pub(crate) type IndexRef = Arc<RwLock<PoolIndex>>;

impl ObjectTable {
    /// No objects yet.
    pub fn new() -> ObjectTable {
        ObjectTable {
            handles: RwLock::new(Handles::default()),
            next: AtomicU64::new(1),
            indexes: RwLock::new(HashMap::new()),
        }
    }

    /// The handle of an object, made on first use.
    pub fn handle(&self, id: &ObjectId) -> CK_OBJECT_HANDLE {
        if let Some(h) = self.existing_handle(id) {
            return h;
        }
        let mut handles = self.handles.write();
        if let Some(h) = handles.by_id.get(id) {
            return *h;
        }
        let h = self.new_handle();
        handles.by_id.insert(id.clone(), h);
        handles.by_handle.insert(h, id.clone());
        h
    }

    /// The handle of an object, if it has one.
    fn existing_handle(&self, id: &ObjectId) -> Option<CK_OBJECT_HANDLE> {
        self.handles.read().by_id.get(id).copied()
    }

    /// A fresh handle (session objects take one each).
    pub fn new_handle(&self) -> CK_OBJECT_HANDLE {
        self.next.fetch_add(1, Ordering::Relaxed) as CK_OBJECT_HANDLE
    }

    /// Registers a session object's handle.
    pub fn register_session(&self, handle: CK_OBJECT_HANDLE, session: CK_SESSION_HANDLE) {
        self.handles
            .write()
            .by_handle
            .insert(handle, ObjectId::Session(session));
    }

    /// Forgets a handle (a destroyed session object or document).
    pub fn forget(&self, handle: CK_OBJECT_HANDLE) {
        let mut handles = self.handles.write();
        if let Some(id) = handles.by_handle.remove(&handle) {
            handles.by_id.remove(&id);
        }
    }

    /// What a handle names.
    pub fn id(&self, handle: CK_OBJECT_HANDLE) -> Option<ObjectId> {
        self.handles.read().by_handle.get(&handle).cloned()
    }

    /// The pool's index, brought up to the pool's generation (from the pool's changes, or
    /// read whole).
    pub fn index(&self, pool: &PoolHandle) -> Result<IndexRef, CK_RV> {
        match self.current(pool, true)? {
            Some(index) => Ok(index),
            None => Err(CKR_GENERAL_ERROR),
        }
    }

    /// The pool's index at the pool's current generation, brought there from the pool's
    /// changes when it is behind; `rebuild`: read the pool whole when they are not known
    /// (otherwise `None`: the caller resolves the slow way, as a remote pool's caller does
    /// between refreshes).
    fn current(&self, pool: &PoolHandle, rebuild: bool) -> Result<Option<IndexRef>, CK_RV> {
        let slot = self.indexes.read().get(pool.name()).cloned();
        if let Some(slot) = slot {
            return Ok(self.bring_up(&slot, pool, rebuild)?.then_some(slot));
        }
        if !rebuild {
            return Ok(None);
        }
        let fresh = Arc::new(RwLock::new(self.build_index(pool)?));
        Ok(Some(
            self.indexes
                .write()
                .entry(pool.name().to_string())
                .or_insert(fresh)
                .clone(),
        ))
    }

    /// Brings a pool's index to the pool's current generation, from the pool's changes or
    /// (`rebuild`) read whole; `false` when it stays behind (the changes are not known and
    /// `rebuild` is false).
    fn bring_up(&self, slot: &IndexRef, pool: &PoolHandle, rebuild: bool) -> Result<bool, CK_RV> {
        let generation = pool.generation().ck()?;
        if slot.read().generation >= generation {
            return Ok(true);
        }
        let mut index = slot.write();
        if index.generation < generation {
            match pool.changes_since(index.generation).ck()? {
                Some(changes) => index.apply(self, changes),
                None if rebuild => *index = self.build_index(pool)?,
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The index of a session's pool, current as [`ObjectTable::current`] makes it. The
    /// session keeps the index it was first given (a pool's index is never replaced, only
    /// brought up to date), so its later calls skip the table's map; the generation is
    /// checked on every call all the same.
    fn session_index<'s>(
        &self,
        session: &'s Session,
        rebuild: bool,
    ) -> Result<Option<&'s IndexRef>, CK_RV> {
        if let Some(slot) = session.index.get() {
            return Ok(self.bring_up(slot, &session.pool, rebuild)?.then_some(slot));
        }
        Ok(self
            .current(&session.pool, rebuild)?
            .map(|slot| session.index.get_or_init(|| slot)))
    }

    fn build_index(&self, pool: &PoolHandle) -> Result<PoolIndex, CK_RV> {
        let (generation, keys) = pool.snapshot_keys().ck()?;
        let mut index = PoolIndex {
            generation,
            pool: pool.name().into(),
            entries: BTreeMap::new(),
            by_label: HashMap::with_capacity(keys.len()),
            docs: HashMap::new(),
        };
        for info in keys {
            index.insert_key(self, Arc::new(info));
        }
        // Without mhsm's extension (a real Managed HSM) there are no documents.
        let documents = if pool.keeps_documents().ck()? {
            pool.list_documents(DOC_KIND).ck()?
        } else {
            Vec::new()
        };
        for (doc, bytes) in documents {
            index.insert_document(self, &doc, &bytes);
        }
        Ok(index)
    }
}

/// Resolves a pool object from a current index: what the index holds is what the pool
/// holds. Not there (deleted, disabled, another pool's) → `CKR_OBJECT_HANDLE_INVALID`.
fn index_object(
    hsm: &Hsm,
    pool: &PoolHandle,
    entry: &Entry,
    handle: CK_OBJECT_HANDLE,
) -> Result<Object, CK_RV> {
    match &entry.key {
        Some((info, part)) => {
            // Visibility also depends on the time (not-before, expiry).
            if !visible(hsm, info) {
                return Err(CKR_OBJECT_HANDLE_INVALID);
            }
            Ok(Object {
                handle,
                id: entry.id.clone(),
                attrs: entry.attrs(hsm).clone(),
                backing: Backing::Pool {
                    pool: pool.clone(),
                    info: info.clone(),
                },
                part: Some(*part),
            })
        }
        None => {
            let attrs = entry.attrs(hsm);
            let (backing, part) = stored_backing(attrs)?;
            Ok(Object {
                handle,
                id: entry.id.clone(),
                attrs: attrs.clone(),
                backing,
                part,
            })
        }
    }
}

/// Resolves a pool object for one call. Gone (deleted, disabled, another pool's) →
/// `CKR_OBJECT_HANDLE_INVALID`.
pub(crate) fn resolve_pool_object(
    hsm: &Hsm,
    pool: &PoolHandle,
    handle: CK_OBJECT_HANDLE,
    id: ObjectId,
) -> Result<Object, CK_RV> {
    match &id {
        ObjectId::Key {
            pool: p,
            name,
            part,
        } if **p == *pool.name() => {
            let info = match pool.get_key(name, None) {
                Ok(info) => info,
                Err(hsm_core::Error::KeyNotFound { .. } | hsm_core::Error::PoolNotFound { .. }) => {
                    return Err(CKR_OBJECT_HANDLE_INVALID);
                }
                Err(e) => return Err(crate::error::rv(&e)),
            };
            if !visible(hsm, &info)
                || !Part::of(info.spec.kind()).contains(part)
                || hidden(&info, *part)
            {
                return Err(CKR_OBJECT_HANDLE_INVALID);
            }
            let part = *part;
            Ok(Object {
                handle,
                attrs: Arc::new(pool_key_attributes(hsm, &info, part)),
                id,
                backing: Backing::Pool {
                    pool: pool.clone(),
                    info: Arc::new(info),
                },
                part: Some(part),
            })
        }
        ObjectId::Doc { pool: p, id: doc } if **p == *pool.name() => {
            let bytes = pool
                .get_document(DOC_KIND, doc)
                .ck()?
                .ok_or(CKR_OBJECT_HANDLE_INVALID)?;
            let attrs = attributes::decode(&bytes).ok_or(CKR_GENERAL_ERROR)?;
            let (backing, part) = stored_backing(&attrs)?;
            Ok(Object {
                handle,
                id,
                attrs: Arc::new(attrs),
                backing,
                part,
            })
        }
        _ => Err(CKR_OBJECT_HANDLE_INVALID),
    }
}

/// The backing of an object that is only attributes: a public key, or nothing.
pub(crate) fn stored_backing(attrs: &Attrs) -> Result<(Backing, Option<Part>), CK_RV> {
    if class_of(attrs) == Some(CKO_PUBLIC_KEY) {
        Ok((
            Backing::Public(public_from_attrs(attrs)?),
            Some(Part::Public),
        ))
    } else {
        Ok((Backing::None, None))
    }
}

/// The attributes of an in-memory key, with its stored ones laid over.
pub(crate) fn ephemeral_attributes(key: &EphemeralKey, part: Part, stored: &Attrs) -> Attrs {
    let public = key.public_key();
    let label = stored.get(&CKA_LABEL).cloned().unwrap_or_default();
    let mut attrs = key_attributes(
        part,
        &KeyFacts {
            spec: key.spec(),
            public: public.as_ref(),
            ops: stored_ops(part, stored, key.ops()),
            exportable: key.exportable(),
            generated: key.generated(),
            token: false,
            label: &label,
            default_id: &[],
            stored,
        },
    );
    attrs.insert(CKA_LABEL, label);
    attrs
}

/// The operations a session key's stored usage attributes allow (they may narrow the key's).
fn stored_ops(part: Part, stored: &Attrs, ops: KeyOps) -> KeyOps {
    let allowed: Vec<KeyOperation> = part
        .usages()
        .iter()
        .filter(|(attr, op)| {
            ops.contains(*op)
                && stored
                    .get(attr)
                    .is_none_or(|v| v.first() != Some(&CK_FALSE))
        })
        .map(|(_, op)| *op)
        .collect();
    KeyOps::of(&allowed)
}

/// Resolves a handle for a call in `session`: a pool object of the session's token, or a
/// session object of any session of this application on the same slot. Private objects are
/// invisible without a user login. Anything else: `CKR_OBJECT_HANDLE_INVALID`.
pub(crate) fn resolve(
    module: &Module,
    session: &Session,
    handle: CK_OBJECT_HANDLE,
) -> Result<Object, CK_RV> {
    let hsm = module.core.hsm();
    let pool = &session.pool;
    let index = module.objects.session_index(session, pool.is_local())?;
    // The common case: an object of the session's pool, straight from its current index.
    if let Some(index) = index {
        let index = index.read();
        if let Some(entry) = index.entries.get(&handle) {
            let object = index_object(hsm, pool, entry, handle)?;
            return visible_to(module, session, object);
        }
    }
    let id = module.objects.id(handle).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
    let object = match id {
        ObjectId::Session(owner) => {
            let owner = module
                .sessions
                .get(owner)
                .map_err(|_| CKR_OBJECT_HANDLE_INVALID)?;
            if owner.slot_id != session.slot_id {
                return Err(CKR_OBJECT_HANDLE_INVALID);
            }
            let so = owner
                .objects
                .read()
                .get(&handle)
                .cloned()
                .ok_or(CKR_OBJECT_HANDLE_INVALID)?;
            session_object(module.core.hsm(), &session.pool, handle, owner.handle, &so)?
        }
        // Not in the current index: gone (or another pool's).
        _ if index.is_some() => return Err(CKR_OBJECT_HANDLE_INVALID),
        other => resolve_pool_object(hsm, pool, handle, other)?,
    };
    visible_to(module, session, object)
}

/// The object, unless it is private and no user is logged in.
fn visible_to(module: &Module, session: &Session, object: Object) -> Result<Object, CK_RV> {
    if object.is_private() && !user_logged_in(module, session) {
        return Err(CKR_OBJECT_HANDLE_INVALID);
    }
    Ok(object)
}

/// Whether private objects are visible in this session (a user is logged in to its slot).
pub(crate) fn user_logged_in(module: &Module, session: &Session) -> bool {
    module.logins.user_logged_in(session.slot_id)
}

/// A session object as an [`Object`].
fn session_object(
    hsm: &Hsm,
    pool: &PoolHandle,
    handle: CK_OBJECT_HANDLE,
    owner: CK_SESSION_HANDLE,
    so: &SessionObject,
) -> Result<Object, CK_RV> {
    let stored = so.attrs.read().clone();
    let id = ObjectId::Session(owner);
    match &so.key {
        Some(SessionKey::Own(key, part)) => Ok(Object {
            handle,
            id,
            attrs: Arc::new(ephemeral_attributes(key, *part, &stored)),
            backing: Backing::Ephemeral(key.clone()),
            part: Some(*part),
        }),
        Some(SessionKey::Alias { name, part }) => {
            let info = pool.get_key(name, None).map_err(|e| match e {
                hsm_core::Error::KeyNotFound { .. } => CKR_OBJECT_HANDLE_INVALID,
                e => crate::error::rv(&e),
            })?;
            if !visible(hsm, &info) {
                return Err(CKR_OBJECT_HANDLE_INVALID);
            }
            let mut attrs = pool_key_attributes(hsm, &info, *part);
            for (t, v) in stored {
                attrs.insert(t, v);
            }
            attrs.insert(CKA_TOKEN, attributes::bool_bytes(false));
            Ok(Object {
                handle,
                id,
                attrs: Arc::new(attrs),
                backing: Backing::Pool {
                    pool: pool.clone(),
                    info: Arc::new(info),
                },
                part: Some(*part),
            })
        }
        None => {
            let (backing, part) = stored_backing(&stored)?;
            Ok(Object {
                handle,
                id,
                attrs: Arc::new(stored),
                backing,
                part,
            })
        }
    }
}

/// Adds a session object to `session`; returns its handle.
pub(crate) fn add_session_object(
    module: &Module,
    session: &Session,
    object: SessionObject,
) -> CK_OBJECT_HANDLE {
    let handle = module.objects.new_handle();
    module.objects.register_session(handle, session.handle);
    session.objects.write().insert(handle, Arc::new(object));
    handle
}
