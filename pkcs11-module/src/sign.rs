//! Signing and MACing (`C_SignInit`, `C_Sign`, `C_SignUpdate`, `C_SignFinal`) and
//! verification (`C_VerifyInit`, `C_Verify`, `C_VerifyUpdate`, `C_VerifyFinal`); the recover
//! variants are not offered.
//!
//! Hashing mechanisms (`CKM_SHA256_RSA_PKCS`, `CKM_ECDSA_SHA384`, the PSS variants) stream the
//! message through the core's hasher (`Hsm::hasher`) and sign the digest; `CKM_RSA_PKCS`,
//! `CKM_RSA_PKCS_PSS`, `CKM_ECDSA` and `CKM_RSA_X_509` sign their input as given and are
//! single-part only: an update (or a final call) ends them with `CKR_FUNCTION_NOT_SUPPORTED`,
//! the answer `pkcs11-tool --test` takes for "no multi-part here" (it counts any other code,
//! such as the `CKR_OPERATION_NOT_INITIALIZED` of SoftHSMv2 and kryoptic, as a failure). MACs
//! gather the message and the core computes them at the final call. Every scheme has a fixed
//! signature length (`check::signature_len`), so a length query never computes a signature.

use std::borrow::Cow;

use cryptoki_sys::*;
use hsm_core::crypto::{KeySpec, check};
use hsm_core::key::KeyOperation;

use crate::entry::{cryptoki_fn, not_supported};
use crate::error::CoreResult;
use crate::mechanism_params::{self, SignInputKind};
use crate::ptr;
use crate::state::Module;
use crate::state::objects::{self, BoundKey, Object};
use crate::state::sessions::{Gathered, Operations, Session, SignInput, SignOp, Step, settle};

