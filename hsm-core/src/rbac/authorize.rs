//! The pool's mode (open or strict) and the one check of every call, [`authorize`].

use serde::{Deserialize, Serialize};

use super::actions::DataAction;
use super::assignments::{RoleAssignment, assignments, create_role_assignment};
use super::builtin::ADMINISTRATOR;
use super::ids::{guid, is_guid, new_guid};
use super::roles::get_role_definition;
use super::scope::Scope;
use super::{MODE_ID, MODE_KIND, WRITES, decode, encode};
use crate::error::{Error, Result};
use crate::pool::Pool;

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

/// The documents that make a new pool strict with `admins` as its administrators (each an
/// assignment of the Administrator role at `/`), for a pool created in one commit
/// ([`crate::Hsm::create_pool_with`]): (kind, id, value). None for no administrators.
pub(crate) fn strict_documents(admins: &[String]) -> Result<Vec<(&'static str, String, Vec<u8>)>> {
    if admins.is_empty() {
        return Ok(Vec::new());
    }
    let mut principals = Vec::new();
    for a in admins {
        let admin = guid(a, "administrator object id")?;
        if !principals.contains(&admin) {
            principals.push(admin);
        }
    }
    let mut docs = Vec::new();
    for principal_id in principals {
        let name = new_guid()?;
        let assignment = RoleAssignment {
            name: name.clone(),
            scope: Scope::All,
            role_definition: ADMINISTRATOR.to_string(),
            principal_id,
        };
        docs.push((super::ASSIGNMENT_KIND, name, encode(&assignment)?));
    }
    let mode = encode(&ModeDoc { mode: Mode::Strict })?;
    docs.push((MODE_KIND, MODE_ID.to_string(), mode));
    Ok(docs)
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
