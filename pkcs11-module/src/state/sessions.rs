//! Sessions: a sharded concurrent map from handle to session, so threads working in their
//! own sessions never wait on one another; each session keeps its operation state behind its
//! own mutex.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use crate::state::PoolHandle;
use cryptoki_sys::{
    CK_FLAGS, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_SESSION_INFO, CK_SLOT_ID,
    CKF_RW_SESSION, CKF_SERIAL_SESSION, CKR_SESSION_HANDLE_INVALID,
};
use hsm_core::SecretBytes;
use hsm_core::crypto::stream::CipherStream;
use hsm_core::crypto::{CipherAlgorithm, HashAlg, Hasher, SignAlgorithm};
use parking_lot::{Mutex, RwLock};

use super::login::LoginState;
use super::objects::{BoundKey, IndexRef, KeyCache, SessionObject};

/// Shards of the session map (a power of two).
const SHARDS: usize = 64;

/// One open session.
pub(crate) struct Session {
    /// Its handle.
    pub handle: CK_SESSION_HANDLE,
    /// Its slot.
    pub slot_id: CK_SLOT_ID,
    /// The pool behind the slot's token.
    pub pool: PoolHandle,
    /// Opened with `CKF_RW_SESSION`.
    pub rw: bool,
    /// The operations in progress.
    pub ops: Mutex<Operations>,
    /// Its session objects (`CKA_TOKEN` false): they die with it.
    pub objects: RwLock<HashMap<CK_OBJECT_HANDLE, Arc<SessionObject>>>,
    /// `C_Login(CKU_CONTEXT_SPECIFIC)` succeeded for the operation in progress (a key with
    /// `CKA_ALWAYS_AUTHENTICATE`); see [`Session::take_context_auth`].
    context_authenticated: AtomicBool,
    /// Its pool's object index, once a call has found it (`objects::resolve` then skips the
    /// table of indexes).
    pub(crate) index: OnceLock<IndexRef>,
    /// Closed: set before it leaves the table, so that a thread's recent lookup
    /// ([`SessionTable::get`]) never answers with it again.
    closed: AtomicBool,
}

impl Session {
    /// `CK_SESSION_INFO`, given the slot's login state.
    pub fn info(&self, login: LoginState) -> CK_SESSION_INFO {
        let mut flags: CK_FLAGS = CKF_SERIAL_SESSION;
        if self.rw {
            flags |= CKF_RW_SESSION;
        }
        CK_SESSION_INFO {
            slotID: self.slot_id,
            state: login.session_state(self.rw),
            flags,
            ulDeviceError: 0,
        }
    }

    /// Records a successful `C_Login(CKU_CONTEXT_SPECIFIC)`.
    pub(crate) fn set_context_auth(&self) {
        self.context_authenticated.store(true, Ordering::SeqCst);
    }

    /// Whether `C_Login(CKU_CONTEXT_SPECIFIC)` succeeded since the last call, clearing it: an
    /// operation with a `CKA_ALWAYS_AUTHENTICATE` key calls it once at its `*Init` (discarding
    /// a stale value) and once before using the key (which it refuses with
    /// `CKR_USER_NOT_LOGGED_IN` on `false`), so one login allows one operation.
    pub(crate) fn take_context_auth(&self) -> bool {
        self.context_authenticated.swap(false, Ordering::SeqCst)
    }
}

/// The operations a session may have in progress (one of each kind).
#[derive(Default)]
pub(crate) struct Operations {
    /// `C_DigestInit` ... `C_Digest` / `C_DigestFinal`.
    pub digest: Option<DigestOp>,
    /// `C_FindObjectsInit` ... `C_FindObjectsFinal`: the handles still to hand out.
    pub find: Option<std::collections::VecDeque<CK_OBJECT_HANDLE>>,
    /// `C_SignInit` ... `C_Sign` / `C_SignFinal`.
    pub sign: Option<SignOp>,
    /// `C_VerifyInit` ... `C_Verify` / `C_VerifyFinal`.
    pub verify: Option<SignOp>,
    /// `C_EncryptInit` ... `C_Encrypt` / `C_EncryptFinal`.
    pub encrypt: Option<CryptOp>,
    /// `C_DecryptInit` ... `C_Decrypt` / `C_DecryptFinal`.
    pub decrypt: Option<CryptOp>,
    /// The pool keys recent `*Init` calls bound, for the next ones.
    pub keys: KeyCache,
}

