//! Role assignments: a definition given to a principal at a scope, stored as pool documents;
//! Azure's `$filter` on their list.

use serde::{Deserialize, Serialize};

use super::ids::guid;
use super::roles::{get_role_definition, role_definition_name};
use super::scope::Scope;
use super::{ASSIGNMENT_KIND, ROLE_DEFINITION_ID_PREFIX, WRITES, decode, encode};
use crate::error::{Error, Result};
use crate::pool::Pool;

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

/// Every assignment of the pool.
pub(super) fn assignments(pool: &Pool) -> Result<Vec<RoleAssignment>> {
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
