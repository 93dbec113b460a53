//! Key operations (the JWK `key_ops` values) and sets of them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::crypto::KeySpec;
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

    /// Whether keys of `spec` can do this operation at all.
    pub fn applies_to(self, spec: &KeySpec) -> bool {
        use KeyOperation::*;
        match spec {
            KeySpec::Rsa { .. } => !matches!(self, Derive),
            KeySpec::Ec { .. } => matches!(self, Sign | Verify | Import | Export | Derive),
            // Sign/verify on AES keys are HMAC and CMAC.
            KeySpec::Aes { .. } => !matches!(self, Derive),
            // A generic secret is an HMAC key and nothing else.
            KeySpec::Secret { .. } => matches!(self, Sign | Verify | Export),
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

    /// The one table of default operations, when a create names none (Azure's defaults, and
    /// PKCS#11's usage attributes a template leaves out): RSA signs, verifies, encrypts,
    /// decrypts, wraps and unwraps; EC signs and verifies; AES encrypts, decrypts, wraps and
    /// unwraps; a generic secret signs and verifies (HMAC). `import`, `export`, `deriveKey`,
    /// and MACs with AES keys must be asked for.
    pub fn default_for(spec: &KeySpec) -> KeyOps {
        use KeyOperation::*;
        match spec {
            KeySpec::Rsa { .. } => {
                KeyOps::of(&[Sign, Verify, Encrypt, Decrypt, WrapKey, UnwrapKey])
            }
            KeySpec::Ec { .. } => KeyOps::of(&[Sign, Verify]),
            KeySpec::Aes { .. } => KeyOps::of(&[Encrypt, Decrypt, WrapKey, UnwrapKey]),
            KeySpec::Secret { .. } => KeyOps::of(&[Sign, Verify]),
        }
    }

    /// Every operation keys of `spec` can do.
    pub fn all_for(spec: &KeySpec) -> KeyOps {
        let ops: Vec<KeyOperation> = KeyOperation::ALL
            .into_iter()
            .filter(|op| op.applies_to(spec))
            .collect();
        KeyOps::of(&ops)
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

    /// Checks that every operation applies to keys of `spec`.
    pub fn validate_for(self, spec: &KeySpec) -> Result<()> {
        match self.iter().find(|op| !op.applies_to(spec)) {
            Some(op) => Err(Error::bad_parameter(format!(
                "operation '{op}' does not apply to {} keys",
                spec_name(spec)
            ))),
            None => Ok(()),
        }
    }

    /// The set without the operations that are not in `other`.
    pub fn intersect(self, other: KeyOps) -> KeyOps {
        KeyOps(self.0 & other.0)
    }
}

/// A key type's name in messages.
fn spec_name(spec: &KeySpec) -> &'static str {
    match spec {
        KeySpec::Rsa { .. } => "RSA",
        KeySpec::Ec { .. } => "EC",
        KeySpec::Aes { .. } => "AES",
        KeySpec::Secret { .. } => "generic secret",
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
    use crate::crypto::Curve;

    #[test]
    fn names_round_trip() {
        for op in KeyOperation::ALL {
            assert_eq!(KeyOperation::from_name(op.name()).unwrap(), op);
        }
        assert!(KeyOperation::from_name("wrapkey").is_err());
    }

    #[test]
    fn the_table_of_defaults() {
        use KeyOperation::*;
        let rsa = KeySpec::Rsa { bits: 2048 };
        let ec = KeySpec::Ec { curve: Curve::P384 };
        let aes = KeySpec::Aes { bits: 256 };
        let secret = KeySpec::Secret { bits: 160 };
        assert_eq!(
            KeyOps::default_for(&rsa),
            KeyOps::of(&[Sign, Verify, Encrypt, Decrypt, WrapKey, UnwrapKey])
        );
        assert_eq!(KeyOps::default_for(&ec), KeyOps::of(&[Sign, Verify]));
        assert_eq!(
            KeyOps::default_for(&aes),
            KeyOps::of(&[Encrypt, Decrypt, WrapKey, UnwrapKey])
        );
        assert_eq!(KeyOps::default_for(&secret), KeyOps::of(&[Sign, Verify]));
        for spec in [rsa, ec, aes, secret] {
            assert!(KeyOps::default_for(&spec).validate_for(&spec).is_ok());
            assert!(KeyOps::all_for(&spec).validate_for(&spec).is_ok());
        }
        assert_eq!(
            KeyOps::all_for(&secret),
            KeyOps::of(&[Sign, Verify, Export])
        );
        for op in [Encrypt, Decrypt, WrapKey, UnwrapKey, Import, Derive] {
            let err = KeyOps::of(&[op]).validate_for(&secret).unwrap_err();
            assert_eq!(err.code(), "BadParameter");
        }
        assert!(KeyOps::of(&[Sign]).validate_for(&aes).is_ok());
    }

    #[test]
    fn sets_and_defaults() {
        let ops = KeyOps::of(&[KeyOperation::Sign, KeyOperation::Export]);
        assert!(ops.contains(KeyOperation::Sign));
        assert!(!ops.contains(KeyOperation::Verify));
        assert_eq!(format!("{ops:?}"), r#"{"sign", "export"}"#);
        let ec = KeySpec::Ec { curve: Curve::P256 };
        assert!(KeyOps::default_for(&ec).validate_for(&ec).is_ok());
        assert!(
            KeyOps::of(&[KeyOperation::Encrypt])
                .validate_for(&ec)
                .is_err()
        );
        assert!(
            KeyOps::of(&[KeyOperation::Derive])
                .validate_for(&KeySpec::Rsa { bits: 2048 })
                .is_err()
        );
        let json = serde_json::to_string(&ops).unwrap();
        assert_eq!(json, r#"["sign","export"]"#);
        assert_eq!(serde_json::from_str::<KeyOps>(&json).unwrap(), ops);
        assert!(serde_json::from_str::<KeyOps>(r#"["fly"]"#).is_err());
    }
}
