//! mhsm's extension API under `/x-mhsm/pkcs11/` (`docs/REMOTE.md`): what a PKCS#11 module
//! in remote mode needs beyond the standard key API. Bodies with PINs or documents are
//! zeroized when dropped and have no `Debug` or `Clone`.

use hsm_core::SecretBytes;
use hsm_core::pin::{PinPolicy, PinStatus};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::Result;
use crate::b64::unb64;
use crate::key::KeyBundle;

/// `POST /x-mhsm/pkcs11/keys/{name}/{version}/wrapstored`: wraps the pool's key `target`
/// under the key the path names, on the server (the target's material never leaves it). The
/// answer is `{"value": b64url}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WrapStored {
    /// The wrapping algorithm's JWA (or vendor) name.
    pub alg: String,
    /// The name of the key to wrap.
    pub target: String,
    /// Its version (empty: the latest).
    #[serde(default)]
    pub target_version: String,
    /// The OAEP label of vendor names, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad: Option<String>,
}

impl WrapStored {
    /// The request: `alg` with its label, for `target` at `target_version`.
    pub fn new(alg: &str, aad: Option<&[u8]>, target: &str, target_version: Option<&str>) -> Self {
        WrapStored {
            alg: alg.to_string(),
            target: target.to_string(),
            target_version: target_version.unwrap_or_default().to_string(),
            aad: aad.map(crate::b64),
        }
    }

    /// The wrapping algorithm.
    pub fn algorithm(&self) -> Result<hsm_core::crypto::WrapAlgorithm> {
        let aad = crate::b64::unb64_opt(self.aad.as_deref(), "aad")?;
        Ok(hsm_core::crypto::jwa::wrap_algorithm_with_aad(
            &self.alg, aad,
        )?)
    }

    /// The target's version (`None`: the latest).
    pub fn target_version(&self) -> Option<&str> {
        (!self.target_version.is_empty()).then_some(self.target_version.as_str())
    }
}

/// `GET /x-mhsm/pkcs11/state`: the pool's generation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GenerationState {
    /// Moves on every change of the pool.
    pub generation: u64,
}

/// `GET /x-mhsm/pkcs11/keys`: every key's extended bundle at one generation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct KeySnapshot {
    /// The generation the keys are of.
    pub generation: u64,
    /// The extended bundles of the latest versions.
    #[serde(default)]
    pub keys: Vec<KeyBundle>,
}

/// `PUT /x-mhsm/pkcs11/keys/{name}/extra/{attr}`: `{"value": b64url | null}` (null
/// removes it).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExtraValue {
    /// The attribute's value, base64url, or null.
    #[serde(default)]
    pub value: Option<String>,
}

impl ExtraValue {
    /// The body setting (`Some`) or removing (`None`) an attribute.
    pub fn of(value: Option<&[u8]>) -> ExtraValue {
        ExtraValue {
            value: value.map(crate::b64),
        }
    }

    /// The value's bytes, if set.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>> {
        self.value.as_deref().map(|v| unb64(v, "value")).transpose()
    }
}

/// A document (`{"id", "value"}`).
#[derive(Serialize, Deserialize)]
pub struct DocumentBody {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Its bytes, base64url.
    pub value: String,
}

