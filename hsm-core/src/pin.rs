//! PINs of a pool: the security officer's and the user's, as PKCS#11 tokens have them.
//!
//! Stored as salted slow hashes (PBKDF2-HMAC-SHA256) in pool documents, never in the clear.
//! Every wrong PIN increments a counter that is persisted before the answer; at the policy's
//! limit the PIN locks. The SO can reset (and so unlock) the user PIN; a right PIN resets the
//! counter. Comparison is in constant time.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::document;
use crate::error::{Error, Result};
use crate::pool::{KeyChange, Mutation, Pool};
use crate::record::doc_path;
use crate::secret::SecretBytes;
use crate::store::Batch;

pub(crate) const KIND: &str = "pin";
const POLICY_ID: &str = "policy";
/// PBKDF2 iterations for new hashes.
const ITERATIONS: u32 = 100_000;

/// Whose PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinRole {
    /// The security officer.
    So,
    /// The normal user.
    User,
}

impl PinRole {
    pub(crate) fn id(self) -> &'static str {
        match self {
            PinRole::So => "so",
            PinRole::User => "user",
        }
    }
}

/// Lengths and lockout, stored per pool (so every tool applies the same rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinPolicy {
    /// Shortest PIN.
    pub min_len: usize,
    /// Longest PIN.
    pub max_len: usize,
    /// Wrong PINs in a row before the PIN locks.
    pub max_failures: u32,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            min_len: 4,
            max_len: 255,
            max_failures: 10,
        }
    }
}

/// What a token shows of a PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinStatus {
    /// A PIN is set.
    pub initialized: bool,
    /// Wrong PINs in a row so far.
    pub failures: u32,
    /// The PIN is locked.
    pub locked: bool,
    /// Tries left before it locks.
    pub remaining: u32,
}

#[derive(Clone, Serialize, Deserialize)]
struct PinRecord {
    #[serde(with = "crate::serde_b64")]
    salt: Vec<u8>,
    #[serde(with = "crate::serde_b64")]
    hash: Vec<u8>,
    iterations: u32,
    failures: u32,
}

fn hash(pin: &[u8], salt: &[u8], iterations: u32) -> SecretBytes {
    let mut out = SecretBytes::zeroed(32);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pin, salt, iterations, out.expose_secret_mut());
    out
}

impl PinPolicy {
    /// Checks the policy itself: 1 <= min_len <= max_len <= 255, max_failures >= 1.
    pub fn validate(&self) -> Result<()> {
        if self.min_len == 0
            || self.min_len > self.max_len
            || self.max_len > 255
            || self.max_failures == 0
        {
            return Err(Error::bad_parameter(
                "a PIN policy needs 1 <= min_len <= max_len <= 255 and max_failures >= 1",
            ));
        }
        Ok(())
    }

    /// Whether a PIN of `len` bytes has an allowed length (front ends that report a bad
    /// length apart from bad characters, as PKCS#11's `CKR_PIN_LEN_RANGE`, ask this first).
    pub fn allows_len(&self, len: usize) -> bool {
        (self.min_len..=self.max_len).contains(&len)
    }

    /// Checks a PIN's length and characters (printable UTF-8, as PKCS#11 asks).
    pub fn check(&self, pin: &[u8]) -> Result<()> {
        if !self.allows_len(pin.len()) {
            return Err(Error::PinInvalid {
                message: format!("PINs are {} to {} bytes", self.min_len, self.max_len),
            });
        }
        match std::str::from_utf8(pin) {
            Ok(s) if !s.chars().any(char::is_control) => Ok(()),
            _ => Err(Error::PinInvalid {
                message: "PINs are printable UTF-8".into(),
            }),
        }
    }
}

/// The PINs a new pool starts with, written in the same commit as the pool
/// ([`crate::Hsm::create_pool_with`]): a policy (default: [`PinPolicy::default`]), the
/// SO PIN, and a user PIN (only with an SO PIN, who could otherwise never reset it).
#[derive(Clone, Copy, Default)]
pub struct InitialPins<'a> {
    /// The policy; `None` keeps the default.
    pub policy: Option<PinPolicy>,
    /// The SO PIN.
    pub so: Option<&'a [u8]>,
    /// The user PIN.
    pub user: Option<&'a [u8]>,
}

