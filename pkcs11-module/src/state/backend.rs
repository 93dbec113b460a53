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
use hsm_core::{Error, Pool, PoolChanges, Result, SecretBytes};
use subtle::ConstantTimeEq;

use crate::config::RemoteConfig;
use crate::remote::RemotePool;

/// One pool, wherever it is.
#[derive(Clone)]
pub(crate) enum PoolRef {
    /// A pool of the in-process core.
    Local(Pool),
    /// A pool of the server, with the PINs configured for a server without mhsm's extension.
    Remote(RemotePool, Arc<LocalPins>),
}

/// Calls the same method on whichever pool this is.
macro_rules! on_pool {
    ($self:expr, $p:ident => $call:expr) => {
        match $self {
            PoolRef::Local($p) => $call,
            PoolRef::Remote($p, _) => $call,
        }
    };
}

impl std::fmt::Debug for PoolRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolRef::Local(p) => write!(f, "local pool {}", p.name()),
            PoolRef::Remote(p, _) => write!(f, "remote pool {}", p.name()),
        }
    }
}

/// PINs of a token whose server keeps none (no extension API: a real Managed HSM). The bearer
/// token is the credential there; a PIN configured in `[remote]` is checked here, without a
/// counter (nothing can be stored), and none configured accepts any user PIN. They cannot be
/// changed (`ReadOnly`: `CKR_TOKEN_WRITE_PROTECTED`).
pub(crate) struct LocalPins {
    user: Option<SecretBytes>,
    so: Option<SecretBytes>,
    policy: PinPolicy,
}

impl LocalPins {
    /// From the `[remote]` table, with the module's PIN policy.
    pub fn from_config(remote: &RemoteConfig, policy: &PinPolicy) -> LocalPins {
        let pin = |p: &Option<String>| p.as_ref().map(|p| SecretBytes::from_slice(p.as_bytes()));
        LocalPins {
            user: pin(&remote.user_pin),
            so: pin(&remote.so_pin),
            policy: *policy,
        }
    }

    fn configured(&self, role: PinRole) -> Option<&SecretBytes> {
        match role {
            PinRole::User => self.user.as_ref(),
            PinRole::So => self.so.as_ref(),
        }
    }

    fn verify(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        match (role, self.configured(role)) {
            (_, Some(want)) if bool::from(want.expose_secret().ct_eq(pin)) => Ok(()),
            (_, Some(_)) => Err(Error::PinIncorrect {
                remaining: self.policy.max_failures,
            }),
            (PinRole::User, None) => Ok(()),
            (PinRole::So, None) => Err(Error::PinNotInitialized),
        }
    }

    fn status(&self, role: PinRole) -> PinStatus {
        PinStatus {
            initialized: role == PinRole::User || self.so.is_some(),
            failures: 0,
            locked: false,
            remaining: self.policy.max_failures,
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
            PoolRef::Remote(p, _) => p.generation(),
        }
    }

    /// Forgets what the process knows of the pool's generation, so the next
    /// [`PoolRef::generation`] asks (remote; the local core's is always current).
    pub fn invalidate(&self) {
        match self {
            PoolRef::Local(_) => {}
            PoolRef::Remote(p, _) => p.invalidate(),
        }
    }

    /// Whether the pool keeps PKCS#11 documents, attributes and PINs (remote: the server
    /// offers mhsm's extension API).
    pub fn has_extension(&self) -> Result<bool> {
        match self {
            PoolRef::Local(_) => Ok(true),
            PoolRef::Remote(p, _) => p.has_extension(),
        }
    }

    /// What changed since `generation` (local pools; a remote pool's caller reads the
    /// pool whole).
    pub fn changes_since(&self, generation: u64) -> Result<Option<PoolChanges>> {
        match self {
            PoolRef::Local(p) => p.changes_since(generation),
            PoolRef::Remote(..) => Ok(None),
        }
    }

    /// Whether the pool is this process's own (embedded mode).
    pub fn is_local(&self) -> bool {
        matches!(self, PoolRef::Local(_))
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
        match self.local_pins()? {
            Some(pins) => Ok(pins.policy),
            None => on_pool!(self, p => p.pin_policy()),
        }
    }

    pub fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        match self.local_pins()? {
            Some(_) => Err(Error::ReadOnly),
            None => on_pool!(self, p => p.set_pin_policy(policy)),
        }
    }

    pub fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        match self.local_pins()? {
            Some(_) => Err(Error::ReadOnly),
            None => on_pool!(self, p => p.set_pin(role, pin)),
        }
    }

    pub fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        match self.local_pins()? {
            Some(pins) => pins.verify(role, pin),
            None => on_pool!(self, p => p.verify_pin(role, pin)),
        }
    }

    pub fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        match self.local_pins()? {
            Some(pins) => Ok(pins.status(role)),
            None => on_pool!(self, p => p.pin_status(role)),
        }
    }

    /// The locally configured PINs, for a remote pool without the extension API.
    fn local_pins(&self) -> Result<Option<&LocalPins>> {
        match self {
            PoolRef::Remote(p, pins) if !p.has_extension()? => Ok(Some(pins)),
            _ => Ok(None),
        }
    }
}
