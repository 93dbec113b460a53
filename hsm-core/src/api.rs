//! The one API between the core and a front end that may reach it locally or over the
//! network: [`HsmApi`] (the pools of one HSM) and [`PoolApi`] (one pool).
//!
//! Exactly two implementations exist: the in-process core ([`Hsm`], [`Pool`], here) and
//! `mhsm-client`'s client of a running `mhsm serve` (`RemoteHsm`, `RemotePool`). The PKCS#11
//! module holds an `Arc<dyn HsmApi>` and never knows which it has; every rule of the domain is
//! behind these calls, so both modes behave alike. Errors are the core's [`Error`] in both
//! (a client's transport failures are [`Error::Unavailable`]).

use std::fmt;
use std::sync::Arc;

use crate::crypto::{
    CipherAlgorithm, Ciphertext, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm,
};
use crate::error::Result;
use crate::key::{KeyInfo, KeyOperation, KeyOptions, KeyUpdate};
use crate::names::Tags;
use crate::pin::{InitialPins, PinPolicy, PinRole, PinStatus};
use crate::pool::{KeyRef, PoolChanges, ResolvedKey};
use crate::secret::SecretBytes;
use crate::{Hsm, Pool, PoolSettings};

/// One HSM's pools, wherever the HSM is.
pub trait HsmApi: Send + Sync + fmt::Debug {
    /// What tells this HSM apart from others (token serial numbers): the security domain,
    /// or a server's URL.
    fn identity(&self) -> String;

    /// Whether writes are refused (a forked child's adopted core).
    fn is_read_only(&self) -> bool;

    /// The names of the live pools.
    fn list_pools(&self) -> Result<Vec<String>>;

    /// A live pool, by name.
    fn pool(&self, name: &str) -> Result<Arc<dyn PoolApi>>;

    /// Creates a pool with default settings and its PINs, in one commit (no half-made pool
    /// is ever left behind).
    fn create_pool_with_pins(&self, name: &str, pins: &InitialPins<'_>) -> Result<()>;
}

/// One pool: its keys, the one operation API, documents and PINs.
///
/// Key operations name a key and a version (`None`: the latest); the pool checks the key's
/// operations, its version's state and validity window, and the algorithm, before any crypto.
pub trait PoolApi: Send + Sync + fmt::Debug {
    /// The pool's name.
    fn name(&self) -> &str;

    /// Whether the pool is in this process (embedded) rather than behind a server.
    fn is_local(&self) -> bool;

    /// A counter that moves whenever the pool's keys or documents change (a client: as the
    /// server last said, asked again after its refresh interval or its own writes).
    fn generation(&self) -> Result<u64>;

    /// Forgets what this process knows of the pool's generation (a client asks again at the
    /// next [`PoolApi::generation`]; the local pool's is always current).
    fn invalidate(&self);

    /// What changed since `generation`, when the pool can itemize it (`None`: read whole).
    fn changes_since(&self, generation: u64) -> Result<Option<PoolChanges>>;

    /// Whether the pool keeps documents, front-end attributes and PINs (a client: whether
    /// the server offers mhsm's extension API).
    fn keeps_documents(&self) -> Result<bool>;

    /// Every live key at its latest version, with the generation read before them.
    fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)>;

    /// A live key at a version.
    fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo>;

    /// Generates a key.
    fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo>;

    /// Imports key material.
    fn import_key(&self, name: &str, material: KeyMaterial, opts: &KeyOptions) -> Result<KeyInfo>;

    /// Updates a key's attributes, operations, tags or front-end attributes.
    fn update_key(&self, name: &str, version: Option<&str>, update: &KeyUpdate) -> Result<KeyInfo>;

    /// Sets (or with `None` removes) one front-end attribute of a key.
    fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo>;

    /// Soft-deletes a key.
    fn delete_key(&self, name: &str) -> Result<KeyInfo>;

    /// Erases every key and document but the PIN policy and SO PIN (a token's re-initialization).
    fn clear(&self) -> Result<usize>;

