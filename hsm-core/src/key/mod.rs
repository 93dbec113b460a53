//! Keys: operations, versions, attributes and the policy they obey.

pub mod ops;

pub use ops::{KeyOperation, KeyOps};
