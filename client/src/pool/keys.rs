//! Keys: the snapshot, reads, creation, import, updates, deletion, export.

use std::time::Instant;

use hsm_core::crypto::{KeyMaterial, KeySpec};
use hsm_core::key::{KeyInfo, KeyOperation, KeyOptions, KeyUpdate};
use hsm_core::rbac::DataAction;
use hsm_core::{Error, Result, SecretBytes};
use mhsm_wire::key::{
    KeyBundle, KeyCreate, KeyImport, KeyItem, KeyUpdateParameters, ListResult, SecretValue,
};
use mhsm_wire::pkcs11::{ExtraValue, KeySnapshot, Removed};

use super::{EXT, RemotePool, needs_extension};
use crate::errors::{self, Context};
use crate::transport::{self, Replay, Request};
use crate::{expect, not_understood, read, refused, seg, to_json};

/// The key version a bundle answer shows.
fn key_info(body: &SecretBytes) -> Result<KeyInfo> {
    read::<KeyBundle>(body)?.into_info().map_err(not_understood)
}

impl RemotePool {
    /// Every live key at its latest version, with the generation read before them.
    pub fn snapshot_keys(&self) -> Result<(u64, Vec<KeyInfo>)> {
        if self.has_extension()? {
            let reply = self.send("GET", &format!("{EXT}/keys"), None, Replay::Safe)?;
            let body = expect(reply, &self.ctx(DataAction::ReadKey))?;
            let snapshot: KeySnapshot = read(&body)?;
            *self.state.generation.lock() = Some((snapshot.generation, Instant::now()));
            let keys = snapshot
                .keys
                .into_iter()
                .map(|b| b.into_info().map_err(not_understood))
                .collect::<Result<Vec<_>>>()?;
            keys.iter().for_each(|k| self.remember(k));
            return Ok((snapshot.generation, keys));
        }
        let generation = self.generation()?;
        let mut names = Vec::new();
        let mut url = format!(
            "{}/keys?api-version={}&maxresults=25",
            self.base,
            transport::API_VERSION
        );
        loop {
            let reply = self.remote.inner.transport.send(&Request {
                method: "GET",
                url: url.clone(),
                body: None,
                replay: Replay::Safe,
            })?;
            let body = expect(reply, &self.ctx(DataAction::ReadKey))?;
            let page: ListResult<KeyItem> = read(&body)?;
            for item in &page.value {
                names.push(item.name().map_err(not_understood)?);
            }
            match page.next_link {
                // The token goes to this pool's origin only.
                Some(next) if next.starts_with(&format!("{}/", self.base)) => url = next,
                Some(_) => {
                    return Err(not_understood(mhsm_wire::WireError::invalid(
                        "a nextLink to another host",
                    )));
                }
                None => break,
            }
        }
        let mut keys = Vec::with_capacity(names.len());
        for name in names {
            match self.get_key(&name, None) {
                Ok(info) => keys.push(info),
                // Deleted since it was listed.
                Err(Error::KeyNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((generation, keys))
    }

    fn get_standard(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        let path = match version {
            Some(v) => format!("/keys/{}/{}", seg(name), seg(v)),
            None => format!("/keys/{}", seg(name)),
        };
        let reply = self.send("GET", &path, None, Replay::Safe)?;
        let ctx = Context::key(&self.name, name, DataAction::ReadKey);
        Ok(self.with_known_size(key_info(&expect(reply, &ctx)?)?))
    }

    fn get_extended(&self, name: &str) -> Result<KeyInfo> {
        let reply = self.send(
            "GET",
            &format!("{EXT}/keys/{}", seg(name)),
            None,
            Replay::Safe,
        )?;
        let ctx = Context::key(&self.name, name, DataAction::ReadKey);
        key_info(&expect(reply, &ctx)?)
    }

    /// A key version (`None`: the latest).
    pub fn get_key(&self, name: &str, version: Option<&str>) -> Result<KeyInfo> {
        let info = if self.has_extension()? {
            let latest = self.get_extended(name)?;
            match version {
                Some(v) if v != latest.version => {
                    // An older version: its own attributes, the key's extra.
                    let mut info = self.get_standard(name, Some(v))?;
                    info.extra = latest.extra;
                    if let KeySpec::Aes { .. } = info.spec
                        && latest.spec.is_symmetric()
                    {
                        info.spec = latest.spec;
                    }
                    info
                }
                _ => latest,
            }
        } else {
            self.get_standard(name, version)?
        };
        self.remember(&info);
        Ok(info)
    }

    /// Without the extension, `new_key_only` is a look first: a live or deleted key of the
    /// name refuses (not atomic, unlike the extension's).
    fn refuse_existing(&self, name: &str) -> Result<()> {
        for path in [
            format!("/keys/{}", seg(name)),
            format!("/deletedkeys/{}", seg(name)),
        ] {
            let reply = self.send("GET", &path, None, Replay::Safe)?;
            if reply.is_success() {
                return Err(Error::Conflict {
                    message: format!("a key named '{name}' exists"),
                });
            }
            if reply.status != 404 {
                let ctx = Context::key(&self.name, name, DataAction::ReadKey);
                return Err(errors::decode(
                    reply.status,
                    reply.body.expose_secret(),
                    &ctx,
                ));
            }
        }
        Ok(())
    }

    /// Checks what the extension would carry; returns whether to send it.
    fn prepare_new(&self, name: &str, spec: &KeySpec, opts: &KeyOptions) -> Result<bool> {
        let ext = self.has_extension()?;
        if !ext && matches!(spec, KeySpec::Secret { .. }) {
            // Azure has no key type for it.
            return Err(needs_extension("a generic secret"));
        }
        if !ext {
            if opts.new_key_only {
                self.refuse_existing(name)?;
            }
            if !opts.extra.is_empty() {
                tracing::debug!(pool = %self.name, key = name, "no extension API: PKCS#11 attributes not stored");
            }
        }
        Ok(ext)
    }

    fn finish_write(&self, info: KeyInfo) -> KeyInfo {
        self.invalidate();
        self.remember(&info);
        info
    }

    /// Generates a key (or a new version).
    pub fn create_key(&self, name: &str, spec: KeySpec, opts: &KeyOptions) -> Result<KeyInfo> {
        let ext = self.prepare_new(name, &spec, opts)?;
        let body = to_json(&KeyCreate::new(spec, opts, ext).map_err(refused)?)?;
        let reply = self.send(
            "POST",
            &format!("/keys/{}/create", seg(name)),
            Some(&body),
            Replay::Never,
        );
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::CreateKey);
        let info = key_info(&expect(reply?, &ctx)?)?;
        // The standard answer does not tell an AES key's size; the request did.
        let info = KeyInfo { spec, ..info };
        Ok(self.finish_write(info))
    }

    /// Imports key material (a new key or version). The body is written into a zeroizing
    /// buffer; the JWK's strings are zeroized when it drops.
    pub fn import_key(
        &self,
        name: &str,
        material: KeyMaterial,
        opts: &KeyOptions,
    ) -> Result<KeyInfo> {
        let spec = material.spec();
        let ext = self.prepare_new(name, &spec, opts)?;
        let import = KeyImport::new(&material, opts, ext).map_err(refused)?;
        drop(material);
        // A private JWK is about six times the key's size in base64.
        let body = mhsm_wire::secret_json(&import, 6 * spec.bits() as usize / 8);
        drop(import);
        let reply = self.send(
            "PUT",
            &format!("/keys/{}", seg(name)),
            Some(body.expose_secret()),
            Replay::Never,
        );
        drop(body);
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::ImportKey);
        let info = key_info(&expect(reply?, &ctx)?)?;
        Ok(self.finish_write(KeyInfo { spec, ..info }))
    }

    /// Updates a key's operations, tags and policy and a version's attributes.
    pub fn update_key(
        &self,
        name: &str,
        version: Option<&str>,
        update: &KeyUpdate,
    ) -> Result<KeyInfo> {
        let body = to_json(&KeyUpdateParameters::from_core(update).map_err(refused)?)?;
        let path = format!("/keys/{}/{}", seg(name), seg(version.unwrap_or_default()));
        // Setting attributes to values: the same outcome if applied twice.
        let reply = self.send("PATCH", &path, Some(&body), Replay::Safe);
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::WriteKey);
        let info = key_info(&expect(reply?, &ctx)?)?;
        let info = if self.has_extension()? {
            // The standard answer lacks the extension's attributes.
            self.get_key(name, Some(&info.version))?
        } else {
            self.with_known_size(info)
        };
        Ok(self.finish_write(info))
    }

