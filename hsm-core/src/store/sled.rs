//! The sled engine (0.34): one tree, atomic batches, a flush before every acknowledgement.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Batch, Store, Visitor, Write};
use crate::error::{Error, Result};

/// A store in a sled database directory. Only one process may hold a directory.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
}

/// sled's page cache. The core reads every record once, at open, and keeps what it needs in
/// memory; sled's default (1 GiB) would keep a second copy of a large store resident.
const SLED_CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl SledStore {
    /// Opens (or creates) the database in `path`. Fails at once with
    /// [`Error::StoreLocked`] when another process holds it.
    ///
    /// sled releases its lock a moment after the last handle drops (its worker threads let
    /// go of the file), so a directory this very process just closed is retried for a short
    /// while, and so is a lock whose holder is gone by the time `/proc/locks` is read (the
    /// same release, seen a moment later); one held by another process fails at once.
    pub fn open(path: &Path) -> Result<SledStore> {
        let deadline = Instant::now() + Duration::from_secs(2);
        let db = loop {
            match sled::Config::new()
                .path(path)
                .cache_capacity(SLED_CACHE_BYTES)
                .open()
            {
                Ok(db) => break db,
                Err(e) => match open_error(path, e) {
                    Error::StoreLocked { holder, .. }
                        if holder.is_none_or(|pid| pid == std::process::id())
                            && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    other => return Err(other),
                },
            }
        };
        Ok(SledStore {
            db,
            path: path.to_path_buf(),
        })
    }

    fn storage_error(&self, e: sled::Error) -> Error {
        Error::Storage {
            message: format!("{}: {e}", self.path.display()),
        }
    }
}

fn open_error(path: &Path, e: sled::Error) -> Error {
    match &e {
        // sled takes an exclusive file lock; failing to get it is reported as an I/O error.
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
        {
            Error::StoreLocked {
                path: path.to_path_buf(),
                holder: lock_holder(path),
            }
        }
        sled::Error::Corruption { .. } => Error::Corrupted {
            record: format!("sled database in {}", path.display()),
        },
        _ => Error::Storage {
            message: format!("cannot open {}: {e}", path.display()),
        },
    }
}

/// The process holding a sled store's lock (an `flock` on `<store>/db`), from `/proc/locks`.
fn lock_holder(store: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(store.join("db")).ok()?;
    let dev = meta.dev();
    // Linux's encoding of dev_t (glibc's gnu_dev_major / gnu_dev_minor).
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let ino = format!(":{}", meta.ino());
    let exact = format!("{major:02x}:{minor:02x}{ino}");
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters have "->" after "1:".
    // On overlay file systems the device may differ from stat's: then match the inode.
    let holders: Vec<(&str, &str)> = locks
        .lines()
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [_, "FLOCK", _, _, pid, id, ..] => Some((pid, id)),
                _ => None,
            },
        )
        .collect();
    holders
        .iter()
        .find(|(_, id)| *id == exact)
        .or_else(|| holders.iter().find(|(_, id)| id.ends_with(&ino)))
        .and_then(|(pid, _)| pid.parse().ok())
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| self.storage_error(e))
    }

    fn scan_prefix(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        for item in self.db.scan_prefix(prefix) {
            let (k, v) = item.map_err(|e| self.storage_error(e))?;
            f(&k, &v)?;
        }
        Ok(())
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut b = sled::Batch::default();
        for w in batch.writes {
            match w {
                Write::Put(k, v) => b.insert(k, v),
                Write::Delete(k) => b.remove(k),
            }
        }
        self.db.apply_batch(b).map_err(|e| self.storage_error(e))?;
        self.db.flush().map_err(|e| self.storage_error(e))?;
        Ok(())
    }
}