/// A signature, MAC or verification in progress.
pub(crate) struct SignOp {
    /// The key, resolved, its usage checked and bound at initialization.
    pub key: BoundKey,
    /// The core's algorithm.
    pub alg: SignAlgorithm,
    /// The data taken so far.
    pub input: SignInput,
    /// The signature's length (every scheme offered has one).
    pub sig_len: usize,
    /// An update was taken (so the single-part call is refused).
    pub multi_part: bool,
    /// The key has `CKA_ALWAYS_AUTHENTICATE` and no context-specific login came yet.
    pub needs_context_auth: bool,
}

/// What a [`SignOp`] has of its data.
pub(crate) enum SignInput {
    /// Nothing: the mechanism signs its input as given, in one call.
    Direct,
    /// The message's digest so far (None once finished).
    Hash(Option<Box<dyn Hasher>>),
    /// The message so far, for MACs, which the core computes in one call.
    Gathered(Gathered),
}

/// An encryption or decryption in progress.
pub(crate) struct CryptOp {
    /// The key, resolved, its usage checked and bound at initialization.
    pub key: BoundKey,
    /// The core's algorithm.
    pub alg: CipherAlgorithm,
    /// How updates are handled.
    pub parts: CryptParts,
    /// An update was taken (so the single-part call is refused).
    pub multi_part: bool,
    /// The key has `CKA_ALWAYS_AUTHENTICATE` and no context-specific login came yet.
    pub needs_context_auth: bool,
}

/// How a [`CryptOp`] takes multi-part input.
pub(crate) enum CryptParts {
    /// AES ECB, CBC and CTR: output as the parts come (the core's `CipherStream` makes one
    /// call per update on the whole blocks ready).
    Stream(CipherStream),
    /// AES-GCM: the input so far (zeroized when dropped: for encryption it is plaintext); all
    /// output comes at the final call, as the spec requires for decryption anyway.
    Gathered(Gathered),
    /// RSA: single-part only.
    Single,
}

/// Input gathered over updates (MACs, AES-GCM), zeroized when dropped. Nothing is held, so
/// nothing zeroized, until a part comes: a single-part call, the common case, never gathers,
/// and dropping even an empty `SecretBytes` runs its zeroizing `memset` (on this machine
/// about as long as 1 KiB of HMAC's hashing).
#[derive(Default)]
pub(crate) struct Gathered(Option<SecretBytes>);

impl Gathered {
    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, SecretBytes::len)
    }

    /// Appends a part.
    pub fn extend_from_slice(&mut self, part: &[u8]) {
        self.0
            .get_or_insert_with(SecretBytes::default)
            .extend_from_slice(part);
    }

    /// What it holds.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], SecretBytes::expose_secret)
    }
}

impl Operations {
    /// Whether an operation that uses a key is active: the one `C_Login(CKU_CONTEXT_SPECIFIC)`
    /// may authenticate (else it answers `CKR_OPERATION_NOT_INITIALIZED`).
    pub fn any_key_operation_active(&self) -> bool {
        // Destructured so that a new kind of operation must be considered here.
        let Operations {
            digest: _,
            find: _,
            sign,
            verify,
            encrypt,
            decrypt,
            keys: _,
        } = self;
        // A digest uses no key.
        sign.is_some() || verify.is_some() || encrypt.is_some() || decrypt.is_some()
    }
}

