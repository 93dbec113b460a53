//! Encryption and decryption, and the dual-function updates. Not yet.

use cryptoki_sys::*;

use crate::entry::not_supported;

not_supported! {
    C_EncryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_Encrypt(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    );
    C_EncryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    );
    C_EncryptFinal(session: CK_SESSION_HANDLE, last: CK_BYTE_PTR, last_len: CK_ULONG_PTR);
    C_DecryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_Decrypt(
        session: CK_SESSION_HANDLE,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    );
    C_DecryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    );
    C_DecryptFinal(session: CK_SESSION_HANDLE, last: CK_BYTE_PTR, last_len: CK_ULONG_PTR);
    C_DigestEncryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    );
    C_DecryptDigestUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    );
    C_SignEncryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    );
    C_DecryptVerifyUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    );
}
