//! The RBAC routes, `/{scope}/providers/Microsoft.Authorization/roleDefinitions[/{name}]` and
//! `.../roleAssignments[/{name}]` for the scopes `/`, `/keys` and `/keys/{name}`: JSON in,
//! [`hsm_core::rbac`] calls, Azure-shaped JSON out. The rules (built-in roles, validation,
//! filters, what a role grants) are the core's; each route names the data action it needs,
//! like every other route.

use axum::http::{Method, StatusCode};
use hsm_core::Pool;
use hsm_core::rbac::{self, AssignmentFilter, DataAction as A, Scope};
use mhsm_wire::rbac::{
    RoleAssignmentBody, RoleAssignmentCreate, RoleDefinitionBody, RoleDefinitionCreate, ValueList,
};

use super::{Request, Routed, body, created, ok};
use crate::error::ApiError;

const P: &str = "providers";
const AUTHZ: &str = "Microsoft.Authorization";

/// The RBAC routes' table. Their paths carry a scope (`/`, `/keys`, `/keys/{name}`) before
/// `providers`, so they are matched before the key routes.
pub fn route(req: &Request, segments: &[&str]) -> Routed {
    let (pool, allow, query) = (req.ctx.pool, req.allow, req.query);
    let response = match (req.method.clone(), segments) {
        (
            Method::GET,
            [s @ .., P, AUTHZ, "roleDefinitions"] | [s @ .., P, AUTHZ, "roleDefinitions", ""],
        ) => {
            let scope = scope(s)?;
            allow(A::ReadRoleDefinition, &scope)?;
            ok(list_definitions(pool, &scope, query)?)
        }
        (Method::GET, [s @ .., P, AUTHZ, "roleDefinitions", name]) => {
            let scope = scope(s)?;
            allow(A::ReadRoleDefinition, &scope)?;
            ok(get_definition(pool, &scope, name)?)
        }
        (Method::PUT, [s @ .., P, AUTHZ, "roleDefinitions", name]) => {
            let scope = scope(s)?;
            allow(A::WriteRoleDefinition, &scope)?;
            created(set_definition(pool, &scope, name, req.body)?)
        }
        (Method::DELETE, [s @ .., P, AUTHZ, "roleDefinitions", name]) => {
            let scope = scope(s)?;
            allow(A::DeleteRoleDefinition, &scope)?;
            ok(delete_definition(pool, &scope, name)?)
        }
        (
            Method::GET,
            [s @ .., P, AUTHZ, "roleAssignments"] | [s @ .., P, AUTHZ, "roleAssignments", ""],
        ) => {
            let scope = scope(s)?;
            allow(A::ReadRoleAssignment, &scope)?;
            ok(list_assignments(pool, &scope, query)?)
        }
        (Method::GET, [s @ .., P, AUTHZ, "roleAssignments", name]) => {
            let scope = scope(s)?;
            allow(A::ReadRoleAssignment, &scope)?;
            ok(get_assignment(pool, &scope, name)?)
        }
        (Method::PUT, [s @ .., P, AUTHZ, "roleAssignments", name]) => {
            let scope = scope(s)?;
            allow(A::WriteRoleAssignment, &scope)?;
            created(create_assignment(pool, &scope, name, req.body)?)
        }
        (Method::DELETE, [s @ .., P, AUTHZ, "roleAssignments", name]) => {
            let scope = scope(s)?;
            allow(A::DeleteRoleAssignment, &scope)?;
            ok(delete_assignment(pool, &scope, name)?)
        }
        (_, [.., P, AUTHZ, _] | [.., P, AUTHZ, _, _]) => return Err(req.no_route()),
        _ => return Ok(None),
    };
    Ok(Some(response))
}

/// The scope named by the path segments before `providers` (none for `/`).
pub fn scope(segments: &[&str]) -> Result<Scope, ApiError> {
    Ok(Scope::parse(&format!("/{}", segments.join("/")))?)
}

/// The `$filter` query parameter, if any.
fn filter(query: &[(String, String)]) -> Option<&str> {
    query
        .iter()
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.as_str())
}

/// Role definitions live at `/` in a Managed HSM (only lists may name another scope).
fn definitions_scope(scope: &Scope) -> Result<(), ApiError> {
    if *scope == Scope::All {
        Ok(())
    } else {
        Err(ApiError::bad_parameter(format!(
            "role definitions are managed at scope '/', not '{scope}'"
        )))
    }
}

fn definition_not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "RoleDefinitionNotFound",
        format!("Requested role definition '{name}' not found"),
    )
}

fn assignment_not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "RoleAssignmentNotFound",
        format!("Requested role assignment '{name}' not found"),
    )
}

