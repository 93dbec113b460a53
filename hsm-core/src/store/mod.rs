//! Storage behind a small trait, so another engine can be plugged in without touching the
//! domain code.
//!
//! The store is a flat, ordered map of byte keys to byte values. Values arrive already sealed
//! (see `seal.rs`): a store never sees a secret in plaintext. Every [`Store::commit`] is atomic
//! and durable before it returns, so an acknowledged mutation survives a crash.

mod memory;
mod sled;

use std::fmt;

pub use memory::MemoryStore;
pub use sled::SledStore;

use crate::error::Result;

/// One write of a batch: set a value, or remove the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Set `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Vec<u8>),
}

/// A set of writes applied atomically.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    writes: Vec<Write>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.writes.push(Write::Put(key.into(), value));
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.writes.push(Write::Delete(key.into()));
    }

    /// The writes, in order.
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// The visitor of [`Store::scan_prefix`]: called with each key and value.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// A storage engine.
pub trait Store: Send + Sync + fmt::Debug {
    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Calls `f` for every key starting with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()>;

    /// Applies `batch` atomically; returns only once it is durable.
    fn commit(&self, batch: Batch) -> Result<()>;
}

#[cfg(test)]
mod tests {
    //! One behaviour suite, run against every engine.
    use super::*;

    fn suite(store: &dyn Store) {
        assert_eq!(store.get(b"a").unwrap(), None);
        let mut b = Batch::new();
        b.put("p/one", b"1".to_vec());
        b.put("p/two", b"2".to_vec());
        b.put("q/three", b"3".to_vec());
        store.commit(b).unwrap();
        assert_eq!(store.get(b"p/one").unwrap(), Some(b"1".to_vec()));

        let mut seen = Vec::new();
        store
            .scan_prefix(b"p/", &mut |k, v| {
                seen.push((k.to_vec(), v.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (b"p/one".to_vec(), b"1".to_vec()),
                (b"p/two".to_vec(), b"2".to_vec())
            ]
        );

        let mut b = Batch::new();
        b.delete("p/one");
        b.put("p/two", b"22".to_vec());
        store.commit(b).unwrap();
        assert_eq!(store.get(b"p/one").unwrap(), None);
        assert_eq!(store.get(b"p/two").unwrap(), Some(b"22".to_vec()));
        store.commit(Batch::new()).unwrap();

        // Errors from the callback stop the scan and come back.
        let mut calls = 0;
        let r = store.scan_prefix(b"", &mut |_, _| {
            calls += 1;
            Err(crate::Error::internal("stop"))
        });
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn memory_store_behaves() {
        suite(&MemoryStore::new());
    }

    #[test]
    fn sled_store_behaves_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            suite(&store);
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.get(b"p/two").unwrap(), Some(b"22".to_vec()));
        assert_eq!(store.get(b"q/three").unwrap(), Some(b"3".to_vec()));
    }

    #[test]
    fn sled_store_refuses_a_held_directory() {
        let dir = tempfile::tempdir().unwrap();
        let _held = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path()).unwrap_err();
        assert_eq!(err.code(), "StoreLocked");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