/// Refuses the use of an operation's key while it waits for `C_Login(CKU_CONTEXT_SPECIFIC)`
/// (its key has `CKA_ALWAYS_AUTHENTICATE`): `CKR_USER_NOT_LOGGED_IN`, which ends the
/// operation. A login consumed here authorizes this operation only.
pub(crate) fn context_auth(session: &Session, needs: &mut bool) -> Result<(), CK_RV> {
    if *needs {
        if !session.take_context_auth() {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        *needs = false;
    }
    Ok(())
}

/// Starts an operation's wait for a context-specific login when its key has
/// `CKA_ALWAYS_AUTHENTICATE`: one given before it (for another operation) does not count.
pub(crate) fn await_context_auth(session: &Session, always_authenticate: bool) -> bool {
    if always_authenticate {
        session.take_context_auth();
    }
    always_authenticate
}

/// The key an `*Init` call names and what it will do with it.
pub(crate) struct KeyRequest {
    /// The key's handle.
    pub handle: CK_OBJECT_HANDLE,
    /// The usage attribute the operation needs (`CKA_SIGN`, ...).
    pub usage: CK_ATTRIBUTE_TYPE,
    /// The core's operation.
    pub op: KeyOperation,
}

/// Starts the key operation of an `*Init` call in the session's `slot`, checking in the
/// order PKCS#11 callers see: an operation already active there (`CKR_OPERATION_ACTIVE`),
/// the mechanism (`parse`), the key as [`init_key`] resolves and checks it (with `fits`, the
/// mechanism against the key's type), then binds the key ([`Object::bind`]). When the
/// session's last `*Init` on this key bound it for the same operation and nothing changed
/// since, that binding serves and only `fits` runs again (the mechanism may be another):
/// the session's operations are then locked once. `make` builds the operation from the
/// binding, the key's `CKA_ALWAYS_AUTHENTICATE`, the mechanism and what `fits` found.
pub(crate) fn start<A, T, O>(
    module: &Module,
    session: &Session,
    key: KeyRequest,
    slot: fn(&mut Operations) -> &mut Option<O>,
    parse: impl FnOnce() -> Result<A, CK_RV>,
    fits: impl FnOnce(&KeySpec, &A) -> Result<T, CK_RV>,
    make: impl FnOnce(BoundKey, bool, A, T) -> O,
) -> Result<(), CK_RV> {
    let mut ops = session.ops.lock();
    if slot(&mut ops).is_some() {
        return Err(CKR_OPERATION_ACTIVE);
    }
    let mechanism = parse()?;
    let cached = ops
        .keys
        .get(key.handle, key.op, &module.logins, session.slot_id);
    if let Some((bound, always_authenticate)) = cached {
        bound.record_in_span(&session.pool);
        let found = fits(&bound.spec(), &mechanism)?;
        *slot(&mut ops) = Some(make(bound, always_authenticate, mechanism, found));
        return Ok(());
    }
    // Resolving may ask the pool (or a server): not under the session's lock.
    drop(ops);
    let (object, found) = init_key(module, session, key.handle, key.usage, |spec| {
        fits(spec, &mechanism)
    })?;
    let bound = object.bind(module.core.hsm(), key.op)?;
    bound.record_in_span(&session.pool);
    tracing::debug!(op = %key.op, "key bound");
    let mut ops = session.ops.lock();
    ops.keys.put(&object, key.op, &bound);
    let slot = slot(&mut ops);
    if slot.is_some() {
        return Err(CKR_OPERATION_ACTIVE);
    }
    *slot = Some(make(bound, object.always_authenticate(), mechanism, found));
    Ok(())
}

/// The key of an `*Init` call: resolved (unknown: `CKR_KEY_HANDLE_INVALID`), the mechanism
/// checked against the key's type by `fits` (the core's checks: `CKR_KEY_TYPE_INCONSISTENT`,
/// so a key whose type can never do this says so, whatever its usage attributes), then its
/// usage attribute (`CKR_KEY_FUNCTION_NOT_PERMITTED`). Returns the key and what `fits` found.
pub(crate) fn init_key<T>(
    module: &Module,
    session: &Session,
    handle: CK_OBJECT_HANDLE,
    usage: CK_ATTRIBUTE_TYPE,
    fits: impl FnOnce(&KeySpec) -> Result<T, CK_RV>,
) -> Result<(Object, T), CK_RV> {
    let key = objects::resolve(module, session, handle).map_err(|rv| match rv {
        CKR_OBJECT_HANDLE_INVALID => CKR_KEY_HANDLE_INVALID,
        rv => rv,
    })?;
    let spec = key.spec().ok_or(CKR_KEY_TYPE_INCONSISTENT)?;
    let found = fits(&spec)?;
    key.check_usage(usage)?;
    Ok((key, found))
}

/// The two operations of this group.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sign,
    Verify,
}

impl Kind {
    fn slot(self) -> fn(&mut Operations) -> &mut Option<SignOp> {
        match self {
            Kind::Sign => |ops| &mut ops.sign,
            Kind::Verify => |ops| &mut ops.verify,
        }
    }
}

/// `C_SignInit` and `C_VerifyInit`.
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
    let request = match kind {
        Kind::Sign => KeyRequest {
            handle: key,
            usage: CKA_SIGN,
            op: KeyOperation::Sign,
        },
        Kind::Verify => KeyRequest {
            handle: key,
            usage: CKA_VERIFY,
            op: KeyOperation::Verify,
        },
    };
    start(
        module,
        session,
        request,
        kind.slot(),
        // SAFETY: by this function's contract.
        || unsafe { mechanism_params::sign(&mechanism) },
        |spec, mech| check::signature_len(spec, &mech.alg).ck(),
        |key, always_authenticate, mech, sig_len| SignOp {
            needs_context_auth: kind == Kind::Sign
                && await_context_auth(session, always_authenticate),
            key,
            alg: mech.alg,
            input: match mech.input {
                SignInputKind::Direct => SignInput::Direct,
                SignInputKind::Hashed(hash) => {
                    SignInput::Hash(Some(module.core.hsm().hasher(hash)))
                }
                SignInputKind::Mac => SignInput::Gathered(Gathered::default()),
            },
            sig_len,
            multi_part: false,
        },
    )
}

