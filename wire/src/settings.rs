//! Pool settings (`/settings`).

use hsm_core::settings::Setting;
use serde::{Deserialize, Serialize};

/// `Setting`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SettingBody {
    /// Its name.
    pub name: String,
    /// Its type (`boolean`, ...).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its value, as text.
    pub value: String,
}

impl SettingBody {
    /// The body of a setting.
    pub fn of(s: &Setting) -> SettingBody {
        SettingBody {
            name: s.name.into(),
            kind: s.kind.name().into(),
            value: s.value.clone(),
        }
    }
}

/// `SettingsListResult`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SettingsList {
    /// Every setting.
    #[serde(default)]
    pub settings: Vec<SettingBody>,
}

/// `UpdateSettingRequest`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SettingUpdate {
    /// The new value, as text.
    pub value: String,
}
