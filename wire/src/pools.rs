//! Pool management under the vendor path `/mhsm/` (`/mhsm/pools`, `/mhsm/deletedpools`,
//! the `/mhsm/time-shift` test hook).

use std::collections::BTreeMap;

use hsm_core::PoolInfo;
use serde::{Deserialize, Serialize};

pub use crate::key::ValueList;

/// What creating a pool takes (`POST /mhsm/pools`). It may hold PINs: its `Debug` does not
/// show them.
#[derive(Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolCreate {
    /// The pool's name.
    pub name: String,
    /// Soft-delete retention (7–90 days; default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Purge protection.
    #[serde(default)]
    pub purge_protection: bool,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Object ids of administrators: naming any makes the pool's RBAC strict.
    #[serde(default)]
    pub admins: Vec<String>,
    /// The PKCS#11 token's SO PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub so_pin: Option<String>,
    /// The PKCS#11 token's user PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pin: Option<String>,
    /// The PKCS#11 token's PIN policy (default: the core's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_policy: Option<crate::pkcs11::PinPolicyBody>,
}

impl std::fmt::Debug for PoolCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pin = |p: &Option<String>| p.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("PoolCreate")
            .field("name", &self.name)
            .field("retention_days", &self.retention_days)
            .field("purge_protection", &self.purge_protection)
            .field("tags", &self.tags)
            .field("admins", &self.admins)
            .field("so_pin", &pin(&self.so_pin))
            .field("user_pin", &pin(&self.user_pin))
            .finish()
    }
}

/// A pool as the management API shows it (read leniently: a client may need the name only).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolBody {
    /// Creation time.
    pub created: i64,
    /// When it was deleted (deleted pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<i64>,
    /// The pool's name.
    pub name: String,
    /// Purge protection.
    pub purge_protection: bool,
    /// `strict` or `open` (absent when unknown: a deleted pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<String>,
    /// Soft-delete retention in days.
    pub retention_days: u32,
    /// When it will be purged (deleted pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<i64>,
    /// The security domain it belongs to.
    pub security_domain: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Last change.
    pub updated: i64,
}

impl PoolBody {
    /// The body of a pool; `strict`: its RBAC mode, when known.
    pub fn of(info: &PoolInfo, strict: Option<bool>) -> PoolBody {
        PoolBody {
            created: info.created.0,
            deleted_date: info.deletion.as_ref().map(|d| d.deleted_on.0),
            name: info.name.clone(),
            purge_protection: info.settings.purge_protection,
            rbac: strict.map(|s| if s { "strict" } else { "open" }.into()),
            retention_days: info.settings.soft_delete_retention_days,
            scheduled_purge_date: info.deletion.as_ref().map(|d| d.scheduled_purge.0),
            security_domain: info.security_domain.clone(),
            tags: info.tags.clone(),
            updated: info.updated.0,
        }
    }
}

/// The file in a data directory that tells other processes a server holds it.
pub const DISCOVERY_FILE: &str = "server.json";

/// What `server.json` holds while a server runs: where to reach it (the `mhsm pool`
/// commands, the PKCS#11 module).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Discovery {
    /// The CA certificate to trust (null over plain HTTP).
    #[serde(default)]
    pub ca: Option<std::path::PathBuf>,
    /// The server's process id.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The base URL of the default pool.
    pub url: String,
}

/// `POST /mhsm/time-shift` (a test hook).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimeShift {
    /// Seconds to move the clock forward.
    pub seconds: i64,
}

/// The answer of a time shift.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimeShifted {
    /// The shifted time.
    pub now: i64,
    /// The total offset in seconds.
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_files_print_as_before() {
        let d = Discovery {
            ca: None,
            pid: Some(7),
            url: "http://127.0.0.1:1".into(),
        };
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(text, r#"{"ca":null,"pid":7,"url":"http://127.0.0.1:1"}"#);
        assert_eq!(crate::parse::<Discovery>(text.as_bytes()).unwrap(), d);
        assert!(crate::parse::<Discovery>(br#"{"ca":null}"#).is_err());
    }

    #[test]
    fn pins_stay_out_of_debug_and_unknown_fields_are_refused() {
        let req: PoolCreate =
            crate::parse(br#"{"name":"p","soPin":"s3cret-pin","userPin":"u53r-pin"}"#).unwrap();
        let shown = format!("{req:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("u53r") && shown.contains("REDACTED"));
        assert!(crate::parse::<PoolCreate>(br#"{"name":"p","colour":"red"}"#).is_err());
        let list: ValueList<PoolBody> = crate::parse(br#"{"value":[{"name":"a"}]}"#).unwrap();
        assert_eq!(list.value[0].name, "a");
    }
}