impl Drop for DocumentBody {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl DocumentBody {
    /// The body of a document.
    pub fn of(id: &str, value: &[u8]) -> DocumentBody {
        DocumentBody {
            id: id.to_string(),
            value: crate::b64(value),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> Result<SecretBytes> {
        unb64(&self.value, "value").map(SecretBytes::new)
    }
}

/// `GET /x-mhsm/pkcs11/documents/{kind}`.
#[derive(Serialize, Deserialize)]
pub struct DocumentList {
    /// The documents of the kind.
    #[serde(default)]
    pub documents: Vec<DocumentBody>,
}

/// The PIN policy as the extension shows and takes it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinPolicyBody {
    /// Wrong PINs in a row before the PIN locks.
    #[serde(alias = "max_failures")]
    pub max_failures: u32,
    /// Longest PIN.
    #[serde(alias = "max_len")]
    pub max_len: usize,
    /// Shortest PIN.
    #[serde(alias = "min_len")]
    pub min_len: usize,
}

impl From<PinPolicy> for PinPolicyBody {
    fn from(p: PinPolicy) -> PinPolicyBody {
        PinPolicyBody {
            min_len: p.min_len,
            max_len: p.max_len,
            max_failures: p.max_failures,
        }
    }
}

impl From<PinPolicyBody> for PinPolicy {
    fn from(p: PinPolicyBody) -> PinPolicy {
        PinPolicy {
            min_len: p.min_len,
            max_len: p.max_len,
            max_failures: p.max_failures,
        }
    }
}

/// The state of a PIN.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct PinStatusBody {
    /// Wrong PINs in a row so far.
    #[serde(default)]
    pub failures: u32,
    /// A PIN is set.
    pub initialized: bool,
    /// The PIN is locked.
    #[serde(default)]
    pub locked: bool,
    /// Tries left before it locks.
    #[serde(default)]
    pub remaining: u32,
}

impl From<PinStatus> for PinStatusBody {
    fn from(s: PinStatus) -> PinStatusBody {
        PinStatusBody {
            failures: s.failures,
            initialized: s.initialized,
            locked: s.locked,
            remaining: s.remaining,
        }
    }
}

impl From<PinStatusBody> for PinStatus {
    fn from(s: PinStatusBody) -> PinStatus {
        PinStatus {
            initialized: s.initialized,
            failures: s.failures,
            locked: s.locked,
            remaining: s.remaining,
        }
    }
}

/// `GET /x-mhsm/pkcs11/pins`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PinsBody {
    /// The policy.
    pub policy: PinPolicyBody,
    /// The SO PIN.
    pub so: PinStatusBody,
    /// The user PIN.
    pub user: PinStatusBody,
}

/// `{"pin": b64url}` (`PUT /pins/{user|so}`, `POST /pins/{user|so}/verify`).
#[derive(Serialize, Deserialize)]
pub struct PinBody {
    /// The PIN, base64url.
    pub pin: String,
}

impl Drop for PinBody {
    fn drop(&mut self) {
        self.pin.zeroize();
    }
}

impl PinBody {
    /// The body of a PIN.
    pub fn of(pin: &[u8]) -> PinBody {
        PinBody {
            pin: crate::b64(pin),
        }
    }

    /// The PIN.
    pub fn pin(&self) -> Result<SecretBytes> {
        unb64(&self.pin, "pin").map(SecretBytes::new)
    }
}

/// `POST /x-mhsm/pkcs11/clear`: how many keys and documents went.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Removed {
    /// The number removed.
    pub removed: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pins_policy_and_status_round_trip() {
        let pins = PinsBody {
            policy: PinPolicy::default().into(),
            so: PinStatusBody {
                failures: 1,
                initialized: true,
                locked: false,
                remaining: 2,
            },
            user: PinStatusBody::from(PinStatus {
                initialized: false,
                failures: 0,
                locked: false,
                remaining: 3,
            }),
        };
        let text = serde_json::to_string(&pins).unwrap();
        assert_eq!(text, json!(pins).to_string());
        assert_eq!(crate::parse::<PinsBody>(text.as_bytes()).unwrap(), pins);
        let snake: PinPolicyBody =
            crate::parse(br#"{"min_len":4,"max_len":8,"max_failures":3}"#).unwrap();
        assert_eq!(PinPolicy::from(snake).max_len, 8);
        assert!(
            crate::parse::<PinPolicyBody>(br#"{"minLen":4,"maxLen":8,"maxFailures":3,"x":1}"#)
                .is_err()
        );
        assert_eq!(PinBody::of(b"1234").pin().unwrap().expose_secret(), b"1234");
    }
}
