//! Cryptography: the algorithms of the operation API, key material, the checks every
//! operation passes, the provider seam with its providers, and multi-part ciphers as a series
//! of one-shot calls ([`stream`]).
//!
//! The providers do not know each other: the `aws-lc` provider is a [`composite::Composite`]
//! of the aws-lc-rs fast path (`awslc`, a [`PartialProvider`]) and the RustCrypto provider
//! ([`rustcrypto`]) for the rest; what both use lives in [`shared`].

pub mod alg;
#[cfg(feature = "aws-lc")]
pub mod awslc;
pub mod check;
pub mod composite;
pub mod encoding;
pub mod jwa;
pub mod material;
pub mod provider;
pub mod rustcrypto;
pub mod shared;
pub mod stream;

use std::sync::Arc;

pub use alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
pub use material::{Curve, KeyKind, KeyMaterial, KeySpec, PublicKey, RsaPrivateParts};
pub use provider::{CryptoProvider, Hasher, LoadedKey, PartialKey, PartialProvider};

use crate::error::{Error, Result};

/// The environment variable that chooses the provider (`rustcrypto` or `aws-lc`) when the
/// configuration names none.
pub const PROVIDER_ENV: &str = "MHSM_CRYPTO_PROVIDER";

/// The names of the providers built into this binary, the default first.
pub fn provider_names() -> &'static [&'static str] {
    #[cfg(feature = "aws-lc")]
    {
        &["aws-lc", "rustcrypto"]
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        &["rustcrypto"]
    }
}

/// The provider of that name (see [`provider_names`]); an unknown or not-built name is a
/// `BadParameter` error that lists the choices.
pub fn provider_by_name(name: &str) -> Result<Arc<dyn CryptoProvider>> {
    match name.trim().to_ascii_lowercase().as_str() {
        "rustcrypto" => Ok(Arc::new(rustcrypto::RustCryptoProvider::new())),
        #[cfg(feature = "aws-lc")]
        "aws-lc" | "awslc" => Ok(aws_lc()),
        _ => Err(Error::bad_parameter(format!(
            "unknown crypto provider '{name}' (this build has: {})",
            provider_names().join(", ")
        ))),
    }
}

/// Every provider built into this binary, the default first (for suites that run on each).
pub fn all_providers() -> Vec<Arc<dyn CryptoProvider>> {
    provider_names()
        .iter()
        .filter_map(|name| provider_by_name(name).ok())
        .collect()
}

/// The provider [`PROVIDER_ENV`] names, or the default when it is unset or empty.
pub fn provider_from_env() -> Result<Arc<dyn CryptoProvider>> {
    match std::env::var(PROVIDER_ENV) {
        Ok(name) if !name.trim().is_empty() => provider_by_name(&name),
        _ => Ok(default_provider()),
    }
}

/// The provider used when none is chosen: aws-lc when built (the `aws-lc` feature, on by
/// default: several times faster, and constant-time RSA where the `rsa` crate carries the
/// RUSTSEC-2023-0071 timing advisory), otherwise RustCrypto.
pub fn default_provider() -> Arc<dyn CryptoProvider> {
    #[cfg(feature = "aws-lc")]
    {
        aws_lc()
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        Arc::new(rustcrypto::RustCryptoProvider::new())
    }
}

/// The `aws-lc` provider: aws-lc-rs first, the RustCrypto provider for what it passes on.
#[cfg(feature = "aws-lc")]
pub fn aws_lc() -> Arc<dyn CryptoProvider> {
    Arc::new(composite::Composite::new(
        Box::new(awslc::AwsLcProvider::new()),
        Arc::new(rustcrypto::RustCryptoProvider::new()),
    ))
}
