//! An in-memory store: for tests and throw-away HSMs. Not durable.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use super::{Batch, Store, Visitor, Write};
use crate::error::Result;

/// A store that keeps everything in memory and loses it on drop.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        let map = self.map.read();
        for (k, v) in map.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            f(k, v)?;
        }
        Ok(())
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        let mut map = self.map.write();
        for w in batch.writes {
            match w {
                Write::Put(k, v) => {
                    map.insert(k, v);
                }
                Write::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
}
