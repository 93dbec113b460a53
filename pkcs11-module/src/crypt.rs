//! Encryption (`C_EncryptInit`, `C_Encrypt`, `C_EncryptUpdate`, `C_EncryptFinal`) and
//! decryption (`C_DecryptInit`, `C_Decrypt`, `C_DecryptUpdate`, `C_DecryptFinal`); the
//! dual-function updates are not offered.
//!
//! The core's ciphers work in one call. Multi-part AES ECB, CBC and CTR go through the core's
//! `CipherStream`, which makes one call per update on the whole blocks ready and carries the
//! IV or counter along, so each update returns its output (callers such as pkcs11-tool size
//! the final buffer for one block). AES-GCM gathers its input (up to the core's `MAX_INPUT`)
//! and returns everything at the final call; RSA is single-part only (an update is
//! `CKR_FUNCTION_NOT_SUPPORTED`). Output lengths are known before any work
//! (`check::ciphertext_len`, `CipherStream::update_len`); for decryption with padding a length
//! query answers the most the plaintext can be (`check::plaintext_max_len`), and a buffer that
//! holds the real plaintext is enough. Decryption errors keep PKCS#11's distinction: a
//! ciphertext of a wrong length is `CKR_ENCRYPTED_DATA_LEN_RANGE`, one that does not decrypt
//! `CKR_ENCRYPTED_DATA_INVALID`.

use cryptoki_sys::*;
use hsm_core::SecretBytes;
use hsm_core::crypto::stream::{CipherStream, Direction};
use hsm_core::crypto::{CipherAlgorithm, check};
use hsm_core::key::KeyOperation;

use crate::entry::{cryptoki_fn, not_supported};
use crate::error::{CoreResult, Rv};
use crate::mechanism_params;
use crate::ptr;
use crate::sign::{KeyRequest, await_context_auth, context_auth, start};
use crate::state::Module;
use crate::state::objects::BoundKey;
use crate::state::sessions::{CryptOp, CryptParts, Gathered, Operations, Session, Step, settle};

/// The two operations of this group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Encrypt,
    Decrypt,
}

impl Kind {
    fn slot(self) -> fn(&mut Operations) -> &mut Option<CryptOp> {
        match self {
            Kind::Encrypt => |ops| &mut ops.encrypt,
            Kind::Decrypt => |ops| &mut ops.decrypt,
        }
    }

    /// Errors in this direction's terms: for decryption, a length the scheme cannot take is
    /// about the ciphertext.
    fn error(self, rv: CK_RV) -> CK_RV {
        match (self, rv) {
            (Kind::Decrypt, CKR_DATA_LEN_RANGE) => CKR_ENCRYPTED_DATA_LEN_RANGE,
            (_, rv) => rv,
        }
    }

    /// One call of the core in this direction: the output bytes (ciphertext with its tag).
    fn call(
        self,
        key: &BoundKey,
        alg: &CipherAlgorithm,
        input: &[u8],
    ) -> Result<SecretBytes, CK_RV> {
        match self {
            Kind::Encrypt => key
                .encrypt(alg, input)
                .map(|c| SecretBytes::new(c.into_data_with_tag())),
            Kind::Decrypt => key.decrypt(alg, input),
        }
        .map_err(|rv| self.error(rv))
    }
}

