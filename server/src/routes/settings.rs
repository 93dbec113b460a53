//! The `/settings` routes: the pool's settings in Azure's shape.

use axum::http::Method;
use hsm_core::Pool;
use hsm_core::rbac::{DataAction as A, Scope};
use mhsm_wire::settings::{SettingBody, SettingUpdate, SettingsList};

use super::{Request, Routed, body, ok};
use crate::error::ApiError;

/// The settings routes' table. Reading them takes the right to read role definitions,
/// changing them the right to write them (what Azure asks).
pub fn route(req: &Request, segments: &[&str]) -> Routed {
    let (pool, allow) = (req.ctx.pool, req.allow);
    let response = match (req.method.clone(), segments) {
        (Method::GET, ["settings"] | ["settings", ""]) => {
            allow(A::ReadRoleDefinition, &Scope::All)?;
            ok(list(pool)?)
        }
        (Method::GET, ["settings", name]) => {
            allow(A::ReadRoleDefinition, &Scope::All)?;
            ok(get(pool, name)?)
        }
        (Method::PATCH, ["settings", name]) => {
            allow(A::WriteRoleDefinition, &Scope::All)?;
            ok(update(pool, name, req.body)?)
        }
        _ => return Ok(None),
    };
    Ok(Some(response))
}

/// `GET /settings`.
pub fn list(pool: &Pool) -> Result<SettingsList, ApiError> {
    let settings = pool.settings()?.iter().map(SettingBody::of).collect();
    Ok(SettingsList { settings })
}

/// `GET /settings/{name}`.
pub fn get(pool: &Pool, name: &str) -> Result<SettingBody, ApiError> {
    Ok(SettingBody::of(&pool.setting(name)?))
}

/// `PATCH /settings/{name}`.
pub fn update(pool: &Pool, name: &str, bytes: &[u8]) -> Result<SettingBody, ApiError> {
    let req: SettingUpdate = body(bytes)?;
    Ok(SettingBody::of(&pool.update_setting(name, &req.value)?))
}
