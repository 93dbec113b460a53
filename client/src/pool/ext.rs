//! The extension's documents (objects other than keys) and PINs. Without the extension
//! there are no documents, and the PINs are the configured [`FixedPins`].

use std::sync::Arc;

use hsm_core::pin::{FixedPins, PinPolicy, PinRole, PinStatus};
use hsm_core::rbac::DataAction;
use hsm_core::{Error, Result};
use mhsm_wire::pkcs11::{DocumentBody, DocumentList, PinBody, PinPolicyBody, PinsBody};

use super::{EXT, RemotePool, needs_extension};
use crate::transport::Replay;
use crate::{expect, not_understood, read, seg, to_json};

fn role_path(role: PinRole) -> &'static str {
    match role {
        PinRole::User => "user",
        PinRole::So => "so",
    }
}

/// The body of a PIN, in a zeroizing buffer.
fn pin_body(pin: &[u8]) -> hsm_core::SecretBytes {
    mhsm_wire::secret_json(&PinBody::of(pin), 2 * pin.len())
}

impl RemotePool {
    fn document_path(kind: &str, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{EXT}/documents/{}/{}", seg(kind), seg(id)),
            None => format!("{EXT}/documents/{}", seg(kind)),
        }
    }

    /// Stores (or replaces) a document (extension only).
    pub fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        if !self.has_extension()? {
            return Err(needs_extension("storing objects other than keys"));
        }
        // Data objects may be private: the body is treated as a secret.
        let body = mhsm_wire::secret_json(&DocumentBody::of(id, value), 2 * value.len());
        let reply = self.send(
            "PUT",
            &Self::document_path(kind, Some(id)),
            Some(body.expose_secret()),
            Replay::Safe,
        );
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::WriteKey)).map(drop)
    }

    /// A document, if it exists (none without the extension).
    pub fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        if !self.has_extension()? {
            return Ok(None);
        }
        let reply = self.send(
            "GET",
            &Self::document_path(kind, Some(id)),
            None,
            Replay::Safe,
        )?;
        if reply.status == 404 && self.inner_pool_error(&reply).is_none() {
            return Ok(None);
        }
        let doc: DocumentBody = read(&expect(reply, &self.ctx(DataAction::ReadKey))?)?;
        let bytes = doc.bytes().map_err(not_understood)?;
        Ok(Some(Arc::new(bytes.expose_secret().to_vec())))
    }

    /// All documents of a kind, by id (none without the extension).
    pub fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        if !self.has_extension()? {
            return Ok(Vec::new());
        }
        let reply = self.send("GET", &Self::document_path(kind, None), None, Replay::Safe)?;
        let docs: DocumentList = read(&expect(reply, &self.ctx(DataAction::ReadKey))?)?;
        docs.documents
            .iter()
            .map(|d| {
                let bytes = d.bytes().map_err(not_understood)?;
                Ok((d.id.clone(), Arc::new(bytes.expose_secret().to_vec())))
            })
            .collect()
    }

    /// Removes a document; false when there was none.
    pub fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        if !self.has_extension()? {
            return Ok(false);
        }
        let reply = self.send(
            "DELETE",
            &Self::document_path(kind, Some(id)),
            None,
            Replay::Never,
        );
        self.invalidate();
        let reply = reply?;
        if reply.status == 404 && self.inner_pool_error(&reply).is_none() {
            return Ok(false);
        }
        expect(reply, &self.ctx(DataAction::DeleteKey)).map(|_| true)
    }

    fn pins(&self) -> Result<PinsBody> {
        if !self.has_extension()? {
            return Err(needs_extension("PINs kept by the server"));
        }
        let reply = self.send("GET", &format!("{EXT}/pins"), None, Replay::Safe)?;
        read(&expect(reply, &self.ctx(DataAction::ReadKey))?)
    }

    /// The configured PINs, when the server keeps none.
    fn fixed_pins(&self) -> Result<Option<&FixedPins>> {
        Ok((!self.has_extension()?).then_some(&*self.remote.inner.fixed_pins))
    }

    /// The pool's PIN policy.
    pub fn pin_policy(&self) -> Result<PinPolicy> {
        if let Some(fixed) = self.fixed_pins()? {
            return Ok(fixed.policy());
        }
        Ok(self.pins()?.policy.into())
    }

    /// Sets the pool's PIN policy (configured PINs cannot change: `ReadOnly`).
    pub fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        if self.fixed_pins()?.is_some() {
            return Err(Error::ReadOnly);
        }
        let body = to_json(&PinPolicyBody::from(*policy))?;
        // Setting a value: the same outcome if applied twice.
        let reply = self.send(
            "PUT",
            &format!("{EXT}/pins/policy"),
            Some(&body),
            Replay::Safe,
        );
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::WriteKey)).map(drop)
    }

    /// Sets a PIN (configured PINs cannot change: `ReadOnly`).
    pub fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        if self.fixed_pins()?.is_some() {
            return Err(Error::ReadOnly);
        }
        let body = pin_body(pin);
        let path = format!("{EXT}/pins/{}", role_path(role));
        let reply = self.send("PUT", &path, Some(body.expose_secret()), Replay::Never);
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::WriteKey)).map(drop)
    }

    /// Checks a PIN; the server counts wrong ones (configured PINs: checked here, uncounted).
    pub fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        if let Some(fixed) = self.fixed_pins()? {
            return fixed.verify(role, pin);
        }
        let body = pin_body(pin);
        let path = format!("{EXT}/pins/{}/verify", role_path(role));
        let reply = self.send("POST", &path, Some(body.expose_secret()), Replay::Never);
        // A wrong PIN moves the failure counter, a document.
        self.invalidate();
        expect(reply?, &self.ctx(DataAction::ReadKey)).map(drop)
    }

    /// The state of a PIN.
    pub fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        if let Some(fixed) = self.fixed_pins()? {
            return Ok(fixed.status(role));
        }
        let pins = self.pins()?;
        Ok(match role {
            PinRole::User => pins.user,
            PinRole::So => pins.so,
        }
        .into())
    }
}
