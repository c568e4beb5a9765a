//! Master keys: the keys that wrap every secret's own data key.
//!
//! They come from `KILN_MASTER_KEY` (plus `KILN_MASTER_KEY_PREVIOUS` while a rotation runs),
//! which every replica of a deployment must share, or, for the embedded default, from a keyring
//! file in the data directory that Kiln creates (mode 0600) on first use. Each key is known by
//! an id derived from the key itself, stored beside every key it wrapped, so a rotation can
//! tell which rows still need the old key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use parking_lot::RwLock;
use rand::RngCore;
use zeroize::Zeroizing;

use super::SecretError;

/// The keyring file of the embedded default, in the data directory.
pub const KEYRING_FILE: &str = "master-keys";

const KEY_LEN: usize = 32;

/// One master key. Its `Debug` shows the id only.
#[derive(Clone)]
pub struct MasterKey {
    pub id: String,
    pub(super) cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

impl MasterKey {
    /// A key from its base64 text (32 bytes).
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| SecretError::BadMasterKey("it is not base64".into()))?,
        );
        if bytes.len() != KEY_LEN {
            return Err(SecretError::BadMasterKey(format!(
                "it decodes to {} bytes, not {KEY_LEN}",
                bytes.len()
            )));
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let id = format!(
            "mk-{}",
            digest.as_ref()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| SecretError::BadMasterKey("wrong length".into()))?;
        Ok(Self { id, cipher })
    }
}

/// A new random master key, base64 (what `kiln keys generate` prints).
pub fn generate_base64() -> String {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    STANDARD.encode(bytes.as_ref())
}

