//! Error answers back into core errors.
//!
//! mhsm puts the core error itself in `innererror` (serialized: `code` and the variant's
//! fields), read back whole. A real Managed HSM has none: then the status and Azure's code
//! decide, with the names the request knew.

use hsm_core::Error;
use hsm_core::key::KeyOperation;
use hsm_core::rbac::DataAction;
use mhsm_wire::ErrorEnvelope;

/// What the request was about, to fill in the rebuilt error.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    /// The pool addressed.
    pub pool: &'a str,
    /// The key, if the request named one.
    pub key: Option<&'a str>,
    /// The key operation asked for, if any.
    pub op: Option<KeyOperation>,
    /// The data action the server checks for this request.
    pub action: DataAction,
    /// The algorithm name sent, if any.
    pub alg: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// A request on the pool as a whole.
    pub fn pool(pool: &'a str, action: DataAction) -> Context<'a> {
        Context {
            pool,
            key: None,
            op: None,
            action,
            alg: None,
        }
    }

    /// A request on a key.
    pub fn key(pool: &'a str, key: &'a str, action: DataAction) -> Self {
        Context {
            key: Some(key),
            ..Context::pool(pool, action)
        }
    }

    /// With the key operation and algorithm of a crypto request.
    pub fn crypto(mut self, op: KeyOperation, alg: Option<&'a str>) -> Self {
        self.op = Some(op);
        self.alg = alg;
        self
    }
}

/// The Azure error code of an error answer (empty when the body is not one).
pub(super) fn azure_code(body: &[u8]) -> String {
    ErrorEnvelope::read(body).error.code.into_owned()
}

/// The core error of an error answer (4xx; 5xx and 429 never get here).
pub(super) fn decode(status: u16, body: &[u8], ctx: &Context) -> Error {
    let e = ErrorEnvelope::read(body).error;
    if let Some(err) = e.core_error() {
        return from_server(err);
    }
    by_status(status, &e.code, e.inner_code(), &e.message, ctx)
}

/// A core error of the server's, as this process reports it: the server's own failures
/// (its store, its root key) are nothing the caller can act on but report.
fn from_server(err: Error) -> Error {
    match err {
        Error::StoreLocked { .. }
        | Error::RootKeyMismatch { .. }
        | Error::RootKey { .. }
        | Error::Corrupted { .. }
        | Error::Storage { .. }
        | Error::RandomFailure
        | Error::Internal { .. } => Error::Internal {
            message: format!("the server failed: {err}"),
        },
        other => other,
    }
}

fn rbac(ctx: &Context) -> Error {
    Error::ForbiddenByRbac {
        action: ctx.action.to_string(),
        scope: match ctx.key {
            Some(k) => format!("/keys/{k}"),
            None => "/".to_string(),
        },
    }
}