/// Takes one more part of a multi-part operation.
fn update(op: &mut SignOp, part: &[u8]) -> Result<Step, CK_RV> {
    match &mut op.input {
        // A single-part-only mechanism.
        SignInput::Direct => return Err(CKR_FUNCTION_NOT_SUPPORTED),
        SignInput::Hash(None) => return Err(CKR_OPERATION_NOT_INITIALIZED),
        SignInput::Hash(Some(hasher)) => hasher.update(part),
        SignInput::Gathered(message) => {
            check::max_input(message.len().saturating_add(part.len())).ck()?;
            message.extend_from_slice(part);
        }
    }
    op.multi_part = true;
    Ok(Step::Pending)
}

/// What the core signs: the single-part call's data, or the multi-part message, as the
/// mechanism takes it (as given, its digest, or the whole message). Finishes the digest.
fn final_input<'a>(
    input: &'a mut SignInput,
    data: Option<&'a [u8]>,
) -> Result<Cow<'a, [u8]>, CK_RV> {
    match (input, data) {
        (SignInput::Direct, Some(data)) => Ok(Cow::Borrowed(data)),
        (SignInput::Direct, None) => Err(CKR_FUNCTION_NOT_SUPPORTED),
        (SignInput::Hash(hasher), data) => {
            let mut hasher = hasher.take().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
            if let Some(data) = data {
                hasher.update(data);
            }
            Ok(Cow::Owned(hasher.finish()))
        }
        (SignInput::Gathered(_), Some(data)) => Ok(Cow::Borrowed(data)),
        (SignInput::Gathered(message), None) => Ok(Cow::Borrowed(message.expose_secret())),
    }
}

/// `C_Sign` (`data` given) and `C_SignFinal` (`data` None) on an active operation.
///
/// # Safety
/// `signature_len` is NULL or readable and writable, `signature` NULL or writable for
/// `*signature_len` bytes (the PKCS#11 caller's contract for `pulSignatureLen`).
#[allow(unsafe_code)]
unsafe fn sign(
    session: &Session,
    op: &mut SignOp,
    data: Option<&[u8]>,
    signature: CK_BYTE_PTR,
    signature_len: CK_ULONG_PTR,
) -> Result<Step, CK_RV> {
    if data.is_some() && op.multi_part {
        return Err(CKR_OPERATION_ACTIVE);
    }
    // SAFETY: by this function's contract.
    let Some(out) = unsafe { ptr::out_buffer(signature, signature_len, op.sig_len) }? else {
        // A length query: the data is not consumed, the caller sends it again.
        return Ok(Step::Pending);
    };
    context_auth(session, &mut op.needs_context_auth)?;
    let input = final_input(&mut op.input, data)?;
    // Straight into the caller's buffer, unless it overlaps the data.
    let (key, alg) = (&op.key, &op.alg);
    out.produce(
        &input,
        |buf| key.sign_into(alg, &input, buf),
        || key.sign(alg, &input),
    )?;
    Ok(Step::Done)
}

/// `C_Verify` (`data` given) and `C_VerifyFinal` (`data` None) on an active operation.
fn verify(op: &mut SignOp, data: Option<&[u8]>, signature: &[u8]) -> Result<Step, CK_RV> {
    if data.is_some() && op.multi_part {
        return Err(CKR_OPERATION_ACTIVE);
    }
    if signature.len() != op.sig_len {
        return Err(CKR_SIGNATURE_LEN_RANGE);
    }
    let input = final_input(&mut op.input, data)?;
    if op.key.verify(&op.alg, &input, signature)? {
        Ok(Step::Done)
    } else {
        Err(CKR_SIGNATURE_INVALID)
    }
}

