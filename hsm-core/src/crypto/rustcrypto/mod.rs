//! The RustCrypto provider. (Placeholder: being written.)

use std::sync::Arc;

use crate::crypto::alg::HashAlg;
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::{CryptoProvider, Hasher, LoadedKey};
use crate::error::{Error, Result};

/// The provider built on the RustCrypto crates.
#[derive(Debug, Default)]
pub struct RustCryptoProvider;

impl RustCryptoProvider {
    /// A new provider.
    pub fn new() -> Self {
        Self
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }
    fn fill_random(&self, out: &mut [u8]) -> Result<()> {
        getrandom::fill(out).map_err(|_| Error::RandomFailure)
    }
    fn generate(&self, _spec: KeySpec) -> Result<KeyMaterial> {
        Err(Error::unsupported("placeholder"))
    }
    fn load(&self, _material: &KeyMaterial) -> Result<Arc<dyn LoadedKey>> {
        Err(Error::unsupported("placeholder"))
    }
    fn load_public(&self, _public: &PublicKey) -> Result<Arc<dyn LoadedKey>> {
        Err(Error::unsupported("placeholder"))
    }
    fn hasher(&self, _alg: HashAlg) -> Box<dyn Hasher> {
        unimplemented!("placeholder")
    }
}
