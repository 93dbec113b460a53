//! Role definitions and assignments (`/{scope}/providers/Microsoft.Authorization/...`).
//! Their ids are Azure's, which do not name the host.

use hsm_core::rbac::{Permission, RoleAssignment, RoleDefinition, RoleDefinitionInput, Scope};
use serde::{Deserialize, Serialize};

pub use crate::key::ValueList;

/// A role definition's permission block, as Azure shows and takes it.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PermissionBody {
    /// Control-plane actions.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Data actions.
    #[serde(default)]
    pub data_actions: Vec<String>,
    /// Control-plane actions taken out.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Data actions taken out.
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

impl From<&Permission> for PermissionBody {
    fn from(p: &Permission) -> PermissionBody {
        PermissionBody {
            actions: p.actions.clone(),
            data_actions: p.data_actions.clone(),
            not_actions: p.not_actions.clone(),
            not_data_actions: p.not_data_actions.clone(),
        }
    }
}

impl From<PermissionBody> for Permission {
    fn from(p: PermissionBody) -> Permission {
        Permission {
            actions: p.actions,
            not_actions: p.not_actions,
            data_actions: p.data_actions,
            not_data_actions: p.not_data_actions,
        }
    }
}

/// `RoleDefinitionProperties`, as shown and as taken (every field optional on input).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    /// Where it may be assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignable_scopes: Option<Vec<String>>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<PermissionBody>>,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// `AKVBuiltInRole` or `CustomRole`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub role_type: Option<String>,
}

/// `RoleDefinition`: the id is Azure's, the same in every pool and host.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RoleDefinitionBody {
    /// `/providers/Microsoft.Authorization/roleDefinitions/{name}`.
    pub id: String,
    /// The definition's name (a GUID).
    pub name: String,
    /// The properties.
    pub properties: RoleDefinitionProperties,
    /// `Microsoft.Authorization/roleDefinitions`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl RoleDefinitionBody {
    /// The body of a role definition.
    pub fn of(d: &RoleDefinition) -> RoleDefinitionBody {
        RoleDefinitionBody {
            id: d.id(),
            name: d.name.clone(),
            properties: RoleDefinitionProperties {
                assignable_scopes: Some(d.assignable_scopes.iter().map(Scope::to_string).collect()),
                description: Some(d.description.clone()),
                permissions: Some(d.permissions.iter().map(PermissionBody::from).collect()),
                role_name: Some(d.role_name.clone()),
                role_type: Some(d.role_type.azure_name().into()),
            },
            kind: "Microsoft.Authorization/roleDefinitions".into(),
        }
    }
}

/// `RoleDefinitionCreateParameters`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RoleDefinitionCreate {
    /// The properties a client sets.
    pub properties: RoleDefinitionProperties,
}

impl RoleDefinitionCreate {
    /// What the core's `set_role_definition` takes.
    pub fn into_core(self) -> RoleDefinitionInput {
        let p = self.properties;
        RoleDefinitionInput {
            role_name: p.role_name,
            description: p.description,
            role_type: p.role_type,
            permissions: p
                .permissions
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            assignable_scopes: p.assignable_scopes,
        }
    }
}

/// `RoleAssignmentPropertiesWithScope`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    /// The principal's object id.
    pub principal_id: String,
    /// The role definition's id.
    pub role_definition_id: String,
    /// `/`, `/keys` or `/keys/{name}`.
    pub scope: String,
}

/// `RoleAssignment`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RoleAssignmentBody {
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    pub id: String,
    /// The assignment's name.
    pub name: String,
    /// The properties.
    pub properties: RoleAssignmentProperties,
    /// `Microsoft.Authorization/roleAssignments`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl RoleAssignmentBody {
    /// The body of a role assignment. Its id is built from its scope as Azure builds it:
    /// `/providers/...` at `/`, `/keys/providers/...` at `/keys`.
    pub fn of(a: &RoleAssignment) -> RoleAssignmentBody {
        let prefix = match a.scope {
            Scope::All => String::new(),
            ref s => s.to_string(),
        };
        RoleAssignmentBody {
            id: format!(
                "{prefix}/providers/Microsoft.Authorization/roleAssignments/{}",
                a.name
            ),
            name: a.name.clone(),
            properties: RoleAssignmentProperties {
                principal_id: a.principal_id.clone(),
                role_definition_id: a.role_definition_id(),
                scope: a.scope.to_string(),
            },
            kind: "Microsoft.Authorization/roleAssignments".into(),
        }
    }
}

/// `RoleAssignmentCreateParameters`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RoleAssignmentCreate {
    /// Both required.
    pub properties: RoleAssignmentCreateProperties,
}

/// `RoleAssignmentProperties` of a creation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentCreateProperties {
    /// The role definition's id.
    pub role_definition_id: String,
    /// The principal's object id.
    pub principal_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definitions_take_partial_properties() {
        let body: RoleDefinitionCreate = crate::parse(
            br#"{"properties":{"roleName":"r","permissions":[{"dataActions":["a"]}]}}"#,
        )
        .unwrap();
        let input = body.into_core();
        assert_eq!(input.role_name.as_deref(), Some("r"));
        assert_eq!(input.permissions[0].data_actions, ["a"]);
        assert!(input.description.is_none() && input.assignable_scopes.is_none());
        let shown = PermissionBody::from(&input.permissions[0]);
        assert_eq!(
            serde_json::to_string(&shown).unwrap(),
            json!(shown).to_string()
        );
        assert!(
            crate::parse::<RoleAssignmentCreate>(br#"{"properties":{"principalId":"p"}}"#).is_err()
        );
    }
}