impl std::fmt::Debug for InitialPins<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialPins")
            .field("policy", &self.policy)
            .field("so", &self.so.map(|_| "[REDACTED]"))
            .field("user", &self.user.map(|_| "[REDACTED]"))
            .finish()
    }
}

impl InitialPins<'_> {
    /// Checks them and returns the pool documents that hold them: (kind, id, JSON), hashed
    /// and salted (nothing is stored when nothing is set).
    pub(crate) fn documents(&self) -> Result<Vec<(&'static str, String, Vec<u8>)>> {
        if self.user.is_some() && self.so.is_none() {
            return Err(Error::bad_parameter(
                "a user PIN needs an SO PIN (only the SO can reset it)",
            ));
        }
        let mut docs = Vec::new();
        let policy = self.policy.unwrap_or_default();
        if let Some(p) = self.policy {
            p.validate()?;
            docs.push((KIND, POLICY_ID.to_string(), to_json(&p)?));
        }
        for (role, pin) in [(PinRole::So, self.so), (PinRole::User, self.user)] {
            if let Some(pin) = pin {
                policy.check(pin)?;
                docs.push((KIND, role.id().to_string(), to_json(&new_record(pin)?)?));
            }
        }
        Ok(docs)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(e.to_string()))
}

/// A fresh record for `pin`: new salt, no failures.
fn new_record(pin: &[u8]) -> Result<PinRecord> {
    let mut salt = vec![0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| Error::RandomFailure)?;
    Ok(PinRecord {
        hash: hash(pin, &salt, ITERATIONS).expose_secret().to_vec(),
        salt,
        iterations: ITERATIONS,
        failures: 0,
    })
}

/// PINs configured outside any HSM, for a token whose service keeps none (a real Managed
/// HSM reached without mhsm's extension API, where the bearer token is the credential). A
/// configured PIN is compared in constant time, without a counter (nothing can be stored);
/// with none configured any user PIN is accepted and SO logins are refused. They cannot be
/// changed ([`Error::ReadOnly`]).
pub struct FixedPins {
    user: Option<SecretBytes>,
    so: Option<SecretBytes>,
    policy: PinPolicy,
}

impl std::fmt::Debug for FixedPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedPins")
            .field("user", &self.user.is_some())
            .field("so", &self.so.is_some())
            .field("policy", &self.policy)
            .finish()
    }
}

impl FixedPins {
    /// The PINs (either may be absent) under `policy` (its `max_failures` is what a wrong
    /// PIN reports as the tries left).
    pub fn new(user: Option<&[u8]>, so: Option<&[u8]>, policy: PinPolicy) -> FixedPins {
        FixedPins {
            user: user.map(SecretBytes::from_slice),
            so: so.map(SecretBytes::from_slice),
            policy,
        }
    }

    /// The policy.
    pub fn policy(&self) -> PinPolicy {
        self.policy
    }

    /// Checks a PIN.
    pub fn verify(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        let configured = match role {
            PinRole::User => self.user.as_ref(),
            PinRole::So => self.so.as_ref(),
        };
        match (role, configured) {
            (_, Some(want)) if bool::from(want.expose_secret().ct_eq(pin)) => Ok(()),
            (_, Some(_)) => Err(Error::PinIncorrect {
                remaining: self.policy.max_failures,
            }),
            (PinRole::User, None) => Ok(()),
            (PinRole::So, None) => Err(Error::PinNotInitialized),
        }
    }

    /// The state of a PIN: never counted, never locked.
    pub fn status(&self, role: PinRole) -> PinStatus {
        PinStatus {
            initialized: role == PinRole::User || self.so.is_some(),
            failures: 0,
            locked: false,
            remaining: self.policy.max_failures,
        }
    }
}

