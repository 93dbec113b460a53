//! Keys that live only in memory (PKCS#11 session objects, a JWT issuer's public key): the
//! same operations and the same checks as pool keys, never stored.

use std::fmt;
use std::sync::Arc;

use super::{KeyOperation, KeyOps};
use crate::crypto::check::Checked;
use crate::crypto::{
    CipherAlgorithm, Ciphertext, KeyMaterial, KeySpec, LoadedKey, PublicKey, SignAlgorithm,
    WrapAlgorithm,
};
use crate::error::{Error, Result};
use crate::hsm::Hsm;
use crate::secret::SecretBytes;

/// A key held in memory only. Dropping it drops (and zeroizes) its material.
pub struct EphemeralKey {
    spec: KeySpec,
    ops: KeyOps,
    exportable: bool,
    generated: bool,
    key: Arc<dyn LoadedKey>,
    /// The encoded material, kept for export when the key is exportable.
    material: Option<SecretBytes>,
}

impl fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EphemeralKey")
            .field("spec", &self.spec)
            .field("ops", &self.ops)
            .field("exportable", &self.exportable)
            .finish_non_exhaustive()
    }
}

const NAME: &str = "(in-memory key)";

impl Hsm {
    /// Generates a key that is never stored.
    pub fn generate_ephemeral(
        &self,
        spec: KeySpec,
        ops: KeyOps,
        exportable: bool,
    ) -> Result<EphemeralKey> {
        spec.validate_for_pool()?;
        ops.validate_for(&spec)?;
        let (material, key) = self.provider().generate_loaded(spec)?;
        Ok(EphemeralKey::new(
            spec, ops, exportable, true, key, &material,
        ))
    }

    /// Imports material as a key that is never stored (checked as a pool import is).
    pub fn import_ephemeral(
        &self,
        material: KeyMaterial,
        ops: KeyOps,
        exportable: bool,
    ) -> Result<EphemeralKey> {
        let spec = material.spec();
        spec.validate_for_pool()?;
        ops.validate_for(&spec)?;
        let key = self.provider().load(&material)?;
        Ok(EphemeralKey::new(
            spec, ops, exportable, false, key, &material,
        ))
    }

    /// A public key (verification, encryption, wrapping only).
    pub fn public_ephemeral(&self, public: &PublicKey, ops: KeyOps) -> Result<EphemeralKey> {
        let key = self.provider().load_public(public)?;
        let spec = key.spec();
        ops.validate_for(&spec)?;
        if let Some(op) = ops.iter().find(|op| {
            matches!(
                op,
                KeyOperation::Sign
                    | KeyOperation::Decrypt
                    | KeyOperation::UnwrapKey
                    | KeyOperation::Derive
                    | KeyOperation::Export
            )
        }) {
            return Err(Error::bad_parameter(format!("a public key cannot '{op}'")));
        }
        Ok(EphemeralKey {
            spec,
            ops,
            exportable: false,
            generated: false,
            key,
            material: None,
        })
    }
}

impl EphemeralKey {
    fn new(
        spec: KeySpec,
        ops: KeyOps,
        exportable: bool,
        generated: bool,
        key: Arc<dyn LoadedKey>,
        material: &KeyMaterial,
    ) -> EphemeralKey {
        EphemeralKey {
            spec,
            ops,
            exportable,
            generated,
            key,
            material: exportable.then(|| material.encode()),
        }
    }

    /// Type and size.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// Allowed operations.
    pub fn ops(&self) -> KeyOps {
        self.ops
    }

    /// Whether the material may leave (immutable).
    pub fn exportable(&self) -> bool {
        self.exportable
    }

    /// Whether it was generated here (not imported).
    pub fn generated(&self) -> bool {
        self.generated
    }

    /// Whether it holds private or secret material.
    pub fn has_private(&self) -> bool {
        self.key.has_private()
    }

    /// The public half (None for symmetric keys).
    pub fn public_key(&self) -> Option<PublicKey> {
        self.key.public_key()
    }

    /// Changes the allowed operations (they must apply to the key's type).
    pub fn set_ops(&mut self, ops: KeyOps) -> Result<()> {
        ops.validate_for(&self.spec)?;
        self.ops = ops;
        Ok(())
    }

    fn permit(&self, op: KeyOperation) -> Result<Checked<'_>> {
        if !self.ops.contains(op) {
            return Err(Error::OperationNotPermitted {
                name: NAME.into(),
                operation: op.to_string(),
            });
        }
        Ok(Checked {
            spec: &self.spec,
            key: self.key.as_ref(),
        })
    }

    /// Signs (see [`crate::Pool::sign`]).
    pub fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        self.permit(KeyOperation::Sign)?.sign(alg, input)
    }

    /// Verifies; `Ok(false)` when the signature does not match.
    pub fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        self.permit(KeyOperation::Verify)?
            .verify(alg, input, signature)
    }

    /// Encrypts.
    pub fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        self.permit(KeyOperation::Encrypt)?.encrypt(alg, plaintext)
    }

    /// Decrypts (AEAD input is `ciphertext || tag`).
    pub fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        self.permit(KeyOperation::Decrypt)?.decrypt(alg, ciphertext)
    }

    /// Wraps key bytes.
    pub fn wrap_key(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        self.permit(KeyOperation::WrapKey)?.wrap(alg, key)
    }

    /// Unwraps key bytes.
    pub fn unwrap_key(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        self.permit(KeyOperation::UnwrapKey)?.unwrap(alg, wrapped)
    }

    /// ECDH with a peer's SEC1 point.
    pub fn derive_ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        self.permit(KeyOperation::Derive)?.ecdh(peer_point)
    }

    /// The material, when exportable and `export` is allowed.
    pub fn export(&self) -> Result<KeyMaterial> {
        self.permit(KeyOperation::Export)?;
        let Some(encoded) = self.material.as_ref().filter(|_| self.exportable) else {
            return Err(Error::NotExportable { name: NAME.into() });
        };
        KeyMaterial::decode(encoded.expose_secret())
    }
}