/// `C_EncryptInit` and `C_DecryptInit`.
///
/// # Safety
/// `mechanism` is as the PKCS#11 caller passed it: NULL or a `CK_MECHANISM` whose parameter
/// (and the buffers that names) is valid for its stated length.
#[allow(unsafe_code)]
unsafe fn init(
    module: &Module,
    session: &Session,
    mechanism: CK_MECHANISM_PTR,
    key: CK_OBJECT_HANDLE,
    kind: Kind,
) -> Result<(), CK_RV> {
    // SAFETY: by this function's contract.
    let mechanism = unsafe { ptr::read(mechanism) }?;
    let (request, direction) = match kind {
        Kind::Encrypt => (
            KeyRequest {
                handle: key,
                usage: CKA_ENCRYPT,
                op: KeyOperation::Encrypt,
            },
            Direction::Encrypt,
        ),
        Kind::Decrypt => (
            KeyRequest {
                handle: key,
                usage: CKA_DECRYPT,
                op: KeyOperation::Decrypt,
            },
            Direction::Decrypt,
        ),
    };
    start(
        module,
        session,
        request,
        kind.slot(),
        // SAFETY: by this function's contract.
        || unsafe { mechanism_params::cipher(&mechanism) },
        |spec, alg| check::cipher_key(spec, alg).ck(),
        |key, always_authenticate, alg, ()| CryptOp {
            needs_context_auth: kind == Kind::Decrypt
                && await_context_auth(session, always_authenticate),
            key,
            parts: match (CipherStream::new(&alg, direction), &alg) {
                (Some(stream), _) => CryptParts::Stream(stream),
                (None, CipherAlgorithm::AesGcm { .. }) => CryptParts::Gathered(Gathered::default()),
                (None, _) => CryptParts::Single,
            },
            alg,
            multi_part: false,
        },
    )
}

/// The output buffer of a call producing `len` bytes: exact, or (decrypting with padding)
/// an upper bound.
///
/// # Safety
/// `out_len` is NULL or readable and writable, `out` NULL or writable for `*out_len` bytes
/// (the PKCS#11 caller's contract for an output buffer and its length).
#[allow(unsafe_code)]
unsafe fn output<'a>(
    kind: Kind,
    exact: bool,
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
    len: usize,
) -> Result<Option<ptr::OutBuffer<'a>>, CK_RV> {
    if exact {
        // SAFETY: by this function's contract.
        unsafe { ptr::out_buffer(out, out_len, len) }
    } else {
        debug_assert!(kind == Kind::Decrypt);
        // SAFETY: by this function's contract.
        unsafe { ptr::out_buffer_upto(out, out_len, len) }
    }
}

