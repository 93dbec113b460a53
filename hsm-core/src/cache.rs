//! A bounded cache of parsed, unwrapped keys, so an operation does not unseal and parse its
//! key on every call. Evicted keys are dropped, and the providers' key types zeroize on drop.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::crypto::LoadedKey;

/// Cache capacity when none is configured.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Keys are version ids (128 random bits, unique across pools; a version restored into
/// another pool carries the same material, so sharing its entry is correct).
pub(crate) struct KeyCache {
    capacity: usize,
    map: RwLock<HashMap<u128, Arc<dyn LoadedKey>>>,
    /// Insertion order, for first-in-first-out eviction; always the map's keys.
    order: Mutex<VecDeque<u128>>,
}

impl KeyCache {
    pub(crate) fn new(capacity: usize) -> KeyCache {
        KeyCache {
            capacity,
            map: RwLock::new(HashMap::new()),
            order: Mutex::new(VecDeque::new()),
        }
    }

    /// The cached key, if any. Takes only a shared lock: concurrent users do not serialize.
    pub(crate) fn get(&self, id: u128) -> Option<Arc<dyn LoadedKey>> {
        self.map.read().get(&id).cloned()
    }

    /// Caches `key`, evicting the oldest entries beyond the capacity.
    pub(crate) fn insert(&self, id: u128, key: Arc<dyn LoadedKey>) {
        if self.capacity == 0 {
            return;
        }
        let mut order = self.order.lock();
        let mut evicted = Vec::new();
        {
            let mut map = self.map.write();
            if map.insert(id, key).is_none() {
                order.push_back(id);
            }
            while map.len() > self.capacity {
                let Some(old) = order.pop_front() else { break };
                if let Some(k) = map.remove(&old) {
                    evicted.push(k);
                }
            }
        }
        // Dropped (and zeroized) outside the map lock.
        drop(evicted);
    }

    /// Removes entries (on purge).
    pub(crate) fn remove(&self, ids: impl IntoIterator<Item = u128>) {
        let ids: std::collections::HashSet<u128> = ids.into_iter().collect();
        if ids.is_empty() {
            return;
        }
        let mut order = self.order.lock();
        let removed: Vec<_> = {
            let mut map = self.map.write();
            ids.iter().filter_map(|id| map.remove(id)).collect()
        };
        order.retain(|id| !ids.contains(id));
        drop(order);
        drop(removed);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.read().len()
    }
}

/// The cache id of a version id (32 hex characters); None for anything else (not cached).
pub(crate) fn cache_id(version: &str) -> Option<u128> {
    crate::names::validate_version(version)
        .then(|| u128::from_str_radix(version, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{
        CipherAlgorithm, Ciphertext, KeySpec, PublicKey, SignAlgorithm, WrapAlgorithm,
    };
    use crate::error::{Error, Result};
    use crate::secret::SecretBytes;

    /// A stand-in key that counts how many of it are alive.
    struct Counted(#[allow(dead_code)] Arc<()>);

    impl LoadedKey for Counted {
        fn spec(&self) -> KeySpec {
            KeySpec::Aes { bits: 128 }
        }
        fn has_private(&self) -> bool {
            true
        }
        fn public_key(&self) -> Option<PublicKey> {
            None
        }
        fn sign(&self, _: &SignAlgorithm, _: &[u8]) -> Result<Vec<u8>> {
            Err(Error::internal("test"))
        }
        fn verify(&self, _: &SignAlgorithm, _: &[u8], _: &[u8]) -> Result<bool> {
            Err(Error::internal("test"))
        }
        fn encrypt(&self, _: &CipherAlgorithm, _: &[u8]) -> Result<Ciphertext> {
            Err(Error::internal("test"))
        }
        fn decrypt(&self, _: &CipherAlgorithm, _: &[u8]) -> Result<SecretBytes> {
            Err(Error::internal("test"))
        }
        fn wrap(&self, _: &WrapAlgorithm, _: &[u8]) -> Result<Vec<u8>> {
            Err(Error::internal("test"))
        }
        fn unwrap(&self, _: &WrapAlgorithm, _: &[u8]) -> Result<SecretBytes> {
            Err(Error::internal("test"))
        }
        fn ecdh(&self, _: &[u8]) -> Result<SecretBytes> {
            Err(Error::internal("test"))
        }
    }

    #[test]
    fn bounded_first_in_first_out_and_dropped_on_eviction() {
        let alive = Arc::new(());
        let cache = KeyCache::new(3);
        for id in 0..10u128 {
            cache.insert(id, Arc::new(Counted(alive.clone())));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(6).is_none());
        assert!(cache.get(9).is_some());
        // Evicted keys are gone, not leaked: only the three cached ones hold the counter.
        assert_eq!(Arc::strong_count(&alive), 1 + 3);
        cache.remove([7, 8, 9]);
        assert_eq!(cache.len(), 0);
        assert_eq!(Arc::strong_count(&alive), 1);
        // The eviction queue stays the map's keys, however entries come and go.
        for i in 0..1000u128 {
            cache.insert(i % 5, Arc::new(Counted(alive.clone())));
            cache.insert(i % 7, Arc::new(Counted(alive.clone())));
            cache.remove([i % 3]);
            let order = cache.order.lock();
            assert_eq!(order.len(), cache.len());
            assert!(order.iter().all(|id| cache.get(*id).is_some()));
        }
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = KeyCache::new(0);
        cache.insert(1, Arc::new(Counted(Arc::new(()))));
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn only_version_ids_have_cache_ids() {
        assert_eq!(cache_id("000000000000000000000000000000ff"), Some(255));
        assert_eq!(cache_id("xyz"), None);
        assert_eq!(cache_id("000000000000000000000000000000FF"), None);
    }
}
