//! The master key: 32 random bytes that encrypt client secrets and signing keys at rest.
//!
//! Generated on first start into `master.key` in the data directory (mode 0600) unless
//! `security.master_key_file` names one. Without it the encrypted columns cannot be read:
//! back it up apart from the database (see the README).

use std::fmt;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("cannot read the master key {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the master key {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the master key {} is not 32 bytes of base64; restore the original file", .0.display())]
    Malformed(PathBuf),
}

impl MasterKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads the key at `path`, creating it (mode 0600, never overwriting) when absent.
    /// Only `create` says whether a missing file may be made: a configured key file that
    /// is missing is an error, since a new key would orphan everything encrypted.
    pub fn load_or_create(path: &Path, create: bool) -> Result<MasterKey, MasterKeyError> {
        match std::fs::File::open(path) {
            Ok(mut f) => {
                let mut text = String::new();
                f.read_to_string(&mut text)
                    .map_err(|source| MasterKeyError::Read {
                        path: path.to_path_buf(),
                        source,
                    })?;
                let raw = STANDARD
                    .decode(text.trim())
                    .map_err(|_| MasterKeyError::Malformed(path.to_path_buf()))?;
                let key: [u8; 32] = raw
                    .try_into()
                    .map_err(|_| MasterKeyError::Malformed(path.to_path_buf()))?;
                Ok(MasterKey(key))
            }
            Err(e) if e.kind() == ErrorKind::NotFound && create => Self::create(path),
            Err(source) => Err(MasterKeyError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn create(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let err = |source| MasterKeyError::Create {
            path: path.to_path_buf(),
            source,
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        writeln!(f, "{}", STANDARD.encode(key)).map_err(err)?;
        f.sync_all().map_err(err)?;
        Ok(MasterKey(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_with_mode_0600_then_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let a = MasterKey::load_or_create(&path, true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = MasterKey::load_or_create(&path, true).unwrap();
        assert_eq!(a.bytes(), b.bytes());
        assert_eq!(format!("{a:?}"), "MasterKey(***)");
    }

    #[test]
    fn configured_missing_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.key");
        assert!(MasterKey::load_or_create(&path, false).is_err());
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(
            MasterKey::load_or_create(&path, true),
            Err(MasterKeyError::Malformed(_))
        ));
    }
}
