//! What Kiln keeps on disk is private to the user it runs as: the data directory is 0700 and
//! the files holding secrets (the SQLite database and its `-wal`/`-shm`, the self-signed TLS
//! key, the keyring) are 0600. Modes are set explicitly, whatever the umask, and files left
//! readable by an older version are tightened at start.

use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// Creates `dir` (and its parents) if needed, and makes it 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Writes `contents` to a file only its owner may read or write.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    set_mode(path, 0o600)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// The SQLite file a `sqlite:` URL names, if it names one (not `:memory:`).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Creates the SQLite database file 0600 before SQLite opens it (SQLite gives its `-wal` and
/// `-shm` files the database file's mode), and tightens the three if they already exist.
pub fn private_sqlite(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if !path.exists() {
        write_private(path, b"")?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            set_mode(&file, 0o600)?;
        }
    }
    Ok(())
}

/// Makes the data directory private, with the self-signed TLS directory and key in it. A
/// shared directory (sticky bit, as `/tmp`) is left as it is, with a warning.
pub fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o1000 != 0 {
            tracing::warn!(dir = %dir.display(), "the data directory is a shared directory: its mode is left as it is; use a directory of its own");
        } else {
            set_mode(dir, 0o700)?;
        }
    }
    let tls = dir.join("tls");
    if tls.exists() {
        set_mode(&tls, 0o700)?;
        let key = tls.join("key.pem");
        if key.exists() {
            set_mode(&key, 0o600)?;
        }
    }
    Ok(())
}
