//! Encryption (`C_EncryptInit`, `C_Encrypt`, `C_EncryptUpdate`, `C_EncryptFinal`) and
//! decryption (`C_DecryptInit`, `C_Decrypt`, `C_DecryptUpdate`, `C_DecryptFinal`); the
//! dual-function updates are not offered.
//!
//! The core's ciphers work in one call. A multi-part operation therefore gathers its input
//! (in a zeroizing buffer, up to the core's `MAX_INPUT`): each update returns no output (it
//! still follows the two-call convention, with a length of 0) and the final call returns it
//! all. Ciphertext lengths are known before any work (`check::ciphertext_len`); for
//! decryption a length query answers the most the plaintext can be
//! (`check::plaintext_max_len`), and a buffer that holds the real plaintext is enough.
//! Decryption errors keep PKCS#11's distinction: a ciphertext of a wrong length is
//! `CKR_ENCRYPTED_DATA_LEN_RANGE`, one that does not decrypt `CKR_ENCRYPTED_DATA_INVALID`.

use cryptoki_sys::*;
use hsm_core::SecretBytes;
use hsm_core::crypto::check;

use crate::entry::{cryptoki_fn, not_supported};
use crate::error::CoreResult;
use crate::mechanism_params;
use crate::ptr;
use crate::sign::{await_context_auth, context_auth, init_key};
use crate::state::Module;
use crate::state::sessions::{CryptOp, Operations, Session, Step, settle};

/// The two operations of this group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Encrypt,
    Decrypt,
}

impl Kind {
    fn slot(self, ops: &mut Operations) -> &mut Option<CryptOp> {
        match self {
            Kind::Encrypt => &mut ops.encrypt,
            Kind::Decrypt => &mut ops.decrypt,
        }
    }
}

