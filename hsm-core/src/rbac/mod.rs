//! Local RBAC of a pool, as Azure Managed HSM defines it: role definitions (the built-in
//! roles and custom ones), role assignments of a definition to a principal at a scope (`/`,
//! `/keys`, `/keys/{name}`), and the one check both front ends make before every operation,
//! [`authorize`].
//!
//! A pool is **open** (every caller may do everything) until [`make_strict`] names its
//! administrators; from then on a call is allowed only when one of the caller's assignments
//! at or above the call's scope grants its data action. Custom definitions, assignments and
//! the mode are pool documents, so they are sealed, removed with the pool and carried by
//! pool backups.
//!
//! The built-in definitions are the ones a live Managed HSM returns (ids, role names and
//! permissions as recorded from the service by the Azure SDK test suites, 2021–2022; the
//! Restore role and the descriptions from Microsoft's "Local RBAC built-in roles for Managed
//! HSM" page).
//!
//! One file per concept: `actions.rs` (data actions and their patterns), `scope.rs`,
//! `ids.rs` (GUIDs), `roles.rs` (definitions), `builtin.rs` (the built-in ones),
//! `assignments.rs`, and `authorize.rs` (the mode and the check).

mod actions;
mod assignments;
mod authorize;
mod builtin;
mod ids;
mod roles;
mod scope;

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::{Error, Result};

pub use actions::DataAction;
pub use assignments::{
    AssignmentFilter, RoleAssignment, create_role_assignment, delete_role_assignment,
    get_role_assignment, list_role_assignments,
};
pub(crate) use authorize::strict_documents;
pub use authorize::{Mode, authorize, make_strict, mode};
pub use builtin::{
    ADMINISTRATOR, ARM_USER, BACKUP_USER, CRYPTO_AUDITOR, CRYPTO_OFFICER,
    CRYPTO_SERVICE_ENCRYPTION_USER, CRYPTO_SERVICE_RELEASE_USER, CRYPTO_USER, POLICY_ADMINISTRATOR,
    RESTORE, builtin_roles,
};
pub use ids::{is_guid, new_guid};
pub use roles::{
    Permission, RoleDefinition, RoleDefinitionInput, RoleType, delete_role_definition,
    get_role_definition, list_role_definitions, role_definition_name, set_role_definition,
};
pub use scope::Scope;

/// The document kinds RBAC keeps in a pool (and the id of the one mode document).
pub(crate) const ASSIGNMENT_KIND: &str = "role-assignment";
pub(crate) const DEFINITION_KIND: &str = "role-definition";
pub(crate) const MODE_KIND: &str = "rbac";
const MODE_ID: &str = "mode";

/// The prefix of every Managed HSM data action.
pub const DATA_ACTION_PREFIX: &str = "Microsoft.KeyVault/managedHsm/";
/// The prefix of a role definition id as Azure shows it (in definitions and assignments).
pub const ROLE_DEFINITION_ID_PREFIX: &str =
    "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/";

/// Role checks and the writes they depend on (a definition is not deleted while an
/// assignment to it is being created) are serialised. RBAC writes are rare.
static WRITES: Mutex<()> = Mutex::new(());

/// A stored document of `kind`/`id`, or `Corrupted` naming it.
fn decode<T: serde::de::DeserializeOwned>(kind: &str, id: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|_| Error::Corrupted {
        record: format!("document {kind}/{id}"),
    })
}

/// A document's bytes.
fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("encoding a document: {e}")))
}

#[cfg(test)]
mod tests;
