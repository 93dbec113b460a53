//! The one mapping of core errors to `CK_RV`, and the names of return values for logs.
//!
//! [`rv`] is one `match` without a catch-all arm: `hsm_core::Error` is deliberately not
//! `#[non_exhaustive]`, so a new variant fails this crate's build until it is mapped here.
//! Where PKCS#11 distinguishes what the core does not (a bad length on input vs. on
//! ciphertext), the function group remaps in context.

use cryptoki_sys::*;
use hsm_core::Error;

/// The `CK_RV` for a core error.
pub(crate) fn rv(e: &Error) -> CK_RV {
    match e {
        // A slot whose pool has gone (deleted elsewhere) has lost its token.
        Error::PoolNotFound { .. } | Error::DeletedPoolNotFound { .. } => CKR_TOKEN_NOT_PRESENT,
        // The module resolves handles first; the core says this when a key vanished since.
        Error::KeyNotFound { .. }
        | Error::KeyVersionNotFound { .. }
        | Error::DeletedKeyNotFound { .. } => CKR_KEY_HANDLE_INVALID,
        Error::KeyDisabled { .. }
        | Error::KeyNotYetValid { .. }
        | Error::KeyExpired { .. }
        | Error::OperationNotPermitted { .. } => CKR_KEY_FUNCTION_NOT_PERMITTED,
        // Local RBAC refuses an action to the identity behind the session. PKCS#11's closest
        // meaning is "the appropriate user is not logged in": the caller may log in as a user
        // who holds the role; consumers react to it by asking for a login, never by retrying.
        Error::ForbiddenByRbac { .. } => CKR_USER_NOT_LOGGED_IN,
        Error::NotExportable { .. } => CKR_KEY_UNEXTRACTABLE,
        // A name taken by a live or deleted object, or a state that forbids the change:
        // PKCS#11 has no code for it; the log line carries the core's message.
        Error::Conflict { .. } => CKR_FUNCTION_FAILED,
        Error::PurgeProtected { .. } => CKR_ACTION_PROHIBITED,
        Error::BadParameter { .. } => CKR_ARGUMENTS_BAD,
        Error::UnsupportedAlgorithm { .. } => CKR_MECHANISM_INVALID,
        Error::InvalidAlgorithmParameter { .. } => CKR_MECHANISM_PARAM_INVALID,
        Error::KeyTypeMismatch { .. } => CKR_KEY_TYPE_INCONSISTENT,
        Error::InvalidInputLength { .. } => CKR_DATA_LEN_RANGE,
        Error::DecryptionFailed => CKR_ENCRYPTED_DATA_INVALID,
        Error::InvalidKeyMaterial { .. } => CKR_ATTRIBUTE_VALUE_INVALID,
        Error::BackupInvalid { .. } | Error::SecurityDomainMismatch => CKR_FUNCTION_FAILED,
        Error::PinIncorrect { .. } => CKR_PIN_INCORRECT,
        Error::PinLocked => CKR_PIN_LOCKED,
        Error::PinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
        // Length or characters; the module checks lengths itself first (CKR_PIN_LEN_RANGE).
        Error::PinInvalid { .. } => CKR_PIN_INVALID,
        // A forked child's core handle: it shares the parent's store and may only read.
        Error::ReadOnly => CKR_TOKEN_WRITE_PROTECTED,
        // The token's storage failed or is unusable.
        Error::StoreLocked { .. }
        | Error::RootKeyMismatch { .. }
        | Error::RootKey { .. }
        | Error::Corrupted { .. }
        | Error::Storage { .. }
        | Error::RandomFailure => CKR_DEVICE_ERROR,
        Error::Unavailable { .. } => CKR_DEVICE_ERROR,
        Error::Internal { .. } => CKR_GENERAL_ERROR,
    }
}

/// Core results as `CK_RV` results, logging the core's error (its message never holds
/// secrets).
pub(crate) trait CoreResult<T> {
    /// Maps the error with [`rv`].
    fn ck(self) -> Result<T, CK_RV>;
}

impl<T> CoreResult<T> for hsm_core::Result<T> {
    fn ck(self) -> Result<T, CK_RV> {
        self.map_err(|e| Rv::from(e).0)
    }
}

