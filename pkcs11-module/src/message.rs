//! PKCS#11 3.0 message-based encryption and signing. Not supported (the 3.0 table lists them
//! so that callers find every entry).

use std::ffi::c_void;

use cryptoki_sys::*;

use crate::entry::not_supported;

not_supported! {
    C_MessageEncryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_EncryptMessage(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        associated: CK_BYTE_PTR,
        associated_len: CK_ULONG,
        plaintext: CK_BYTE_PTR,
        plaintext_len: CK_ULONG,
        ciphertext: CK_BYTE_PTR,
        ciphertext_len: CK_ULONG_PTR,
    );
    C_EncryptMessageBegin(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        associated: CK_BYTE_PTR,
        associated_len: CK_ULONG,
    );
    C_EncryptMessageNext(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        ciphertext: CK_BYTE_PTR,
        ciphertext_len: CK_ULONG_PTR,
        flags: CK_FLAGS,
    );
    C_MessageEncryptFinal(session: CK_SESSION_HANDLE);
    C_MessageDecryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_DecryptMessage(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        associated: CK_BYTE_PTR,
        associated_len: CK_ULONG,
        ciphertext: CK_BYTE_PTR,
        ciphertext_len: CK_ULONG,
        plaintext: CK_BYTE_PTR,
        plaintext_len: CK_ULONG_PTR,
    );
    C_DecryptMessageBegin(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        associated: CK_BYTE_PTR,
        associated_len: CK_ULONG,
    );
    C_DecryptMessageNext(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        plaintext: CK_BYTE_PTR,
        plaintext_len: CK_ULONG_PTR,
        flags: CK_FLAGS,
    );
    C_MessageDecryptFinal(session: CK_SESSION_HANDLE);
    C_MessageSignInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_SignMessage(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG_PTR,
    );
    C_SignMessageBegin(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG);
    C_SignMessageNext(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG_PTR,
    );
    C_MessageSignFinal(session: CK_SESSION_HANDLE);
    C_MessageVerifyInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_VerifyMessage(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG,
    );
    C_VerifyMessageBegin(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG);
    C_VerifyMessageNext(
        session: CK_SESSION_HANDLE,
        parameter: *mut c_void,
        parameter_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG,
    );
    C_MessageVerifyFinal(session: CK_SESSION_HANDLE);
}
