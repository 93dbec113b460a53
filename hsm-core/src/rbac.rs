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

use std::fmt;
use std::sync::LazyLock;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::names::{new_id, validate_key_name};
use crate::pool::Pool;

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
fn pattern_matches(pattern: &str, name: &str) -> bool {
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
fn validate_data_action(pattern: &str) -> Result<()> {
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

/// Is `s` a GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits in either case)?
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A GUID, lower-cased, or `BadParameter` naming `what`.
fn guid(s: &str, what: &str) -> Result<String> {
    if is_guid(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::bad_parameter(format!(
            "the {what} '{s}' is not a valid GUID"
        )))
    }
}

/// A fresh random (version 4) GUID.
pub fn new_guid() -> Result<String> {
    let mut hex: Vec<char> = new_id()?.chars().collect();
    hex[12] = '4';
    hex[16] = match hex[16] {
        '0' | '4' | '8' | 'c' => '8',
        '1' | '5' | '9' | 'd' => '9',
        '2' | '6' | 'a' | 'e' => 'a',
        _ => 'b',
    };
    let s: String = hex.into_iter().collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    ))
}

/// Where a role assignment applies, and where an operation acts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// `/`: everything in the pool.
    All,
    /// `/keys`: every key.
    Keys,
    /// `/keys/{name}`: one key (by name, whether or not it exists yet).
    Key(String),
}

impl Scope {
    /// Parses `/`, `/keys` or `/keys/{name}`.
    pub fn parse(s: &str) -> Result<Scope> {
        match s {
            "/" => Ok(Scope::All),
            "/keys" => Ok(Scope::Keys),
            _ => match s.strip_prefix("/keys/") {
                Some(name) if validate_key_name(name).is_ok() => Ok(Scope::Key(name.to_string())),
                _ => Err(Error::bad_parameter(format!(
                    "invalid scope '{s}': use '/', '/keys' or '/keys/{{key name}}'"
                ))),
            },
        }
    }

    /// The scope of one key (its name checked).
    pub fn key(name: &str) -> Result<Scope> {
        validate_key_name(name)?;
        Ok(Scope::Key(name.to_string()))
    }

