//! The built-in role definitions, as a live Managed HSM returns them.

use std::sync::LazyLock;

use super::DATA_ACTION_PREFIX;
use super::roles::{Permission, RoleDefinition, RoleType};
use super::scope::Scope;

/// A built-in definition: one permission block of data actions (names without the prefix).
fn builtin(
    name: &str,
    role_name: &str,
    description: &str,
    actions: &[&str],
    data_actions: &[&str],
) -> RoleDefinition {
    let full = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|a| format!("{DATA_ACTION_PREFIX}{a}"))
            .collect()
    };
    RoleDefinition {
        name: name.to_string(),
        role_name: role_name.to_string(),
        description: description.to_string(),
        role_type: RoleType::BuiltIn,
        permissions: vec![Permission {
            actions: full(actions),
            not_actions: Vec::new(),
            data_actions: full(data_actions),
            not_data_actions: Vec::new(),
        }],
        assignable_scopes: vec![Scope::All],
    }
}

/// The Managed HSM Administrator role.
pub const ADMINISTRATOR: &str = "a290e904-7015-4bba-90c8-60543313cdb4";
/// The Managed HSM Crypto Officer role.
pub const CRYPTO_OFFICER: &str = "515eb02d-2335-4d2d-92f2-b1cbdf9c3778";
/// The Managed HSM Crypto User role.
pub const CRYPTO_USER: &str = "21dbd100-6940-42c2-9190-5d6cb909625b";
/// The Managed HSM Policy Administrator role.
pub const POLICY_ADMINISTRATOR: &str = "4bd23610-cdcf-4971-bdee-bdc562cc28e4";
/// The Managed HSM Crypto Auditor role.
pub const CRYPTO_AUDITOR: &str = "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3";
/// The Managed HSM Crypto Service Encryption User role.
pub const CRYPTO_SERVICE_ENCRYPTION_USER: &str = "33413926-3206-4cdd-b39a-83574fe37a17";
/// The Managed HSM Crypto Service Release User role.
pub const CRYPTO_SERVICE_RELEASE_USER: &str = "21dbd100-6940-42c2-9190-5d6cb909625c";
/// The Managed HSM Backup User role.
pub const BACKUP_USER: &str = "7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8";
/// The Managed HSM Restore role.
pub const RESTORE: &str = "6efe6056-5259-49d2-8b3d-d3d73544b20b";
/// The Managed HSM ARM User role (control-plane actions only).
pub const ARM_USER: &str = "770fd66c-6266-4643-9d4e-b616870898d5";

