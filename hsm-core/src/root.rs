//! The root key: the secret every pool master key is wrapped under, and the identity of the
//! security domain.
//!
//! It comes from the environment variable [`ROOT_KEY_ENV`] (64 hex characters) when set, else
//! from the file `root.key` in the data directory, created with mode 0600 on first use. Two
//! data directories holding the same root key form one **security domain**: key backups made
//! in one restore in the other. Nothing else ever leaves a domain.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::seal::{SealKey, derive_secret};
use crate::secret::SecretBytes;

/// The environment variable that may carry the root key (64 hex characters).
pub const ROOT_KEY_ENV: &str = "MHSM_ROOT_KEY";
/// The root key file's name inside the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";

const ROOT_KEY_LEN: usize = 32;

/// Where the root key comes from.
pub enum RootKeySource {
    /// [`ROOT_KEY_ENV`] if set, else `root.key` in the data directory (created when the
    /// directory is new).
    Default,
    /// A key file at this path (created with mode 0600 when the data directory is new).
    File(PathBuf),
    /// The given bytes (32).
    Bytes(SecretBytes),
}

impl fmt::Debug for RootKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootKeySource::Default => f.write_str("Default"),
            RootKeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            RootKeySource::Bytes(_) => f.write_str("Bytes([REDACTED])"),
        }
    }
}

/// The keys derived from the root key. Never stored; rebuilt at every open.
#[derive(Debug)]
pub(crate) struct SecurityDomain {
    /// Public identifier of the domain (16 bytes, hex).
    pub id: String,
    /// Seals pool records and the store's own metadata.
    pub records: SealKey,
    /// Wraps pool master keys.
    pub master_wrap: SealKey,
    /// Seals key and pool backups.
    pub backup: SealKey,
    /// Seals the front ends' own secrets (a TLS key, say).
    pub aux: SealKey,
}

impl SecurityDomain {
    pub(crate) fn from_root(root: &SecretBytes) -> Result<SecurityDomain> {
        if root.len() != ROOT_KEY_LEN {
            return Err(Error::RootKey {
                message: format!("the root key must be {ROOT_KEY_LEN} bytes"),
            });
        }
        let id = derive_secret(root, "mhsm/v1/security-domain-id", 16)?;
        Ok(SecurityDomain {
            id: hex::encode(id.expose_secret()),
            records: SealKey::derive(root, "mhsm/v1/records")?,
            master_wrap: SealKey::derive(root, "mhsm/v1/master-key-wrap")?,
            backup: SealKey::derive(root, "mhsm/v1/backup")?,
            aux: SealKey::derive(root, "mhsm/v1/aux")?,
        })
    }
}

fn parse_hex_key(text: &str, origin: &str) -> Result<SecretBytes> {
    let text = text.trim();
    let mut out = SecretBytes::zeroed(ROOT_KEY_LEN);
    if text.len() != ROOT_KEY_LEN * 2
        || hex::decode_to_slice(text, out.expose_secret_mut()).is_err()
    {
        return Err(Error::RootKey {
            message: format!("{origin} must hold {} hex characters", ROOT_KEY_LEN * 2),
        });
    }
    Ok(out)
}

/// Reads the root key; `may_create` allows creating the key file (for a new data directory).
pub(crate) fn load(
    source: RootKeySource,
    data_dir: Option<&Path>,
    may_create: bool,
) -> Result<SecretBytes> {
    let path = match source {
        RootKeySource::Bytes(b) => {
            return if b.len() == ROOT_KEY_LEN {
                Ok(b)
            } else {
                Err(Error::RootKey {
                    message: format!("the root key must be {ROOT_KEY_LEN} bytes"),
                })
            };
        }
        RootKeySource::Default => {
            if let Ok(text) = std::env::var(ROOT_KEY_ENV) {
                let text = zeroize::Zeroizing::new(text);
                return parse_hex_key(&text, ROOT_KEY_ENV);
            }
            match data_dir {
                Some(dir) => dir.join(ROOT_KEY_FILE),
                None => {
                    return Err(Error::RootKey {
                        message: format!("no data directory and {ROOT_KEY_ENV} is not set"),
                    });
                }
            }
        }
        RootKeySource::File(p) => p,
    };
    match fs::read_to_string(&path) {
        Ok(text) => {
            let text = zeroize::Zeroizing::new(text);
            parse_hex_key(&text, &path.display().to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => create_key_file(&path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::RootKey {
            message: format!(
                "the root key file {} is missing, but the data directory holds data sealed under it",
                path.display()
            ),
        }),
        Err(e) => Err(Error::RootKey {
            message: format!("cannot read {}: {e}", path.display()),
        }),
    }
}

/// Creates a new random key file with mode 0600, atomically (write a temporary file, rename).
fn create_key_file(path: &Path) -> Result<SecretBytes> {
    let err = |e: std::io::Error| Error::RootKey {
        message: format!("cannot create {}: {e}", path.display()),
    };
    let mut key = SecretBytes::zeroed(ROOT_KEY_LEN);
    getrandom::fill(key.expose_secret_mut()).map_err(|_| Error::RandomFailure)?;
    let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(key.expose_secret())));
    let tmp = path.with_extension("key.tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        // Make the rename itself durable.
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    tracing::info!(path = %path.display(), "created a new root key file");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let a = load(RootKeySource::File(path.clone()), None, true).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = load(RootKeySource::File(path.clone()), None, false).unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn missing_file_is_an_error_when_data_exists() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(
            RootKeySource::File(dir.path().join("root.key")),
            None,
            false,
        )
        .unwrap_err();
        assert_eq!(err.code(), "RootKey");
    }

    #[test]
    fn bad_contents_and_lengths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        fs::write(&path, "abcd").unwrap();
        assert_eq!(
            load(RootKeySource::File(path), None, true)
                .unwrap_err()
                .code(),
            "RootKey"
        );
        let short = RootKeySource::Bytes(SecretBytes::from_slice(&[1; 16]));
        assert!(load(short, None, true).is_err());
        assert!(SecurityDomain::from_root(&SecretBytes::from_slice(&[1; 31])).is_err());
    }

    #[test]
    fn domain_id_depends_on_the_root_only() {
        let a = SecurityDomain::from_root(&SecretBytes::from_slice(&[1; 32])).unwrap();
        let b = SecurityDomain::from_root(&SecretBytes::from_slice(&[1; 32])).unwrap();
        let c = SecurityDomain::from_root(&SecretBytes::from_slice(&[2; 32])).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.len(), 32);
        assert!(!format!("{a:?}").contains(&hex::encode([1u8; 32])));
    }
}
