//! Object management: `C_CreateObject`, `C_CopyObject`, `C_DestroyObject`,
//! `C_GetObjectSize`, `C_GetAttributeValue`, `C_SetAttributeValue`, `C_FindObjectsInit`,
//! `C_FindObjects`, `C_FindObjectsFinal`. Not yet: they need per-object PKCS#11 attributes
//! from the core.

use cryptoki_sys::*;

use crate::entry::not_supported;

not_supported! {
    C_CreateObject(
        session: CK_SESSION_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        object: CK_OBJECT_HANDLE_PTR,
    );
    C_CopyObject(
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
        new_object: CK_OBJECT_HANDLE_PTR,
    );
    C_DestroyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE);
    C_GetObjectSize(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, size: CK_ULONG_PTR);
    C_GetAttributeValue(
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
    );
    C_SetAttributeValue(
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        template: CK_ATTRIBUTE_PTR,
        count: CK_ULONG,
    );
    C_FindObjectsInit(session: CK_SESSION_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG);
    C_FindObjects(
        session: CK_SESSION_HANDLE,
        objects: CK_OBJECT_HANDLE_PTR,
        max_count: CK_ULONG,
        count: CK_ULONG_PTR,
    );
    C_FindObjectsFinal(session: CK_SESSION_HANDLE);
}