/// `C_EncryptInit` and `C_DecryptInit`.
fn init(
    module: &Module,
    session: CK_SESSION_HANDLE,
    mechanism: CK_MECHANISM_PTR,
    key: CK_OBJECT_HANDLE,
    kind: Kind,
) -> Result<(), CK_RV> {
    let session = module.sessions.get(session)?;
    let mechanism = ptr::read(mechanism)?;
    if kind.slot(&mut session.ops.lock()).is_some() {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let alg = mechanism_params::cipher(&mechanism)?;
    let usage = match kind {
        Kind::Encrypt => CKA_ENCRYPT,
        Kind::Decrypt => CKA_DECRYPT,
    };
    let key = init_key(module, &session, key, usage)?;
    let spec = key.spec().ok_or(CKR_KEY_TYPE_INCONSISTENT)?;
    mechanism_params::key_type_fits(mechanism.mechanism, &key)?;
    check::cipher_key(&spec, &alg).ck()?;
    let op = CryptOp {
        needs_context_auth: kind == Kind::Decrypt && await_context_auth(&session, &key),
        key,
        alg,
        gathered: SecretBytes::default(),
        multi_part: false,
    };
    let mut ops = session.ops.lock();
    let slot = kind.slot(&mut ops);
    if slot.is_some() {
        return Err(CKR_OPERATION_ACTIVE);
    }
    *slot = Some(op);
    Ok(())
}

/// The spec of the operation's key (present: checked at initialization).
fn spec(op: &CryptOp) -> Result<hsm_core::crypto::KeySpec, CK_RV> {
    op.key.spec().ok_or(CKR_KEY_TYPE_INCONSISTENT)
}

/// `C_Encrypt` (`data` given) and `C_EncryptFinal` (`data` None: the gathered input).
fn encrypt(
    module: &Module,
    op: &mut CryptOp,
    data: Option<&[u8]>,
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
) -> Result<Step, CK_RV> {
    if data.is_some() && op.multi_part {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let input = data.unwrap_or(op.gathered.expose_secret());
    let needed = check::ciphertext_len(&spec(op)?, &op.alg, input.len()).ck()?;
    let Some(out) = ptr::out_buffer(out, out_len, needed)? else {
        return Ok(Step::Pending);
    };
    let ciphertext = op.key.encrypt(module.core.hsm(), &op.alg, input)?;
    out.fill(&ciphertext.data_with_tag())?;
    Ok(Step::Done)
}

/// Decryption errors in PKCS#11's terms: a length the scheme cannot take is about the
/// ciphertext here.
fn decrypt_error(rv: CK_RV) -> CK_RV {
    match rv {
        CKR_DATA_LEN_RANGE => CKR_ENCRYPTED_DATA_LEN_RANGE,
        rv => rv,
    }
}

/// `C_Decrypt` (`data` given) and `C_DecryptFinal` (`data` None: the gathered input).
fn decrypt(
    session: &Session,
    op: &mut CryptOp,
    data: Option<&[u8]>,
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
) -> Result<Step, CK_RV> {
    if data.is_some() && op.multi_part {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let spec = spec(op)?;
    let input = data.unwrap_or(op.gathered.expose_secret());
    let max = check::plaintext_max_len(&spec, &op.alg, input.len()).ck()?;
    let Some(out) = ptr::out_buffer_upto(out, out_len, max)? else {
        return Ok(Step::Pending);
    };
    context_auth(session, &mut op.needs_context_auth)?;
    let plaintext = op.key.decrypt(&op.alg, input).map_err(decrypt_error)?;
    // A buffer too small for the real plaintext keeps the operation (and its input).
    out.fill(plaintext.expose_secret())?;
    Ok(Step::Done)
}

/// `C_EncryptUpdate` and `C_DecryptUpdate`: gathers the part, returns no output.
fn update(
    op: &mut CryptOp,
    part: &[u8],
    out: CK_BYTE_PTR,
    out_len: CK_ULONG_PTR,
    kind: Kind,
) -> Result<Step, CK_RV> {
    let Some(out) = ptr::out_buffer(out, out_len, 0)? else {
        // A length query: the part is not taken, the caller sends it again.
        return Ok(Step::Pending);
    };
    check::max_input(op.gathered.len().saturating_add(part.len()))
        .ck()
        .map_err(|rv| match kind {
            Kind::Encrypt => rv,
            Kind::Decrypt => decrypt_error(rv),
        })?;
    op.gathered.extend_from_slice(part);
    op.multi_part = true;
    out.fill(&[])?;
    Ok(Step::Pending)
}

cryptoki_fn! {
    /// `C_EncryptInit`: RSA PKCS#1 v1.5 and OAEP, AES ECB, CBC, CBC with padding, CTR, GCM.
    pub fn C_EncryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) with module {
        init(module, session, mechanism, key, Kind::Encrypt)
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
    ) with module {
        let session = module.sessions.get(session)?;
        let mut ops = session.ops.lock();
        let op = ops.encrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = ptr::slice(data, data_len)
            .and_then(|data| encrypt(module, op, Some(data), encrypted, encrypted_len));
        settle(&mut ops.encrypt, result)
    }
}

cryptoki_fn! {
    /// `C_EncryptUpdate`: takes the part; the ciphertext comes at `C_EncryptFinal`.
    pub fn C_EncryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        encrypted: CK_BYTE_PTR,
        encrypted_len: CK_ULONG_PTR,
    ) with module {
        let session = module.sessions.get(session)?;
        let mut ops = session.ops.lock();
        let op = ops.encrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = ptr::slice(part, part_len)
            .and_then(|part| update(op, part, encrypted, encrypted_len, Kind::Encrypt));
        settle(&mut ops.encrypt, result)
    }
}

cryptoki_fn! {
    /// `C_EncryptFinal`: all the ciphertext of the parts.
    pub fn C_EncryptFinal(session: CK_SESSION_HANDLE, last: CK_BYTE_PTR, last_len: CK_ULONG_PTR) with module {
        let session = module.sessions.get(session)?;
        let mut ops = session.ops.lock();
        let op = ops.encrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = encrypt(module, op, None, last, last_len);
        settle(&mut ops.encrypt, result)
    }
}

cryptoki_fn! {
    /// `C_DecryptInit`: the mechanisms of `C_EncryptInit`.
    pub fn C_DecryptInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) with module {
        init(module, session, mechanism, key, Kind::Decrypt)
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
    ) with module {
        let session = module.sessions.get(session)?;
        let mut ops = session.ops.lock();
        let op = ops.decrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = ptr::slice(encrypted, encrypted_len)
            .and_then(|input| decrypt(&session, op, Some(input), data, data_len));
        settle(&mut ops.decrypt, result)
    }
}

cryptoki_fn! {
    /// `C_DecryptUpdate`: takes the part; the plaintext comes at `C_DecryptFinal` (for GCM
    /// the spec requires that anyway: nothing is released before the tag is checked).
    pub fn C_DecryptUpdate(
        session: CK_SESSION_HANDLE,
        part: CK_BYTE_PTR,
        part_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    ) with module {
        let session = module.sessions.get(session)?;
        let mut ops = session.ops.lock();
        let op = ops.decrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = context_auth(&session, &mut op.needs_context_auth)
            .and_then(|()| ptr::slice(part, part_len))
            .and_then(|part| update(op, part, data, data_len, Kind::Decrypt));
        settle(&mut ops.decrypt, result)
    }
}

cryptoki_fn! {
    /// `C_DecryptFinal`: all the plaintext of the parts.
    pub fn C_DecryptFinal(session: CK_SESSION_HANDLE, last: CK_BYTE_PTR, last_len: CK_ULONG_PTR) with module {
        let session = module.sessions.get(session)?;
        let mut ops = session.ops.lock();
        let op = ops.decrypt.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = decrypt(&session, op, None, last, last_len);
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