impl Pool {
    /// The pool's PIN policy ([`PinPolicy::default`] until one is set).
    pub fn pin_policy(&self) -> Result<PinPolicy> {
        match self.get_document(KIND, POLICY_ID)? {
            None => Ok(PinPolicy::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| Error::Corrupted {
                record: doc_path(self.name(), KIND, POLICY_ID),
            }),
        }
    }

    /// Sets the pool's PIN policy (existing PINs stay; lengths apply to new ones).
    pub fn set_pin_policy(&self, policy: &PinPolicy) -> Result<()> {
        policy.validate()?;
        let json = serde_json::to_vec(policy).map_err(|e| Error::internal(e.to_string()))?;
        self.put_document(KIND, POLICY_ID, &json)
    }

    fn pin_record(&self, role: PinRole) -> Result<Option<PinRecord>> {
        self.get_document(KIND, role.id())?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|_| Error::Corrupted {
                    record: doc_path(self.name(), KIND, role.id()),
                })
            })
            .transpose()
    }

    fn write_pin(&self, role: PinRole, record: &PinRecord) -> Result<Mutation<()>> {
        let path = doc_path(self.name(), KIND, role.id());
        let json = serde_json::to_vec(record).map_err(|e| Error::internal(e.to_string()))?;
        let mut batch = Batch::new();
        batch.put(path.clone(), self.state.seal_bytes(&path, &json)?);
        Ok(Mutation {
            batch,
            changes: vec![KeyChange::PutDoc(
                KIND.to_string(),
                role.id().to_string(),
                Arc::new(json),
            )],
            result: (),
        })
    }

    /// Sets a PIN (and clears its failure counter): initialising, changing, or the SO
    /// resetting a locked user PIN. Who may do so is the caller's rule (a PKCS#11 session
    /// state, an administrator's command).
    pub fn set_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        let policy = self.pin_policy()?;
        policy.check(pin)?;
        let record = new_record(pin)?;
        self.maintain()?;
        self.mutate(|_, _| self.write_pin(role, &record))?;
        tracing::info!(pool = %self.name(), role = role.id(), "PIN set");
        Ok(())
    }

    /// Removes a PIN (re-initialising a token removes the user PIN).
    pub fn clear_pin(&self, role: PinRole) -> Result<()> {
        document::validate(KIND, role.id())?;
        self.delete_document(KIND, role.id()).map(|_| ())
    }

    /// Checks a PIN. A wrong one is counted (durably) and answered with
    /// [`Error::PinIncorrect`], or [`Error::PinLocked`] once the limit is reached.
    ///
    /// A right PIN writes nothing unless it resets a counter. On a read-only handle (a forked
    /// child's) a right PIN is accepted without resetting the counter, and a wrong one, which
    /// cannot be counted there, is refused with [`Error::ReadOnly`].
    pub fn verify_pin(&self, role: PinRole, pin: &[u8]) -> Result<()> {
        let policy = self.pin_policy()?;
        let record = self.pin_record(role)?.ok_or(Error::PinNotInitialized)?;
        if record.failures >= policy.max_failures {
            return Err(Error::PinLocked);
        }
        // The slow hash runs outside the pool's write lock.
        let candidate = hash(pin, &record.salt, record.iterations);
        let right: bool = candidate.expose_secret().ct_eq(&record.hash).into();
        if self.hsm.is_read_only() {
            return if right { Ok(()) } else { Err(Error::ReadOnly) };
        }
        if right && record.failures == 0 {
            return Ok(());
        }
        let failures = self.mutate(|data, _| {
            // Re-read under the lock: another thread may have counted a failure meanwhile.
            let current: PinRecord = data
                .docs
                .get(&(KIND.to_string(), role.id().to_string()))
                .and_then(|b| serde_json::from_slice(b).ok())
                .ok_or(Error::PinNotInitialized)?;
            if current.salt != record.salt {
                // The PIN changed while this one was hashed; count nothing, refuse.
                return Err(Error::PinIncorrect {
                    remaining: policy.max_failures.saturating_sub(current.failures),
                });
            }
            if current.failures >= policy.max_failures {
                return Err(Error::PinLocked);
            }
            let failures = if right { 0 } else { current.failures + 1 };
            if failures == current.failures {
                return Ok(Mutation {
                    batch: Batch::new(),
                    changes: Vec::new(),
                    result: failures,
                });
            }
            let updated = PinRecord {
                failures,
                ..current
            };
            let m = self.write_pin(role, &updated)?;
            Ok(Mutation {
                batch: m.batch,
                changes: m.changes,
                result: failures,
            })
        })?;
        if right {
            Ok(())
        } else if failures >= policy.max_failures {
            tracing::warn!(pool = %self.name(), role = role.id(), "PIN locked after too many wrong PINs");
            Err(Error::PinLocked)
        } else {
            Err(Error::PinIncorrect {
                remaining: policy.max_failures - failures,
            })
        }
    }

    /// The state of a PIN.
    pub fn pin_status(&self, role: PinRole) -> Result<PinStatus> {
        let policy = self.pin_policy()?;
        Ok(match self.pin_record(role)? {
            None => PinStatus {
                initialized: false,
                failures: 0,
                locked: false,
                remaining: policy.max_failures,
            },
            Some(r) => PinStatus {
                initialized: true,
                failures: r.failures,
                locked: r.failures >= policy.max_failures,
                remaining: policy.max_failures.saturating_sub(r.failures),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Tags;
    use crate::{Hsm, HsmConfig, PoolSettings};

    fn pool_with_pins() -> (Hsm, Pool) {
        let hsm = Hsm::open(HsmConfig::in_memory()).unwrap();
        hsm.create_pool("pins", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("pins").unwrap();
        pool.set_pin_policy(&PinPolicy {
            max_failures: 3,
            ..PinPolicy::default()
        })
        .unwrap();
        pool.set_pin(PinRole::User, b"1234").unwrap();
        (hsm, pool)
    }

    #[test]
    fn lengths() {
        let p = PinPolicy {
            min_len: 4,
            max_len: 6,
            max_failures: 1,
        };
        assert!(!p.allows_len(3) && p.allows_len(4) && p.allows_len(6) && !p.allows_len(7));
    }

    #[test]
    fn a_right_pin_writes_nothing_unless_it_resets_a_counter() {
        let (_hsm, pool) = pool_with_pins();
        let before = pool.generation();
        pool.verify_pin(PinRole::User, b"1234").unwrap();
        assert_eq!(pool.generation(), before, "no write");
        assert_eq!(
            pool.verify_pin(PinRole::User, b"0000").unwrap_err().code(),
            "PinIncorrect"
        );
        let counted = pool.generation();
        assert_ne!(counted, before);
        pool.verify_pin(PinRole::User, b"1234").unwrap();
        assert_ne!(pool.generation(), counted, "the counter was reset");
        assert_eq!(pool.pin_status(PinRole::User).unwrap().failures, 0);
    }

    #[test]
    fn read_only_handles_accept_right_pins_and_refuse_wrong_ones_uncounted() {
        let (hsm, pool) = pool_with_pins();
        assert!(pool.verify_pin(PinRole::User, b"0000").is_err());
        hsm.set_read_only();
        // Right: accepted, the counter stays (it cannot be written).
        pool.verify_pin(PinRole::User, b"1234").unwrap();
        assert_eq!(pool.pin_status(PinRole::User).unwrap().failures, 1);
        // Wrong: refused, not counted.
        for _ in 0..5 {
            assert_eq!(
                pool.verify_pin(PinRole::User, b"0000").unwrap_err().code(),
                "ReadOnly"
            );
        }
        let status = pool.pin_status(PinRole::User).unwrap();
        assert_eq!((status.failures, status.locked), (1, false));
        assert_eq!(
            pool.set_pin(PinRole::User, b"5678").unwrap_err().code(),
            "ReadOnly"
        );
    }
}