    /// Does an assignment at `self` apply to an operation at `target`?
    pub fn covers(&self, target: &Scope) -> bool {
        match (self, target) {
            (Scope::All, _) => true,
            (Scope::Keys, Scope::Keys | Scope::Key(_)) => true,
            (Scope::Key(a), Scope::Key(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("/"),
            Scope::Keys => f.write_str("/keys"),
            Scope::Key(name) => write!(f, "/keys/{name}"),
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = Error;
    fn try_from(s: String) -> Result<Scope> {
        Scope::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

/// One permission block of a role definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// Control-plane actions (kept and shown; they grant nothing on the data plane).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Control-plane actions excluded.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Data actions granted (names or `*` patterns).
    #[serde(default)]
    pub data_actions: Vec<String>,
    /// Data actions subtracted from this role's grants (names or `*` patterns).
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

/// Built-in or custom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleType {
    /// One of Azure's built-in roles (immutable).
    BuiltIn,
    /// Defined in this pool.
    Custom,
}

impl RoleType {
    /// Azure's name: `AKVBuiltInRole` or `CustomRole`.
    pub fn azure_name(self) -> &'static str {
        match self {
            RoleType::BuiltIn => "AKVBuiltInRole",
            RoleType::Custom => "CustomRole",
        }
    }
}

/// A role definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// Its name: a lower-case GUID.
    pub name: String,
    /// Its display name (`Managed HSM Crypto User`).
    pub role_name: String,
    /// What it is for.
    pub description: String,
    /// Built-in or custom.
    pub role_type: RoleType,
    /// What it permits.
    pub permissions: Vec<Permission>,
    /// Where it may be assigned.
    pub assignable_scopes: Vec<Scope>,
}

impl RoleDefinition {
    /// Azure's id: `Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/{name}`.
    pub fn id(&self) -> String {
        format!("{ROLE_DEFINITION_ID_PREFIX}{}", self.name)
    }

    /// Does this role permit `action`? Some block's `dataActions` must match it and no
    /// block's `notDataActions` may (a subtraction applies within the role, never across
    /// roles: another role may still grant the action).
    pub fn grants(&self, action: DataAction) -> bool {
        let name = action.name();
        let any = |f: fn(&Permission) -> &Vec<String>| {
            self.permissions
                .iter()
                .any(|p| f(p).iter().any(|pat| pattern_matches(pat, name)))
        };
        any(|p| &p.data_actions) && !any(|p| &p.not_data_actions)
    }
}

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

fn builtin_role(name: &str) -> Option<&'static RoleDefinition> {
    BUILTINS.iter().find(|d| d.name == name)
}

/// The name (GUID) in a role definition id: Azure's
/// `Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/{guid}`, with or
/// without a leading `/`, or the bare GUID.
pub fn role_definition_name(id: &str) -> Result<String> {
    let name = id
        .trim_start_matches('/')
        .strip_prefix(ROLE_DEFINITION_ID_PREFIX)
        .unwrap_or(id);
    guid(name, "role definition id")
}

fn decode<T: serde::de::DeserializeOwned>(kind: &str, id: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|_| Error::Corrupted {
        record: format!("document {kind}/{id}"),
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("encoding a document: {e}")))
}

/// What a client may set in a custom role definition.
#[derive(Debug, Clone, Default)]
pub struct RoleDefinitionInput {
    /// The display name (empty when absent, as Azure does).
    pub role_name: Option<String>,
    /// The description (empty when absent).
    pub description: Option<String>,
    /// The role type, when given: must be `CustomRole`.
    pub role_type: Option<String>,
    /// The permissions.
    pub permissions: Vec<Permission>,
    /// Where it may be assigned: `/` or `/keys` (default `/`).
    pub assignable_scopes: Option<Vec<String>>,
}

/// All role definitions of a pool: the built-ins, then the custom ones by name.
pub fn list_role_definitions(pool: &Pool) -> Result<Vec<RoleDefinition>> {
    let mut all = BUILTINS.clone();
    for (id, bytes) in pool.list_documents(DEFINITION_KIND)? {
        all.push(decode(DEFINITION_KIND, &id, &bytes)?);
    }
    Ok(all)
}

/// A role definition by name (a GUID), built-in or custom; `None` if there is none.
pub fn get_role_definition(pool: &Pool, name: &str) -> Result<Option<RoleDefinition>> {
    let name = guid(name, "role definition name")?;
    if let Some(d) = builtin_role(&name) {
        return Ok(Some(d.clone()));
    }
    pool.get_document(DEFINITION_KIND, &name)?
        .map(|bytes| decode(DEFINITION_KIND, &name, &bytes))
        .transpose()
}

/// Creates or replaces a custom role definition. Built-in names are refused.
pub fn set_role_definition(
    pool: &Pool,
    name: &str,
    input: RoleDefinitionInput,
) -> Result<RoleDefinition> {
    let name = guid(name, "role definition name")?;
    if builtin_role(&name).is_some() {
        // Azure's words.
        return Err(Error::bad_parameter(
            "Cannot re-use the name/GUID matching that of a built-in role. Please use a unique role ID.",
        ));
    }
    if let Some(t) = &input.role_type
        && t != RoleType::Custom.azure_name()
    {
        return Err(Error::bad_parameter(format!(
            "a role definition's type can only be '{}', not '{t}'",
            RoleType::Custom.azure_name()
        )));
    }
    for p in &input.permissions {
        for a in p.data_actions.iter().chain(&p.not_data_actions) {
            validate_data_action(a)?;
        }
    }
    let assignable_scopes = match input.assignable_scopes {
        None => vec![Scope::All],
        Some(list) if list.is_empty() => vec![Scope::All],
        Some(list) => list
            .iter()
            .map(|s| match Scope::parse(s)? {
                Scope::Key(_) => Err(Error::bad_parameter(
                    "a role definition is assignable at '/' or '/keys' only",
                )),
                scope => Ok(scope),
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let definition = RoleDefinition {
        name: name.clone(),
        role_name: input.role_name.unwrap_or_default(),
        description: input.description.unwrap_or_default(),
        role_type: RoleType::Custom,
        permissions: input.permissions,
        assignable_scopes,
    };
    let _writes = WRITES.lock();
    pool.put_document(DEFINITION_KIND, &name, &encode(&definition)?)?;
    Ok(definition)
}

/// Deletes a custom role definition; `None` if there was none. Built-ins cannot be deleted,
/// and a definition still assigned is a conflict.
pub fn delete_role_definition(pool: &Pool, name: &str) -> Result<Option<RoleDefinition>> {
    let name = guid(name, "role definition name")?;
    if builtin_role(&name).is_some() {
        return Err(Error::bad_parameter("built-in roles cannot be deleted"));
    }
    let _writes = WRITES.lock();
    let Some(definition) = get_role_definition(pool, &name)? else {
        return Ok(None);
    };
    if assignments(pool)?.iter().any(|a| a.role_definition == name) {
        // Azure's words (code RoleDefinitionHasAssignments).
        return Err(Error::Conflict {
            message: "There are existing role assignments referencing role".into(),
        });
    }
    pool.delete_document(DEFINITION_KIND, &name)?;
    Ok(Some(definition))
}

/// A role assignment: a role definition given to a principal at a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Its name: a lower-case GUID.
    pub name: String,
    /// Where it applies.
    pub scope: Scope,
    /// The name (GUID) of the role definition.
    pub role_definition: String,
    /// The principal's object id (a lower-case GUID).
    pub principal_id: String,
}

impl RoleAssignment {
    /// Azure's id of the assignment's role definition.
    pub fn role_definition_id(&self) -> String {
        format!("{ROLE_DEFINITION_ID_PREFIX}{}", self.role_definition)
    }
}

fn assignments(pool: &Pool) -> Result<Vec<RoleAssignment>> {
    pool.list_documents(ASSIGNMENT_KIND)?
        .into_iter()
        .map(|(id, bytes)| decode(ASSIGNMENT_KIND, &id, &bytes))
        .collect()
}

/// Which assignments a list returns (Azure's `$filter`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    /// `atScope()`: only assignments at or above the scope.
    pub at_scope: bool,
    /// `principalId eq '{id}'`: only this principal's.
    pub principal_id: Option<String>,
}

impl AssignmentFilter {
    /// Parses `atScope()`, `principalId eq '{id}'`, or both joined by `and`; empty means
    /// no filter.
    pub fn parse(filter: &str) -> Result<AssignmentFilter> {
        let mut out = AssignmentFilter::default();
        let bad = || Error::bad_parameter(format!("unsupported $filter '{filter}'"));
        if filter.trim().is_empty() {
            return Ok(out);
        }
        for term in split_and(filter) {
            let term = term.trim();
            if term.eq_ignore_ascii_case("atScope()") {
                out.at_scope = true;
                continue;
            }
            let mut words = term.splitn(3, char::is_whitespace);
            let (Some(field), Some(op), Some(value)) = (words.next(), words.next(), words.next())
            else {
                return Err(bad());
            };
            let value = value.trim();
            let quoted = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(bad)?;
            if !field.eq_ignore_ascii_case("principalId") || !op.eq_ignore_ascii_case("eq") {
                return Err(bad());
            }
            out.principal_id = Some(guid(quoted, "principal id")?);
        }
        Ok(out)
    }
}

/// Splits on the word `and` (any case) between terms.
fn split_and(s: &str) -> Vec<&str> {
    let lower = s.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut from = 0;
    while let Some(i) = lower[from..].find(" and ") {
        let at = from + i;
        parts.push(&s[start..at]);
        start = at + 5;
        from = start;
    }
    parts.push(&s[start..]);
    parts
}

/// The assignments of a list at `scope`: those at, above or below it (with `atScope()`,
/// at or above only), optionally of one principal.
pub fn list_role_assignments(
    pool: &Pool,
    scope: &Scope,
    filter: &AssignmentFilter,
) -> Result<Vec<RoleAssignment>> {
    Ok(assignments(pool)?
        .into_iter()
        .filter(|a| {
            let above = a.scope.covers(scope);
            let below = scope.covers(&a.scope);
            (above || (below && !filter.at_scope))
                && filter
                    .principal_id
                    .as_ref()
                    .is_none_or(|p| *p == a.principal_id)
        })
        .collect())
}

/// A role assignment by scope and name; `None` if there is none there.
pub fn get_role_assignment(
    pool: &Pool,
    scope: &Scope,
    name: &str,
) -> Result<Option<RoleAssignment>> {
    let name = guid(name, "role assignment name")?;
    let found = pool
        .get_document(ASSIGNMENT_KIND, &name)?
        .map(|bytes| decode::<RoleAssignment>(ASSIGNMENT_KIND, &name, &bytes))
        .transpose()?;
    Ok(found.filter(|a| a.scope == *scope))
}

/// Creates a role assignment. The definition must exist and be assignable at the scope;
/// repeating a creation with the same values returns the assignment, a name in use with
/// other values is a conflict.
pub fn create_role_assignment(
    pool: &Pool,
    scope: &Scope,
    name: &str,
    role_definition_id: &str,
    principal_id: &str,
) -> Result<RoleAssignment> {
    let name = guid(name, "role assignment name")?;
    let role = role_definition_name(role_definition_id)?;
    let principal_id = guid(principal_id, "principal id")?;
    let _writes = WRITES.lock();
    let definition = get_role_definition(pool, &role)?.ok_or_else(|| {
        Error::bad_parameter(format!(
            "the role definition '{role_definition_id}' does not exist"
        ))
    })?;
    if !definition.assignable_scopes.iter().any(|s| s.covers(scope)) {
        return Err(Error::bad_parameter(format!(
            "the role '{}' cannot be assigned at scope '{scope}'",
            definition.role_name
        )));
    }
    let assignment = RoleAssignment {
        name: name.clone(),
        scope: scope.clone(),
        role_definition: role,
        principal_id,
    };
    if let Some(bytes) = pool.get_document(ASSIGNMENT_KIND, &name)? {
        let existing: RoleAssignment = decode(ASSIGNMENT_KIND, &name, &bytes)?;
        return if existing == assignment {
            Ok(existing)
        } else {
            Err(Error::Conflict {
                message: format!("the role assignment '{name}' already exists with other values"),
            })
        };
    }
    pool.put_document(ASSIGNMENT_KIND, &name, &encode(&assignment)?)?;
    Ok(assignment)
}

/// Deletes a role assignment; `None` if there was none at that scope.
pub fn delete_role_assignment(
    pool: &Pool,
    scope: &Scope,
    name: &str,
) -> Result<Option<RoleAssignment>> {
    let _writes = WRITES.lock();
    let Some(found) = get_role_assignment(pool, scope, name)? else {
        return Ok(None);
    };
    pool.delete_document(ASSIGNMENT_KIND, &found.name)?;
    Ok(Some(found))
}

/// How a pool enforces RBAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every principal may do everything (the default).
    Open,
    /// Every call is checked against the role assignments.
    Strict,
}

#[derive(Serialize, Deserialize)]
struct ModeDoc {
    mode: Mode,
}

/// The pool's mode.
pub fn mode(pool: &Pool) -> Result<Mode> {
    match pool.get_document(MODE_KIND, MODE_ID)? {
        None => Ok(Mode::Open),
        Some(bytes) => Ok(decode::<ModeDoc>(MODE_KIND, MODE_ID, &bytes)?.mode),
    }
}

/// Makes a pool strict, giving each of `admins` (object ids) the Managed HSM Administrator
/// role at `/` unless they have it already. At least one administrator is needed; on a
/// strict pool this adds administrators.
pub fn make_strict(pool: &Pool, admins: &[&str]) -> Result<Vec<RoleAssignment>> {
    if admins.is_empty() {
        return Err(Error::bad_parameter(
            "a strict pool needs at least one administrator",
        ));
    }
    let admins = admins
        .iter()
        .map(|a| guid(a, "administrator object id"))
        .collect::<Result<Vec<_>>>()?;
    let existing = assignments(pool)?;
    let mut made = Vec::new();
    for admin in admins {
        let has = existing.iter().chain(&made).any(|a: &RoleAssignment| {
            a.principal_id == admin && a.scope == Scope::All && a.role_definition == ADMINISTRATOR
        });
        if !has {
            made.push(create_role_assignment(
                pool,
                &Scope::All,
                &new_guid()?,
                ADMINISTRATOR,
                &admin,
            )?);
        }
    }
    // The mode is written last: a failure on the way leaves the pool as it was (open).
    let _writes = WRITES.lock();
    pool.put_document(
        MODE_KIND,
        MODE_ID,
        &encode(&ModeDoc { mode: Mode::Strict })?,
    )?;
    Ok(made)
}

/// May `principal` (an object id; `None` for an anonymous caller) perform `action` at
/// `scope`? In an open pool everyone may; in a strict pool one of the principal's
/// assignments at or above `scope` must grant it. `ForbiddenByRbac` otherwise.
pub fn authorize(
    pool: &Pool,
    principal: Option<&str>,
    action: DataAction,
    scope: &Scope,
) -> Result<()> {
    if mode(pool)? == Mode::Open {
        return Ok(());
    }
    let denied = || Error::ForbiddenByRbac {
        action: action.to_string(),
        scope: scope.to_string(),
    };
    let Some(principal) = principal.filter(|p| is_guid(p)) else {
        return Err(denied());
    };
    let principal = principal.to_ascii_lowercase();
    for a in assignments(pool)? {
        if a.principal_id == principal
            && a.scope.covers(scope)
            && get_role_definition(pool, &a.role_definition)?.is_some_and(|d| d.grants(action))
        {
            return Ok(());
        }
    }
    Err(denied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Tags;
    use crate::{Hsm, HsmConfig, PoolSettings};

    const ALICE: &str = "0b1f5c3e-0000-4000-8000-00000000a11c";
    const BOB: &str = "0b1f5c3e-0000-4000-8000-000000000b0b";
    const CAROL: &str = "0b1f5c3e-0000-4000-8000-0000000ca201";
    const CUSTOM: &str = "c0570000-0000-4000-8000-000000000001";

    fn pool() -> (Hsm, Pool) {
        let hsm = Hsm::open(HsmConfig::in_memory()).unwrap();
        hsm.create_pool("rbac", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("rbac").unwrap();
        (hsm, pool)
    }

    fn key(name: &str) -> Scope {
        Scope::key(name).unwrap()
    }

    fn assign(pool: &Pool, scope: &Scope, role: &str, who: &str) -> RoleAssignment {
        create_role_assignment(pool, scope, &new_guid().unwrap(), role, who).unwrap()
    }

    fn allowed(pool: &Pool, who: Option<&str>, action: DataAction, scope: &Scope) -> bool {
        match authorize(pool, who, action, scope) {
            Ok(()) => true,
            Err(Error::ForbiddenByRbac {
                action: a,
                scope: s,
            }) => {
                assert_eq!((a, s), (action.to_string(), scope.to_string()));
                false
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }

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

    #[test]
    fn guids() {
        assert!(is_guid(ALICE));
        assert!(is_guid("A290E904-7015-4BBA-90C8-60543313CDB4"));
        for bad in [
            "",
            "a290e904701549ba90c860543313cdb4",
            "a290e904-7015-4bba-90c8-60543313cdb",
            "a290e904-7015-4bba-90c8-60543313cdb4x",
            "g290e904-7015-4bba-90c8-60543313cdb4",
            "a290e904_7015-4bba-90c8-60543313cdb4",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
        let g = new_guid().unwrap();
        assert!(is_guid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        assert_ne!(g, new_guid().unwrap());
    }

    #[test]
    fn scopes() {
        assert_eq!(Scope::parse("/").unwrap(), Scope::All);
        assert_eq!(Scope::parse("/keys").unwrap(), Scope::Keys);
        assert_eq!(Scope::parse("/keys/k-1").unwrap(), key("k-1"));
        for bad in [
            "",
            "keys",
            "/keys/",
            "/keys/a/b",
            "/secrets",
            "/keys/a_b",
            "//",
        ] {
            assert!(
                matches!(Scope::parse(bad), Err(Error::BadParameter { .. })),
                "{bad}"
            );
        }
        for s in [Scope::All, Scope::Keys, key("k")] {
            assert_eq!(Scope::parse(&s.to_string()).unwrap(), s);
        }
        let (all, keys, k, other) = (Scope::All, Scope::Keys, key("k"), key("other"));
        assert!(all.covers(&all) && all.covers(&keys) && all.covers(&k));
        assert!(!keys.covers(&all) && keys.covers(&keys) && keys.covers(&k));
        assert!(!k.covers(&all) && !k.covers(&keys) && k.covers(&k) && !k.covers(&other));
        // Key names are compared as the core compares them: exactly.
        assert!(!k.covers(&key("K")));
    }

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

    #[test]
    fn open_pools_let_everyone_in() {
        let (_hsm, pool) = pool();
        assert_eq!(mode(&pool).unwrap(), Mode::Open);
        for a in DataAction::ALL {
            assert!(allowed(&pool, None, *a, &Scope::All));
            assert!(allowed(&pool, Some(ALICE), *a, &key("k")));
        }
    }

    #[test]
    fn strict_pools_check_every_call() {
        let (_hsm, pool) = pool();
        assert!(matches!(
            make_strict(&pool, &[]),
            Err(Error::BadParameter { .. })
        ));
        assert!(matches!(
            make_strict(&pool, &["alice"]),
            Err(Error::BadParameter { .. })
        ));
        assert_eq!(
            mode(&pool).unwrap(),
            Mode::Open,
            "a refused call changes nothing"
        );
        let made = make_strict(&pool, &[&ALICE.to_uppercase()]).unwrap();
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].principal_id, ALICE);
        assert_eq!(made[0].role_definition, ADMINISTRATOR);
        assert_eq!(mode(&pool).unwrap(), Mode::Strict);
        // Again: nothing new for Alice, Bob is added.
        assert_eq!(make_strict(&pool, &[ALICE, BOB]).unwrap().len(), 1);

        // The administrators manage roles but do not use keys.
        assert!(allowed(
            &pool,
            Some(ALICE),
            DataAction::WriteRoleAssignment,
            &Scope::All
        ));
        assert!(allowed(
            &pool,
            Some(&ALICE.to_uppercase()),
            DataAction::ReadRoleDefinition,
            &Scope::All
        ));
        assert!(!allowed(&pool, Some(ALICE), DataAction::Sign, &key("k")));
        // Nobody else, anonymous callers and non-GUID ids included.
        assert!(!allowed(
            &pool,
            Some(CAROL),
            DataAction::ReadRoleDefinition,
            &Scope::All
        ));
        assert!(!allowed(&pool, None, DataAction::ReadKey, &Scope::Keys));
        assert!(!allowed(
            &pool,
            Some("alice"),
            DataAction::ReadKey,
            &Scope::Keys
        ));
    }

    #[test]
    fn scopes_decide_what_an_assignment_reaches() {
        let (_hsm, pool) = pool();
        make_strict(&pool, &[ALICE]).unwrap();
        assign(&pool, &key("k1"), CRYPTO_USER, BOB);
        assign(&pool, &Scope::Keys, CRYPTO_SERVICE_ENCRYPTION_USER, CAROL);

        assert!(allowed(&pool, Some(BOB), DataAction::Sign, &key("k1")));
        assert!(!allowed(&pool, Some(BOB), DataAction::Sign, &key("k2")));
        assert!(!allowed(
            &pool,
            Some(BOB),
            DataAction::ReadKey,
            &Scope::Keys
        ));
        assert!(!allowed(&pool, Some(BOB), DataAction::Random, &Scope::All));

        assert!(allowed(&pool, Some(CAROL), DataAction::Wrap, &key("k1")));
        assert!(allowed(
            &pool,
            Some(CAROL),
            DataAction::ReadKey,
            &Scope::Keys
        ));
        assert!(!allowed(
            &pool,
            Some(CAROL),
            DataAction::ReadKey,
            &Scope::All
        ));
        assert!(!allowed(&pool, Some(CAROL), DataAction::Sign, &key("k1")));

        // At `/`, everything below.
        assign(&pool, &Scope::All, CRYPTO_USER, CAROL);
        assert!(allowed(&pool, Some(CAROL), DataAction::Sign, &key("k9")));
        assert!(allowed(&pool, Some(CAROL), DataAction::Random, &Scope::All));
    }

    #[test]
    fn custom_roles_wildcards_and_not_data_actions() {
        let (_hsm, pool) = pool();
        make_strict(&pool, &[ALICE]).unwrap();
        let input = RoleDefinitionInput {
            role_name: Some("keys but not signing".into()),
            permissions: vec![Permission {
                data_actions: vec!["Microsoft.KeyVault/managedHsm/keys/*".into()],
                not_data_actions: vec![DataAction::Sign.name().into()],
                ..Permission::default()
            }],
            ..RoleDefinitionInput::default()
        };
        let def = set_role_definition(&pool, CUSTOM, input).unwrap();
        assert_eq!(def.role_type, RoleType::Custom);
        assert_eq!(def.assignable_scopes, vec![Scope::All]);
        assert_eq!(def.description, "");
        assign(&pool, &Scope::Keys, CUSTOM, BOB);

        for a in [
            DataAction::ReadKey,
            DataAction::Encrypt,
            DataAction::PurgeDeletedKey,
            DataAction::Verify,
        ] {
            assert!(allowed(&pool, Some(BOB), a, &key("k")), "{a}");
        }
        assert!(!allowed(&pool, Some(BOB), DataAction::Sign, &key("k")));
        assert!(!allowed(&pool, Some(BOB), DataAction::Random, &Scope::All));

        // A subtraction is within its role: another role may still grant the action.
        assign(&pool, &key("k"), CRYPTO_USER, BOB);
        assert!(allowed(&pool, Some(BOB), DataAction::Sign, &key("k")));
        assert!(!allowed(&pool, Some(BOB), DataAction::Sign, &key("j")));

        // A `notDataActions` in a block of its own still subtracts (Azure's SDK tests do this).
        let split = RoleDefinitionInput {
            permissions: vec![
                Permission {
                    data_actions: vec!["*".into()],
                    ..Permission::default()
                },
                Permission {
                    not_data_actions: vec!["*/rng/action".into()],
                    ..Permission::default()
                },
            ],
            ..RoleDefinitionInput::default()
        };
        set_role_definition(&pool, CUSTOM, split).unwrap();
        assert!(allowed(
            &pool,
            Some(BOB),
            DataAction::WriteRoleDefinition,
            &Scope::Keys
        ));
        assert!(!allowed(&pool, Some(BOB), DataAction::Random, &Scope::All));
    }

    #[test]
    fn definitions_list_get_set_delete() {
        let (_hsm, pool) = pool();
        assert_eq!(list_role_definitions(&pool).unwrap().len(), 10);
        assert_eq!(
            get_role_definition(&pool, &CRYPTO_USER.to_uppercase())
                .unwrap()
                .unwrap()
                .role_name,
            "Managed HSM Crypto User"
        );
        assert_eq!(get_role_definition(&pool, CUSTOM).unwrap(), None);

        let input = RoleDefinitionInput {
            role_name: Some("mine".into()),
            description: Some("a test role".into()),
            role_type: Some("CustomRole".into()),
            assignable_scopes: Some(vec!["/keys".into()]),
            permissions: vec![Permission {
                data_actions: vec![DataAction::ReadKey.name().into()],
                ..Permission::default()
            }],
        };
        let def = set_role_definition(&pool, CUSTOM, input.clone()).unwrap();
        assert_eq!(
            get_role_definition(&pool, CUSTOM).unwrap(),
            Some(def.clone())
        );
        let all = list_role_definitions(&pool).unwrap();
        assert_eq!(all.len(), 11);
        assert_eq!(all[10], def);

        // Assignable at /keys only.
        assign(&pool, &key("k"), CUSTOM, BOB);
        let at_root = create_role_assignment(&pool, &Scope::All, &new_guid().unwrap(), CUSTOM, BOB);
        assert!(matches!(at_root, Err(Error::BadParameter { .. })));

        // Assigned: deleting it is a conflict, until the assignment goes.
        assert!(matches!(
            delete_role_definition(&pool, CUSTOM),
            Err(Error::Conflict { .. })
        ));
        for a in list_role_assignments(&pool, &Scope::All, &AssignmentFilter::default()).unwrap() {
            delete_role_assignment(&pool, &a.scope, &a.name)
                .unwrap()
                .unwrap();
        }
        assert_eq!(delete_role_definition(&pool, CUSTOM).unwrap(), Some(def));
        assert_eq!(delete_role_definition(&pool, CUSTOM).unwrap(), None);
        assert_eq!(list_role_definitions(&pool).unwrap().len(), 10);
    }

    #[test]
    fn builtins_are_immutable() {
        let (_hsm, pool) = pool();
        for id in [ADMINISTRATOR, &CRYPTO_USER.to_uppercase()] {
            assert!(matches!(
                set_role_definition(&pool, id, RoleDefinitionInput::default()),
                Err(Error::BadParameter { .. })
            ));
            assert!(matches!(
                delete_role_definition(&pool, id),
                Err(Error::BadParameter { .. })
            ));
        }
        assert_eq!(list_role_definitions(&pool).unwrap(), builtin_roles());
    }

    #[test]
    fn bad_definitions_are_bad_parameters() {
        let (_hsm, pool) = pool();
        let with = |f: fn(&mut RoleDefinitionInput)| {
            let mut input = RoleDefinitionInput::default();
            f(&mut input);
            set_role_definition(&pool, CUSTOM, input)
        };
        let bad: Vec<Result<RoleDefinition>> = vec![
            set_role_definition(&pool, "not-a-guid", RoleDefinitionInput::default()),
            with(|i| i.role_type = Some("AKVBuiltInRole".into())),
            with(|i| i.assignable_scopes = Some(vec!["/keys/k".into()])),
            with(|i| i.assignable_scopes = Some(vec!["/secrets".into()])),
            with(|i| {
                i.permissions = vec![Permission {
                    data_actions: vec!["Microsoft.KeyVault/managedHsm/keys/fly/action".into()],
                    ..Permission::default()
                }]
            }),
            with(|i| {
                i.permissions = vec![Permission {
                    not_data_actions: vec!["Microsoft.Storage/*".into()],
                    ..Permission::default()
                }]
            }),
        ];
        for r in bad {
            assert!(matches!(r, Err(Error::BadParameter { .. })), "{r:?}");
        }
        assert_eq!(get_role_definition(&pool, CUSTOM).unwrap(), None);
        assert!(matches!(
            get_role_definition(&pool, "x"),
            Err(Error::BadParameter { .. })
        ));
    }

    #[test]
    fn assignments_create_get_list_delete() {
        let (_hsm, pool) = pool();
        let name = "aaaaaaaa-0000-4000-8000-000000000001";
        let id = format!("/{ROLE_DEFINITION_ID_PREFIX}{CRYPTO_USER}");
        let a =
            create_role_assignment(&pool, &Scope::Keys, name, &id, &BOB.to_uppercase()).unwrap();
        assert_eq!(a.principal_id, BOB);
        assert_eq!(a.role_definition, CRYPTO_USER);
        assert_eq!(
            a.role_definition_id(),
            format!("{ROLE_DEFINITION_ID_PREFIX}{CRYPTO_USER}")
        );
        // Idempotent with the same values, a conflict with others.
        assert_eq!(
            create_role_assignment(&pool, &Scope::Keys, name, CRYPTO_USER, BOB).unwrap(),
            a
        );
        assert!(matches!(
            create_role_assignment(&pool, &Scope::All, name, CRYPTO_USER, BOB),
            Err(Error::Conflict { .. })
        ));
        assert_eq!(
            get_role_assignment(&pool, &Scope::Keys, name).unwrap(),
            Some(a.clone())
        );
        assert_eq!(
            get_role_assignment(&pool, &Scope::All, name).unwrap(),
            None,
            "another scope"
        );

        let root = assign(&pool, &Scope::All, CRYPTO_AUDITOR, CAROL);
        let k = assign(&pool, &key("k"), CRYPTO_USER, CAROL);
        let other = assign(&pool, &key("other"), CRYPTO_USER, BOB);
        let list = |scope: &Scope, filter: &str| -> Vec<String> {
            let mut names: Vec<String> =
                list_role_assignments(&pool, scope, &AssignmentFilter::parse(filter).unwrap())
                    .unwrap()
                    .into_iter()
                    .map(|a| a.name)
                    .collect();
            names.sort();
            names
        };
        let sorted = |mut v: Vec<&RoleAssignment>| -> Vec<String> {
            v.sort_by(|x, y| x.name.cmp(&y.name));
            v.into_iter().map(|a| a.name.clone()).collect()
        };
        assert_eq!(list(&Scope::All, ""), sorted(vec![&a, &root, &k, &other]));
        assert_eq!(list(&Scope::All, "atScope()"), sorted(vec![&root]));
        assert_eq!(list(&Scope::Keys, "atScope()"), sorted(vec![&a, &root]));
        assert_eq!(list(&key("k"), ""), sorted(vec![&a, &root, &k]));
        assert_eq!(
            list(&Scope::All, &format!("principalId eq '{CAROL}'")),
            sorted(vec![&root, &k])
        );
        assert_eq!(
            list(
                &key("k"),
                &format!("atScope() and principalId eq '{}'", BOB.to_uppercase())
            ),
            sorted(vec![&a])
        );

        assert_eq!(
            delete_role_assignment(&pool, &Scope::Keys, name).unwrap(),
            Some(a)
        );
        assert_eq!(
            delete_role_assignment(&pool, &Scope::Keys, name).unwrap(),
            None
        );
        assert_eq!(
            get_role_assignment(&pool, &Scope::Keys, name).unwrap(),
            None
        );
    }

    #[test]
    fn bad_assignments_are_bad_parameters() {
        let (_hsm, pool) = pool();
        let ok_name = "aaaaaaaa-0000-4000-8000-000000000001";
        for (name, role, who) in [
            ("not-a-guid", CRYPTO_USER, BOB),
            (ok_name, "Managed HSM Crypto User", BOB),
            (
                ok_name,
                "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/x",
                BOB,
            ),
            (ok_name, CUSTOM, BOB), // no such definition
            (ok_name, CRYPTO_USER, "bob@example.com"),
            (ok_name, CRYPTO_USER, ""),
        ] {
            let r = create_role_assignment(&pool, &Scope::All, name, role, who);
            assert!(
                matches!(r, Err(Error::BadParameter { .. })),
                "{name} {role} {who}: {r:?}"
            );
        }
        assert!(
            list_role_assignments(&pool, &Scope::All, &AssignmentFilter::default())
                .unwrap()
                .is_empty()
        );
        for bad in [
            "principalId eq 'x'",
            "principalId eq x",
            "principalId ne '0b1f5c3e-0000-4000-8000-000000000b0b'",
            "roleName eq 'x'",
            "atScope",
            "atScope() or atScope()",
        ] {
            assert!(
                matches!(
                    AssignmentFilter::parse(bad),
                    Err(Error::BadParameter { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            get_role_assignment(&pool, &Scope::All, "nope"),
            Err(Error::BadParameter { .. })
        ));
    }

    #[test]
    fn rbac_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
            hsm.create_pool("rbac", PoolSettings::default(), Tags::new())
                .unwrap();
            let pool = hsm.pool("rbac").unwrap();
            make_strict(&pool, &[ALICE]).unwrap();
            assign(&pool, &Scope::Keys, CRYPTO_USER, BOB);
        }
        let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
        let pool = hsm.pool("rbac").unwrap();
        assert_eq!(mode(&pool).unwrap(), Mode::Strict);
        assert!(allowed(&pool, Some(BOB), DataAction::Sign, &key("k")));
        assert!(!allowed(&pool, Some(CAROL), DataAction::Sign, &key("k")));
    }
}
