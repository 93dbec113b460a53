//! Key rotation policies (`GET|PUT /keys/{name}/rotationpolicy`).

use hsm_core::key::RotationPolicy;
use hsm_core::key::rotation::{IsoDuration, LifetimeAction, RotationAction, Trigger};
use hsm_core::time::UnixTime;
use serde::{Deserialize, Serialize};

use crate::{Result, WireError};

/// `KeyRotationPolicy`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct RotationPolicyBody {
    /// Times and the expiry of new versions.
    #[serde(default)]
    pub attributes: RotationAttributes,
    /// `https://host/keys/{name}/rotationpolicy` (answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What happens when.
    #[serde(rename = "lifetimeActions", default)]
    pub lifetime_actions: Vec<LifetimeActionBody>,
}

/// `KeyRotationPolicyAttributes`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct RotationAttributes {
    /// When the policy was first set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// New versions expire this long after creation (ISO 8601 duration).
    #[serde(
        rename = "expiryTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry_time: Option<String>,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
}

/// `LifetimeAction`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct LifetimeActionBody {
    /// What.
    #[serde(default)]
    pub action: ActionBody,
    /// When.
    #[serde(default)]
    pub trigger: TriggerBody,
}

/// `LifetimeActionType`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct ActionBody {
    /// `Rotate` or `Notify` (any case).
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// `LifetimeActionTrigger`: exactly one of the two.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct TriggerBody {
    /// This long after the latest version was created.
    #[serde(
        rename = "timeAfterCreate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub time_after_create: Option<String>,
    /// This long before the latest version expires.
    #[serde(
        rename = "timeBeforeExpiry",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub time_before_expiry: Option<String>,
}

impl RotationPolicyBody {
    /// The policy of a key (`None`: the one Azure shows for a key without a policy).
    pub fn of(id: String, policy: Option<&RotationPolicy>) -> RotationPolicyBody {
        let Some(p) = policy else {
            return RotationPolicyBody {
                attributes: RotationAttributes::default(),
                id: Some(id),
                lifetime_actions: vec![LifetimeActionBody {
                    action: ActionBody {
                        kind: "Notify".into(),
                    },
                    trigger: TriggerBody {
                        time_after_create: None,
                        time_before_expiry: Some("P30D".into()),
                    },
                }],
            };
        };
        let lifetime_actions = p
            .lifetime_actions
            .iter()
            .map(|a| LifetimeActionBody {
                action: ActionBody {
                    kind: match a.action {
                        RotationAction::Rotate => "Rotate",
                        RotationAction::Notify => "Notify",
                    }
                    .into(),
                },
                trigger: match &a.trigger {
                    Trigger::AfterCreate(d) => TriggerBody {
                        time_after_create: Some(d.as_str().into()),
                        time_before_expiry: None,
                    },
                    Trigger::BeforeExpiry(d) => TriggerBody {
                        time_after_create: None,
                        time_before_expiry: Some(d.as_str().into()),
                    },
                },
            })
            .collect();
        RotationPolicyBody {
            attributes: RotationAttributes {
                created: Some(p.created.0),
                expiry_time: p.expiry_time.as_ref().map(|d| d.as_str().into()),
                updated: Some(p.updated.0),
            },
            id: Some(id),
            lifetime_actions,
        }
    }

    /// The policy to set (its times are the core's to fill in).
    pub fn to_core(&self) -> Result<RotationPolicy> {
        let bad = |m: &str| WireError::invalid(format!("rotation policy: {m}"));
        let mut lifetime_actions = Vec::new();
        for a in &self.lifetime_actions {
            let t = &a.trigger;
            let trigger = match (&t.time_after_create, &t.time_before_expiry) {
                (Some(d), None) => Trigger::AfterCreate(IsoDuration::parse(d)?),
                (None, Some(d)) => Trigger::BeforeExpiry(IsoDuration::parse(d)?),
                _ => {
                    return Err(bad(
                        "each trigger has exactly one of timeAfterCreate and timeBeforeExpiry",
                    ));
                }
            };
            let action = match a.action.kind.to_ascii_lowercase().as_str() {
                "rotate" => RotationAction::Rotate,
                "notify" => RotationAction::Notify,
                _ => return Err(bad("action.type is Rotate or Notify")),
            };
            lifetime_actions.push(LifetimeAction { trigger, action });
        }
        let expiry_time = self
            .attributes
            .expiry_time
            .as_deref()
            .map(IsoDuration::parse)
            .transpose()?;
        Ok(RotationPolicy {
            lifetime_actions,
            expiry_time,
            created: UnixTime(0),
            updated: UnixTime(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_print_as_before_and_convert_back() {
        let default = RotationPolicyBody::of("i".into(), None);
        assert_eq!(
            serde_json::to_string(&default).unwrap(),
            json!({"id": "i", "attributes": {},
                   "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]})
            .to_string()
        );
        let sent = json!({"lifetimeActions": [
            {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "rotate"}},
            {"trigger": {"timeBeforeExpiry": "P10D"}, "action": {"type": "Notify"}}],
            "attributes": {"expiryTime": "P1Y"}});
        let body: RotationPolicyBody = crate::parse(sent.to_string().as_bytes()).unwrap();
        let mut policy = body.to_core().unwrap();
        assert_eq!(policy.lifetime_actions.len(), 2);
        policy.created = UnixTime(5);
        let shown = RotationPolicyBody::of("i".into(), Some(&policy));
        assert_eq!(shown.attributes.expiry_time.as_deref(), Some("P1Y"));
        assert_eq!(shown.lifetime_actions[0].action.kind, "Rotate");
        assert_eq!(
            json!(shown).to_string(),
            serde_json::to_string(&shown).unwrap()
        );
        for bad in [
            json!({"lifetimeActions": [{"trigger": {}, "action": {"type": "Rotate"}}]}),
            json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P1D"}, "action": {}}]}),
            json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "1 day"}, "action": {"type": "Rotate"}}]}),
        ] {
            let body: RotationPolicyBody = crate::parse(bad.to_string().as_bytes()).unwrap();
            assert!(body.to_core().is_err(), "{bad}");
        }
    }
}
