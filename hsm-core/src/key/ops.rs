//! Key operations (the JWK `key_ops` values) and sets of them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::KeyKind;
use crate::error::{Error, Result};

/// One operation a key may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyOperation {
    /// `sign` (signatures and MACs).
    Sign,
    /// `verify`.
    Verify,
    /// `encrypt`.
    Encrypt,
    /// `decrypt`.
    Decrypt,
    /// `wrapKey`.
    WrapKey,
    /// `unwrapKey`.
    UnwrapKey,
    /// `import` (the key may import others; kept for Azure compatibility).
    Import,
    /// `export` (the key may leave the HSM, if its version is also exportable).
    Export,
    /// `deriveKey` (ECDH). Not an Azure operation; PKCS#11's `CKA_DERIVE`.
    Derive,
}

impl KeyOperation {
    /// Every operation, in a fixed order.
    pub const ALL: [KeyOperation; 9] = [
        KeyOperation::Sign,
        KeyOperation::Verify,
        KeyOperation::Encrypt,
        KeyOperation::Decrypt,
        KeyOperation::WrapKey,
        KeyOperation::UnwrapKey,
        KeyOperation::Import,
        KeyOperation::Export,
        KeyOperation::Derive,
    ];

    /// The JWK name (`wrapKey`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KeyOperation::Sign => "sign",
            KeyOperation::Verify => "verify",
            KeyOperation::Encrypt => "encrypt",
            KeyOperation::Decrypt => "decrypt",
            KeyOperation::WrapKey => "wrapKey",
            KeyOperation::UnwrapKey => "unwrapKey",
            KeyOperation::Import => "import",
            KeyOperation::Export => "export",
            KeyOperation::Derive => "deriveKey",
        }
    }

    /// Parses a JWK name.
    pub fn from_name(name: &str) -> Result<KeyOperation> {
        KeyOperation::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| Error::bad_parameter(format!("unknown key operation '{name}'")))
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether keys of `kind` can do this operation at all.
    pub fn applies_to(self, kind: KeyKind) -> bool {
        use KeyOperation::*;
        match kind {
            KeyKind::Rsa => !matches!(self, Derive),
            KeyKind::Ec => matches!(self, Sign | Verify | Import | Export | Derive),
            // Sign/verify on symmetric keys are HMAC and CMAC.
            KeyKind::Oct => !matches!(self, Derive),
        }
    }
}

impl KeyOperation {
    /// Refuses the use of a key resolved for this operation ([`crate::OpKey`]) for another.
    pub fn expect_use(self, used: KeyOperation) -> Result<()> {
        if used == self {
            Ok(())
        } else {
            Err(Error::internal(format!(
                "a key resolved for '{self}' used for '{used}'"
            )))
        }
    }
}

impl fmt::Display for KeyOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of allowed operations.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KeyOps(u16);

impl KeyOps {
    /// The empty set.
    pub const NONE: KeyOps = KeyOps(0);

    /// The set of the given operations.
    pub fn of(ops: &[KeyOperation]) -> KeyOps {
        KeyOps(ops.iter().fold(0, |acc, op| acc | op.bit()))
    }

    /// Azure's defaults when a create names no operations: everything the type can do,
    /// except `import`, `export` and `deriveKey`, which must be asked for.
    pub fn default_for(kind: KeyKind) -> KeyOps {
        use KeyOperation::*;
        match kind {
            KeyKind::Rsa => KeyOps::of(&[Sign, Verify, Encrypt, Decrypt, WrapKey, UnwrapKey]),
            KeyKind::Ec => KeyOps::of(&[Sign, Verify]),
            KeyKind::Oct => KeyOps::of(&[Encrypt, Decrypt, WrapKey, UnwrapKey]),
        }
    }

    /// Whether `op` is in the set.
    pub fn contains(self, op: KeyOperation) -> bool {
        self.0 & op.bit() != 0
    }

    /// The operations in the set, in [`KeyOperation::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = KeyOperation> {
        KeyOperation::ALL
            .into_iter()
            .filter(move |op| self.contains(*op))
    }

    /// Checks that every operation applies to keys of `kind`.
    pub fn validate_for(self, kind: KeyKind) -> Result<()> {
        match self.iter().find(|op| !op.applies_to(kind)) {
            Some(op) => Err(Error::bad_parameter(format!(
                "operation '{op}' does not apply to {kind:?} keys"
            ))),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for KeyOps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(KeyOperation::name))
            .finish()
    }
}

impl Serialize for KeyOps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(KeyOperation::name))
    }
}

impl<'de> Deserialize<'de> for KeyOps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let ops = names
            .iter()
            .map(|n| KeyOperation::from_name(n))
            .collect::<Result<Vec<_>>>()
            .map_err(serde::de::Error::custom)?;
        Ok(KeyOps::of(&ops))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in KeyOperation::ALL {
            assert_eq!(KeyOperation::from_name(op.name()).unwrap(), op);
        }
        assert!(KeyOperation::from_name("wrapkey").is_err());
    }

    #[test]
    fn sets_and_defaults() {
        let ops = KeyOps::of(&[KeyOperation::Sign, KeyOperation::Export]);
        assert!(ops.contains(KeyOperation::Sign));
        assert!(!ops.contains(KeyOperation::Verify));
        assert_eq!(format!("{ops:?}"), r#"{"sign", "export"}"#);
        assert!(
            KeyOps::default_for(KeyKind::Ec)
                .validate_for(KeyKind::Ec)
                .is_ok()
        );
        assert!(
            KeyOps::of(&[KeyOperation::Encrypt])
                .validate_for(KeyKind::Ec)
                .is_err()
        );
        assert!(
            KeyOps::of(&[KeyOperation::Derive])
                .validate_for(KeyKind::Rsa)
                .is_err()
        );
        let json = serde_json::to_string(&ops).unwrap();
        assert_eq!(json, r#"["sign","export"]"#);
        assert_eq!(serde_json::from_str::<KeyOps>(&json).unwrap(), ops);
        assert!(serde_json::from_str::<KeyOps>(r#"["fly"]"#).is_err());
    }
}
