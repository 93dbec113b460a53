//! Data actions: what a role permits on the data plane, their Azure names, and the `*`
//! patterns role definitions use.

use std::fmt;

use crate::error::{Error, Result};

macro_rules! data_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// A Managed HSM data action: what a role permits on the data plane.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DataAction {
            $(
                #[doc = concat!("`Microsoft.KeyVault/managedHsm/", $name, "`")]
                $variant,
            )*
        }

        impl DataAction {
            /// Every data action.
            pub const ALL: &'static [DataAction] = &[$(DataAction::$variant,)*];

            /// Azure's name (`Microsoft.KeyVault/managedHsm/keys/sign/action`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(DataAction::$variant => concat!("Microsoft.KeyVault/managedHsm/", $name),)*
                }
            }
        }
    };
}

data_actions! {
    ReadKey => "keys/read/action",
    WriteKey => "keys/write/action",
    ReadDeletedKey => "keys/deletedKeys/read/action",
    RecoverDeletedKey => "keys/deletedKeys/recover/action",
    PurgeDeletedKey => "keys/deletedKeys/delete",
    BackupKey => "keys/backup/action",
    RestoreKey => "keys/restore/action",
    CreateKey => "keys/create",
    ImportKey => "keys/import/action",
    DeleteKey => "keys/delete",
    RotateKey => "keys/rotate/action",
    ExportKey => "keys/export/action",
    ReleaseKey => "keys/release/action",
    Encrypt => "keys/encrypt/action",
    Decrypt => "keys/decrypt/action",
    Wrap => "keys/wrap/action",
    Unwrap => "keys/unwrap/action",
    Sign => "keys/sign/action",
    Verify => "keys/verify/action",
    Derive => "keys/derive/action",
    ReadRoleAssignment => "roleAssignments/read/action",
    WriteRoleAssignment => "roleAssignments/write/action",
    DeleteRoleAssignment => "roleAssignments/delete/action",
    ReadRoleDefinition => "roleDefinitions/read/action",
    WriteRoleDefinition => "roleDefinitions/write/action",
    DeleteRoleDefinition => "roleDefinitions/delete/action",
    DownloadSecurityDomain => "securitydomain/download/action",
    DownloadSecurityDomainStatus => "securitydomain/download/read",
    UploadSecurityDomain => "securitydomain/upload/action",
    UploadSecurityDomainStatus => "securitydomain/upload/read",
    SecurityDomainTransferKey => "securitydomain/transferkey/read",
    StartBackup => "backup/start/action",
    BackupStatus => "backup/status/action",
    StartRestore => "restore/start/action",
    RestoreStatus => "restore/status/action",
    Random => "rng/action",
}

impl DataAction {
    /// The data action of an Azure name (case-insensitive, as Azure compares them).
    pub fn from_name(name: &str) -> Option<DataAction> {
        DataAction::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for DataAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Does an action pattern match a data action? `*` stands for any run of characters
/// (`Microsoft.KeyVault/managedHsm/keys/*`, `*/read/action`, `*`); comparison ignores ASCII
/// case, as Azure's does.
pub(super) fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen and the name position it is currently standing for.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&n[ni]) {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            // Let the last `*` swallow one more character and try again.
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Checks an entry of `dataActions`/`notDataActions`: a data action, or a wildcard pattern
/// that covers at least one.
pub(super) fn validate_data_action(pattern: &str) -> Result<()> {
    let known = if pattern.contains('*') {
        DataAction::ALL
            .iter()
            .any(|a| pattern_matches(pattern, a.name()))
    } else {
        DataAction::from_name(pattern).is_some()
    };
    if known {
        Ok(())
    } else {
        Err(Error::bad_parameter(format!(
            "'{pattern}' is not a Managed HSM data action"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::DATA_ACTION_PREFIX;

    #[test]
    fn patterns() {
        let sign = DataAction::Sign.name();
        for p in [
            sign,
            "microsoft.keyvault/MANAGEDHSM/keys/sign/action",
            "Microsoft.KeyVault/managedHsm/keys/*",
            "Microsoft.KeyVault/managedHsm/*",
            "*",
            "*/sign/action",
            "Microsoft.KeyVault/managedHsm/*/action",
            "Microsoft.KeyVault/*/keys/*/action",
            "**",
        ] {
            assert!(pattern_matches(p, sign), "{p}");
        }
        for p in [
            "Microsoft.KeyVault/managedHsm/keys/sign",
            "Microsoft.KeyVault/managedHsm/keys/verify/*",
            "Microsoft.KeyVault/managedHsm/rng/*",
            "*/read/action",
            "",
            "Microsoft.KeyVault/managedHsm/keys/sign/action/x",
        ] {
            assert!(!pattern_matches(p, sign), "{p}");
        }
        // `keys/*` covers the deleted-key actions too, as a prefix match does in Azure.
        assert!(pattern_matches(
            "Microsoft.KeyVault/managedHsm/keys/*",
            DataAction::PurgeDeletedKey.name()
        ));
        assert!(!pattern_matches(
            "Microsoft.KeyVault/managedHsm/keys/*",
            DataAction::Random.name()
        ));
    }

    #[test]
    fn data_action_names() {
        assert_eq!(DataAction::ALL.len(), 36);
        for a in DataAction::ALL {
            assert!(a.name().starts_with(DATA_ACTION_PREFIX));
            assert_eq!(DataAction::from_name(a.name()), Some(*a));
            assert_eq!(
                DataAction::from_name(&a.name().to_ascii_uppercase()),
                Some(*a)
            );
        }
        assert_eq!(
            DataAction::from_name("Microsoft.KeyVault/managedHsm/keys"),
            None
        );
        validate_data_action("Microsoft.KeyVault/managedHsm/keys/*").unwrap();
        for bad in [
            "Microsoft.KeyVault/managedHsm/keys/launch/action",
            "Microsoft.KeyVault/vaults/keys/*",
            "",
            "keys/sign/action",
        ] {
            assert!(
                matches!(validate_data_action(bad), Err(Error::BadParameter { .. })),
                "{bad}"
            );
        }
    }
}