/// A server without mhsm's `innererror` (a real Managed HSM): the status and Azure's code
/// decide, with what the request named (pool, key, operation). Azure tells a disabled key
/// from a refused operation only in its message's words.
fn by_status(status: u16, code: &str, inner: &str, message: &str, ctx: &Context) -> Error {
    let access = |c: &str| matches!(c, "ForbiddenByRbac" | "AccessDenied" | "Unauthorized");
    let lower = message.to_ascii_lowercase();
    match status {
        400 | 413 | 422 => match ctx.alg {
            // A vendor name meets a server that does not know it.
            Some(alg) if alg.starts_with("MHSM-") => Error::UnsupportedAlgorithm {
                algorithm: alg.to_string(),
            },
            _ => Error::BadParameter {
                message: message.to_string(),
            },
        },
        401 => rbac(ctx),
        403 if access(code) || access(inner) || lower.contains("not authorized") => rbac(ctx),
        403 if lower.contains("disabled") && ctx.key.is_some() => Error::KeyDisabled {
            name: ctx.key.unwrap_or_default().to_string(),
        },
        403 => match (ctx.key, ctx.op) {
            (Some(k), Some(op)) => Error::OperationNotPermitted {
                name: k.to_string(),
                operation: op.to_string(),
            },
            _ => rbac(ctx),
        },
        404 => match ctx.key {
            Some(k) => Error::KeyNotFound {
                name: k.to_string(),
            },
            None => Error::PoolNotFound {
                name: ctx.pool.to_string(),
            },
        },
        409 => Error::Conflict {
            message: message.to_string(),
        },
        _ => Error::Internal {
            message: format!("unexpected answer {status} {code}: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsm_core::time::UnixTime;
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context::key("p", "k1", DataAction::Sign).crypto(KeyOperation::Sign, None)
    }

    fn answer(code: &str, message: &str, inner: Option<serde_json::Value>) -> Vec<u8> {
        let mut e = json!({ "error": { "code": code, "message": message } });
        if let Some(i) = inner {
            e["error"]["innererror"] = i;
        }
        e.to_string().into_bytes()
    }

    #[test]
    fn inner_codes_rebuild_every_variant_the_server_sends() {
        let c = ctx();
        for (status, original) in [
            (404, Error::KeyNotFound { name: "k1".into() }),
            (
                404,
                Error::KeyVersionNotFound {
                    name: "k1".into(),
                    version: "v1".into(),
                },
            ),
            (404, Error::PoolNotFound { name: "p".into() }),
            (403, Error::KeyDisabled { name: "k1".into() }),
            (
                403,
                Error::KeyExpired {
                    name: "k1".into(),
                    expires: UnixTime(1_700_000_000),
                },
            ),
            (
                403,
                Error::KeyNotYetValid {
                    name: "k1".into(),
                    not_before: UnixTime(1_800_000_000),
                },
            ),
            (
                403,
                Error::OperationNotPermitted {
                    name: "k1".into(),
                    operation: "decrypt".into(),
                },
            ),
            (
                403,
                Error::ForbiddenByRbac {
                    action: DataAction::Encrypt.to_string(),
                    scope: "/keys/k1".into(),
                },
            ),
            (403, Error::NotExportable { name: "k1".into() }),
            (
                409,
                Error::Conflict {
                    message: "key 'k1' exists".into(),
                },
            ),
            (
                400,
                Error::BadParameter {
                    message: "nope".into(),
                },
            ),
            (
                400,
                Error::InvalidInputLength {
                    message: "32 bytes".into(),
                },
            ),
            (400, Error::DecryptionFailed),
            (401, Error::PinIncorrect { remaining: 3 }),
            (401, Error::PinLocked),
            (401, Error::PinNotInitialized),
            (
                400,
                Error::PinInvalid {
                    message: "short".into(),
                },
            ),
        ] {
            let inner = serde_json::to_value(&original).unwrap();
            // The message plays no part.
            let body = answer("Whatever", "some words", Some(inner));
            assert_eq!(decode(status, &body, &c), original);
        }
    }

    #[test]
    fn the_servers_own_failures_are_reported_as_internal() {
        let inner = serde_json::to_value(Error::Storage {
            message: "disk full".into(),
        })
        .unwrap();
        let body = answer("InternalServerError", "x", Some(inner));
        assert!(matches!(
            decode(400, &body, &ctx()),
            Error::Internal { message } if message.contains("disk full")
        ));
    }

    #[test]
    fn azure_answers_without_inner_codes_map_by_status() {
        let c = ctx();
        let d = |status, code: &str, msg: &str| decode(status, &answer(code, msg, None), &c);
        assert!(matches!(d(404, "KeyNotFound", "x"), Error::KeyNotFound { name } if name == "k1"));
        assert!(matches!(
            d(403, "Forbidden", "Operation sign is not allowed"),
            Error::OperationNotPermitted { operation, .. } if operation == "sign"
        ));
        assert!(matches!(
            d(
                403,
                "Forbidden",
                "Operation is not allowed on a disabled key"
            ),
            Error::KeyDisabled { .. }
        ));
        assert!(matches!(
            d(
                403,
                "Forbidden",
                "Caller is not authorized to perform action"
            ),
            Error::ForbiddenByRbac { action, .. } if action == DataAction::Sign.name()
        ));
        assert!(matches!(
            decode(
                403,
                &answer("Forbidden", "x", Some(json!({"code": "AccessDenied"}))),
                &c
            ),
            Error::ForbiddenByRbac { .. }
        ));
        assert!(matches!(
            d(401, "Unauthorized", "x"),
            Error::ForbiddenByRbac { .. }
        ));
        assert!(matches!(
            d(400, "BadParameter", "x"),
            Error::BadParameter { .. }
        ));
        assert!(matches!(d(409, "Conflict", "x"), Error::Conflict { .. }));
        assert!(matches!(d(405, "x", "x"), Error::Internal { .. }));
        // Not even JSON.
        assert!(matches!(
            decode(404, b"<html>", &Context::pool("p", DataAction::ReadKey)),
            Error::PoolNotFound { .. }
        ));
    }

    #[test]
    fn a_vendor_name_refused_with_400_is_an_unsupported_algorithm() {
        let c = Context::key("p", "k", DataAction::Sign)
            .crypto(KeyOperation::Sign, Some("MHSM-ECDSA-RAW"));
        let body = answer("BadParameter", "unknown alg", None);
        assert!(matches!(
            decode(400, &body, &c),
            Error::UnsupportedAlgorithm { algorithm } if algorithm == "MHSM-ECDSA-RAW"
        ));
        let azure =
            Context::key("p", "k", DataAction::Sign).crypto(KeyOperation::Sign, Some("ES256"));
        assert!(matches!(
            decode(400, &body, &azure),
            Error::BadParameter { .. }
        ));
    }
}
