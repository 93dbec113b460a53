//! The one error type of the server, and the one mapping of core errors to Azure's
//! `{"error":{"code":...,"message":...}}` ([`mhsm_wire::ErrorEnvelope`]) with Azure's status
//! codes. An error from the core also carries the core error itself as `innererror` (its
//! serialized form: `"code"`, the core's stable name, and the variant's fields), so a
//! client of mhsm reads it back whole.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hsm_core::Error as CoreError;
use mhsm_wire::{ErrorBody, ErrorEnvelope, WireError};

/// An error answered to a client in Azure's shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Azure error code (`KeyNotFound`, `BadParameter`, ...).
    pub code: &'static str,
    /// Human-readable message (never secrets).
    pub message: String,
    /// Extra headers (the 401 challenge).
    pub challenge: Option<HeaderValue>,
    /// The core error, for errors from the core: the body's `innererror`.
    pub inner: Option<Box<CoreError>>,
}

impl ApiError {
    /// A 400 `BadParameter`.
    pub fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BadParameter", message)
    }

    /// A 404 for a route that does not exist.
    pub fn no_route(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no operation {method} {path}"),
        )
    }

    /// An error with the given status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
            inner: None,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> ApiError {
        use StatusCode as S;
        let (status, code) = match &e {
            CoreError::PoolNotFound { .. } | CoreError::DeletedPoolNotFound { .. } => {
                (S::NOT_FOUND, "NotFound")
            }
            CoreError::KeyNotFound { .. }
            | CoreError::KeyVersionNotFound { .. }
            | CoreError::DeletedKeyNotFound { .. } => (S::NOT_FOUND, "KeyNotFound"),
            CoreError::KeyDisabled { .. }
            | CoreError::KeyNotYetValid { .. }
            | CoreError::KeyExpired { .. }
            | CoreError::OperationNotPermitted { .. }
            | CoreError::NotExportable { .. }
            | CoreError::PurgeProtected { .. } => (S::FORBIDDEN, "Forbidden"),
            CoreError::ForbiddenByRbac { .. } => (S::FORBIDDEN, "ForbiddenByRbac"),
            CoreError::Conflict { .. } => (S::CONFLICT, "Conflict"),
            CoreError::BadParameter { .. }
            | CoreError::UnsupportedAlgorithm { .. }
            | CoreError::InvalidAlgorithmParameter { .. }
            | CoreError::KeyTypeMismatch { .. }
            | CoreError::InvalidInputLength { .. }
            | CoreError::DecryptionFailed
            | CoreError::InvalidKeyMaterial { .. }
            | CoreError::BackupInvalid { .. }
            | CoreError::SecurityDomainMismatch
            | CoreError::PinInvalid { .. } => (S::BAD_REQUEST, "BadParameter"),
            // PINs are checked by the PKCS#11 module; over REST they only meet pool management.
            CoreError::PinIncorrect { .. }
            | CoreError::PinLocked
            | CoreError::PinNotInitialized => (S::UNAUTHORIZED, "Unauthorized"),
            CoreError::ReadOnly
            | CoreError::StoreLocked { .. }
            | CoreError::RootKeyMismatch { .. }
            | CoreError::RootKey { .. }
            | CoreError::Corrupted { .. }
            | CoreError::Storage { .. }
            | CoreError::RandomFailure
            | CoreError::Internal { .. } => (S::INTERNAL_SERVER_ERROR, "InternalServerError"),
            CoreError::Unavailable { .. } => (S::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, code = e.code(), "core error");
        }
        let mut error = ApiError::new(status, code, e.to_string());
        error.inner = Some(Box::new(e));
        error
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> ApiError {
        match e {
            WireError::Invalid { message } => ApiError::bad_parameter(message),
            WireError::Core(core) => ApiError::from(core),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = match &self.inner {
            Some(inner) => ErrorBody::with_core(self.code, self.message, inner),
            None => ErrorBody::new(self.code, self.message),
        };
        let mut response = (self.status, axum::Json(ErrorEnvelope { error })).into_response();
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ApiError) -> (StatusCode, serde_json::Value) {
        let response = e.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn core_errors_carry_their_stable_name() {
        let (status, body) = body_of(CoreError::PinIncorrect { remaining: 3 }.into()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "Unauthorized");
        assert_eq!(
            body["error"]["innererror"],
            serde_json::json!({"code": "PinIncorrect", "remaining": 3})
        );
        let (_, body) = body_of(
            CoreError::KeyVersionNotFound {
                name: "k".into(),
                version: "v9".into(),
            }
            .into(),
        )
        .await;
        let back: CoreError = serde_json::from_value(body["error"]["innererror"].clone()).unwrap();
        assert_eq!(
            back,
            CoreError::KeyVersionNotFound {
                name: "k".into(),
                version: "v9".into()
            }
        );
        let (status, body) = body_of(CoreError::DecryptionFailed.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["error"]["innererror"],
            serde_json::json!({"code": "DecryptionFailed"})
        );
    }

    #[tokio::test]
    async fn other_errors_have_no_innererror() {
        let (status, body) = body_of(ApiError::no_route("GET", "/nothing")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["error"].get("innererror").is_none());
    }
}
