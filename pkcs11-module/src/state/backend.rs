//! The seam between the module and the HSM behind its tokens: the pools of the in-process core
//! (embedded mode) or of a running mhsm server reached over REST (remote mode, docs/REMOTE.md).
//!
//! The function groups hold a [`PoolRef`] and call it with the core's own method names and
//! types, so the two modes share every PKCS#11 rule; errors are the core's in both, mapped to
//! `CK_RV` once (`error.rs`). Digests, random numbers and session objects always use the
//! local core ([`super::Core::hsm`]), which in remote mode holds no pools.

use std::sync::Arc;

use hsm_core::crypto::{
    CipherAlgorithm, Ciphertext, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm,
};
use hsm_core::key::{KeyInfo, KeyOptions, KeyUpdate};
use hsm_core::pin::{PinPolicy, PinRole, PinStatus};
use hsm_core::{Pool, Result, SecretBytes};

/// One pool, wherever it is.
#[derive(Clone)]
pub(crate) enum PoolRef {
    /// A pool of the in-process core.
    Local(Pool),
}

/// Calls the same method on whichever pool this is.
macro_rules! on_pool {
    ($self:expr, $p:ident => $call:expr) => {
        match $self {
            PoolRef::Local($p) => $call,
        }
    };
}

impl std::fmt::Debug for PoolRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolRef::Local(p) => write!(f, "local pool {}", p.name()),
        }
    }
}

#[allow(missing_docs)] // each method is the core's `Pool` method of the same name
impl PoolRef {
    pub fn name(&self) -> &str {
        on_pool!(self, p => p.name())
    }

    /// A counter that moves whenever the pool's keys or documents change (remote: as the
    /// server last said, asked again after the refresh interval or this process's writes).
    pub fn generation(&self) -> Result<u64> {
        match self {
            PoolRef::Local(p) => Ok(p.generation()),
        }
    }

    /// Whether the pool keeps PKCS#11 documents, attributes and PINs (remote: the server
    /// offers mhsm's extension API).
    pub fn has_extension(&self) -> Result<bool> {
        match self {
            PoolRef::Local(_) => Ok(true),
        }
    }

    pub fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        on_pool!(self, p => p.snapshot_keys())
    }

    pub fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        on_pool!(self, p => p.get_key(name, version))
    }

    pub fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        on_pool!(self, p => p.create_key(name, spec, opts))
    }

    pub fn import_key(
        &self,
        name: &str,
        material: KeyMaterial,
        opts: &KeyOptions,
    ) -> Result<KeyInfo> {
        on_pool!(self, p => p.import_key(name, material, opts))
    }

    pub fn update_key(
        &self,
        name: &str,
        version: Option<&str>,
        update: &KeyUpdate,
    ) -> Result<KeyInfo> {
        on_pool!(self, p => p.update_key(name, version, update))
    }

    pub fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        on_pool!(self, p => p.set_key_extra(name, attr, value))
    }

    pub fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        on_pool!(self, p => p.delete_key(name))
    }

    pub fn clear(&self) -> Result<usize> {
        on_pool!(self, p => p.clear())
    }

    pub fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        on_pool!(self, p => p.export_key(name, version))
    }

    pub fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        on_pool!(self, p => p.sign(name, version, alg, input))
    }

    pub fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        on_pool!(self, p => p.verify(name, version, alg, input, signature))
    }

    pub fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        on_pool!(self, p => p.encrypt(name, version, alg, plaintext))
    }

    pub fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        on_pool!(self, p => p.decrypt(name, version, alg, ciphertext))
    }

    pub fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        on_pool!(self, p => p.wrap_key(name, version, alg, key))
    }

    pub fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        on_pool!(self, p => p.unwrap_key(name, version, alg, wrapped))
    }

    pub fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        on_pool!(self, p => p.derive_ecdh(name, version, peer_point))
    }

    pub fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        on_pool!(self, p => p.put_document(kind, id, value))
    }

    pub fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        on_pool!(self, p => p.get_document(kind, id))
    }

    pub fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        on_pool!(self, p => p.list_documents(kind))
    }

    pub fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        on_pool!(self, p => p.delete_document(kind, id))
    }

    pub fn pin_policy(&self) -> Result<PinPolicy> {
        on_pool!(self, p => p.pin_policy())
    }

    pub fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        on_pool!(self, p => p.set_pin_policy(policy))
    }

    pub fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        on_pool!(self, p => p.set_pin(role, pin))
    }

    pub fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        on_pool!(self, p => p.verify_pin(role, pin))
    }

    pub fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        on_pool!(self, p => p.pin_status(role))
    }
}