/// `C_Encrypt` and `C_Decrypt`: one call over `data`.
///
/// # Safety
/// `out_len` is NULL or readable and writable, `out` NULL or writable for `*out_len` bytes
/// (the PKCS#11 caller's contract for an output buffer and its length).
#[allow(unsafe_code)]
unsafe fn single(
    session: &Session,
    op: &mut CryptOp,
    data: &[u8],
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
    kind: Kind,
) -> Result<Step, CK_RV> {
    if op.multi_part {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let spec = op.key.spec();
    let buffer = match kind {
        Kind::Encrypt => {
            let len = check::ciphertext_len(&spec, &op.alg, data.len()).ck()?;
            // SAFETY: by this function's contract.
            unsafe { output(kind, true, out, out_len, len) }?
        }
        Kind::Decrypt => {
            let len = check::plaintext_max_len(&spec, &op.alg, data.len()).ck()?;
            // SAFETY: by this function's contract.
            unsafe { output(kind, false, out, out_len, len) }?
        }
    };
    // A length query: the data is not consumed, the caller sends it again.
    let Some(buffer) = buffer else {
        return Ok(Step::Pending);
    };
    if kind == Kind::Decrypt {
        context_auth(session, &mut op.needs_context_auth)?;
    }
    match kind {
        // Ciphertext is not secret: no zeroizing copy; written in place when the caller's
        // buffer is apart from its data.
        Kind::Encrypt => buffer.produce(
            data,
            |out| {
                op.key
                    .encrypt_into(&op.alg, data, out)
                    .map_err(|rv| kind.error(rv))
            },
            || {
                let out = op.key.encrypt(&op.alg, data).map_err(|rv| kind.error(rv))?;
                Ok(out.into_data_with_tag())
            },
        )?,
        Kind::Decrypt => {
            let result = kind.call(&op.key, &op.alg, data)?;
            // A buffer too small for the real plaintext keeps the operation.
            buffer.fill(result.expose_secret())?;
        }
    }
    Ok(Step::Done)
}

/// `C_EncryptUpdate` and `C_DecryptUpdate`.
///
/// # Safety
/// `out_len` is NULL or readable and writable, `out` NULL or writable for `*out_len` bytes
/// (the PKCS#11 caller's contract for an output buffer and its length).
#[allow(unsafe_code)]
unsafe fn update(
    op: &mut CryptOp,
    part: &[u8],
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
    kind: Kind,
) -> Result<Step, CK_RV> {
    let CryptOp { key, parts, .. } = op;
    match parts {
        CryptParts::Single => return Err(CKR_FUNCTION_NOT_SUPPORTED),
        CryptParts::Gathered(gathered) => {
            // A length query takes nothing: the caller sends the part again.
            // SAFETY: by this function's contract.
            let Some(buffer) = unsafe { ptr::out_buffer(out, out_len, 0) }? else {
                return Ok(Step::Pending);
            };
            check::max_input(gathered.len().saturating_add(part.len()))
                .ck()
                .map_err(|rv| kind.error(rv))?;
            gathered.extend_from_slice(part);
            buffer.fill(&[])?;
        }
        CryptParts::Stream(stream) => {
            let len = stream
                .update_len(part.len())
                .ck()
                .map_err(|rv| kind.error(rv))?;
            // SAFETY: by this function's contract.
            let Some(buffer) = unsafe { ptr::out_buffer(out, out_len, len) }? else {
                return Ok(Step::Pending);
            };
            let result = stream
                .update(part, |alg, input| kind.call(key, alg, input).map_err(Rv))
                .map_err(|Rv(rv)| kind.error(rv))?;
            buffer.fill(result.expose_secret())?;
        }
    }
    op.multi_part = true;
    Ok(Step::Pending)
}

/// `C_EncryptFinal` and `C_DecryptFinal`.
///
/// # Safety
/// `out_len` is NULL or readable and writable, `out` NULL or writable for `*out_len` bytes
/// (the PKCS#11 caller's contract for an output buffer and its length).
#[allow(unsafe_code)]
unsafe fn finish(
    session: &Session,
    op: &mut CryptOp,
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
    kind: Kind,
) -> Result<Step, CK_RV> {
    let spec = op.key.spec();
    let exact = kind == Kind::Encrypt;
    let len = match &op.parts {
        CryptParts::Single => return Err(CKR_FUNCTION_NOT_SUPPORTED),
        CryptParts::Gathered(gathered) if exact => {
            check::ciphertext_len(&spec, &op.alg, gathered.len()).ck()?
        }
        CryptParts::Gathered(gathered) => {
            check::plaintext_max_len(&spec, &op.alg, gathered.len()).ck()?
        }
        CryptParts::Stream(stream) => stream.finish_len().ck().map_err(|rv| kind.error(rv))?,
    };
    // SAFETY: by this function's contract.
    let Some(buffer) = unsafe { output(kind, exact, out, out_len, len) }? else {
        return Ok(Step::Pending);
    };
    if kind == Kind::Decrypt {
        context_auth(session, &mut op.needs_context_auth)?;
    }
    let result = match &op.parts {
        CryptParts::Single => return Err(CKR_FUNCTION_NOT_SUPPORTED),
        CryptParts::Gathered(gathered) => kind.call(&op.key, &op.alg, gathered.expose_secret())?,
        CryptParts::Stream(stream) => stream
            .finish(|alg, input| kind.call(&op.key, alg, input).map_err(Rv))
            .map_err(|Rv(rv)| kind.error(rv))?,
    };
    // A buffer too small for the real plaintext keeps the operation (and what it holds).
    buffer.fill(result.expose_secret())?;
    Ok(Step::Done)
}

cryptoki_fn! {
    /// `C_EncryptInit`: RSA PKCS#1 v1.5 and OAEP, AES ECB, CBC, CBC with padding, CTR, GCM.
    pub fn C_EncryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) with module, session {
        // SAFETY: `pMechanism` as C_EncryptInit's caller passed it.
        unsafe { init(module, session, mechanism, key, Kind::Encrypt) }
    }
}

