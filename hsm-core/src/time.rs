//! Time as the core sees it: unix seconds, read through an injectable [`Clock`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Seconds since the unix epoch (UTC), the unit of every Azure timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

/// Seconds in a day.
pub const DAY: i64 = 86_400;

impl UnixTime {
    /// This time plus `days` days.
    pub fn plus_days(self, days: u32) -> UnixTime {
        UnixTime(self.0.saturating_add(i64::from(days) * DAY))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (unix)", self.0)
    }
}

/// Where the core reads the current time. Inject a [`ManualClock`] to move time in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: UnixTime) -> Self {
        Self(Arc::new(AtomicI64::new(start.0)))
    }

    /// A clock standing at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Moves the clock forward by `days`.
    pub fn advance_days(&self, days: i64) {
        self.advance(days * DAY);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: UnixTime) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

/// The system clock moved forward by an adjustable offset: a server's test hook shifts time
/// without stopping it. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock(Arc<AtomicI64>);

impl OffsetClock {
    /// The system clock, not shifted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `seconds` (negative values are refused).
    pub fn advance(&self, seconds: i64) -> Result<UnixTime, crate::Error> {
        if seconds < 0 {
            return Err(crate::Error::BadParameter {
                message: "time only moves forward".into(),
            });
        }
        self.0.fetch_add(seconds, Ordering::SeqCst);
        Ok(self.now())
    }

    /// How far the clock is ahead of the system clock, in seconds.
    pub fn offset(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> UnixTime {
        UnixTime(SystemClock.now().0.saturating_add(self.offset()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn offset_clock_runs_ahead() {
        let c = OffsetClock::new();
        let before = SystemClock.now();
        c.advance(DAY).unwrap();
        assert!(c.now().0 >= before.0 + DAY);
        assert_eq!(c.clone().offset(), DAY);
        assert!(c.advance(-1).is_err());
    }

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(UnixTime(1000));
        let shared = c.clone();
        assert_eq!(c.now(), UnixTime(1000));
        shared.advance_days(2);
        assert_eq!(c.now(), UnixTime(1000 + 2 * DAY));
        c.set(UnixTime(5));
        assert_eq!(shared.now(), UnixTime(5));
    }

    #[test]
    fn plus_days_saturates() {
        assert_eq!(UnixTime(i64::MAX - 1).plus_days(90), UnixTime(i64::MAX));
        assert_eq!(UnixTime(0).plus_days(1), UnixTime(DAY));
    }
}
