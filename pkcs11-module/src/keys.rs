//! Key management: `C_GenerateKey`, `C_GenerateKeyPair`, `C_WrapKey`, `C_UnwrapKey`,
//! `C_DeriveKey`. Not yet.

use cryptoki_sys::*;

use crate::entry::not_supported;

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
    C_WrapKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        wrapping_key: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        wrapped: CK_BYTE_PTR,
        wrapped_len: CK_ULONG_PTR,
    );
    C_UnwrapKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        unwrapping_key: CK_OBJECT_HANDLE,
        wrapped: CK_BYTE_PTR,
        wrapped_len: CK_ULONG,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        key: CK_OBJECT_HANDLE_PTR,
    );
    C_DeriveKey(
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_PTR,
        base_key: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        key: CK_OBJECT_HANDLE_PTR,
    );
}