/// The role name a `$filter=roleName eq '...'` asks for (OData quotes: `''` is `'`);
/// `atScopeAndBelow()` changes nothing here (definitions all live at `/`).
fn role_name_filter(filter: &str) -> Result<Option<String>, ApiError> {
    let bad = || ApiError::bad_parameter(format!("unsupported $filter '{filter}'"));
    let f = filter.trim();
    if f.is_empty() || f.eq_ignore_ascii_case("atScopeAndBelow()") {
        return Ok(None);
    }
    let (field, rest) = f.split_once(char::is_whitespace).ok_or_else(bad)?;
    let (op, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(bad)?;
    if !field.eq_ignore_ascii_case("roleName") || !op.eq_ignore_ascii_case("eq") {
        return Err(bad());
    }
    let quoted = value
        .trim()
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(bad)?;
    Ok(Some(quoted.replace("''", "'")))
}

/// `GET /{scope}/providers/Microsoft.Authorization/roleDefinitions`.
pub fn list_definitions(
    pool: &Pool,
    _scope: &Scope,
    query: &[(String, String)],
) -> Result<ValueList<RoleDefinitionBody>, ApiError> {
    let wanted = filter(query).map(role_name_filter).transpose()?.flatten();
    let value = rbac::list_role_definitions(pool)?
        .iter()
        .filter(|d| wanted.as_ref().is_none_or(|n| *n == d.role_name))
        .map(RoleDefinitionBody::of)
        .collect();
    Ok(ValueList { value })
}

/// `GET /{scope}/providers/Microsoft.Authorization/roleDefinitions/{name}`.
pub fn get_definition(
    pool: &Pool,
    scope: &Scope,
    name: &str,
) -> Result<RoleDefinitionBody, ApiError> {
    definitions_scope(scope)?;
    let d = rbac::get_role_definition(pool, name)?.ok_or_else(|| definition_not_found(name))?;
    Ok(RoleDefinitionBody::of(&d))
}

/// `PUT /{scope}/providers/Microsoft.Authorization/roleDefinitions/{name}` (answered 201).
pub fn set_definition(
    pool: &Pool,
    scope: &Scope,
    name: &str,
    bytes: &[u8],
) -> Result<RoleDefinitionBody, ApiError> {
    definitions_scope(scope)?;
    let input = body::<RoleDefinitionCreate>(bytes)?.into_core();
    let d = rbac::set_role_definition(pool, name, input)?;
    Ok(RoleDefinitionBody::of(&d))
}

/// `DELETE /{scope}/providers/Microsoft.Authorization/roleDefinitions/{name}`.
pub fn delete_definition(
    pool: &Pool,
    scope: &Scope,
    name: &str,
) -> Result<RoleDefinitionBody, ApiError> {
    definitions_scope(scope)?;
    let d = rbac::delete_role_definition(pool, name)?.ok_or_else(|| definition_not_found(name))?;
    Ok(RoleDefinitionBody::of(&d))
}

/// `GET /{scope}/providers/Microsoft.Authorization/roleAssignments[?$filter=...]`.
pub fn list_assignments(
    pool: &Pool,
    scope: &Scope,
    query: &[(String, String)],
) -> Result<ValueList<RoleAssignmentBody>, ApiError> {
    let filter = AssignmentFilter::parse(filter(query).unwrap_or(""))?;
    let value = rbac::list_role_assignments(pool, scope, &filter)?
        .iter()
        .map(RoleAssignmentBody::of)
        .collect();
    Ok(ValueList { value })
}

/// `GET /{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
pub fn get_assignment(
    pool: &Pool,
    scope: &Scope,
    name: &str,
) -> Result<RoleAssignmentBody, ApiError> {
    let a =
        rbac::get_role_assignment(pool, scope, name)?.ok_or_else(|| assignment_not_found(name))?;
    Ok(RoleAssignmentBody::of(&a))
}

/// `PUT /{scope}/providers/Microsoft.Authorization/roleAssignments/{name}` (answered 201).
pub fn create_assignment(
    pool: &Pool,
    scope: &Scope,
    name: &str,
    bytes: &[u8],
) -> Result<RoleAssignmentBody, ApiError> {
    let p = body::<RoleAssignmentCreate>(bytes)?.properties;
    let a =
        rbac::create_role_assignment(pool, scope, name, &p.role_definition_id, &p.principal_id)?;
    Ok(RoleAssignmentBody::of(&a))
}

/// `DELETE /{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
pub fn delete_assignment(
    pool: &Pool,
    scope: &Scope,
    name: &str,
) -> Result<RoleAssignmentBody, ApiError> {
    let a = rbac::delete_role_assignment(pool, scope, name)?
        .ok_or_else(|| assignment_not_found(name))?;
    Ok(RoleAssignmentBody::of(&a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_from_segments() {
        assert_eq!(scope(&[]).unwrap(), Scope::All);
        assert_eq!(scope(&["keys"]).unwrap(), Scope::Keys);
        assert_eq!(scope(&["keys", "k1"]).unwrap(), Scope::Key("k1".into()));
        for bad in [&["secrets"][..], &["keys", ""], &["keys", "a", "b"]] {
            let e = scope(bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "BadParameter")
            );
        }
    }

    #[test]
    fn role_name_filters() {
        assert_eq!(role_name_filter("").unwrap(), None);
        assert_eq!(role_name_filter("atScopeAndBelow()").unwrap(), None);
        assert_eq!(
            role_name_filter("roleName eq 'Managed HSM Crypto User'").unwrap(),
            Some("Managed HSM Crypto User".into())
        );
        assert_eq!(
            role_name_filter("rolename  EQ 'it''s'").unwrap(),
            Some("it's".into())
        );
        for bad in [
            "roleName eq x",
            "roleName ne 'x'",
            "type eq 'x'",
            "roleName",
        ] {
            assert!(role_name_filter(bad).is_err(), "{bad}");
        }
    }
}
