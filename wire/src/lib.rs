//! # mhsm-wire: the JSON bodies mhsm speaks, defined once
//!
//! Every body the server reads or writes, and so every body its client (the PKCS#11
//! module in remote mode) sends or reads, is a type here that derives both `Serialize` and
//! `Deserialize`: the Azure key API ([`key`]: bundles, JWKs, attributes, create / import /
//! update / operation parameters and results, list pages, rotation policies, random bytes),
//! role definitions and assignments ([`rbac`]), settings ([`settings`]), the long-running
//! jobs ([`jobs`]), pool management under `/mhsm/` ([`pools`]), mhsm's extension under
//! `/x-mhsm/pkcs11/` ([`pkcs11`]) and the error envelope ([`error`]), whose `innererror` is
//! the core error itself: errors cross the wire as data, never as text parsed back.
//!
//! The conversions between these types and the core's (bundle ⇄ [`hsm_core::key::KeyInfo`],
//! JWK ⇄ [`hsm_core::crypto::KeyMaterial`] / [`hsm_core::crypto::PublicKey`], attributes ⇄
//! [`hsm_core::key::VersionAttributes`], request bodies → the core's arguments) live here
//! too, one copy for both ends. No HTTP, no TLS, no runtime.
//!
//! Answers are read leniently (a real Managed HSM adds fields and leaves some out); the
//! fields of the answer types are declared in the order of their JSON names, the order in
//! which `serde_json::Value` prints them, so an answer is the same bytes whether it is
//! printed from its struct or through a `Value`.
#![forbid(unsafe_code)]

pub mod b64;
pub mod error;
pub mod jobs;
pub mod key;
pub mod pkcs11;
pub mod pools;
pub mod rbac;
pub mod settings;

#[cfg(any(test, feature = "fuzzing"))]
mod fuzz;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use fuzz::fuzz_request_body;

pub use b64::{b64, b64_json, unb64};
pub use error::{ErrorBody, ErrorEnvelope, WireError};
pub use key::params::secret_json;

/// The result of a conversion from or to a wire type.
pub type Result<T, E = WireError> = std::result::Result<T, E>;

/// Parses a JSON body into its wire type.
pub fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| WireError::invalid(format!("the body is not valid: {e}")))
}