/// A digest in progress.
pub(crate) struct DigestOp {
    /// The algorithm.
    pub alg: HashAlg,
    /// The core's streaming hasher.
    pub hasher: Box<dyn Hasher>,
    /// `C_DigestUpdate` was called (so single-part `C_Digest` is refused).
    pub multi_part: bool,
}

/// Hashes the module's own handles (sequential numbers) with one multiplication: they need
/// none of SipHash's defence against keys chosen to collide, and every call looks one up.
#[derive(Default)]
pub(crate) struct HandleHasher(u64);

impl std::hash::Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits: bring the product's well-mixed high
        // half down (Fibonacci hashing spreads even a shard's handles, equal modulo SHARDS).
        self.0.rotate_left(32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by a handle or a slot id (numbers the module hands out).
pub(crate) type HandleMap<V> = HashMap<CK_SESSION_HANDLE, V, BuildHasherDefault<HandleHasher>>;

/// One shard of the table, alone on its cache lines: taking a shard's read lock writes its
/// lock word, and two threads using sessions of neighbouring shards must not pass one line
/// back and forth.
#[repr(align(128))]
struct Shard(RwLock<HandleMap<Arc<Session>>>);

/// The session a thread looked up last ([`SessionTable::get`]): most threads use one
/// session for many calls in a row.
struct Recent {
    table: u64,
    handle: CK_SESSION_HANDLE,
    session: Weak<Session>,
}

thread_local! {
    static RECENT: RefCell<Option<Recent>> = const { RefCell::new(None) };
}

impl Recent {
    /// The session `handle` of table `table`, if this thread looked it up last and it is
    /// still open (its `Arc` is alive and not marked closed).
    fn find(table: u64, handle: CK_SESSION_HANDLE) -> Option<Arc<Session>> {
        RECENT
            .try_with(|recent| {
                let recent = recent.try_borrow().ok()?;
                let r = recent.as_ref()?;
                if r.table != table || r.handle != handle {
                    return None;
                }
                let session = r.session.upgrade()?;
                (!session.closed.load(Ordering::Acquire)).then_some(session)
            })
            .ok()
            .flatten()
    }

    /// Remembers `session` as this thread's last lookup in table `table`.
    fn keep(table: u64, session: &Arc<Session>) {
        let _ = RECENT.try_with(|recent| {
            if let Ok(mut recent) = recent.try_borrow_mut() {
                *recent = Some(Recent {
                    table,
                    handle: session.handle,
                    session: Arc::downgrade(session),
                });
            }
        });
    }
}

/// All open sessions of the module.
pub(crate) struct SessionTable {
    /// Tells this table from any other of the process (a thread's recent lookup names it).
    id: u64,
    shards: Box<[Shard]>,
    next: AtomicU64,
    /// (all, read-write) open sessions per slot, kept with every open and close so counting
    /// needs no scan.
    counts: Mutex<HandleMap<(usize, usize)>>,
}

impl SessionTable {
    /// No sessions.
    pub fn new() -> SessionTable {
        static TABLES: AtomicU64 = AtomicU64::new(0);
        SessionTable {
            id: TABLES.fetch_add(1, Ordering::Relaxed),
            shards: (0..SHARDS)
                .map(|_| Shard(RwLock::new(HandleMap::default())))
                .collect(),
            next: AtomicU64::new(1),
            counts: Mutex::new(HandleMap::default()),
        }
    }

    fn shard(&self, handle: CK_SESSION_HANDLE) -> &RwLock<HandleMap<Arc<Session>>> {
        &self.shards[handle as usize % SHARDS].0
    }

    /// Opens a session on `slot_id` over `pool`; returns its handle (never 0).
    pub fn open(&self, slot_id: CK_SLOT_ID, pool: PoolHandle, rw: bool) -> CK_SESSION_HANDLE {
        let handle = self.next.fetch_add(1, Ordering::Relaxed) as CK_SESSION_HANDLE;
        let session = Arc::new(Session {
            handle,
            objects: RwLock::new(HashMap::new()),
            slot_id,
            pool,
            rw,
            ops: Mutex::new(Operations::default()),
            context_authenticated: AtomicBool::new(false),
            index: OnceLock::new(),
            closed: AtomicBool::new(false),
        });
        {
            let mut counts = self.counts.lock();
            let count = counts.entry(slot_id).or_default();
            count.0 += 1;
            count.1 += usize::from(rw);
        }
        self.shard(handle).write().insert(handle, session);
        handle
    }

    fn forget(&self, closed: &Session) {
        let mut counts = self.counts.lock();
        if let Some(count) = counts.get_mut(&closed.slot_id) {
            count.0 -= 1;
            count.1 -= usize::from(closed.rw);
            if count.0 == 0 {
                counts.remove(&closed.slot_id);
            }
        }
    }

    /// A session, or `CKR_SESSION_HANDLE_INVALID`. A thread that asks for the session it
    /// asked for last finds it without the table: its [`Recent`] lookup holds a `Weak` (which
    /// keeps no session alive), upgraded and checked still open: two atomic operations where
    /// the table's read lock and a clone take four.
    pub fn get(&self, handle: CK_SESSION_HANDLE) -> Result<Arc<Session>, CK_RV> {
        // The call's span (`entry::run`) names its session.
        if crate::entry::spans_on() {
            tracing::Span::current().record("session", handle);
        }
        if let Some(session) = Recent::find(self.id, handle) {
            return Ok(session);
        }
        let session = self
            .shard(handle)
            .read()
            .get(&handle)
            .cloned()
            .ok_or(CKR_SESSION_HANDLE_INVALID)?;
        Recent::keep(self.id, &session);
        Ok(session)
    }

    /// Closes a session and returns its slot, or `CKR_SESSION_HANDLE_INVALID`.
    pub fn close(&self, handle: CK_SESSION_HANDLE) -> Result<CK_SLOT_ID, CK_RV> {
        let closed = self
            .shard(handle)
            .write()
            .remove(&handle)
            .ok_or(CKR_SESSION_HANDLE_INVALID)?;
        closed.closed.store(true, Ordering::Release);
        self.forget(&closed);
        Ok(closed.slot_id)
    }

    /// Closes every session of a slot.
    pub fn close_slot(&self, slot_id: CK_SLOT_ID) {
        for Shard(shard) in self.shards.iter() {
            let mut shard = shard.write();
            let closing: Vec<CK_SESSION_HANDLE> = shard
                .values()
                .filter(|s| s.slot_id == slot_id)
                .map(|s| s.handle)
                .collect();
            for handle in closing {
                if let Some(closed) = shard.remove(&handle) {
                    closed.closed.store(true, Ordering::Release);
                    self.forget(&closed);
                }
            }
        }
    }

    /// Closes every session.
    pub fn clear(&self) {
        for Shard(shard) in self.shards.iter() {
            for (_, closed) in shard.write().drain() {
                closed.closed.store(true, Ordering::Release);
            }
        }
        self.counts.lock().clear();
    }

    /// The sessions open on a slot.
    pub fn for_slot(&self, slot_id: CK_SLOT_ID) -> Vec<Arc<Session>> {
        let mut out = Vec::new();
        for Shard(shard) in self.shards.iter() {
            out.extend(
                shard
                    .read()
                    .values()
                    .filter(|s| s.slot_id == slot_id)
                    .cloned(),
            );
        }
        out
    }

    /// (all, read-write) sessions open on a slot.
    pub fn count(&self, slot_id: CK_SLOT_ID) -> (usize, usize) {
        self.counts
            .lock()
            .get(&slot_id)
            .copied()
            .unwrap_or_default()
    }
}

/// How a call left its operation.
pub(crate) enum Step {
    /// Still active: the call only asked for the output length, or took one more part.
    Pending,
    /// Finished.
    Done,
}

/// Applies PKCS#11's rule for ending an operation: it ends on success or on any error, but
/// stays active after a length query and after `CKR_BUFFER_TOO_SMALL`.
pub(crate) fn settle<T>(op: &mut Option<T>, result: Result<Step, CK_RV>) -> Result<(), CK_RV> {
    match result {
        Ok(Step::Pending) => Ok(()),
        Err(cryptoki_sys::CKR_BUFFER_TOO_SMALL) => Err(cryptoki_sys::CKR_BUFFER_TOO_SMALL),
        Ok(Step::Done) => {
            *op = None;
            Ok(())
        }
        Err(rv) => {
            *op = None;
            Err(rv)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn gathered_holds_the_parts_in_order() {
        let mut g = Gathered::default();
        assert_eq!(g.len(), 0);
        assert!(g.expose_secret().is_empty());
        g.extend_from_slice(b"abc");
        g.extend_from_slice(b"");
        g.extend_from_slice(b"de");
        assert_eq!(g.len(), 5);
        assert_eq!(g.expose_secret(), b"abcde");
    }

    fn pool() -> PoolHandle {
        let hsm = hsm_core::Hsm::open(hsm_core::HsmConfig::in_memory()).unwrap();
        hsm.create_pool(
            "recent",
            hsm_core::PoolSettings::default(),
            hsm_core::names::Tags::new(),
        )
        .unwrap();
        Arc::new(hsm.pool("recent").unwrap())
    }

    /// A thread's recent lookup never outlives its session: closed one way or another, or
    /// in another table with the same handle, the session is not found through it.
    #[test]
    fn a_recent_lookup_ends_with_its_session() {
        let pool = pool();
        let table = SessionTable::new();
        let a = table.open(1, pool.clone(), true);
        let b = table.open(1, pool.clone(), false);
        assert!(table.get(a).unwrap().rw);
        assert!(table.get(a).unwrap().rw, "again, through the recent lookup");
        table.close(a).unwrap();
        assert_eq!(table.get(a).err(), Some(CKR_SESSION_HANDLE_INVALID));
        // Held by a call in progress elsewhere: closed all the same.
        let held = table.get(b).unwrap();
        table.close_slot(1);
        assert_eq!(table.get(b).err(), Some(CKR_SESSION_HANDLE_INVALID));
        drop(held);
        let c = table.open(2, pool.clone(), true);
        let held = table.get(c).unwrap();
        table.clear();
        assert_eq!(table.get(c).err(), Some(CKR_SESSION_HANDLE_INVALID));
        drop(held);
        // Another table numbers its sessions from 1 again: the first table's lookup of
        // handle 1 is not the second table's session 1.
        let first = SessionTable::new();
        let h = first.open(1, pool.clone(), true);
        assert!(first.get(h).unwrap().rw);
        let second = SessionTable::new();
        assert_eq!(second.open(1, pool, false), h);
        let _keep_first_open = &first;
        assert!(!second.get(h).unwrap().rw);
        assert!(first.get(h).unwrap().rw);
    }

    #[test]
    fn handles_of_one_shard_spread_over_buckets() {
        // A shard holds handles that are equal modulo SHARDS; the map takes its bucket
        // from the low bits of the hash, which must not be equal too.
        let build = BuildHasherDefault::<HandleHasher>::default();
        let buckets: HashSet<u64> = (0..256u64)
            .map(|i| build.hash_one(i * SHARDS as CK_SESSION_HANDLE) & 0xff)
            .collect();
        assert!(buckets.len() > 180, "{} buckets of 256", buckets.len());
        let mut map: HandleMap<u64> = HandleMap::default();
        for h in 1..1000u64 {
            map.insert(h, h * 2);
        }
        assert!((1..1000u64).all(|h| map.get(&h) == Some(&(h * 2))));
        assert_eq!(map.get(&1000), None);
    }
}
