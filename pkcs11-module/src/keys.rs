//! Key management: `C_GenerateKey`, `C_GenerateKeyPair`. Not yet. (`C_WrapKey`,
//! `C_UnwrapKey` and `C_DeriveKey` are in [`crate::wrap`].)

use cryptoki_sys::*;

use hsm_core::crypto::KeyMaterial;

use crate::attributes::Template;
use crate::entry::not_supported;
use crate::state::Module;
use crate::state::sessions::Session;

/// Makes a key object of `class` from key material that came from outside the HSM's key
/// generation (`C_CreateObject`, `C_UnwrapKey`, `C_DeriveKey`), with the caller's template:
/// a pool key when `CKA_TOKEN` is true (named by `CKA_LABEL`), else a session key. Checks the
/// template against the material (class, key type, value length), the session (read-write for
/// token objects) and the login; `CKA_LOCAL` is false.
#[allow(dead_code)] // used by C_CreateObject, C_UnwrapKey and C_DeriveKey
pub(crate) fn new_key_object(
    module: &Module,
    session: &Session,
    class: CK_OBJECT_CLASS,
    template: &Template,
    material: KeyMaterial,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let _ = (module, session, class, template, material);
    Err(CKR_FUNCTION_NOT_SUPPORTED)
}

not_supported! {
    C_GenerateKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        key: CK_OBJECT_HANDLE_PTR,
    );
    C_GenerateKeyPair(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        public_template: CK_ATTRIBUTE_PTR,
        public_count: CK_ULONG,
        private_template: CK_ATTRIBUTE_PTR,
        private_count: CK_ULONG,
        public_key: CK_OBJECT_HANDLE_PTR,
        private_key: CK_OBJECT_HANDLE_PTR,
    );
}
