//! The one error type of the core.
//!
//! Every variant has a stable name ([`Error::code`]) that logs and both front ends use.
//! The PKCS#11 module maps it to `CK_RV` and the REST server to an Azure error body, each
//! with one exhaustive `match`. Messages never carry key material, PINs or plaintext.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::time::UnixTime;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
///
/// Deliberately not `#[non_exhaustive]`: the two front ends map it with exhaustive matches,
/// so a new variant fails their build until it is mapped.
///
/// It crosses process boundaries as data: serialized, it is an object whose `code` is
/// [`Error::code`] and whose other members are the variant's fields in camelCase (the REST
/// server puts it in the Azure error body's `innererror`, a client reads it back whole).
/// Fields name domain things by their stable names (an operation's JWK name, a data action's
/// Azure name), so this module depends on no domain module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all_fields = "camelCase")]
pub enum Error {
    /// No live pool has this name.
    #[error("pool '{name}' was not found")]
    PoolNotFound {
        /// The pool name asked for.
        name: String,
    },
    /// No deleted pool has this name.
    #[error("deleted pool '{name}' was not found")]
    DeletedPoolNotFound {
        /// The pool name asked for.
        name: String,
    },
    /// No live key has this name.
    #[error("key '{name}' was not found")]
    KeyNotFound {
        /// The key name asked for.
        name: String,
    },
    /// The key exists but has no such version.
    #[error("key '{name}' has no version '{version}'")]
    KeyVersionNotFound {
        /// The key name.
        name: String,
        /// The version asked for.
        version: String,
    },
    /// No deleted key has this name.
    #[error("deleted key '{name}' was not found")]
    DeletedKeyNotFound {
        /// The key name asked for.
        name: String,
    },
    /// The key version is disabled.
    #[error("key '{name}' is disabled")]
    KeyDisabled {
        /// The key name.
        name: String,
    },
    /// The key version's not-before time lies in the future.
    #[error("key '{name}' is not valid before {not_before}")]
    KeyNotYetValid {
        /// The key name.
        name: String,
        /// When it becomes valid.
        not_before: UnixTime,
    },
    /// The key version expired.
    #[error("key '{name}' expired at {expires}")]
    KeyExpired {
        /// The key name.
        name: String,
        /// When it expired.
        expires: UnixTime,
    },
    /// The key's allowed operations do not include this one.
    #[error("operation '{operation}' is not permitted for key '{name}'")]
    OperationNotPermitted {
        /// The key name.
        name: String,
        /// The refused operation's JWK name (`sign`, `wrapKey`, ...).
        operation: String,
    },
    /// Local RBAC: none of the caller's role assignments grants this data action here.
    #[error("Not authorized to access {action} on {scope}")]
    ForbiddenByRbac {
        /// The data action refused, by its Azure name.
        action: String,
        /// The scope it was refused at (`/`, `/keys`, `/keys/{name}`).
        scope: String,
    },
    /// The key version is not exportable.
    #[error("key '{name}' is not exportable")]
    NotExportable {
        /// The key name.
        name: String,
    },
    /// The name is taken (by a live or a deleted object), or the state forbids the change.
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicts.
        message: String,
    },
    /// Purge protection forbids purging before the retention period has elapsed.
    #[error("purge protection is on: '{name}' cannot be purged before {scheduled_purge}")]
    PurgeProtected {
        /// The key or pool name.
        name: String,
        /// When the object will be purged automatically.
        scheduled_purge: UnixTime,
    },
    /// A malformed name, attribute, setting or argument.
    #[error("bad parameter: {message}")]
    BadParameter {
        /// What is wrong.
        message: String,
    },
    /// The algorithm or mechanism is not supported by mhsm.
    #[error("unsupported algorithm: {algorithm}")]
    UnsupportedAlgorithm {
        /// The algorithm's name.
        algorithm: String,
    },
    /// The algorithm's parameters are invalid (IV length, salt length, tag length, label, ...).
    #[error("invalid algorithm parameter: {message}")]
    InvalidAlgorithmParameter {
        /// What is wrong.
        message: String,
    },
    /// The algorithm does not fit the key's type, size or curve.
    #[error("key type mismatch: {message}")]
    KeyTypeMismatch {
        /// What does not fit.
        message: String,
    },
    /// The input has a length the algorithm cannot take.
    #[error("invalid input length: {message}")]
    InvalidInputLength {
        /// What length was expected.
        message: String,
    },
    /// Decryption or unwrapping failed (bad tag, bad padding). Deliberately without detail.
    #[error("decryption failed")]
    DecryptionFailed,
    /// Imported key material is malformed or inconsistent.
    #[error("invalid key material: {message}")]
    InvalidKeyMaterial {
        /// What is wrong (never the material itself).
        message: String,
    },
    /// A backup blob is malformed, tampered with or of an unknown format.
    #[error("invalid backup: {message}")]
    BackupInvalid {
        /// What is wrong.
        message: String,
    },
    /// A wrong PIN; `remaining` tries before it locks.
    #[error("the PIN is incorrect ({remaining} tries left)")]
    PinIncorrect {
        /// Tries left.
        remaining: u32,
    },
    /// The PIN is locked after too many wrong tries.
    #[error("the PIN is locked")]
    PinLocked,
    /// No PIN has been set.
    #[error("the PIN is not initialized")]
    PinNotInitialized,
    /// A PIN of the wrong length or characters.
    #[error("invalid PIN: {message}")]
    PinInvalid {
        /// What is wrong (never the PIN).
        message: String,
    },
    /// A backup was made in another security domain (another root key).
    #[error("the backup belongs to another security domain")]
    SecurityDomainMismatch,
    /// This handle is read-only (a forked child's): the write was refused.
    #[error("this HSM handle is read-only")]
    ReadOnly,
    /// The data directory is held by another process.
    #[error("the data directory {path} is in use by another process{}", holder_text(*.holder))]
    StoreLocked {
        /// The directory.
        path: PathBuf,
        /// The process holding it, when the system tells.
        holder: Option<u32>,
    },
    /// The root key does not open this data directory.
    #[error("the root key does not match the data directory {path}")]
    RootKeyMismatch {
        /// The directory.
        path: PathBuf,
    },
    /// The root key could not be read or created.
    #[error("root key: {message}")]
    RootKey {
        /// What went wrong.
        message: String,
    },
    /// A stored record failed authentication or could not be decoded.
    #[error("stored record '{record}' is corrupted")]
    Corrupted {
        /// The record's path in the store.
        record: String,
    },
    /// The storage engine failed (I/O error, full disk, ...).
    #[error("storage error: {message}")]
    Storage {
        /// What went wrong.
        message: String,
    },
    /// The system random generator failed.
    #[error("random number generator failure")]
    RandomFailure,
    /// The HSM service a front end reaches over the network did not answer (down, unreachable,
    /// timed out, overloaded past its retries). Only remote front ends make it.
    #[error("the HSM service is unavailable: {message}")]
    Unavailable {
        /// What failed (URL and cause; never request bodies).
        message: String,
    },
    /// An internal invariant did not hold (a bug).
    #[error("internal error: {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// The stable name of the variant, as documented in the README.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PoolNotFound { .. } => "PoolNotFound",
            Error::DeletedPoolNotFound { .. } => "DeletedPoolNotFound",
            Error::KeyNotFound { .. } => "KeyNotFound",
            Error::KeyVersionNotFound { .. } => "KeyVersionNotFound",
            Error::DeletedKeyNotFound { .. } => "DeletedKeyNotFound",
            Error::KeyDisabled { .. } => "KeyDisabled",
            Error::KeyNotYetValid { .. } => "KeyNotYetValid",
            Error::KeyExpired { .. } => "KeyExpired",
            Error::OperationNotPermitted { .. } => "OperationNotPermitted",
            Error::ForbiddenByRbac { .. } => "ForbiddenByRbac",
            Error::NotExportable { .. } => "NotExportable",
            Error::Conflict { .. } => "Conflict",
            Error::PurgeProtected { .. } => "PurgeProtected",
            Error::BadParameter { .. } => "BadParameter",
            Error::UnsupportedAlgorithm { .. } => "UnsupportedAlgorithm",
            Error::InvalidAlgorithmParameter { .. } => "InvalidAlgorithmParameter",
            Error::KeyTypeMismatch { .. } => "KeyTypeMismatch",
            Error::InvalidInputLength { .. } => "InvalidInputLength",
            Error::DecryptionFailed => "DecryptionFailed",
            Error::InvalidKeyMaterial { .. } => "InvalidKeyMaterial",
            Error::BackupInvalid { .. } => "BackupInvalid",
            Error::SecurityDomainMismatch => "SecurityDomainMismatch",
            Error::PinIncorrect { .. } => "PinIncorrect",
            Error::PinLocked => "PinLocked",
            Error::PinNotInitialized => "PinNotInitialized",
            Error::PinInvalid { .. } => "PinInvalid",
            Error::ReadOnly => "ReadOnly",
            Error::StoreLocked { .. } => "StoreLocked",
            Error::RootKeyMismatch { .. } => "RootKeyMismatch",
            Error::RootKey { .. } => "RootKey",
            Error::Corrupted { .. } => "Corrupted",
            Error::Storage { .. } => "Storage",
            Error::RandomFailure => "RandomFailure",
            Error::Unavailable { .. } => "Unavailable",
            Error::Internal { .. } => "Internal",
        }
    }

    pub(crate) fn bad_parameter(message: impl Into<String>) -> Self {
        Error::BadParameter {
            message: message.into(),
        }
    }

    pub(crate) fn key_type(message: impl Into<String>) -> Self {
        Error::KeyTypeMismatch {
            message: message.into(),
        }
    }

    pub(crate) fn input_length(message: impl Into<String>) -> Self {
        Error::InvalidInputLength {
            message: message.into(),
        }
    }

    pub(crate) fn param(message: impl Into<String>) -> Self {
        Error::InvalidAlgorithmParameter {
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(algorithm: impl Into<String>) -> Self {
        Error::UnsupportedAlgorithm {
            algorithm: algorithm.into(),
        }
    }

    pub(crate) fn material(message: impl Into<String>) -> Self {
        Error::InvalidKeyMaterial {
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }
}

fn holder_text(holder: Option<u32>) -> String {
    holder
        .map(|pid| format!(" (held by process {pid})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Error> {
        vec![
            Error::KeyVersionNotFound {
                name: "k".into(),
                version: "v1".into(),
            },
            Error::KeyNotYetValid {
                name: "k".into(),
                not_before: UnixTime(1_700_000_000),
            },
            Error::OperationNotPermitted {
                name: "k".into(),
                operation: "wrapKey".into(),
            },
            Error::PurgeProtected {
                name: "p".into(),
                scheduled_purge: UnixTime(1_800_000_000),
            },
            Error::PinIncorrect { remaining: 2 },
            Error::DecryptionFailed,
            Error::StoreLocked {
                path: "/tmp/x".into(),
                holder: Some(42),
            },
        ]
    }

    #[test]
    fn serialized_errors_carry_their_code_and_fields() {
        for e in samples() {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["code"], e.code(), "{v}");
            let back: Error = serde_json::from_value(v).unwrap();
            assert_eq!(back, e);
        }
        let v = serde_json::to_value(Error::PurgeProtected {
            name: "p".into(),
            scheduled_purge: UnixTime(5),
        })
        .unwrap();
        assert_eq!(v["scheduledPurge"], 5, "{v}");
    }

    #[test]
    fn unknown_codes_are_refused() {
        let v = serde_json::json!({"code": "NoSuchError", "message": "x"});
        assert!(serde_json::from_value::<Error>(v).is_err());
    }
}
