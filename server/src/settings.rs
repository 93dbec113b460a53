//! The `/settings` routes: the pool's settings in Azure's shape.

use hsm_core::Pool;
use hsm_core::settings::Setting;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::keys::body;

fn setting_json(s: &Setting) -> Value {
    json!({ "name": s.name, "value": s.value, "type": s.kind.name() })
}

/// `GET /settings`.
pub fn list(pool: &Pool) -> Result<Value, ApiError> {
    let all: Vec<Value> = pool.settings()?.iter().map(setting_json).collect();
    Ok(json!({ "settings": all }))
}

/// `GET /settings/{name}`.
pub fn get(pool: &Pool, name: &str) -> Result<Value, ApiError> {
    Ok(setting_json(&pool.setting(name)?))
}

#[derive(Deserialize)]
struct UpdateIn {
    value: String,
}

/// `PATCH /settings/{name}`.
pub fn update(pool: &Pool, name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let req: UpdateIn = body(bytes)?;
    Ok(setting_json(&pool.update_setting(name, &req.value)?))
}
