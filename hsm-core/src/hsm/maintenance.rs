//! Maintenance: deleted pools purged past their retention, and each live pool's own (due
//! key purges, rotations by policy); run lazily before calls, or by the caller on a timer.

use std::sync::atomic::Ordering;

use super::Hsm;
use crate::error::Result;
use crate::pool::Pool;

impl Hsm {
    /// on a timer.
    pub fn maintain(&self) -> Result<()> {
        if self.inner.is_read_only() {
            return Ok(());
        }
        let now = self.now();
        if now.0 >= self.inner.next_pool_purge.load(Ordering::SeqCst) {
            let due: Vec<String> = self
                .inner
                .pools
                .read()
                .values()
                .filter(|p| {
                    p.data
                        .read()
                        .record
                        .deleted
                        .as_ref()
                        .is_some_and(|d| d.scheduled_purge <= now)
                })
                .map(|p| p.name.clone())
                .collect();
            for name in due {
                self.erase_pool(&name)?;
                tracing::info!(pool = %name, "purged a pool past its retention");
            }
        }
        let live: Vec<Pool> = self
            .inner
            .pools
            .read()
            .values()
            .map(|state| Pool {
                hsm: self.inner.clone(),
                state: state.clone(),
            })
            .collect();
        for pool in live {
            pool.maintain()?;
        }
        Ok(())
    }

    pub(super) fn maintain_pools(&self) -> Result<()> {
        if self.now().0 >= self.inner.next_pool_purge.load(Ordering::SeqCst) {
            self.maintain()?;
        }
        Ok(())
    }

    /// Before a read: due maintenance, unless the caller runs it ([`Hsm::defer_maintenance`]).
    pub(super) fn maintain_pools_for_read(&self) -> Result<()> {
        if self.inner.maintenance_deferred() {
            return Ok(());
        }
        self.maintain_pools()
    }

    /// Reads stop running due maintenance (purges past retention, rotations by policy),
    /// which writes and fsyncs: the caller runs [`Hsm::maintain`] where blocking is
    /// allowed, on a timer and whenever [`Hsm::maintenance_due`] says so before a read. A
    /// server does this so that the reads it answers on its async workers never write;
    /// writes still run due maintenance first.
    pub fn defer_maintenance(&self) {
        self.inner
            .deferred_maintenance
            .store(true, Ordering::Relaxed);
    }

    /// Whether maintenance is due for the HSM's pools or in the pool `pool` (a cheap check:
    /// the clock and three counters).
    pub fn maintenance_due(&self, pool: &str) -> bool {
        let now = self.now();
        if now.0 >= self.inner.next_pool_purge.load(Ordering::SeqCst) {
            return true;
        }
        self.state(pool).is_some_and(|s| s.maintenance_due(now))
    }
}