cryptoki_fn! {
    /// `C_SignInit`: RSA PKCS#1 v1.5 and PSS (raw and with SHA-1/SHA-2), ECDSA (raw and with
    /// SHA-1/SHA-2), HMAC (SHA-256/384/512), AES-CMAC.
    pub fn C_SignInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) with module, session {
        // SAFETY: `pMechanism` as C_SignInit's caller passed it.
        unsafe { init(module, session, mechanism, key, Kind::Sign) }
    }
}

cryptoki_fn! {
    /// `C_Sign`: single-part (refused with `CKR_OPERATION_ACTIVE` after `C_SignUpdate`).
    pub fn C_Sign(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG_PTR,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.sign.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pData` is NULL or `ulDataLen` bytes, `pulSignatureLen` and `pSignature` as
        // C_Sign's caller passed them (its contract).
        let result = unsafe { ptr::slice(data, data_len) }
            .and_then(|data| unsafe { sign(session, op, Some(data), signature, signature_len) });
        settle(&mut ops.sign, result)
    }
}

cryptoki_fn! {
    /// `C_SignUpdate`.
    pub fn C_SignUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.sign.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        let result = context_auth(session, &mut op.needs_context_auth)
            // SAFETY: `pPart` is NULL or `ulPartLen` bytes (caller's contract).
            .and_then(|()| unsafe { ptr::slice(part, part_len) })
            .and_then(|part| update(op, part));
        settle(&mut ops.sign, result)
    }
}

cryptoki_fn! {
    /// `C_SignFinal`.
    pub fn C_SignFinal(session: CK_SESSION_HANDLE, signature: CK_BYTE_PTR, signature_len: CK_ULONG_PTR) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.sign.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pulSignatureLen` and `pSignature` as C_SignFinal's caller passed them.
        let result = unsafe { sign(session, op, None, signature, signature_len) };
        settle(&mut ops.sign, result)
    }
}

cryptoki_fn! {
    /// `C_VerifyInit`: the mechanisms of `C_SignInit`, with public (or secret) keys.
    pub fn C_VerifyInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE) with module, session {
        // SAFETY: `pMechanism` as C_VerifyInit's caller passed it.
        unsafe { init(module, session, mechanism, key, Kind::Verify) }
    }
}

cryptoki_fn! {
    /// `C_Verify`: a wrong signature is `CKR_SIGNATURE_INVALID`, one of the wrong length
    /// `CKR_SIGNATURE_LEN_RANGE`; either ends the operation.
    pub fn C_Verify(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.verify.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pData` and `pSignature` are NULL or as long as their lengths say
        // (caller's contract for C_Verify).
        let result = unsafe { ptr::slice(data, data_len) }.and_then(|data| {
            // SAFETY: as above.
            let signature = unsafe { ptr::slice(signature, signature_len) }?;
            verify(op, Some(data), signature)
        });
        settle(&mut ops.verify, result)
    }
}

cryptoki_fn! {
    /// `C_VerifyUpdate`.
    pub fn C_VerifyUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.verify.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pPart` is NULL or `ulPartLen` bytes (caller's contract).
        let result = unsafe { ptr::slice(part, part_len) }.and_then(|part| update(op, part));
        settle(&mut ops.verify, result)
    }
}

cryptoki_fn! {
    /// `C_VerifyFinal`.
    pub fn C_VerifyFinal(session: CK_SESSION_HANDLE, signature: CK_BYTE_PTR, signature_len: CK_ULONG) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.verify.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        op.key.record_in_span(&session.pool);
        // SAFETY: `pSignature` is NULL or `ulSignatureLen` bytes (caller's contract).
        let result = unsafe { ptr::slice(signature, signature_len) }
            .and_then(|signature| verify(op, None, signature));
        settle(&mut ops.verify, result)
    }
}

not_supported! {
    C_SignRecoverInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_SignRecover(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG_PTR,
    );
    C_VerifyRecoverInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR, key: CK_OBJECT_HANDLE);
    C_VerifyRecover(
        session: CK_SESSION_HANDLE,
        signature: CK_BYTE_PTR,
        signature_len: CK_ULONG,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG_PTR,
    );
}
