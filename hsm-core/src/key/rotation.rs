//! Rotation policies: when a key rotates by itself, and how long new versions live.
//!
//! As Azure defines them: lifetime actions, each a trigger (a time after the latest version's
//! creation, or a time before its expiry) and an action (`Rotate`, or `Notify`, which mhsm
//! records but does not act on); and an expiry time given to every new version. Durations
//! are ISO 8601 (`P90D`, `P1Y6M`, `P2W`, `PT12H`); a year counts 365 days and a month 30.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::{DAY, UnixTime};

/// An ISO 8601 duration, as written (so it reads back the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IsoDuration {
    text: String,
    seconds: i64,
}

impl IsoDuration {
    /// Parses `P[nY][nM][nW][nD][T[nH][nM][nS]]`.
    pub fn parse(text: &str) -> Result<IsoDuration> {
        let bad =
            || Error::bad_parameter(format!("'{text}' is not an ISO 8601 duration such as P90D"));
        let rest = text.strip_prefix('P').ok_or_else(bad)?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let mut seconds: i64 = 0;
        let mut any = false;
        let mut add = |part: &str, units: &[(char, i64)]| -> Result<()> {
            let mut number = String::new();
            let mut allowed = units.iter();
            for c in part.chars() {
                if c.is_ascii_digit() {
                    number.push(c);
                    continue;
                }
                // Units must come in order, each at most once.
                let (_, unit) = allowed.by_ref().find(|(u, _)| *u == c).ok_or_else(bad)?;
                let n: i64 = number.parse().map_err(|_| bad())?;
                seconds = n
                    .checked_mul(*unit)
                    .and_then(|s| seconds.checked_add(s))
                    .ok_or_else(bad)?;
                number.clear();
                any = true;
            }
            if number.is_empty() {
                Ok(())
            } else {
                Err(bad())
            }
        };
        add(
            date,
            &[
                ('Y', 365 * DAY),
                ('M', 30 * DAY),
                ('W', 7 * DAY),
                ('D', DAY),
            ],
        )?;
        if let Some(t) = time {
            add(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
        }
        if !any {
            return Err(bad());
        }
        Ok(IsoDuration {
            text: text.to_string(),
            seconds,
        })
    }

    /// The length in seconds.
    pub fn seconds(&self) -> i64 {
        self.seconds
    }

    /// The duration as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl TryFrom<String> for IsoDuration {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        IsoDuration::parse(&s)
    }
}

impl From<IsoDuration> for String {
    fn from(d: IsoDuration) -> String {
        d.text
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// When a lifetime action fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// This long after the latest version was created.
    AfterCreate(IsoDuration),
    /// This long before the latest version expires.
    BeforeExpiry(IsoDuration),
}

/// What a lifetime action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationAction {
    /// Add a new version.
    Rotate,
    /// Notify (recorded; mhsm sends no notifications).
    Notify,
}

/// One lifetime action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifetimeAction {
    /// When.
    pub trigger: Trigger,
    /// What.
    pub action: RotationAction,
}

/// A key's rotation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// The lifetime actions (at most one `Rotate`).
    pub lifetime_actions: Vec<LifetimeAction>,
    /// New versions expire this long after they are created.
    pub expiry_time: Option<IsoDuration>,
    /// When the policy was first set.
    pub created: UnixTime,
    /// When it last changed.
    pub updated: UnixTime,
}

/// Azure's minimum gap between a rotation and creation or expiry.
const MIN_TRIGGER: i64 = 7 * DAY;
/// Azure's minimum expiry time.
const MIN_EXPIRY: i64 = 28 * DAY;

