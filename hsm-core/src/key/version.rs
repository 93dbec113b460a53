//! Per-version attributes and the rules for using a version.

use serde::{Deserialize, Serialize};

use super::ops::KeyOperation;
use crate::error::{Error, Result};
use crate::time::UnixTime;

/// The attributes of one key version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionAttributes {
    /// Whether the version may be used at all.
    pub enabled: bool,
    /// Not usable to sign, encrypt or wrap before this time.
    pub not_before: Option<UnixTime>,
    /// Not usable to sign, encrypt or wrap from this time on.
    pub expires: Option<UnixTime>,
    /// When the version was created.
    pub created: UnixTime,
    /// When the version's attributes last changed.
    pub updated: UnixTime,
    /// Whether the private or secret material may leave the HSM (immutable).
    pub exportable: bool,
    /// Whether the material was made inside the HSM (PKCS#11's `CKA_LOCAL`), not imported.
    #[serde(default)]
    pub generated: bool,
}

/// Checks that `not_before` lies before `expires` when both are set.
pub(crate) fn validate_window(
    not_before: Option<UnixTime>,
    expires: Option<UnixTime>,
) -> Result<()> {
    match (not_before, expires) {
        (Some(nbf), Some(exp)) if nbf >= exp => Err(Error::bad_parameter(
            "the not-before time must lie before the expiry time",
        )),
        _ => Ok(()),
    }
}

impl VersionAttributes {
    /// Whether the version may do all its key allows at `now`: enabled, and inside its
    /// validity window (the window [`VersionAttributes::check_use`] applies to signing,
    /// encrypting, wrapping, deriving and exporting). What a PKCS#11 token shows.
    pub fn usable_at(&self, now: UnixTime) -> bool {
        self.enabled
            && self.not_before.is_none_or(|nbf| nbf <= now)
            && self.expires.is_none_or(|exp| now < exp)
    }

    /// Checks that this version may do `op` at `now` (the key name is for the error).
    ///
    /// A disabled version does nothing. Outside its validity window a version may still
    /// verify, decrypt and unwrap what it protected earlier, as in Azure and JWK, but not
    /// sign, encrypt, wrap, derive or export.
    pub fn check_use(&self, name: &str, op: KeyOperation, now: UnixTime) -> Result<()> {
        if !self.enabled {
            return Err(Error::KeyDisabled { name: name.into() });
        }
        let consumes = matches!(
            op,
            KeyOperation::Verify | KeyOperation::Decrypt | KeyOperation::UnwrapKey
        );
        if consumes {
            return Ok(());
        }
        if let Some(nbf) = self.not_before
            && now < nbf
        {
            return Err(Error::KeyNotYetValid {
                name: name.into(),
                not_before: nbf,
            });
        }
        if let Some(exp) = self.expires
            && now >= exp
        {
            return Err(Error::KeyExpired {
                name: name.into(),
                expires: exp,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(enabled: bool, nbf: Option<i64>, exp: Option<i64>) -> VersionAttributes {
        VersionAttributes {
            enabled,
            not_before: nbf.map(UnixTime),
            expires: exp.map(UnixTime),
            created: UnixTime(0),
            updated: UnixTime(0),
            exportable: false,
            generated: true,
        }
    }

    fn code(r: Result<()>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    #[test]
    fn disabled_refuses_everything() {
        for op in KeyOperation::ALL {
            assert_eq!(
                code(attrs(false, None, None).check_use("k", op, UnixTime(5))),
                "KeyDisabled"
            );
        }
    }

    #[test]
    fn window_rules() {
        let a = attrs(true, Some(100), Some(200));
        assert_eq!(
            code(a.check_use("k", KeyOperation::Sign, UnixTime(99))),
            "KeyNotYetValid"
        );
        assert_eq!(
            code(a.check_use("k", KeyOperation::Sign, UnixTime(100))),
            "ok"
        );
        assert_eq!(
            code(a.check_use("k", KeyOperation::Encrypt, UnixTime(199))),
            "ok"
        );
        assert_eq!(
            code(a.check_use("k", KeyOperation::WrapKey, UnixTime(200))),
            "KeyExpired"
        );
        assert_eq!(
            code(a.check_use("k", KeyOperation::Export, UnixTime(300))),
            "KeyExpired"
        );
        for op in [
            KeyOperation::Verify,
            KeyOperation::Decrypt,
            KeyOperation::UnwrapKey,
        ] {
            assert_eq!(code(a.check_use("k", op, UnixTime(300))), "ok");
            assert_eq!(code(a.check_use("k", op, UnixTime(1))), "ok");
        }
    }

    #[test]
    fn window_validation() {
        assert!(validate_window(Some(UnixTime(5)), Some(UnixTime(5))).is_err());
        assert!(validate_window(Some(UnixTime(4)), Some(UnixTime(5))).is_ok());
        assert!(validate_window(None, Some(UnixTime(5))).is_ok());
    }
}