    /// The material of an exportable key, in the clear: the one way it leaves the pool.
    fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)>;

    /// Resolves the version `key` names (as the front end last read it) for `op`: what a
    /// PKCS#11 `C_*Init` keeps for the operation, and for the next ones on the key while
    /// [`OpKey::is_current`]. The local pool checks the key's rules and parses the key here;
    /// a client's server checks them at each call.
    fn resolve(&self, key: &KeyInfo, op: KeyOperation) -> Result<Arc<dyn OpKey>>;

    /// Signs (a digest, raw input or a message, as `alg` says).
    fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>>;

    /// Verifies a signature; `Ok(false)` when it does not match.
    fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool>;

    /// Encrypts.
    fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext>;

    /// Decrypts (AEAD input is `ciphertext || tag`).
    fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes>;

    /// Wraps caller-supplied key bytes.
    fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>>;

    /// Wraps a stored key of this pool under another, inside the core: the target's
    /// material never leaves it in the clear.
    fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>>;

    /// Unwraps key bytes.
    fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes>;

    /// ECDH with a peer's SEC1 point: the shared secret.
    fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes>;

    /// Stores a document.
    fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()>;

    /// A document.
    fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>>;

    /// The documents of a kind, by id.
    fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>>;

    /// Deletes a document; whether it existed.
    fn delete_document(&self, kind: &str, id: &str) -> Result<bool>;

    /// The PIN policy.
    fn pin_policy(&self) -> Result<PinPolicy>;

    /// Sets the PIN policy.
    fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()>;

    /// Sets a PIN.
    fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()>;

    /// Checks a PIN (a wrong one is counted).
    fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()>;

    /// The state of a PIN.
    fn pin_status(&self, role: PinRole) -> Result<PinStatus>;
}

/// A key version resolved for one kind of operation ([`PoolApi::resolve`]), wherever the pool
/// is. Calling an operation other than the one it was resolved for is an error.
pub trait OpKey: Send + Sync + fmt::Debug {
    /// The key's name.
    fn name(&self) -> &str;

    /// The version resolved.
    fn version(&self) -> &str;

    /// The key's type and size.
    fn spec(&self) -> KeySpec;

    /// Whether it still stands: nothing changed that would make resolving again answer
    /// otherwise (a client's key stands: its server checks every call).
    fn is_current(&self) -> bool;

    /// Signs (resolved for `sign`).
    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>>;

    /// Signs into `out` (resolved for `sign`) and returns the signature's length; `out`
    /// holds at least [`check::signature_len`](crate::crypto::check::signature_len) bytes.
    /// By default [`OpKey::sign`] and a copy.
    fn sign_into(&self, alg: &SignAlgorithm, input: &[u8], out: &mut [u8]) -> Result<usize> {
        crate::crypto::shared::copy_out(&self.sign(alg, input)?, out)
    }

    /// Verifies (resolved for `verify`); `Ok(false)` when the signature does not match.
    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool>;

    /// Encrypts (resolved for `encrypt`).
    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext>;

    /// Encrypts into `out` (resolved for `encrypt`), in PKCS#11's layout (the data, then an
    /// AEAD tag; no IV, so the algorithm must name one) and returns the length written; `out`
    /// holds at least [`check::ciphertext_len`](crate::crypto::check::ciphertext_len)
    /// bytes. By default [`OpKey::encrypt`] and a copy.
    fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        crate::crypto::check::names_its_iv(alg)?;
        self.encrypt(alg, plaintext)?.copy_into(out)
    }

    /// Decrypts (resolved for `decrypt`; AEAD input is `ciphertext || tag`).
    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes>;

    /// Wraps key bytes (resolved for `wrapKey`).
    fn wrap_key(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>>;

    /// Unwraps key bytes (resolved for `unwrapKey`).
    fn unwrap_key(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes>;

    /// ECDH with a peer's SEC1 point (resolved for `deriveKey`).
    fn derive_ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes>;
}

impl OpKey for ResolvedKey {
    fn name(&self) -> &str {
        ResolvedKey::name(self)
    }

    fn version(&self) -> &str {
        ResolvedKey::version(self)
    }

    fn spec(&self) -> KeySpec {
        *ResolvedKey::spec(self)
    }

    fn is_current(&self) -> bool {
        ResolvedKey::is_current(self)
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        ResolvedKey::sign(self, alg, input)
    }

    fn sign_into(&self, alg: &SignAlgorithm, input: &[u8], out: &mut [u8]) -> Result<usize> {
        ResolvedKey::sign_into(self, alg, input, out)
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        ResolvedKey::verify(self, alg, input, signature)
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        ResolvedKey::encrypt(self, alg, plaintext)
    }

    fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        ResolvedKey::encrypt_into(self, alg, plaintext, out)
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        ResolvedKey::decrypt(self, alg, ciphertext)
    }

    fn wrap_key(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        ResolvedKey::wrap(self, alg, key)
    }

    fn unwrap_key(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        ResolvedKey::unwrap(self, alg, wrapped)
    }

    fn derive_ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        ResolvedKey::ecdh(self, peer_point)
    }
}