impl RotationPolicy {
    /// Checks the policy against Azure's rules: at most one `Rotate` action; a rotation at
    /// least 7 days after creation and 7 days before expiry; an expiry time of at least 28
    /// days, longer than a `timeAfterCreate` rotation; `timeBeforeExpiry` needs an expiry.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::bad_parameter(m.to_string()));
        let rotations: Vec<&LifetimeAction> = self
            .lifetime_actions
            .iter()
            .filter(|a| a.action == RotationAction::Rotate)
            .collect();
        if rotations.len() > 1 {
            return bad("a rotation policy has at most one Rotate action");
        }
        if let Some(exp) = &self.expiry_time
            && exp.seconds() < MIN_EXPIRY
        {
            return bad("the expiry time must be at least 28 days (P28D)");
        }
        for a in &self.lifetime_actions {
            let gap = match &a.trigger {
                Trigger::AfterCreate(d) | Trigger::BeforeExpiry(d) => d.seconds(),
            };
            if a.action == RotationAction::Rotate && gap < MIN_TRIGGER {
                return bad("a rotation must come at least 7 days after creation or before expiry");
            }
            match (&a.trigger, &self.expiry_time) {
                (Trigger::AfterCreate(d), Some(exp)) if d.seconds() >= exp.seconds() => {
                    return bad("timeAfterCreate must be shorter than the expiry time");
                }
                (Trigger::BeforeExpiry(d), Some(exp))
                    if exp.seconds() - d.seconds() < MIN_TRIGGER =>
                {
                    return bad("timeBeforeExpiry leaves less than 7 days after creation");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// When the next rotation is due for a latest version created at `created` and expiring
    /// at `expires`; None when the policy never rotates it.
    pub fn rotation_due(&self, created: UnixTime, expires: Option<UnixTime>) -> Option<UnixTime> {
        self.lifetime_actions
            .iter()
            .filter(|a| a.action == RotationAction::Rotate)
            .filter_map(|a| match &a.trigger {
                Trigger::AfterCreate(d) => Some(UnixTime(created.0.saturating_add(d.seconds()))),
                Trigger::BeforeExpiry(d) => {
                    expires.map(|e| UnixTime(e.0.saturating_sub(d.seconds())))
                }
            })
            .min()
    }

    /// The expiry of a version created at `now` under this policy.
    pub fn expiry_for(&self, now: UnixTime) -> Option<UnixTime> {
        self.expiry_time
            .as_ref()
            .map(|d| UnixTime(now.0.saturating_add(d.seconds())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> IsoDuration {
        IsoDuration::parse(s).unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(d("P90D").seconds(), 90 * DAY);
        assert_eq!(d("P1Y6M").seconds(), 365 * DAY + 180 * DAY);
        assert_eq!(d("P2W").seconds(), 14 * DAY);
        assert_eq!(d("PT12H30M5S").seconds(), 12 * 3600 + 30 * 60 + 5);
        assert_eq!(d("P1DT1H").seconds(), DAY + 3600);
        assert_eq!(d("P18M").as_str(), "P18M");
        for bad in [
            "",
            "P",
            "90D",
            "PT",
            "P1H",
            "PD",
            "P1D2",
            "P1M1Y",
            "P1D1D",
            "P-1D",
            "P99999999999999999999D",
            "P1DT",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&d("P30D")).unwrap();
        assert_eq!(json, "\"P30D\"");
        assert!(serde_json::from_str::<IsoDuration>("\"nope\"").is_err());
    }

    fn policy(actions: Vec<LifetimeAction>, expiry: Option<&str>) -> RotationPolicy {
        RotationPolicy {
            lifetime_actions: actions,
            expiry_time: expiry.map(d),
            created: UnixTime(0),
            updated: UnixTime(0),
        }
    }

    fn rotate(trigger: Trigger) -> LifetimeAction {
        LifetimeAction {
            trigger,
            action: RotationAction::Rotate,
        }
    }

    #[test]
    fn validation() {
        policy(vec![rotate(Trigger::AfterCreate(d("P30D")))], Some("P90D"))
            .validate()
            .unwrap();
        policy(vec![rotate(Trigger::BeforeExpiry(d("P30D")))], Some("P90D"))
            .validate()
            .unwrap();
        let notify = LifetimeAction {
            trigger: Trigger::BeforeExpiry(d("P1D")),
            action: RotationAction::Notify,
        };
        policy(vec![notify], None).validate().unwrap();
        let refused = [
            policy(vec![rotate(Trigger::AfterCreate(d("P6D")))], None),
            policy(vec![rotate(Trigger::AfterCreate(d("P90D")))], Some("P90D")),
            policy(vec![], Some("P27D")),
            policy(vec![rotate(Trigger::BeforeExpiry(d("P85D")))], Some("P90D")),
            policy(
                vec![
                    rotate(Trigger::AfterCreate(d("P30D"))),
                    rotate(Trigger::AfterCreate(d("P40D"))),
                ],
                None,
            ),
        ];
        for p in refused {
            assert_eq!(p.validate().unwrap_err().code(), "BadParameter", "{p:?}");
        }
    }

    #[test]
    fn due_dates() {
        let after = policy(vec![rotate(Trigger::AfterCreate(d("P30D")))], Some("P90D"));
        assert_eq!(
            after.rotation_due(UnixTime(100), None),
            Some(UnixTime(100 + 30 * DAY))
        );
        assert_eq!(after.expiry_for(UnixTime(5)), Some(UnixTime(5 + 90 * DAY)));
        let before = policy(vec![rotate(Trigger::BeforeExpiry(d("P10D")))], None);
        assert_eq!(
            before.rotation_due(UnixTime(0), None),
            None,
            "no expiry, no rotation"
        );
        assert_eq!(
            before.rotation_due(UnixTime(0), Some(UnixTime(20 * DAY))),
            Some(UnixTime(10 * DAY))
        );
        assert_eq!(
            policy(vec![], None).rotation_due(UnixTime(0), Some(UnixTime(1))),
            None
        );
    }
}
