//! Signing and MACing, verification, and their recover variants. Not yet.

use cryptoki_sys::*;

use crate::entry::not_supported;

not_supported! {
    C_SignInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_Sign(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG_PTR,
    );
    C_SignUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG);
    C_SignFinal(session: CK_SESSION_HANDLE, signature: CK_BYTE_PTR, signature_len: CK_ULONG_PTR);
    C_SignRecoverInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_SignRecover(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG_PTR,
    );
    C_VerifyInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_Verify(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG,
    );
    C_VerifyUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG);
    C_VerifyFinal(session: CK_SESSION_HANDLE, signature: CK_BYTE_PTR, signature_len: CK_ULONG);
    C_VerifyRecoverInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_VerifyRecover(
        session: CK_SESSION_HANDLE,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    );
}
