//! The sled engine (0.34): one tree, atomic batches, a flush before every acknowledgement.

use std::path::{Path, PathBuf};

use super::{Batch, Store, Visitor, Write};
use crate::error::{Error, Result};

/// A store in a sled database directory. Only one process may hold a directory.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
}

impl SledStore {
    /// Opens (or creates) the database in `path`. Fails at once with
    /// [`Error::StoreLocked`] when another process holds it.
    pub fn open(path: &Path) -> Result<SledStore> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| open_error(path, e))?;
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
