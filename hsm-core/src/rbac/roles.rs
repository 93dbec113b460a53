//! Role definitions: the types, and the custom definitions stored as pool documents.

use serde::{Deserialize, Serialize};

use super::actions::{DataAction, pattern_matches, validate_data_action};
use super::assignments::assignments;
use super::builtin::{builtin_role, builtin_roles};
use super::ids::guid;
use super::scope::Scope;
use super::{DEFINITION_KIND, ROLE_DEFINITION_ID_PREFIX, WRITES, decode, encode};
use crate::error::{Error, Result};
use crate::pool::Pool;

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
    let mut all = builtin_roles().to_vec();
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
