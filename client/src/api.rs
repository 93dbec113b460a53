//! The core's [`HsmApi`] and [`PoolApi`] over [`RemoteHsm`] and [`RemotePool`].

use std::sync::Arc;

use hsm_core::crypto::{
    CipherAlgorithm, Ciphertext, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm,
};
use hsm_core::key::{KeyInfo, KeyOperation, KeyOptions, KeyUpdate};
use hsm_core::pin::{InitialPins, PinPolicy, PinRole, PinStatus};
use hsm_core::{HsmApi, KeyRef, OpKey, PoolApi, PoolChanges, Result, SecretBytes};

use crate::{RemoteHsm, RemotePool};

impl HsmApi for RemoteHsm {
    fn identity(&self) -> String {
        self.url().to_string()
    }

    fn is_read_only(&self) -> bool {
        false
    }

    fn list_pools(&self) -> Result<Vec<String>> {
        RemoteHsm::list_pools(self)
    }

    fn pool(&self, name: &str) -> Result<Arc<dyn PoolApi>> {
        Ok(Arc::new(RemoteHsm::pool(self, name)))
    }

    fn create_pool_with_pins(&self, name: &str, pins: &InitialPins<'_>) -> Result<()> {
        RemoteHsm::create_pool_with_pins(self, name, pins)
    }
}

impl PoolApi for RemotePool {
    fn name(&self) -> &str {
        RemotePool::name(self)
    }

    fn is_local(&self) -> bool {
        false
    }

    fn generation(&self) -> Result<u64> {
        RemotePool::generation(self)
    }

    fn invalidate(&self) {
        RemotePool::invalidate(self)
    }

    fn changes_since(&self, _generation: u64) -> Result<Option<PoolChanges>> {
        // The server does not itemize its changes: the caller reads the pool whole.
        Ok(None)
    }

    fn keeps_documents(&self) -> Result<bool> {
        self.has_extension()
    }

    fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        RemotePool::snapshot_keys(self)
    }

    fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        RemotePool::get_key(self, name, version)
    }

    fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        RemotePool::create_key(self, name, spec, opts)
    }

    fn import_key(&self, name: &str, material: KeyMaterial, opts: &KeyOptions) -> Result<KeyInfo> {
        RemotePool::import_key(self, name, material, opts)
    }

    fn update_key(&self, name: &str, version: Option<&str>, update: &KeyUpdate) -> Result<KeyInfo> {
        RemotePool::update_key(self, name, version, update)
    }

    fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        RemotePool::set_key_extra(self, name, attr, value)
    }

    fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        RemotePool::delete_key(self, name)
    }

    fn clear(&self) -> Result<usize> {
        RemotePool::clear(self)
    }

    fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        RemotePool::export_key(self, name, version)
    }

    fn resolve(&self, key: &KeyInfo, op: KeyOperation) -> Result<Arc<dyn OpKey>> {
        Ok(Arc::new(crate::pool::resolved::RemoteOpKey::new(
            self, key, op,
        )))
    }

    fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        RemotePool::sign(self, name, version, alg, input)
    }

    fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        RemotePool::verify(self, name, version, alg, input, signature)
    }

    fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        RemotePool::encrypt(self, name, version, alg, plaintext)
    }

    fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        RemotePool::decrypt(self, name, version, alg, ciphertext)
    }

    fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        RemotePool::wrap_key(self, name, version, alg, key)
    }

    fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>> {
        RemotePool::wrap_stored_key(self, wrapping, alg, target)
    }

    fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        RemotePool::unwrap_key(self, name, version, alg, wrapped)
    }

    fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        RemotePool::derive_ecdh(self, name, version, peer_point)
    }

    fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        RemotePool::put_document(self, kind, id, value)
    }

    fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        RemotePool::get_document(self, kind, id)
    }

    fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        RemotePool::list_documents(self, kind)
    }

    fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        RemotePool::delete_document(self, kind, id)
    }

    fn pin_policy(&self) -> Result<PinPolicy> {
        RemotePool::pin_policy(self)
    }

    fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        RemotePool::set_pin_policy(self, policy)
    }

    fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        RemotePool::set_pin(self, role, pin)
    }

    fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        RemotePool::verify_pin(self, role, pin)
    }

    fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        RemotePool::pin_status(self, role)
    }
}
