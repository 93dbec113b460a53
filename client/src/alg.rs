//! The algorithm names sent to the server: the core's (`hsm_core::crypto::jwa`), so client
//! and server name every algorithm the same way (Azure's names where exact, `MHSM-` vendor
//! names otherwise).

pub(crate) use hsm_core::crypto::jwa::{JwaRequest, cipher_request, sign_name, wrap_request};
