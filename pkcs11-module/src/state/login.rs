//! Who is logged in to each slot's token.
//!
//! In PKCS#11 a login belongs to the application and the token, not to one session: every
//! session of the slot shares it. It ends with `C_Logout`, when the slot's last session
//! closes (`C_CloseSession`, `C_CloseAllSessions`) and at `C_Finalize`.
//!
//! The table's lock is also taken around the checks that tie logins to sessions (an SO login
//! needs no read-only session on the slot, and a read-only session cannot open while the SO
//! is logged in), so those checks and the changes they guard happen as one step. It is never
//! held while a PIN is hashed.
//!
//! Also here: PIN arguments as the login and token functions take them. The rules (lengths,
//! characters, counting, lockout) are the core's (`hsm_core::pin`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::state::PoolHandle;
use crate::state::sessions::HandleMap;
use cryptoki_sys::{
    CK_RV, CK_SLOT_ID, CK_STATE, CKR_PIN_INCORRECT, CKR_PIN_LEN_RANGE, CKS_RO_PUBLIC_SESSION,
    CKS_RO_USER_FUNCTIONS, CKS_RW_PUBLIC_SESSION, CKS_RW_SO_FUNCTIONS, CKS_RW_USER_FUNCTIONS,
};
use hsm_core::pin::{PinPolicy, PinRole};
use parking_lot::{Mutex, MutexGuard};

use crate::error::CoreResult;

/// Who is logged in to a slot's token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum LoginState {
    /// Nobody: public sessions.
    #[default]
    Public,
    /// The normal user.
    User,
    /// The security officer.
    So,
}

impl LoginState {
    /// The `CK_SESSION_INFO` state of a session in this login state. (An SO is never logged
    /// in while a read-only session exists, so `So` with `rw == false` does not happen; it
    /// shows as public.)
    pub fn session_state(self, rw: bool) -> CK_STATE {
        match (self, rw) {
            (LoginState::Public, false) | (LoginState::So, false) => CKS_RO_PUBLIC_SESSION,
            (LoginState::Public, true) => CKS_RW_PUBLIC_SESSION,
            (LoginState::User, false) => CKS_RO_USER_FUNCTIONS,
            (LoginState::User, true) => CKS_RW_USER_FUNCTIONS,
            (LoginState::So, true) => CKS_RW_SO_FUNCTIONS,
        }
    }
}

/// The login state of every slot (absent: [`LoginState::Public`]). Changes happen under a
/// mutex; readers (every key use checks the login) read a published copy without a lock.
pub(crate) struct LoginTable {
    slots: Mutex<HandleMap<LoginState>>,
    published: ArcSwap<HandleMap<LoginState>>,
    /// Moves after each publication: a reader that checked a state when it read `n` knows
    /// nothing changed while it still reads `n` (one load, no read-modify-write).
    changes: AtomicU64,
}

/// The table held locked: read and change several slots' states, or check sessions, as one
/// step. Changes are published when it is dropped.
pub(crate) struct LoginGuard<'a> {
    slots: MutexGuard<'a, HandleMap<LoginState>>,
    published: &'a ArcSwap<HandleMap<LoginState>>,
    changes: &'a AtomicU64,
    changed: bool,
}

impl LoginGuard<'_> {
    /// The state of a slot.
    pub fn state(&self, slot: CK_SLOT_ID) -> LoginState {
        self.slots.get(&slot).copied().unwrap_or_default()
    }

    /// Sets the state of a slot.
    pub fn set(&mut self, slot: CK_SLOT_ID, state: LoginState) {
        if state == LoginState::Public {
            self.slots.remove(&slot);
        } else {
            self.slots.insert(slot, state);
        }
        self.changed = true;
    }
}

impl Drop for LoginGuard<'_> {
    fn drop(&mut self) {
        if self.changed {
            self.published.store(Arc::new(self.slots.clone()));
            // After the new states: whoever sees the new count sees them.
            self.changes.fetch_add(1, Ordering::Release);
        }
    }
}

impl LoginTable {
    /// Nobody logged in anywhere.
    pub fn new() -> LoginTable {
        LoginTable {
            slots: Mutex::new(HandleMap::default()),
            published: ArcSwap::from_pointee(HandleMap::default()),
            changes: AtomicU64::new(0),
        }
    }

