//! Errors on the wire: Azure's envelope `{"error":{"code","message","innererror"}}`, whose
//! `innererror` mhsm fills with the core error itself (`"code"`, the core's stable name,
//! and the variant's fields), and [`WireError`], what a conversion of a body refuses.

use std::borrow::Cow;

use hsm_core::Error as CoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a body could not become the core's values (or the other way round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The body is not what its type takes: a missing field, bad base64, an unknown name.
    Invalid {
        /// What is wrong (never a secret).
        message: String,
    },
    /// A rule of the core refused a value (an unknown curve, operation or algorithm).
    Core(CoreError),
}

impl WireError {
    /// An [`WireError::Invalid`].
    pub fn invalid(message: impl Into<String>) -> WireError {
        WireError::Invalid {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Invalid { message } => f.write_str(message),
            WireError::Core(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WireError {}

impl From<CoreError> for WireError {
    fn from(e: CoreError) -> WireError {
        WireError::Core(e)
    }
}

/// `{"error": ...}`, every error answer.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ErrorEnvelope {
    /// The error.
    #[serde(default)]
    pub error: ErrorBody,
}

/// Azure's error: a code, a message, and (from mhsm) the core error as `innererror`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ErrorBody {
    /// Azure's error code (`KeyNotFound`, `BadParameter`, ...).
    #[serde(default)]
    pub code: Cow<'static, str>,
    /// mhsm: the serialized core error; Azure: its own nested `{"code": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub innererror: Option<Value>,
    /// The message (never secrets).
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    /// An error without a core error.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code: code.into(),
            innererror: None,
            message: message.into(),
        }
    }

    /// An error that carries the core error as `innererror`.
    pub fn with_core(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        core: &CoreError,
    ) -> ErrorBody {
        ErrorBody {
            // A core error always serializes (strings, numbers and paths only).
            innererror: Some(serde_json::to_value(core).unwrap_or(Value::Null)),
            ..ErrorBody::new(code, message)
        }
    }

    /// The core error of `innererror`, when the server is mhsm.
    pub fn core_error(&self) -> Option<CoreError> {
        self.innererror
            .as_ref()
            .and_then(|i| CoreError::deserialize(i).ok())
    }

    /// The `code` of `innererror` (empty when absent), as a real Managed HSM sets it.
    pub fn inner_code(&self) -> &str {
        self.innererror
            .as_ref()
            .and_then(|i| i.get("code"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

impl ErrorEnvelope {
    /// Reads an error answer leniently: a body that is not one gives empty fields.
    pub fn read(body: &[u8]) -> ErrorEnvelope {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_round_trip_through_innererror() {
        let core = CoreError::KeyVersionNotFound {
            name: "k".into(),
            version: "v9".into(),
        };
        let body = ErrorEnvelope {
            error: ErrorBody::with_core("KeyNotFound", "no such version", &core),
        };
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(
            text,
            serde_json::json!({"error": {"code": "KeyNotFound", "message": "no such version",
                "innererror": {"code": "KeyVersionNotFound", "name": "k", "version": "v9"}}})
            .to_string()
        );
        let back = ErrorEnvelope::read(text.as_bytes());
        assert_eq!(back.error.core_error(), Some(core));
        assert_eq!(back.error.inner_code(), "KeyVersionNotFound");
    }

    #[test]
    fn azure_errors_and_garbage_read_leniently() {
        let azure =
            br#"{"error":{"code":"Forbidden","message":"m","innererror":{"code":"AccessDenied"}}}"#;
        let e = ErrorEnvelope::read(azure).error;
        assert_eq!(
            (e.code.as_ref(), e.inner_code()),
            ("Forbidden", "AccessDenied")
        );
        assert_eq!(e.core_error(), None);
        let none = ErrorEnvelope::read(b"<html>");
        assert_eq!(none.error.code, "");
        let plain = serde_json::to_string(&ErrorEnvelope {
            error: ErrorBody::new("NotFound", "x"),
        });
        assert_eq!(
            plain.unwrap(),
            r#"{"error":{"code":"NotFound","message":"x"}}"#
        );
    }
}
