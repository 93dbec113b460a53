//! A key version resolved for one operation on a remote pool: the name and version a
//! PKCS#11 operation keeps; each call goes to the server, which checks the key's rules.

use hsm_core::crypto::{CipherAlgorithm, Ciphertext, KeySpec, SignAlgorithm, WrapAlgorithm};
use hsm_core::key::{KeyInfo, KeyOperation};
use hsm_core::{OpKey, Result, SecretBytes};

use super::RemotePool;

/// A remote key version, for one kind of operation.
#[derive(Debug)]
pub struct RemoteOpKey {
    pool: RemotePool,
    name: String,
    version: String,
    spec: KeySpec,
    op: KeyOperation,
}

impl RemoteOpKey {
    /// The key version `key` names, for `op` (no round trip: the server checks each call).
    pub(crate) fn new(pool: &RemotePool, key: &KeyInfo, op: KeyOperation) -> RemoteOpKey {
        RemoteOpKey {
            pool: pool.clone(),
            name: key.name.clone(),
            version: key.version.clone(),
            spec: key.spec,
            op,
        }
    }

    /// Refuses a call for another operation than the one resolved, as the local pool does.
    fn expect(&self, op: KeyOperation) -> Result<()> {
        self.op.expect_use(op)
    }
}

impl OpKey for RemoteOpKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn spec(&self) -> KeySpec {
        self.spec
    }

    fn is_current(&self) -> bool {
        true
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        self.expect(KeyOperation::Sign)?;
        self.pool.sign(&self.name, Some(&self.version), alg, input)
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        self.expect(KeyOperation::Verify)?;
        self.pool
            .verify(&self.name, Some(&self.version), alg, input, signature)
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        self.expect(KeyOperation::Encrypt)?;
        self.pool
            .encrypt(&self.name, Some(&self.version), alg, plaintext)
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        self.expect(KeyOperation::Decrypt)?;
        self.pool
            .decrypt(&self.name, Some(&self.version), alg, ciphertext)
    }

    fn wrap_key(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        self.expect(KeyOperation::WrapKey)?;
        self.pool
            .wrap_key(&self.name, Some(&self.version), alg, key)
    }

    fn unwrap_key(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        self.expect(KeyOperation::UnwrapKey)?;
        self.pool
            .unwrap_key(&self.name, Some(&self.version), alg, wrapped)
    }

    fn derive_ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        self.expect(KeyOperation::Derive)?;
        self.pool
            .derive_ecdh(&self.name, Some(&self.version), peer_point)
    }
}