/// A `CK_RV` that core errors convert into through `From`, for core calls generic over their
/// error type (`CipherStream`); mapped with [`rv`] and logged as [`CoreResult::ck`] does.
pub(crate) struct Rv(pub CK_RV);

impl From<hsm_core::Error> for Rv {
    fn from(e: hsm_core::Error) -> Rv {
        let rv = rv(&e);
        tracing::debug!(code = e.code(), error = %e, rv = rv_name(rv), "core error");
        Rv(rv)
    }
}

/// The name of a return value, for logs.
pub(crate) fn rv_name(rv: CK_RV) -> &'static str {
    macro_rules! names {
        ($($c:ident),* $(,)?) => {
            match rv {
                $($c => stringify!($c),)*
                _ => "CKR_(other)",
            }
        };
    }
    names!(
        CKR_OK,
        CKR_CANCEL,
        CKR_HOST_MEMORY,
        CKR_SLOT_ID_INVALID,
        CKR_GENERAL_ERROR,
        CKR_FUNCTION_FAILED,
        CKR_ARGUMENTS_BAD,
        CKR_NO_EVENT,
        CKR_NEED_TO_CREATE_THREADS,
        CKR_CANT_LOCK,
        CKR_ATTRIBUTE_READ_ONLY,
        CKR_ATTRIBUTE_SENSITIVE,
        CKR_ATTRIBUTE_TYPE_INVALID,
        CKR_ATTRIBUTE_VALUE_INVALID,
        CKR_ACTION_PROHIBITED,
        CKR_DATA_INVALID,
        CKR_DATA_LEN_RANGE,
        CKR_DEVICE_ERROR,
        CKR_DEVICE_MEMORY,
        CKR_DEVICE_REMOVED,
        CKR_ENCRYPTED_DATA_INVALID,
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        CKR_FUNCTION_CANCELED,
        CKR_FUNCTION_NOT_PARALLEL,
        CKR_FUNCTION_NOT_SUPPORTED,
        CKR_KEY_HANDLE_INVALID,
        CKR_KEY_SIZE_RANGE,
        CKR_KEY_TYPE_INCONSISTENT,
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        CKR_KEY_UNEXTRACTABLE,
        CKR_MECHANISM_INVALID,
        CKR_MECHANISM_PARAM_INVALID,
        CKR_OBJECT_HANDLE_INVALID,
        CKR_OPERATION_ACTIVE,
        CKR_OPERATION_NOT_INITIALIZED,
        CKR_PIN_INCORRECT,
        CKR_PIN_INVALID,
        CKR_PIN_LEN_RANGE,
        CKR_PIN_LOCKED,
        CKR_USER_PIN_NOT_INITIALIZED,
        CKR_SESSION_CLOSED,
        CKR_SESSION_COUNT,
        CKR_SESSION_HANDLE_INVALID,
        CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        CKR_SESSION_READ_ONLY,
        CKR_SESSION_EXISTS,
        CKR_TEMPLATE_INCOMPLETE,
        CKR_TEMPLATE_INCONSISTENT,
        CKR_TOKEN_NOT_PRESENT,
        CKR_TOKEN_NOT_RECOGNIZED,
        CKR_USER_NOT_LOGGED_IN,
        CKR_USER_TYPE_INVALID,
        CKR_RANDOM_SEED_NOT_SUPPORTED,
        CKR_RANDOM_NO_RNG,
        CKR_BUFFER_TOO_SMALL,
        CKR_CRYPTOKI_NOT_INITIALIZED,
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_examples() {
        let cases = [
            (
                Error::PoolNotFound { name: "p".into() },
                CKR_TOKEN_NOT_PRESENT,
            ),
            (
                Error::KeyNotFound { name: "k".into() },
                CKR_KEY_HANDLE_INVALID,
            ),
            (
                Error::UnsupportedAlgorithm {
                    algorithm: "x".into(),
                },
                CKR_MECHANISM_INVALID,
            ),
            (Error::DecryptionFailed, CKR_ENCRYPTED_DATA_INVALID),
            (
                Error::StoreLocked {
                    path: "/x".into(),
                    holder: None,
                },
                CKR_DEVICE_ERROR,
            ),
            (
                Error::Internal {
                    message: "m".into(),
                },
                CKR_GENERAL_ERROR,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(rv_name(rv(&e)), rv_name(want), "{e:?}");
        }
    }
}
