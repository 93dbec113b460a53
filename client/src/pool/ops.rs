//! Key operations: sign, verify, encrypt, decrypt, wrap (given bytes or a stored key),
//! unwrap, ECDH.

use hsm_core::crypto::{CipherAlgorithm, Ciphertext, SignAlgorithm, WrapAlgorithm};
use hsm_core::key::KeyOperation;
use hsm_core::rbac::DataAction;
use hsm_core::{Error, KeyRef, Result, SecretBytes};
use mhsm_wire::key::{
    KeyOperationRequest, KeyOperationResult, SecretValue, SignRequest, ValueBody, VerifyRequest,
    VerifyResult,
};
use mhsm_wire::pkcs11::WrapStored;

use super::{EXT, RemotePool};
use crate::errors::Context;
use crate::transport::Replay;
use crate::{alg, expect, not_understood, read, to_json};

/// The public `value` of an answer (signature, ciphertext, wrapped key).
fn value_bytes(body: &SecretBytes) -> Result<Vec<u8>> {
    read::<KeyOperationResult>(body)?
        .value()
        .map_err(not_understood)
}

/// The secret `value` of an answer (plaintext, unwrapped key, shared secret).
fn secret_value(body: &SecretBytes) -> Result<SecretBytes> {
    read::<SecretValue>(body)?.bytes().map_err(not_understood)
}

/// The request of an operation with its IV and AAD.
fn operation(req: &alg::JwaRequest, value: &[u8]) -> KeyOperationRequest {
    KeyOperationRequest::new(&req.alg, value, req.iv.as_deref(), req.aad.as_deref())
}

/// A request whose value is a secret (plaintext, a key to wrap), written into a zeroizing
/// buffer.
fn secret_body(req: &KeyOperationRequest) -> SecretBytes {
    mhsm_wire::secret_json(req, req.value.len())
}

impl RemotePool {
    /// Signs `input` (a digest or a message, as `alg` says).
    pub fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        let spec = self.spec(name, version)?;
        let alg_name = alg::sign_name(alg, &spec);
        let body = to_json(&SignRequest::new(&alg_name, input))?;
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "sign"),
            Some(&body),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Sign)
            .crypto(KeyOperation::Sign, Some(&alg_name));
        value_bytes(&expect(reply, &ctx)?)
    }

    /// Verifies a signature.
    pub fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let spec = self.spec(name, version)?;
        let alg_name = alg::sign_name(alg, &spec);
        let body = to_json(&VerifyRequest::new(&alg_name, input, signature))?;
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "verify"),
            Some(&body),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Verify)
            .crypto(KeyOperation::Verify, Some(&alg_name));
        let verified: VerifyResult = read(&expect(reply, &ctx)?)?;
        Ok(verified.value)
    }

    /// Encrypts.
    pub fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        let spec = self.spec(name, version)?;
        let req = alg::cipher_request(alg, &spec);
        let body = secret_body(&operation(&req, plaintext));
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "encrypt"),
            Some(body.expose_secret()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Encrypt)
            .crypto(KeyOperation::Encrypt, Some(&req.alg));
        let out: KeyOperationResult = read(&expect(reply, &ctx)?)?;
        Ok(Ciphertext {
            data: out.value().map_err(not_understood)?,
            iv: match out.iv().map_err(not_understood)? {
                Some(iv) => Some(iv),
                None => req.iv,
            },
            tag: out.tag().map_err(not_understood)?,
        })
    }

    /// Decrypts (AEAD input is `ciphertext || tag`).
    pub fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        let spec = self.spec(name, version)?;
        let req = alg::cipher_request(alg, &spec);
        let (data, tag) = match alg {
            CipherAlgorithm::AesGcm { tag_len, .. } => {
                if ciphertext.len() < *tag_len {
                    return Err(Error::InvalidInputLength {
                        message: format!("GCM input holds a {tag_len}-byte tag"),
                    });
                }
                let (d, t) = ciphertext.split_at(ciphertext.len() - tag_len);
                (d, Some(t))
            }
            _ => (ciphertext, None),
        };
        let mut body = operation(&req, data);
        body.tag = tag.map(mhsm_wire::b64);
        let body = to_json(&body)?;
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "decrypt"),
            Some(&body),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Decrypt)
            .crypto(KeyOperation::Decrypt, Some(&req.alg));
        secret_value(&expect(reply, &ctx)?)
    }

    /// Wraps caller-supplied key bytes.
    pub fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        let spec = self.spec(name, version)?;
        let req = alg::wrap_request(alg, &spec);
        let body = secret_body(&operation(&req, key));
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "wrapkey"),
            Some(body.expose_secret()),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Wrap)
            .crypto(KeyOperation::WrapKey, Some(&req.alg));
        value_bytes(&expect(reply, &ctx)?)
    }

    /// Wraps a stored key under another, on the server (extension only: the standard API
    /// cannot; without it the target is `NotExportable`, as nothing can leave a Managed HSM).
    pub fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>> {
        if !self.has_extension()? {
            return Err(Error::NotExportable {
                name: target.name.into(),
            });
        }
        let spec = self.spec(wrapping.name, wrapping.version)?;
        let req = alg::wrap_request(alg, &spec);
        let body = WrapStored::new(&req.alg, req.aad.as_deref(), target.name, target.version);
        let body = to_json(&body)?;
        let path = format!(
            "{EXT}{}",
            Self::crypto_path(wrapping.name, wrapping.version, "wrapstored")
        );
        let reply = self.send("POST", &path, Some(&body), Replay::Safe)?;
        let ctx = Context::key(&self.name, wrapping.name, DataAction::Wrap)
            .crypto(KeyOperation::WrapKey, Some(&req.alg));
        value_bytes(&expect(reply, &ctx)?)
    }

    /// Unwraps key bytes.
    pub fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        let spec = self.spec(name, version)?;
        let req = alg::wrap_request(alg, &spec);
        let body = to_json(&operation(&req, wrapped))?;
        let reply = self.send(
            "POST",
            &Self::crypto_path(name, version, "unwrapkey"),
            Some(&body),
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::Unwrap)
            .crypto(KeyOperation::UnwrapKey, Some(&req.alg));
        secret_value(&expect(reply, &ctx)?)
    }

    /// ECDH with a peer's SEC1 point (extension only).
    pub fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        if !self.has_extension()? {
            return Err(Error::UnsupportedAlgorithm {
                algorithm: "ECDH (needs the mhsm PKCS#11 extension API)".into(),
            });
        }
        let body = to_json(&ValueBody::of(peer_point))?;
        let path = format!("{EXT}{}", Self::crypto_path(name, version, "derive"));
        let reply = self.send("POST", &path, Some(&body), Replay::Safe)?;
        let ctx =
            Context::key(&self.name, name, DataAction::Derive).crypto(KeyOperation::Derive, None);
        secret_value(&expect(reply, &ctx)?)
    }
}
