//! Error answers back into core errors.
//!
//! mhsm names the core error in `innererror.code` ([`Error::code`]); the variant is rebuilt
//! with the names and numbers the request knew (key, version) or the message told. A real
//! Managed HSM has no such code: then the status and Azure's code decide.

use hsm_core::Error;
use hsm_core::key::KeyOperation;
use hsm_core::rbac::DataAction;
use hsm_core::time::UnixTime;
use serde::Deserialize;

/// What the request was about, to fill in the rebuilt error.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    /// The pool addressed.
    pub pool: &'a str,
    /// The key, if the request named one.
    pub key: Option<&'a str>,
    /// The key version, if the request named one.
    pub version: Option<&'a str>,
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
            version: None,
            op: None,
            action,
            alg: None,
        }
    }

    /// A request on a key.
    pub fn key(pool: &'a str, key: &'a str, version: Option<&'a str>, action: DataAction) -> Self {
        Context {
            key: Some(key),
            version,
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

#[derive(Deserialize, Default)]
struct Envelope {
    #[serde(default)]
    error: Body,
}

#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    innererror: Option<Inner>,
}

#[derive(Deserialize, Default)]
struct Inner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    remaining: Option<u32>,
}

/// The Azure error code and message of an error answer (empty when the body is not one).
pub(super) fn azure_code(body: &[u8]) -> (String, String) {
    let e = serde_json::from_slice::<Envelope>(body)
        .unwrap_or_default()
        .error;
    (e.code, e.message)
}

/// The core error of an error answer (4xx; 5xx and 429 never get here).
pub(super) fn decode(status: u16, body: &[u8], ctx: &Context) -> Error {
    let e = serde_json::from_slice::<Envelope>(body)
        .unwrap_or_default()
        .error;
    if let Some(inner) = &e.innererror
        && let Some(err) = rebuild(&inner.code, inner.remaining, &e.message, ctx)
    {
        return err;
    }
    let inner_code = e.innererror.as_ref().map_or("", |i| i.code.as_str());
    by_status(status, &e.code, inner_code, &e.message, ctx)
}

/// The message of a variant without the prefix its `Display` adds (`bad parameter: `), so
/// a rebuilt error displays as the server's did.
fn strip(message: &str, template: fn(String) -> Error) -> String {
    let prefix = template(String::new()).to_string();
    message
        .strip_prefix(prefix.as_str())
        .unwrap_or(message)
        .to_string()
}

/// The first `'quoted'` word of a message.
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('\'')? + 1;
    let len = message[start..].find('\'')?;
    Some(&message[start..start + len])
}

/// The last integer of a message (a time in `... before 1700000000 (unix)`).
fn last_number(message: &str) -> Option<i64> {
    message
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|w| w.parse().ok())
        .next_back()
}

fn key_name(ctx: &Context, message: &str) -> String {
    ctx.key
        .or_else(|| quoted(message))
        .unwrap_or_default()
        .to_string()
}

fn scope(ctx: &Context) -> String {
    match ctx.key {
        Some(k) => format!("/keys/{k}"),
        None => "/".to_string(),
    }
}

fn rbac(ctx: &Context, message: &str) -> Error {
    // "Not authorized to access {action} on {scope}"
    let parsed = message
        .strip_prefix("Not authorized to access ")
        .and_then(|rest| rest.split_once(" on "))
        .and_then(|(a, s)| Some((DataAction::from_name(a)?, s.to_string())));
    let (action, scope) = parsed.unwrap_or_else(|| (ctx.action, scope(ctx)));
    Error::ForbiddenByRbac { action, scope }
}

