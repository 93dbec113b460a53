//! # hsm-core: the in-process HSM behind mhsm
//! (docs being written)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod crypto;
pub mod error;
pub mod key;
pub mod secret;
mod serde_b64;
pub mod time;

pub use error::{Error, Result};
pub use secret::SecretBytes;
