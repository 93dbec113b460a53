//! Searches: `C_FindObjectsInit`, `C_FindObjects`, `C_FindObjectsFinal`. Token objects come
//! from the pool's search index ([`crate::state::objects`]), session objects from the
//! sessions of the slot; the handles found wait in the session's operations.

use std::collections::VecDeque;

use cryptoki_sys::*;

use crate::attributes::Template;
use crate::entry::cryptoki_fn;
use crate::ptr;
use crate::state::objects::{self, user_logged_in};

cryptoki_fn! {
    /// `C_FindObjectsInit`: any template; token objects from the pool's index, session
    /// objects of this slot; private objects only for a logged-in user.
    pub fn C_FindObjectsInit(session: CK_SESSION_HANDLE, template: CK_ATTRIBUTE_PTR, count: CK_ULONG) with module, session {
        // SAFETY: the template is NULL or `count` attributes, each value NULL or as long as
        // it says (the PKCS#11 caller's contract for an input template).
        let template = Template::new(unsafe { ptr::template(template, count) }?)?;
        if session.ops.lock().find.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let private = user_logged_in(module, session);
        let mut found = Vec::new();
        if template.bool(CKA_TOKEN)? != Some(false) {
            let hsm = module.core.hsm();
            let index = module.objects.index(&session.pool)?;
            let searched = {
                let index = index.read();
                index.find(hsm, &template, private, &mut found);
                index.generation()
            };
            if found.is_empty() && template.get(CKA_LABEL).is_some() {
                // Another process may have just made it (remote mode trusts its object list
                // for a moment): ask whether the pool changed, once, before saying none.
                session.pool.invalidate();
                let fresh = module.objects.index(&session.pool)?;
                let fresh = fresh.read();
                if fresh.generation() != searched {
                    fresh.find(hsm, &template, private, &mut found);
                }
            }
        }
        if template.bool(CKA_TOKEN)? != Some(true) {
            for other in module.sessions.for_slot(session.slot_id) {
                let handles: Vec<CK_OBJECT_HANDLE> = other.objects.read().keys().copied().collect();
                for h in handles {
                    match objects::resolve(module, session, h) {
                        Ok(o) if template.matches(&o.attrs) => found.push(h),
                        _ => {}
                    }
                }
            }
        }
        let mut ops = session.ops.lock();
        if ops.find.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        ops.find = Some(VecDeque::from(found));
        Ok(())
    }
}

cryptoki_fn! {
    /// `C_FindObjects`: up to `max_count` more handles.
    pub fn C_FindObjects(
        session: CK_SESSION_HANDLE,
        objects: CK_OBJECT_HANDLE_PTR,
        max_count: CK_ULONG,
        count: CK_ULONG_PTR,
    ) with module, session {
        ptr::non_null(count)?;
        if objects.is_null() && max_count > 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let mut ops = session.ops.lock();
        let found = ops.find.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let n = found.len().min(usize::try_from(max_count).unwrap_or(usize::MAX));
        let batch: Vec<CK_OBJECT_HANDLE> = found.drain(..n).collect();
        let mut capacity = max_count;
        if !batch.is_empty() {
            // SAFETY: `phObject` is room for `ulMaxObjectCount` handles (caller's contract
            // for C_FindObjects); `capacity` is a local.
            unsafe { ptr::out_list(&batch, objects, &mut capacity) }?;
        }
        // SAFETY: `pulObjectCount` is non-NULL (checked above), writable (caller's contract).
        unsafe { ptr::write(count, batch.len() as CK_ULONG) }
    }
}

cryptoki_fn! {
    /// `C_FindObjectsFinal`.
    pub fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) with module, session {
        session
            .ops
            .lock()
            .find
            .take()
            .map(drop)
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)
    }
}
