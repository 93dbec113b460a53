//! Documents: small, opaque, per-pool data the front ends keep beside the keys (role
//! assignments, settings, certificates and data objects, PKCS#11 attributes).
//!
//! Stored sealed under the pool's master key like every record, removed with the pool, and
//! carried by pool backups. The core does not interpret them; rules about them live in the
//! modules that define their kinds.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::pool::{KeyChange, Mutation, Pool};
use crate::record::doc_path;
use crate::store::Batch;

/// The largest document (1 MiB).
pub const MAX_DOCUMENT: usize = 1 << 20;

/// Checks a document kind (1–32 of `[a-z0-9-]`) and id (1–256 of `[A-Za-z0-9._:-]`).
pub fn validate(kind: &str, id: &str) -> Result<()> {
    let kind_ok = (1..=32).contains(&kind.len())
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let id_ok = (1..=256).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if kind_ok && id_ok {
        Ok(())
    } else {
        Err(Error::bad_parameter(format!(
            "invalid document name {kind:?}/{id:?}"
        )))
    }
}

/// The kinds the core keeps for itself (PINs, settings, access control): a front end that
/// lets its clients name document kinds refuses these, so that they stay behind their own
/// APIs and their own RBAC actions.
pub fn is_core_kind(kind: &str) -> bool {
    matches!(
        kind,
        crate::pin::KIND
            | crate::settings::KIND
            | crate::rbac::ASSIGNMENT_KIND
            | crate::rbac::DEFINITION_KIND
            | crate::rbac::MODE_KIND
    )
}

/// Checks that a client-named document kind is a front end's, not the core's
/// (`BadParameter` for [`is_core_kind`] kinds), and valid.
pub fn check_front_end_kind(kind: &str) -> Result<()> {
    validate(kind, "x")?;
    if is_core_kind(kind) {
        return Err(Error::bad_parameter(format!(
            "documents of kind '{kind}' belong to the core"
        )));
    }
    Ok(())
}

impl Pool {
    /// Stores (or replaces) a document.
    pub fn put_document(&self, kind: &str, id: &str, value: &[u8]) -> Result<()> {
        validate(kind, id)?;
        if value.len() > MAX_DOCUMENT {
            return Err(Error::bad_parameter(format!(
                "documents are at most {MAX_DOCUMENT} bytes"
            )));
        }
        self.maintain()?;
        self.mutate(|_, _| {
            let path = doc_path(&self.state.name, kind, id);
            let mut batch = Batch::new();
            batch.put(path.clone(), self.state.seal_bytes(&path, value)?);
            Ok(Mutation {
                batch,
                changes: vec![KeyChange::PutDoc(
                    kind.to_string(),
                    id.to_string(),
                    Arc::new(value.to_vec()),
                )],
                result: (),
            })
        })
    }

    /// A document, if it exists.
    pub fn get_document(&self, kind: &str, id: &str) -> Result<Option<Arc<Vec<u8>>>> {
        validate(kind, id)?;
        let data = self.read()?;
        Ok(data.docs.get(&(kind.to_string(), id.to_string())).cloned())
    }

    /// All documents of a kind, by id.
    pub fn list_documents(&self, kind: &str) -> Result<Vec<(String, Arc<Vec<u8>>)>> {
        validate(kind, "x")?;
        let data = self.read()?;
        Ok(data
            .docs
            .range((kind.to_string(), String::new())..)
            .take_while(|((k, _), _)| k == kind)
            .map(|((_, id), v)| (id.clone(), v.clone()))
            .collect())
    }

    /// Removes a document; false when there was none.
    pub fn delete_document(&self, kind: &str, id: &str) -> Result<bool> {
        validate(kind, id)?;
        self.maintain()?;
        self.mutate(|data, _| {
            let key = (kind.to_string(), id.to_string());
            if !data.docs.contains_key(&key) {
                return Ok(Mutation {
                    batch: Batch::new(),
                    changes: Vec::new(),
                    result: false,
                });
            }
            let mut batch = Batch::new();
            batch.delete(doc_path(&self.state.name, kind, id));
            Ok(Mutation {
                batch,
                changes: vec![KeyChange::RemoveDoc(key.0, key.1)],
                result: true,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        validate("role-assignment", "0f1e2d3c-aaaa").unwrap();
        validate("cert", "a.b_c:d").unwrap();
        for (k, i) in [
            ("", "x"),
            ("Kind", "x"),
            ("k/k", "x"),
            ("k", ""),
            ("k", "a/b"),
            ("k", "a b"),
        ] {
            assert!(validate(k, i).is_err(), "{k}/{i}");
        }
        assert!(validate(&"k".repeat(33), "x").is_err());
        assert!(validate("k", &"x".repeat(257)).is_err());
    }

    #[test]
    fn core_kinds_are_not_front_end_kinds() {
        for kind in [
            "pin",
            "setting",
            "role-assignment",
            "role-definition",
            "rbac",
        ] {
            assert!(is_core_kind(kind));
            assert_eq!(
                check_front_end_kind(kind).unwrap_err().code(),
                "BadParameter"
            );
        }
        check_front_end_kind("p11-object").unwrap();
        assert!(check_front_end_kind("Bad").is_err());
    }
}