/// The keys in force: the active one wraps new data keys; all of them unwrap.
#[derive(Debug, Clone)]
pub struct Keyring {
    pub active: MasterKey,
    pub previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.active)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }

    fn from_texts<'a>(mut texts: impl Iterator<Item = &'a str>) -> Result<Self, SecretError> {
        let active = texts
            .next()
            .ok_or_else(|| SecretError::BadMasterKey("no key is configured".into()))?;
        Ok(Self {
            active: MasterKey::from_base64(active)?,
            previous: texts
                .map(MasterKey::from_base64)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Where the master keys come from. `Debug` never shows a key.
#[derive(Clone)]
pub enum KeySource {
    /// `KILN_MASTER_KEY` and the comma-separated `KILN_MASTER_KEY_PREVIOUS`.
    Configured {
        current: String,
        previous: Vec<String>,
    },
    /// A keyring file: one base64 key per line, the active one first; created when absent.
    File(PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Configured { previous, .. } => write!(
                f,
                "KeySource::Configured(KILN_MASTER_KEY + {} previous)",
                previous.len()
            ),
            Self::File(path) => write!(f, "KeySource::File({})", path.display()),
        }
    }
}

impl KeySource {
    /// `KILN_MASTER_KEY` when set, else the keyring file in `data_dir`.
    pub fn from_settings(current: Option<&str>, previous: Option<&str>, data_dir: &Path) -> Self {
        match current.map(str::trim).filter(|k| !k.is_empty()) {
            Some(current) => Self::Configured {
                current: current.to_owned(),
                previous: previous
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            None => Self::File(data_dir.join(KEYRING_FILE)),
        }
    }
}

/// The master keys of this process. A keyring file is read again when it changes, so
/// `kiln keys rotate` next to a running `kiln serve` takes effect without a restart.
#[derive(Debug)]
pub struct MasterKeys {
    source: KeySource,
    /// The keys, and the digest of the file text they were read from.
    state: RwLock<(Arc<Keyring>, Option<Digest>)>,
}

/// SHA-256 of a keyring file's text: a change is noticed by content, since two writes within
/// the clock's resolution (or a restored backup) can leave the mtime as it was.
type Digest = [u8; 32];

fn digest(text: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref());
    out
}

impl MasterKeys {
    pub fn load(source: KeySource) -> Result<Self, SecretError> {
        let (keyring, stamp) = match &source {
            KeySource::Configured { current, previous } => (
                Keyring::from_texts(
                    std::iter::once(current.as_str()).chain(previous.iter().map(String::as_str)),
                )?,
                None,
            ),
            KeySource::File(path) => {
                ensure_file(path)?;
                let text = Zeroizing::new(std::fs::read_to_string(path)?);
                (parse(&text)?, Some(digest(&text)))
            }
        };
        Ok(Self {
            source,
            state: RwLock::new((Arc::new(keyring), stamp)),
        })
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The keys in force now (a changed keyring file is read again first).
    pub fn current(&self) -> Result<Arc<Keyring>, SecretError> {
        if let KeySource::File(path) = &self.source {
            // A few hundred bytes, read at each use: cheaper than trusting a timestamp.
            let text = Zeroizing::new(std::fs::read_to_string(path)?);
            let now = digest(&text);
            if self.state.read().1 != Some(now) {
                *self.state.write() = (Arc::new(parse(&text)?), Some(now));
            }
        }
        Ok(self.state.read().0.clone())
    }

    /// The key with this id, if this process knows it.
    pub fn find(&self, id: &str) -> Result<MasterKey, SecretError> {
        self.current()?
            .find(id)
            .cloned()
            .ok_or_else(|| SecretError::UnknownMasterKey(id.to_owned()))
    }
}

fn parse(text: &str) -> Result<Keyring, SecretError> {
    Keyring::from_texts(key_lines(text))
}

fn key_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Creates the keyring file with one new key when it does not exist. Processes starting
/// together race for it: the complete file is linked into place, which only one can do
/// (`link` fails when the name exists), and the others use the winner's key.
fn ensure_file(path: &Path) -> Result<(), SecretError> {
    if path.exists() {
        return Ok(());
    }
    let tmp = write_temp(path, &[generate_base64()])?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the keyring atomically (a complete temporary file renamed over it), readable by its
/// owner only. Callers that change an existing keyring hold the rotation lock.
pub fn write_file(path: &Path, keys: &[String]) -> Result<(), SecretError> {
    let tmp = write_temp(path, keys)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

/// A complete keyring beside `path` under a name no other writer uses, mode 0600 set
/// explicitly (the creation mode is subject to the umask), synced.
fn write_temp(path: &Path, keys: &[String]) -> Result<PathBuf, SecretError> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    let mut text = Zeroizing::new(String::from(
        "# Kiln master keys (base64, 32 bytes). The first wraps new secrets; all unwrap.\n",
    ));
    for key in keys {
        text.push_str(key);
        text.push('\n');
    }
    let written = (|| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(tmp)
}

/// The keys of a keyring file as written, active first.
pub fn file_keys(path: &Path) -> Result<Vec<String>, SecretError> {
    let text = Zeroizing::new(std::fs::read_to_string(path)?);
    Ok(key_lines(&text).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_derived_from_the_key_and_debug_shows_no_key() {
        let text = generate_base64();
        let a = MasterKey::from_base64(&text).unwrap();
        let b = MasterKey::from_base64(&text).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, MasterKey::from_base64(&generate_base64()).unwrap().id);
        assert!(!format!("{a:?}").contains(&text));
        let source = KeySource::from_settings(Some(&text), None, Path::new("."));
        assert!(!format!("{source:?}").contains(&text));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let err = MasterKey::from_base64("c2hvcnQ=").unwrap_err().to_string();
        assert!(err.contains("5 bytes"), "{err}");
        assert!(!err.contains("c2hvcnQ"));
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_keyring_file_is_created_private_and_read_again_when_it_changes() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        let keys = MasterKeys::load(KeySource::File(path.clone())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let first = keys.current().unwrap().active.id.clone();
        let mut texts = file_keys(&path).unwrap();
        texts.insert(0, generate_base64());
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_file(&path, &texts).unwrap();
        let now = keys.current().unwrap();
        assert_ne!(now.active.id, first);
        assert!(now.find(&first).is_some());
    }

    /// A rewrite within the clock's resolution keeps the mtime: the content decides.
    #[test]
    fn a_change_that_keeps_the_mtime_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        let keys = MasterKeys::load(KeySource::File(path.clone())).unwrap();
        let first = keys.current().unwrap().active.id.clone();
        let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut texts = file_keys(&path).unwrap();
        texts.insert(0, generate_base64());
        write_file(&path, &texts).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(stamp)
            .unwrap();
        assert_ne!(keys.current().unwrap().active.id, first);
    }

    /// Processes starting together on a fresh data directory agree on one key.
    #[test]
    fn concurrent_creation_agrees_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEYRING_FILE);
            let barrier = std::sync::Barrier::new(8);
            let ids: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            let keys = MasterKeys::load(KeySource::File(path.clone())).unwrap();
                            keys.current().unwrap().active.id.clone()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
            assert_eq!(file_keys(&path).unwrap().len(), 1);
        }
    }
}
