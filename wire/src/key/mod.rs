//! The Azure key API: bundles and their parts ([`bundle`]), create / import / update
//! parameters ([`params`]), key operations, backups and random bytes ([`ops`]), rotation
//! policies ([`rotation`]).

pub mod bundle;
pub mod ops;
pub mod params;
pub mod rotation;

pub use bundle::{
    Attributes, JsonWebKey, KeyBundle, KeyExtension, KeyItem, ListResult, ValueList, kid,
    name_of_kid, split_kid, version_id,
};
pub use ops::{
    KeyOperationRequest, KeyOperationResult, RandomRequest, SecretValue, SignRequest, ValueBody,
    VerifyRequest, VerifyResult,
};
pub use params::{
    AttributesIn, JsonWebKeyPrivate, KeyCreate, KeyExtensionIn, KeyImport, KeyUpdateParameters,
};
pub use rotation::RotationPolicyBody;

use hsm_core::crypto::KeySpec;
use hsm_core::key::{KeyOperation, KeyOps};

use crate::Result;

/// The JWK `kty` Azure shows for a key.
pub fn kty(spec: &KeySpec) -> &'static str {
    match spec {
        KeySpec::Rsa { .. } => "RSA-HSM",
        KeySpec::Ec { .. } => "EC-HSM",
        // A generic secret is `oct` too (Azure has no type of its own for it); mhsm's
        // extension tells the two apart (`genericSecret`).
        KeySpec::Aes { .. } | KeySpec::Secret { .. } => "oct-HSM",
    }
}

/// Parses `key_ops` names; an unknown name is refused.
pub fn key_ops(names: &[String]) -> Result<KeyOps> {
    let ops = names
        .iter()
        .map(|n| KeyOperation::from_name(n))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(KeyOps::of(&ops))
}

/// `key_ops` names of a set of operations.
pub fn key_op_names(ops: KeyOps) -> Vec<String> {
    ops.iter().map(|op| op.name().to_string()).collect()
}