/// The built-in roles, in the order a live Managed HSM lists them.
static BUILTINS: LazyLock<Vec<RoleDefinition>> = LazyLock::new(|| {
    const ROLE_READ: &[&str] = &[
        "roleAssignments/delete/action",
        "roleAssignments/read/action",
        "roleAssignments/write/action",
        "roleDefinitions/read/action",
        "roleDefinitions/write/action",
        "roleDefinitions/delete/action",
    ];
    let with = |a: &[&'static str], b: &[&'static str]| -> Vec<&'static str> {
        a.iter().chain(b).copied().collect()
    };
    vec![
        builtin(
            BACKUP_USER,
            "Managed HSM Backup User",
            "Grants permissions to perform single-key or whole-HSM backup.",
            &[],
            &[
                "backup/start/action",
                "backup/status/action",
                "keys/backup/action",
            ],
        ),
        builtin(
            RESTORE,
            "Managed HSM Restore",
            "Grants permissions to perform single-key or whole-HSM restore.",
            &[],
            &[
                "restore/start/action",
                "restore/status/action",
                "keys/restore/action",
            ],
        ),
        builtin(
            CRYPTO_SERVICE_ENCRYPTION_USER,
            "Managed HSM Crypto Service Encryption User",
            "Grants permissions to use a key for service encryption.",
            &[],
            &["keys/read/action", "keys/wrap/action", "keys/unwrap/action"],
        ),
        builtin(
            CRYPTO_SERVICE_RELEASE_USER,
            "Managed HSM Crypto Service Release User",
            "Grants permissions to release a key to a trusted execution environment.",
            &[],
            &["keys/release/action"],
        ),
        builtin(
            CRYPTO_AUDITOR,
            "Managed HSM Crypto Auditor",
            "Grants read permissions to read (but not use) key attributes.",
            &[],
            &[
                "roleAssignments/read/action",
                "roleDefinitions/read/action",
                "keys/read/action",
                "keys/deletedKeys/read/action",
            ],
        ),
        builtin(
            POLICY_ADMINISTRATOR,
            "Managed HSM Policy Administrator",
            "Grants permissions to create and delete role assignments.",
            &[],
            &[
                "roleDefinitions/read/action",
                "roleDefinitions/write/action",
                "roleDefinitions/delete/action",
                "roleAssignments/read/action",
                "roleAssignments/write/action",
                "roleAssignments/delete/action",
            ],
        ),
        builtin(
            ARM_USER,
            "Managed HSM ARM User",
            "",
            &["keys/createIfNotExists", "keys/read/action"],
            &[],
        ),
        builtin(
            CRYPTO_USER,
            "Managed HSM Crypto User",
            "Grants permissions to perform all key management operations except purge or recover deleted keys and export keys.",
            &[],
            &[
                "roleDefinitions/read/action",
                "roleAssignments/read/action",
                "keys/read/action",
                "keys/write/action",
                "keys/delete",
                "keys/create",
                "keys/rotate/action",
                "keys/import/action",
                "keys/release/action",
                "keys/backup/action",
                "keys/restore/action",
                "keys/encrypt/action",
                "keys/decrypt/action",
                "keys/wrap/action",
                "keys/unwrap/action",
                "keys/sign/action",
                "keys/verify/action",
                "keys/derive/action",
                "rng/action",
            ],
        ),
        builtin(
            CRYPTO_OFFICER,
            "Managed HSM Crypto Officer",
            "Grants permissions to perform all role management, purge or recover deleted keys, and export keys. Not permitted to perform any other key management operations.",
            &[],
            &with(
                ROLE_READ,
                &[
                    "keys/deletedKeys/read/action",
                    "keys/deletedKeys/delete",
                    "keys/deletedKeys/recover/action",
                    "keys/export/action",
                ],
            ),
        ),
        builtin(
            ADMINISTRATOR,
            "Managed HSM Administrator",
            "Grants permissions to perform all operations related to the security domain, full backup and restore, and role management. Not permitted to perform any key management operations.",
            &[],
            &with(
                ROLE_READ,
                &[
                    "securitydomain/download/action",
                    "securitydomain/download/read",
                    "securitydomain/upload/action",
                    "securitydomain/upload/read",
                    "securitydomain/transferkey/read",
                    "backup/start/action",
                    "restore/start/action",
                    "backup/status/action",
                    "restore/status/action",
                ],
            ),
        ),
    ]
});

/// The built-in role definitions.
pub fn builtin_roles() -> &'static [RoleDefinition] {
    &BUILTINS
}

pub(super) fn builtin_role(name: &str) -> Option<&'static RoleDefinition> {
    BUILTINS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{DataAction, is_guid};

    #[test]
    fn builtins_are_azures() {
        let roles = builtin_roles();
        assert_eq!(roles.len(), 10);
        let by = |id: &str| roles.iter().find(|r| r.name == id).unwrap();
        assert_eq!(by(CRYPTO_USER).role_name, "Managed HSM Crypto User");
        assert_eq!(
            by(CRYPTO_USER).id(),
            "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/21dbd100-6940-42c2-9190-5d6cb909625b"
        );
        for r in roles {
            assert!(is_guid(&r.name));
            assert_eq!(r.role_type, RoleType::BuiltIn);
            assert_eq!(r.assignable_scopes, vec![Scope::All]);
            for p in &r.permissions {
                for a in &p.data_actions {
                    assert!(DataAction::from_name(a).is_some(), "{a}");
                }
            }
        }
        use DataAction as A;
        let grants = |id: &str| -> Vec<A> {
            A::ALL
                .iter()
                .copied()
                .filter(|a| by(id).grants(*a))
                .collect()
        };
        assert_eq!(grants(CRYPTO_USER).len(), 19);
        assert!(by(CRYPTO_USER).grants(A::Sign) && !by(CRYPTO_USER).grants(A::PurgeDeletedKey));
        assert!(!by(CRYPTO_USER).grants(A::ExportKey));
        assert_eq!(
            grants(CRYPTO_SERVICE_ENCRYPTION_USER),
            vec![A::ReadKey, A::Wrap, A::Unwrap]
        );
        assert_eq!(
            grants(CRYPTO_AUDITOR),
            vec![
                A::ReadKey,
                A::ReadDeletedKey,
                A::ReadRoleAssignment,
                A::ReadRoleDefinition
            ]
        );
        assert!(!by(ADMINISTRATOR).grants(A::ReadKey) && by(ADMINISTRATOR).grants(A::StartBackup));
        assert!(
            by(CRYPTO_OFFICER).grants(A::RecoverDeletedKey)
                && !by(CRYPTO_OFFICER).grants(A::ReadKey)
        );
        assert_eq!(grants(ARM_USER), vec![]);
        assert_eq!(
            grants(RESTORE),
            vec![A::RestoreKey, A::StartRestore, A::RestoreStatus]
        );
    }
}