    /// Locks the table (briefly: never across a PIN hash).
    pub fn lock(&self) -> LoginGuard<'_> {
        LoginGuard {
            slots: self.slots.lock(),
            published: &self.published,
            changes: &self.changes,
            changed: false,
        }
    }

    /// How many times states were published: read it before a state ([`LoginTable::state`]);
    /// while it stays the same, that state stands.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// The state of a slot, as last published (no lock).
    pub fn state(&self, slot: CK_SLOT_ID) -> LoginState {
        self.published
            .load()
            .get(&slot)
            .copied()
            .unwrap_or_default()
    }

    /// Whether the normal user is logged in to the slot's token (private objects and key
    /// use are allowed).
    pub(crate) fn user_logged_in(&self, slot: CK_SLOT_ID) -> bool {
        self.state(slot) == LoginState::User
    }

    /// Whether the security officer is logged in to the slot's token.
    pub(crate) fn so_logged_in(&self, slot: CK_SLOT_ID) -> bool {
        self.state(slot) == LoginState::So
    }

    /// Logs out of a slot; `CKR_USER_NOT_LOGGED_IN` if nobody was logged in.
    pub fn logout(&self, slot: CK_SLOT_ID) -> Result<(), CK_RV> {
        let mut guard = self.lock();
        if guard.state(slot) == LoginState::Public {
            return Err(cryptoki_sys::CKR_USER_NOT_LOGGED_IN);
        }
        guard.set(slot, LoginState::Public);
        Ok(())
    }

    /// Forgets every login (`C_Finalize`).
    pub fn clear(&self) {
        let mut guard = self.lock();
        guard.slots.clear();
        guard.changed = true;
    }
}

/// Checks a new PIN against a policy: a length outside it is `CKR_PIN_LEN_RANGE`, other
/// faults (characters) `CKR_PIN_INVALID`.
pub(crate) fn check_new_pin(policy: &PinPolicy, pin: &[u8]) -> Result<(), CK_RV> {
    if !policy.allows_len(pin.len()) {
        return Err(CKR_PIN_LEN_RANGE);
    }
    policy.check(pin).ck()
}

/// Checks a PIN with the core, which counts a wrong one (`CKR_PIN_INCORRECT`, then
/// `CKR_PIN_LOCKED`). A missing user PIN is `CKR_USER_PIN_NOT_INITIALIZED`; PKCS#11 has no
/// code for a missing SO PIN (a pool made without one, outside PKCS#11), which is answered
/// `CKR_PIN_INCORRECT` with a log line.
pub(crate) fn verify(pool: &PoolHandle, role: PinRole, pin: &[u8]) -> Result<(), CK_RV> {
    match pool.verify_pin(role, pin) {
        Err(hsm_core::Error::PinNotInitialized) if role == PinRole::So => {
            tracing::warn!(
                pool = %pool.name(),
                "the pool has no SO PIN: the tool that created it sets one (mhsm pool create --so-pin)"
            );
            Err(CKR_PIN_INCORRECT)
        }
        other => other.ck(),
    }
}

/// The role whose PIN a login state uses.
pub(crate) fn role_of(state: LoginState) -> Option<PinRole> {
    match state {
        LoginState::Public => None,
        LoginState::User => Some(PinRole::User),
        LoginState::So => Some(PinRole::So),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_per_slot() {
        let t = LoginTable::new();
        assert_eq!(t.state(1), LoginState::Public);
        assert_eq!(t.logout(1), Err(cryptoki_sys::CKR_USER_NOT_LOGGED_IN));
        t.lock().set(1, LoginState::User);
        t.lock().set(2, LoginState::So);
        assert!(t.user_logged_in(1) && !t.so_logged_in(1));
        assert!(t.so_logged_in(2) && !t.user_logged_in(2));
        assert_eq!(t.state(3), LoginState::Public);
        assert_eq!(t.logout(1), Ok(()));
        assert!(!t.user_logged_in(1));
        t.clear();
        assert!(!t.so_logged_in(2));
    }

    #[test]
    fn session_states() {
        use LoginState::*;
        assert_eq!(Public.session_state(false), CKS_RO_PUBLIC_SESSION);
        assert_eq!(Public.session_state(true), CKS_RW_PUBLIC_SESSION);
        assert_eq!(User.session_state(false), CKS_RO_USER_FUNCTIONS);
        assert_eq!(User.session_state(true), CKS_RW_USER_FUNCTIONS);
        assert_eq!(So.session_state(true), CKS_RW_SO_FUNCTIONS);
    }

    #[test]
    fn new_pins_length_then_characters() {
        let policy = PinPolicy {
            min_len: 4,
            max_len: 8,
            max_failures: 3,
        };
        assert_eq!(check_new_pin(&policy, b"123"), Err(CKR_PIN_LEN_RANGE));
        assert_eq!(check_new_pin(&policy, b"123456789"), Err(CKR_PIN_LEN_RANGE));
        assert_eq!(
            check_new_pin(&policy, b"12\n4"),
            Err(cryptoki_sys::CKR_PIN_INVALID)
        );
        assert_eq!(check_new_pin(&policy, b"1234"), Ok(()));
    }
}