fn rebuild(code: &str, remaining: Option<u32>, message: &str, ctx: &Context) -> Option<Error> {
    let name = || key_name(ctx, message);
    let time = || UnixTime(last_number(message).unwrap_or(0));
    Some(match code {
        "PoolNotFound" => Error::PoolNotFound {
            name: ctx.pool.to_string(),
        },
        "DeletedPoolNotFound" => Error::DeletedPoolNotFound {
            name: ctx.pool.to_string(),
        },
        "KeyNotFound" => Error::KeyNotFound { name: name() },
        "KeyVersionNotFound" => Error::KeyVersionNotFound {
            name: name(),
            version: ctx.version.unwrap_or_default().to_string(),
        },
        "DeletedKeyNotFound" => Error::DeletedKeyNotFound { name: name() },
        "KeyDisabled" => Error::KeyDisabled { name: name() },
        "KeyNotYetValid" => Error::KeyNotYetValid {
            name: name(),
            not_before: time(),
        },
        "KeyExpired" => Error::KeyExpired {
            name: name(),
            expires: time(),
        },
        "OperationNotPermitted" => Error::OperationNotPermitted {
            name: name(),
            // "operation 'sign' is not permitted for key 'k'"
            operation: quoted(message)
                .and_then(|op| KeyOperation::from_name(op).ok())
                .or(ctx.op)
                .unwrap_or(KeyOperation::Sign),
        },
        "ForbiddenByRbac" => rbac(ctx, message),
        "NotExportable" => Error::NotExportable { name: name() },
        "Conflict" => Error::Conflict {
            message: strip(message, |message| Error::Conflict { message }),
        },
        "PurgeProtected" => Error::PurgeProtected {
            name: name(),
            scheduled_purge: time(),
        },
        "BadParameter" => Error::BadParameter {
            message: strip(message, |message| Error::BadParameter { message }),
        },
        "UnsupportedAlgorithm" => Error::UnsupportedAlgorithm {
            algorithm: ctx.alg.map(str::to_string).unwrap_or_else(|| {
                strip(message, |algorithm| Error::UnsupportedAlgorithm {
                    algorithm,
                })
            }),
        },
        "InvalidAlgorithmParameter" => Error::InvalidAlgorithmParameter {
            message: strip(message, |message| Error::InvalidAlgorithmParameter {
                message,
            }),
        },
        "KeyTypeMismatch" => Error::KeyTypeMismatch {
            message: strip(message, |message| Error::KeyTypeMismatch { message }),
        },
        "InvalidInputLength" => Error::InvalidInputLength {
            message: strip(message, |message| Error::InvalidInputLength { message }),
        },
        "DecryptionFailed" => Error::DecryptionFailed,
        "InvalidKeyMaterial" => Error::InvalidKeyMaterial {
            message: strip(message, |message| Error::InvalidKeyMaterial { message }),
        },
        "BackupInvalid" => Error::BackupInvalid {
            message: strip(message, |message| Error::BackupInvalid { message }),
        },
        "SecurityDomainMismatch" => Error::SecurityDomainMismatch,
        "PinIncorrect" => Error::PinIncorrect {
            // "the PIN is incorrect (3 tries left)"
            remaining: remaining
                .or_else(|| last_number(message).and_then(|n| u32::try_from(n).ok()))
                .unwrap_or(0),
        },
        "PinLocked" => Error::PinLocked,
        "PinNotInitialized" => Error::PinNotInitialized,
        "PinInvalid" => Error::PinInvalid {
            message: strip(message, |message| Error::PinInvalid { message }),
        },
        "ReadOnly" => Error::ReadOnly,
        // The server's own failures: nothing the module can act on but report.
        "StoreLocked" | "RootKeyMismatch" | "RootKey" | "Corrupted" | "Storage"
        | "RandomFailure" | "Internal" => Error::Internal {
            message: format!("the server failed: {message}"),
        },
        "Unavailable" => Error::Unavailable {
            message: message.to_string(),
        },
        _ => return None,
    })
}

/// A server without `innererror` (a real Managed HSM): status and Azure code decide.
fn by_status(status: u16, code: &str, inner: &str, message: &str, ctx: &Context) -> Error {
    let access = |c: &str| matches!(c, "ForbiddenByRbac" | "AccessDenied" | "Unauthorized");
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
        401 => rbac(ctx, message),
        403 if access(code)
            || access(inner)
            || message.to_ascii_lowercase().contains("not authorized") =>
        {
            rbac(ctx, message)
        }
        403 if message.to_ascii_lowercase().contains("disabled") && ctx.key.is_some() => {
            Error::KeyDisabled {
                name: key_name(ctx, message),
            }
        }
        403 => match (ctx.key, ctx.op) {
            (Some(k), Some(op)) => Error::OperationNotPermitted {
                name: k.to_string(),
                operation: op,
            },
            _ => rbac(ctx, message),
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
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context::key("p", "k1", Some("v1"), DataAction::Sign).crypto(KeyOperation::Sign, None)
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
                    operation: KeyOperation::Decrypt,
                },
            ),
            (
                403,
                Error::ForbiddenByRbac {
                    action: DataAction::Encrypt,
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
            let mut inner = json!({ "code": original.code() });
            if let Error::PinIncorrect { remaining } = &original {
                inner["remaining"] = json!(remaining);
            }
            let body = answer("Whatever", &original.to_string(), Some(inner));
            let rebuilt = decode(status, &body, &c);
            assert_eq!(rebuilt.code(), original.code());
            assert_eq!(rebuilt.to_string(), original.to_string());
        }
    }

    #[test]
    fn pin_incorrect_without_remaining_reads_the_message() {
        let body = answer(
            "Unauthorized",
            "the PIN is incorrect (7 tries left)",
            Some(json!({"code": "PinIncorrect"})),
        );
        assert!(matches!(
            decode(401, &body, &ctx()),
            Error::PinIncorrect { remaining: 7 }
        ));
    }

    #[test]
    fn azure_answers_without_inner_codes_map_by_status() {
        let c = ctx();
        let d = |status, code: &str, msg: &str| decode(status, &answer(code, msg, None), &c);
        assert!(matches!(d(404, "KeyNotFound", "x"), Error::KeyNotFound { name } if name == "k1"));
        assert!(matches!(
            d(403, "Forbidden", "Operation sign is not allowed"),
            Error::OperationNotPermitted {
                operation: KeyOperation::Sign,
                ..
            }
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
            Error::ForbiddenByRbac {
                action: DataAction::Sign,
                ..
            }
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
        let c = Context::key("p", "k", Some("v"), DataAction::Sign)
            .crypto(KeyOperation::Sign, Some("MHSM-ECDSA-RAW"));
        let body = answer("BadParameter", "unknown alg", None);
        assert!(matches!(
            decode(400, &body, &c),
            Error::UnsupportedAlgorithm { algorithm } if algorithm == "MHSM-ECDSA-RAW"
        ));
        let azure = Context::key("p", "k", Some("v"), DataAction::Sign)
            .crypto(KeyOperation::Sign, Some("ES256"));
        assert!(matches!(
            decode(400, &body, &azure),
            Error::BadParameter { .. }
        ));
    }
}