    /// Sets (or with `None` removes) a PKCS#11 attribute kept with the key.
    pub fn set_key_extra(&self, name: &str, attr: &str, value: Option<&[u8]>) -> Result<KeyInfo> {
        if !self.has_extension()? {
            return Err(needs_extension("storing PKCS#11 attributes"));
        }
        let body = to_json(&ExtraValue::of(value))?;
        let path = format!("{EXT}/keys/{}/extra/{}", seg(name), seg(attr));
        let reply = self.send("PUT", &path, Some(&body), Replay::Safe);
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::WriteKey);
        let info = key_info(&expect(reply?, &ctx)?)?;
        Ok(self.finish_write(info))
    }

    /// Deletes a key (soft-delete).
    pub fn delete_key(&self, name: &str) -> Result<KeyInfo> {
        let reply = self.send(
            "DELETE",
            &format!("/keys/{}", seg(name)),
            None,
            Replay::Never,
        );
        self.invalidate();
        let ctx = Context::key(&self.name, name, DataAction::DeleteKey);
        let info = self.with_known_size(key_info(&expect(reply?, &ctx)?)?);
        self.state.specs.lock().remove(name);
        Ok(info)
    }

    /// Empties the pool (`C_InitToken`): the number of keys removed.
    pub fn clear(&self) -> Result<usize> {
        if !self.has_extension()? {
            return Err(needs_extension("initializing the token"));
        }
        let reply = self.send("POST", &format!("{EXT}/clear"), None, Replay::Never);
        self.invalidate();
        let body = expect(reply?, &self.ctx(DataAction::PurgeDeletedKey))?;
        let removed: Removed = read(&body)?;
        self.state.specs.lock().clear();
        Ok(removed.removed)
    }

    /// The material of an exportable key (extension only): PKCS#8 for RSA and EC, the raw
    /// key for AES, as the server writes it ([`SecretValue::of_material`]).
    pub fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        if !self.has_extension()? {
            return Err(Error::NotExportable { name: name.into() });
        }
        let info = self.get_key(name, version)?;
        let path = format!(
            "{EXT}{}",
            Self::crypto_path(name, Some(&info.version), "export")
        );
        let reply = self.send("POST", &path, None, Replay::Safe)?;
        let ctx = Context::key(&self.name, name, DataAction::ExportKey)
            .crypto(KeyOperation::Export, None);
        let value: SecretValue = read(&expect(reply, &ctx)?)?;
        let material = value.to_material(&info.spec).map_err(not_understood)?;
        Ok((info, material))
    }
}
