//! # mhsm-pkcs11: the PKCS#11 module of mhsm (`libmhsm_pkcs11.so`)
//!
//! A thin C ABI adapter over [`hsm_core`]: it turns C pointers into Rust values, calls the
//! core, and turns the results back. Every rule of the domain, and all crypto, stay in the
//! core. Each slot's token is a pool of the data directory named by `MHSM_DATA_DIR`.
//!
//! ## Where to start
//! - [`entry`]: the one shape of every exported `C_*` function (`cryptoki_fn!`): each is an
//!   `unsafe extern "C" fn` whose contract is the PKCS#11 caller's.
//! - [`ptr`]: the raw-pointer helpers, `unsafe fn`s stating their contract: NULL checks,
//!   slices, blank-padded strings, the two-call length convention. The `C_*` bodies (and
//!   [`mechanism_params`], which reads mechanism parameters) call them in `unsafe` blocks
//!   whose `// SAFETY:` comment names the argument; `unsafe_code` is denied everywhere else
//!   (`state`, `attributes`, `config`, ...).
//! - one file per PKCS#11 function group: [`general`], [`slot`], [`session`], [`object`],
//!   [`keys`], [`sign`], [`crypt`], [`wrap`], [`digest`], [`random`], [`message`]; [`tables`]
//!   holds the 2.40 and 3.0 function tables; [`mechanism_params`] turns mechanisms with their
//!   parameters into the core's algorithms.
//! - [`state`]: the initialized module (core, slots, sessions) and the `fork()` rules;
//!   [`config`] (`MHSM_PKCS11_CONFIG`), [`logging`] (`MHSM_LOG`), [`error`] (core errors →
//!   `CK_RV`, one match), [`mechanism`] (what `C_GetMechanismInfo` reports).
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod attributes;
pub mod config;
pub mod crypt;
pub mod digest;
pub mod entry;
pub mod error;
pub mod find;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod general;
pub mod keys;
pub mod logging;
pub mod mechanism;
pub mod mechanism_params;
pub mod message;
pub mod object;
pub mod ptr;
pub mod random;
pub mod session;
pub mod sign;
pub mod slot;
pub mod state;
pub mod tables;
pub mod wrap;
