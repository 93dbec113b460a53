//! Keys: operations, versions, attributes, and the views and requests of the key API.

pub mod ephemeral;
pub mod ops;
pub mod rotation;
pub mod version;

use serde::{Deserialize, Serialize};

pub use ephemeral::EphemeralKey;
pub use ops::{KeyOperation, KeyOps};
pub use rotation::RotationPolicy;
pub use version::VersionAttributes;

use crate::crypto::{KeySpec, PublicKey};
use crate::names::Tags;
use crate::time::UnixTime;

/// When and how an object was soft-deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// When it was deleted.
    pub deleted_on: UnixTime,
    /// When it will be purged automatically.
    pub scheduled_purge: UnixTime,
    /// The id to recover it by (`deletedkeys/{name}` or `deletedpools/{name}`).
    pub recovery_id: String,
}

/// Azure's recovery level of objects in a pool, from its soft-delete settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryLevel {
    /// 90-day retention, purge allowed.
    RecoverablePurgeable,
    /// 90-day retention, purge protection on.
    Recoverable,
    /// Shorter retention, purge allowed.
    CustomizedRecoverablePurgeable,
    /// Shorter retention, purge protection on.
    CustomizedRecoverable,
}

impl RecoveryLevel {
    /// The level for a retention period and purge-protection setting.
    pub fn of(retention_days: u32, purge_protection: bool) -> RecoveryLevel {
        match (retention_days >= 90, purge_protection) {
            (true, false) => RecoveryLevel::RecoverablePurgeable,
            (true, true) => RecoveryLevel::Recoverable,
            (false, false) => RecoveryLevel::CustomizedRecoverablePurgeable,
            (false, true) => RecoveryLevel::CustomizedRecoverable,
        }
    }

    /// Azure's name (`Recoverable+Purgeable`, ...).
    pub fn azure_name(self) -> &'static str {
        match self {
            RecoveryLevel::RecoverablePurgeable => "Recoverable+Purgeable",
            RecoveryLevel::Recoverable => "Recoverable",
            RecoveryLevel::CustomizedRecoverablePurgeable => "CustomizedRecoverable+Purgeable",
            RecoveryLevel::CustomizedRecoverable => "CustomizedRecoverable",
        }
    }
}

/// Options of a key creation or import (a new version).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// Allowed operations (None: the type's defaults, see [`KeyOps::default_for`]).
    pub ops: Option<KeyOps>,
    /// Enabled (None: true).
    pub enabled: Option<bool>,
    /// Not-before time.
    pub not_before: Option<UnixTime>,
    /// Expiry time.
    pub expires: Option<UnixTime>,
    /// Whether the new version's material may be exported.
    pub exportable: bool,
    /// Tags (None: keep the key's tags, or none for a new key).
    pub tags: Option<Tags>,
    /// Opaque release policy (None: keep the key's).
    pub release_policy: Option<Vec<u8>>,
    /// Front-end attributes to set with the new version (added to the key's), checked as
    /// [`crate::Pool::set_key_extra`] checks them; written in the same commit.
    pub extra: std::collections::BTreeMap<String, Vec<u8>>,
    /// Refuse (`Conflict`) when a key of this name exists, live or deleted: a new key, never
    /// a new version (PKCS#11's object creation).
    pub new_key_only: bool,
}

/// Changes to a key (allowed operations, tags, policy) and to one of its versions
/// (enabled, validity window). `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    /// New allowed operations.
    pub ops: Option<KeyOps>,
    /// Enable or disable the version.
    pub enabled: Option<bool>,
    /// Set (`Some(Some(t))`) or clear (`Some(None)`) the not-before time.
    pub not_before: Option<Option<UnixTime>>,
    /// Set or clear the expiry time.
    pub expires: Option<Option<UnixTime>>,
    /// Exportability is immutable: when given, it must equal the version's.
    pub exportable: Option<bool>,
    /// Replace the tags.
    pub tags: Option<Tags>,
    /// Set or clear the release policy.
    pub release_policy: Option<Option<Vec<u8>>>,
}

/// What the core shows of a key version: everything but private or secret material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key name.
    pub name: String,
    /// Version id (32 hex characters).
    pub version: String,
    /// Type and size.
    pub spec: KeySpec,
    /// Public material (None for symmetric keys).
    pub public_key: Option<PublicKey>,
    /// Version attributes.
    pub attributes: VersionAttributes,
    /// Allowed operations of the key.
    pub ops: KeyOps,
    /// Tags of the key.
    pub tags: Tags,
    /// Opaque release policy.
    pub release_policy: Option<Vec<u8>>,
    /// The rotation policy, if one is set.
    pub rotation_policy: Option<RotationPolicy>,
    /// The pool's soft-delete retention in days.
    pub recoverable_days: u32,
    /// The pool's recovery level.
    pub recovery_level: RecoveryLevel,
    /// Set when the key is deleted.
    pub deletion: Option<Deletion>,
    /// Front-end attributes kept with the key (PKCS#11's `CKA_ID`, ...): they follow it
    /// through soft-delete, recovery, purge and backups.
    pub extra: std::collections::BTreeMap<String, Vec<u8>>,
}