impl HsmApi for Hsm {
    fn identity(&self) -> String {
        self.security_domain().to_string()
    }

    fn is_read_only(&self) -> bool {
        Hsm::is_read_only(self)
    }

    fn list_pools(&self) -> Result<Vec<String>> {
        Ok(Hsm::list_pools(self)?.into_iter().map(|p| p.name).collect())
    }

    fn pool(&self, name: &str) -> Result<Arc<dyn PoolApi>> {
        Ok(Arc::new(Hsm::pool(self, name)?))
    }

    fn create_pool_with_pins(&self, name: &str, pins: &InitialPins<'_>) -> Result<()> {
        Hsm::create_pool_with_pins(self, name, PoolSettings::default(), Tags::new(), pins).map(drop)
    }
}

impl PoolApi for Pool {
    fn name(&self) -> &str {
        Pool::name(self)
    }

    fn is_local(&self) -> bool {
        true
    }

    fn generation(&self) -> Result<u64> {
        Ok(Pool::generation(self))
    }

    fn invalidate(&self) {}

    fn changes_since(&self, generation: u64) -> Result<Option<PoolChanges>> {
        Pool::changes_since(self, generation)
    }

    fn keeps_documents(&self) -> Result<bool> {
        Ok(true)
    }

    fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        Pool::snapshot_keys(self)
    }

    fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        Pool::get_key(self, name, version)
    }

    fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        Pool::create_key(self, name, spec, opts)
    }

    fn import_key(&self, name: &str, material: KeyMaterial, opts: &KeyOptions) -> Result<KeyInfo> {
        Pool::import_key(self, name, material, opts)
    }

    fn update_key(&self, name: &str, version: Option<&str>, update: &KeyUpdate) -> Result<KeyInfo> {
        Pool::update_key(self, name, version, update)
    }

    fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        Pool::set_key_extra(self, name, attr, value)
    }

    fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        Pool::delete_key(self, name)
    }

    fn clear(&self) -> Result<usize> {
        Pool::clear(self)
    }

    fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        Pool::export_key(self, name, version)
    }

    fn resolve(&self, key: &KeyInfo, op: KeyOperation) -> Result<Arc<dyn OpKey>> {
        Ok(Arc::new(Pool::resolve_key(
            self,
            &key.name,
            Some(&key.version),
            op,
        )?))
    }

    fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        Pool::sign(self, name, version, alg, input)
    }

    fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        Pool::verify(self, name, version, alg, input, signature)
    }

    fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        Pool::encrypt(self, name, version, alg, plaintext)
    }

    fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        Pool::decrypt(self, name, version, alg, ciphertext)
    }

    fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        Pool::wrap_key(self, name, version, alg, key)
    }

    fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>> {
        Pool::wrap_stored_key(self, wrapping, alg, target)
    }

    fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        Pool::unwrap_key(self, name, version, alg, wrapped)
    }

    fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        Pool::derive_ecdh(self, name, version, peer_point)
    }

    fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        Pool::put_document(self, kind, id, value)
    }

    fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        Pool::get_document(self, kind, id)
    }

    fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        Pool::list_documents(self, kind)
    }

    fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        Pool::delete_document(self, kind, id)
    }

    fn pin_policy(&self) -> Result<PinPolicy> {
        Pool::pin_policy(self)
    }

    fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        Pool::set_pin_policy(self, policy)
    }

    fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        Pool::set_pin(self, role, pin)
    }

    fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        Pool::verify_pin(self, role, pin)
    }

    fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        Pool::pin_status(self, role)
    }
}