cryptoki_fn! {
    /// `C_Encrypt`: single-part (refused with `CKR_OPERATION_ACTIVE` after `C_EncryptUpdate`).
    pub fn C_Encrypt(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.encrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pData` is NULL or `ulDataLen` bytes; `pEncryptedData` and its length as
        // C_Encrypt's caller passed them (its contract).
        let result = unsafe { ptr::slice(data, data_len) }.and_then(|data| unsafe {
            single(session, op, data, encrypted, encrypted_len, Kind::Encrypt)
        });
        settle(&mut ops.encrypt, result)
    }
}

cryptoki_fn! {
    /// `C_EncryptUpdate`: the ciphertext of the whole blocks ready (AES-GCM: none until
    /// `C_EncryptFinal`).
    pub fn C_EncryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.encrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pPart` is NULL or `ulPartLen` bytes; `pEncryptedPart` and its length as
        // C_EncryptUpdate's caller passed them (its contract).
        let result = unsafe { ptr::slice(part, part_len) }.and_then(|part| unsafe {
            update(op, part, encrypted, encrypted_len, Kind::Encrypt)
        });
        settle(&mut ops.encrypt, result)
    }
}

cryptoki_fn! {
    /// `C_EncryptFinal`: the rest of the ciphertext.
    pub fn C_EncryptFinal(session: CK_SESSION_HANDLE, last: CK_BYTE_PTR, last_len: CK_ULONG_PTR) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.encrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pLastEncryptedPart` and its length as C_EncryptFinal's caller passed them.
        let result = unsafe { finish(session, op, last, last_len, Kind::Encrypt) };
        settle(&mut ops.encrypt, result)
    }
}

cryptoki_fn! {
    /// `C_DecryptInit`: the mechanisms of `C_EncryptInit`.
    pub fn C_DecryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) with module, session {
        // SAFETY: `pMechanism` as C_DecryptInit's caller passed it.
        unsafe { init(module, session, mechanism, key, Kind::Decrypt) }
    }
}

cryptoki_fn! {
    /// `C_Decrypt`: single-part (refused with `CKR_OPERATION_ACTIVE` after `C_DecryptUpdate`).
    pub fn C_Decrypt(
        session: CK_SESSION_HANDLE,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.decrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pEncryptedData` is NULL or `ulEncryptedDataLen` bytes; `pData` and its
        // length as C_Decrypt's caller passed them (its contract).
        let result = unsafe { ptr::slice(encrypted, encrypted_len) }.and_then(|input| unsafe {
            single(session, op, input, data, data_len, Kind::Decrypt)
        });
        settle(&mut ops.decrypt, result)
    }
}

cryptoki_fn! {
    /// `C_DecryptUpdate`: the plaintext of the whole blocks ready (with padding, the last
    /// block waits for `C_DecryptFinal`; AES-GCM releases nothing before its tag is checked).
    pub fn C_DecryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.decrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        let result = context_auth(session, &mut op.needs_context_auth)
            // SAFETY: `pEncryptedPart` is NULL or `ulEncryptedPartLen` bytes; `pPart` and its
            // length as C_DecryptUpdate's caller passed them (its contract).
            .and_then(|()| unsafe { ptr::slice(part, part_len) })
            .and_then(|part| unsafe { update(op, part, data, data_len, Kind::Decrypt) });
        settle(&mut ops.decrypt, result)
    }
}

cryptoki_fn! {
    /// `C_DecryptFinal`: the rest of the plaintext.
    pub fn C_DecryptFinal(session: CK_SESSION_HANDLE, last: CK_BYTE_PTR, last_len: CK_ULONG_PTR) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.decrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pLastPart` and its length as C_DecryptFinal's caller passed them.
        let result = unsafe { finish(session, op, last, last_len, Kind::Decrypt) };
        settle(&mut ops.decrypt, result)
    }
}

not_supported! {
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
