//! Cryptography: the algorithms of the operation API, key material, the checks every
//! operation passes, the provider seam with its providers, and multi-part ciphers as a series
//! of one-shot calls ([`stream`]).

pub mod alg;
pub mod check;
pub mod encoding;
pub mod jwa;
pub mod material;
pub mod provider;
pub mod rustcrypto;
pub mod stream;

use std::sync::Arc;

pub use alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
pub use material::{Curve, KeyKind, KeyMaterial, KeySpec, PublicKey, RsaPrivateParts};
pub use provider::{CryptoProvider, Hasher, LoadedKey};

/// The provider used when none is chosen: the RustCrypto provider.
pub fn default_provider() -> Arc<dyn CryptoProvider> {
    Arc::new(rustcrypto::RustCryptoProvider::new())
}
