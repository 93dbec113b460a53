//! Pool settings as Azure's `/settings` shows them: named values with a type, each with a
//! default, stored as pool documents when changed.
//!
//! Azure's one Managed HSM setting is `AllowKeyManagementOperationsThroughARM`; mhsm adds its
//! own, `AccessLogEnabled` and `AccessLogRetentionDays` (the per-pool access log).

use crate::error::{Error, Result};
use crate::pool::Pool;

pub(crate) const KIND: &str = "setting";

/// The type of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingType {
    /// `true` or `false`.
    Boolean,
    /// A whole number of days in a range.
    Days {
        /// Smallest value.
        min: u32,
        /// Largest value.
        max: u32,
    },
}

impl SettingType {
    /// The name Azure's `type` field shows.
    pub fn name(self) -> &'static str {
        match self {
            SettingType::Boolean => "boolean",
            SettingType::Days { .. } => "integer",
        }
    }
}

/// A known setting.
#[derive(Debug)]
pub struct SettingDef {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: SettingType,
    /// Its value until changed.
    pub default: &'static str,
}

/// Every setting a pool has.
pub const SETTINGS: &[SettingDef] = &[
    SettingDef {
        name: "AllowKeyManagementOperationsThroughARM",
        kind: SettingType::Boolean,
        default: "false",
    },
    SettingDef {
        name: ACCESS_LOG_ENABLED,
        kind: SettingType::Boolean,
        default: "false",
    },
    SettingDef {
        name: ACCESS_LOG_RETENTION_DAYS,
        kind: SettingType::Days { min: 1, max: 3650 },
        default: "30",
    },
];

/// Whether the pool's access log is on.
pub const ACCESS_LOG_ENABLED: &str = "AccessLogEnabled";
/// How many days of access log the pool keeps.
pub const ACCESS_LOG_RETENTION_DAYS: &str = "AccessLogRetentionDays";

/// A setting's current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Its name.
    pub name: &'static str,
    /// Its value, as text.
    pub value: String,
    /// Its type.
    pub kind: SettingType,
}

fn definition(name: &str) -> Result<&'static SettingDef> {
    SETTINGS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| Error::bad_parameter(format!("unknown setting '{name}'")))
}

/// Checks (and normalises) a value for a setting's type.
fn normalise(def: &SettingDef, value: &str) -> Result<String> {
    let bad = || Error::bad_parameter(format!("'{value}' is not a valid value for {}", def.name));
    match def.kind {
        SettingType::Boolean => match value.to_ascii_lowercase().as_str() {
            v @ ("true" | "false") => Ok(v.to_string()),
            _ => Err(bad()),
        },
        SettingType::Days { min, max } => {
            let n: u32 = value.trim().parse().map_err(|_| bad())?;
            if (min..=max).contains(&n) {
                Ok(n.to_string())
            } else {
                Err(bad())
            }
        }
    }
}

impl Pool {
    /// Every setting with its current value.
    pub fn settings(&self) -> Result<Vec<Setting>> {
        SETTINGS.iter().map(|d| self.setting(d.name)).collect()
    }

    /// One setting.
    pub fn setting(&self, name: &str) -> Result<Setting> {
        let def = definition(name)?;
        let value = match self.get_document(KIND, def.name)? {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => def.default.to_string(),
        };
        Ok(Setting {
            name: def.name,
            value,
            kind: def.kind,
        })
    }

    /// Changes a setting.
    pub fn update_setting(&self, name: &str, value: &str) -> Result<Setting> {
        let def = definition(name)?;
        let value = normalise(def, value)?;
        self.put_document(KIND, def.name, value.as_bytes())?;
        Ok(Setting {
            name: def.name,
            value,
            kind: def.kind,
        })
    }

    /// Whether the access log is on, and how many days it keeps.
    pub fn access_log_policy(&self) -> Result<Option<u32>> {
        if self.setting(ACCESS_LOG_ENABLED)?.value != "true" {
            return Ok(None);
        }
        let days = self.setting(ACCESS_LOG_RETENTION_DAYS)?.value;
        Ok(Some(days.parse().unwrap_or(30)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_by_type() {
        let b = definition("AllowKeyManagementOperationsThroughARM").unwrap();
        assert_eq!(normalise(b, "TRUE").unwrap(), "true");
        assert!(normalise(b, "yes").is_err());
        let d = definition(ACCESS_LOG_RETENTION_DAYS).unwrap();
        assert_eq!(normalise(d, " 7").unwrap(), "7");
        for bad in ["0", "3651", "-1", "x", ""] {
            assert!(normalise(d, bad).is_err(), "{bad}");
        }
        assert_eq!(definition("Nope").unwrap_err().code(), "BadParameter");
    }
}
