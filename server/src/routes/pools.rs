//! Pool management: one implementation behind both the `mhsm pool ...` commands (run on the
//! data directory directly when no server holds it) and the management API the server
//! offers under the vendor path `/mhsm/` (which the commands use when a server runs).
//!
//! Management API (bearer token required; when the default pool is strict, only its
//! administrators may manage pools):
//! - `GET /mhsm/pools`, `POST /mhsm/pools` (201), `GET|DELETE /mhsm/pools/{name}`
//! - `GET /mhsm/deletedpools`, `POST /mhsm/deletedpools/{name}/recover`,
//!   `DELETE /mhsm/deletedpools/{name}` (purge, 204)
//! - `POST /mhsm/time-shift` `{"seconds": N}` — only with `mhsm serve --test-hooks`.

use hsm_core::pin::{InitialPins, PinPolicy};
use hsm_core::time::OffsetClock;
use hsm_core::{Error as CoreError, Hsm, NewPool, PoolInfo, PoolSettings};
pub use mhsm_wire::pools::PoolCreate;
use mhsm_wire::pools::{PoolBody, TimeShift, TimeShifted, ValueList};
use serde_json::Value;

use super::body;
use crate::error::ApiError;

/// Creates a pool with its settings, administrators, PIN policy and PINs: one commit of the
/// core, so a refusal leaves nothing behind.
pub fn create(hsm: &Hsm, req: &PoolCreate) -> Result<PoolInfo, CoreError> {
    let settings = PoolSettings {
        soft_delete_retention_days: req.retention_days.unwrap_or(90),
        purge_protection: req.purge_protection,
    };
    let new = NewPool {
        pins: InitialPins {
            policy: req.pin_policy.map(PinPolicy::from),
            so: req.so_pin.as_deref().map(str::as_bytes),
            user: req.user_pin.as_deref().map(str::as_bytes),
        },
        admins: req.admins.clone(),
    };
    hsm.create_pool_with(&req.name, settings, req.tags.clone(), &new)
}

/// A pool as the management API shows it.
pub fn pool_json(hsm: &Hsm, info: &PoolInfo) -> PoolBody {
    let strict = hsm
        .pool(&info.name)
        .ok()
        .and_then(|p| hsm_core::rbac::mode(&p).ok())
        .map(|m| m == hsm_core::rbac::Mode::Strict);
    PoolBody::of(info, strict)
}

/// A wire body as the JSON value the management routes answer.
fn value(body: impl serde::Serialize) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

fn pool_list(hsm: &Hsm, pools: &[PoolInfo]) -> Value {
    value(ValueList {
        value: pools.iter().map(|p| pool_json(hsm, p)).collect(),
    })
}

/// The management routes; `segments` follow `/mhsm/`. `Ok(None)`: 204.
pub fn route(
    hsm: &Hsm,
    clock: Option<&OffsetClock>,
    method: &axum::http::Method,
    segments: &[&str],
    bytes: &[u8],
) -> Result<(axum::http::StatusCode, Option<Value>), ApiError> {
    use axum::http::{Method, StatusCode};
    let ok = |v: Value| Ok((StatusCode::OK, Some(v)));
    let pool = |info: &PoolInfo| value(pool_json(hsm, info));
    match (method.clone(), segments) {
        (Method::GET, ["pools"]) => ok(pool_list(hsm, &hsm.list_pools()?)),
        (Method::POST, ["pools"]) => {
            let req: PoolCreate = body(bytes)?;
            let info = create(hsm, &req)?;
            Ok((StatusCode::CREATED, Some(pool(&info))))
        }
        (Method::GET, ["pools", name]) => ok(pool(&hsm.get_pool(name)?)),
        (Method::DELETE, ["pools", name]) => ok(pool(&hsm.delete_pool(name)?)),
        (Method::GET, ["deletedpools"]) => ok(pool_list(hsm, &hsm.list_deleted_pools()?)),
        (Method::GET, ["deletedpools", name]) => ok(pool(&hsm.get_deleted_pool(name)?)),
        (Method::POST, ["deletedpools", name, "recover"]) => ok(pool(&hsm.recover_pool(name)?)),
        (Method::DELETE, ["deletedpools", name]) => {
            hsm.purge_pool(name)?;
            Ok((StatusCode::NO_CONTENT, None))
        }
        (Method::POST, ["time-shift"]) => {
            let clock = clock.ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the time shift is a test hook: start the server with --test-hooks",
                )
            })?;
            let shift: TimeShift = body(bytes)?;
            let now = clock.advance(shift.seconds)?;
            // Purges and rotations that came due happen now, not at the next timer tick.
            hsm.maintain()?;
            ok(value(TimeShifted {
                now: now.0,
                offset: clock.offset(),
            }))
        }
        _ => Err(ApiError::no_route(
            method.as_str(),
            &format!("/mhsm/{}", segments.join("/")),
        )),
    }
}
