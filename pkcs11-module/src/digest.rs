//! Message digesting: `C_DigestInit`, `C_Digest`, `C_DigestUpdate`, `C_DigestFinal`, through
//! the core's streaming hasher (`Hsm::hasher`), and `C_DigestKey`.

use cryptoki_sys::*;

use hsm_core::crypto::KeyMaterial;

use crate::attributes::{Part, is_true};
use crate::entry::cryptoki_fn;
use crate::mechanism;
use crate::ptr;
use crate::state::objects;
use crate::state::sessions::{DigestOp, Step, settle};

cryptoki_fn! {
    /// `C_DigestInit`: SHA-1 and SHA-2 (224 to 512), without parameters.
    pub fn C_DigestInit(session: CK_SESSION_HANDLE, mechanism: CK_MECHANISM_PTR) with module, session {
        // SAFETY: `pMechanism` is NULL or points to a CK_MECHANISM (caller's contract).
        let mechanism = unsafe { ptr::read(mechanism) }?;
        let mut ops = session.ops.lock();
        if ops.digest.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let alg = mechanism::digest(mechanism.mechanism).ok_or(CKR_MECHANISM_INVALID)?;
        if !mechanism.pParameter.is_null() || mechanism.ulParameterLen != 0 {
            return Err(CKR_MECHANISM_PARAM_INVALID);
        }
        ops.digest = Some(DigestOp {
            alg,
            hasher: module.core.hsm().hasher(alg),
            multi_part: false,
        });
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_Digest`: single-part (refused with `CKR_OPERATION_ACTIVE` after `C_DigestUpdate`).
    pub fn C_Digest(
        session: CK_SESSION_HANDLE,
        data: CK_BYTE_PTR,
        data_len: CK_ULONG,
        out: CK_BYTE_PTR,
        out_len: CK_ULONG_PTR,
    ) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.digest.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = (|| {
            if op.multi_part {
                return Err(CKR_OPERATION_ACTIVE);
            }
            // SAFETY: `pData` is NULL or `ulDataLen` bytes (caller's contract for C_Digest).
            let input = unsafe { ptr::slice(data, data_len) }?;
            // With no buffer (a length query) the data is not consumed: the caller sends it again.
            // SAFETY: `pulDigestLen` is NULL or readable and writable, `pDigest` NULL or
            // writable for `*pulDigestLen` bytes (caller's contract for C_Digest).
            let buffer = unsafe { ptr::out_buffer(out, out_len, op.alg.output_len()) }?;
            if buffer.is_some() {
                op.hasher.update(input);
            }
            Ok(buffer)
        })();
        let result = match result {
            Ok(Some(buffer)) => {
                let op = ops.digest.take().expect("checked above");
                buffer.fill(&op.hasher.finish()).map(|()| Step::Done)
            }
            Ok(None) => Ok(Step::Pending),
            Err(rv) => Err(rv),
        };
        settle(&mut ops.digest, result)
    }
}

cryptoki_fn! {
    /// `C_DigestUpdate`.
    pub fn C_DigestUpdate(session: CK_SESSION_HANDLE, part: CK_BYTE_PTR, part_len: CK_ULONG) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.digest.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        // SAFETY: `pPart` is NULL or `ulPartLen` bytes (caller's contract).
        let result = unsafe { ptr::slice(part, part_len) }.map(|input| {
            op.hasher.update(input);
            op.multi_part = true;
            Step::Pending
        });
        settle(&mut ops.digest, result)
    }
}

cryptoki_fn! {
    /// `C_DigestFinal`.
    pub fn C_DigestFinal(session: CK_SESSION_HANDLE, out: CK_BYTE_PTR, out_len: CK_ULONG_PTR) with module, session {
        let mut ops = session.ops.lock();
        let op = ops.digest.as_ref().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        // SAFETY: `pulDigestLen` is NULL or readable and writable, `pDigest` NULL or
        // writable for `*pulDigestLen` bytes (caller's contract for C_DigestFinal).
        let result = match unsafe { ptr::out_buffer(out, out_len, op.alg.output_len()) } {
            Ok(Some(buffer)) => {
                let op = ops.digest.take().expect("checked above");
                buffer.fill(&op.hasher.finish()).map(|()| Step::Done)
            }
            Ok(None) => Ok(Step::Pending),
            Err(rv) => Err(rv),
        };
        settle(&mut ops.digest, result)
    }
}

cryptoki_fn! {
    /// `C_DigestKey`: feeds a secret key's value into the digest. Only a key whose value may
    /// leave the HSM (extractable and not sensitive) can be digested; any other key is
    /// `CKR_KEY_INDIGESTIBLE`, so a digest never tells more than the attributes do.
    pub fn C_DigestKey(session: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) with module, session {
        let object = objects::resolve(module, session, key)
            .map_err(|rv| if rv == CKR_OBJECT_HANDLE_INVALID { CKR_KEY_HANDLE_INVALID } else { rv })?;
        let mut ops = session.ops.lock();
        let op = ops.digest.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = (|| {
            if object.part != Some(Part::Secret)
                || is_true(&object.attrs, CKA_SENSITIVE)
                || !is_true(&object.attrs, CKA_EXTRACTABLE)
            {
                return Err(CKR_KEY_INDIGESTIBLE);
            }
            match object.export()? {
                KeyMaterial::Aes(value) | KeyMaterial::Secret(value) => {
                    op.hasher.update(value.expose_secret())
                }
                _ => return Err(CKR_KEY_INDIGESTIBLE),
            }
            op.multi_part = true;
            Ok(Step::Pending)
        })();
        settle(&mut ops.digest, result)
    }
}
