//! The station's Ed25519 signing key (ring): a PKCS#8 v2 file, created on first use with mode 0600
//! (its directory, when created, 0700), refused when group or others may read it. Debug prints
//! only the public key.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::{AuditError, AuditEvent};

/// The key's file name next to the database (`<db dir>/station-key.pk8`).
pub const KEY_FILE_NAME: &str = "station-key.pk8";

/// The station's signing key.
pub struct StationKey {
    pair: Ed25519KeyPair,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for StationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationKey")
            .field("path", &self.path)
            .field("public_key", &self.public_key_hex())
            .field("private_key", &"REDACTED")
            .finish()
    }
}

fn key_err(path: &Path, message: impl Into<String>) -> AuditError {
    AuditError::Key { path: path.to_path_buf(), message: message.into() }
}

impl StationKey {
    /// The default key path for a database: the same directory, [`KEY_FILE_NAME`].
    pub fn default_path_for(db: &Path) -> PathBuf {
        match db.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) => dir.join(KEY_FILE_NAME),
            None => PathBuf::from(KEY_FILE_NAME),
        }
    }

    /// A fresh key that lives only in memory (tests, benchmarks).
    pub fn generate() -> Result<StationKey, AuditError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| AuditError::Key { path: PathBuf::new(), message: "the system random generator failed".into() })?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| AuditError::Key { path: PathBuf::new(), message: format!("generated key rejected: {e}") })?;
        Ok(StationKey { pair, path: None })
    }

    /// Load the key at `path`; it must exist, be a PKCS#8 Ed25519 key and not be readable by group
    /// or others.
    pub fn load(path: &Path) -> Result<StationKey, AuditError> {
        let meta = std::fs::metadata(path).map_err(|e| key_err(path, format!("cannot read: {e}")))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(key_err(
                path,
                format!("mode {mode:04o} lets group or others read the private key; it must be 0600 (chmod 600)"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| key_err(path, format!("cannot read: {e}")))?;
        let pair = Ed25519KeyPair::from_pkcs8(&bytes)
            .map_err(|e| key_err(path, format!("not a PKCS#8 v2 Ed25519 key ({} bytes): {e}", bytes.len())))?;
        Ok(StationKey { pair, path: Some(path.to_path_buf()) })
    }

    /// Load the key at `path`, creating it first if there is no file: a new key written to a
    /// temporary file (mode 0600, synced), then linked to `path` (so two processes starting at once
    /// end up with the same key), the directory created with mode 0700 when missing.
    pub fn load_or_create(path: &Path) -> Result<StationKey, AuditError> {
        if path.exists() {
            return StationKey::load(path);
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| key_err(path, format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| key_err(path, "the system random generator failed"))?;
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(pkcs8.as_ref())?;
            f.sync_all()?;
            match std::fs::hard_link(&tmp, path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            std::fs::File::open(dir)?.sync_all()
        })();
        let _ = std::fs::remove_file(&tmp);
        written.map_err(|e| key_err(path, format!("cannot create the key file: {e}")))?;
        StationKey::load(path)
    }

    /// Where the key was loaded from (none for a generated key).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The Ed25519 public key, hex (64 digits).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    /// Sign `message`; the signature in hex (128 digits).
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }
}

/// The event of a daemon start: this build's version and the station key that signs the
/// checkpoints. Here rather than in `audit_format::event`, so that the log's format does not
/// name the key.
pub fn daemon_start_event(key: &StationKey) -> AuditEvent {
    AuditEvent::DaemonStart { version: env!("CARGO_PKG_VERSION").to_string(), station_key: key.public_key_hex() }
}

/// Whether `s` is an Ed25519 public key in hex (64 lower-case digits).
pub fn is_public_key_hex(s: &str) -> bool {
    super::entry::is_sha256_hex(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_with_tight_modes_and_reloaded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("new/dir/key.pk8");
        let k = StationKey::load_or_create(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(path.parent().expect("dir")).expect("dir").permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        let again = StationKey::load_or_create(&path).expect("loaded");
        assert_eq!(k.public_key_hex(), again.public_key_hex());
        assert!(!format!("{k:?}").contains(&hex::encode(std::fs::read(&path).expect("read"))));
        assert!(format!("{k:?}").contains("REDACTED"));
    }

    #[test]
    fn loose_mode_and_garbage_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("key.pk8");
        StationKey::load_or_create(&path).expect("created");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = StationKey::load(&path).expect_err("refused");
        assert!(e.to_string().contains("0644"), "{e}");
        std::fs::write(&path, b"not a key").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let e = StationKey::load(&path).expect_err("refused");
        assert!(e.to_string().contains("PKCS#8"), "{e}");
    }

    #[test]
    fn signatures_verify_with_ring() {
        let k = StationKey::generate().expect("key");
        let sig = hex::decode(k.sign_hex(b"msg")).expect("hex");
        let pk = hex::decode(k.public_key_hex()).expect("hex");
        let v = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk);
        assert!(v.verify(b"msg", &sig).is_ok());
        assert!(v.verify(b"msh", &sig).is_err());
    }
}
