//! Writing the gateway's state files so that a reader never sees half of
//! one: each is written whole to a temporary file beside it (0600), synced,
//! then renamed over (or, for a file that must not exist yet, linked to)
//! its name.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Opens (creating, 0600) a file for locking.
pub fn open_private(path: &Path) -> anyhow::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    private(&mut options);
    options
        .open(path)
        .with_context(|| format!("cannot open {} (is HERMOD_HOME writable?)", path.display()))
}

/// Replaces `path` with `bytes` in one step.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = write_temp(path, bytes)?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        anyhow::anyhow!("cannot write {}: {e}", path.display())
    })
}

/// Creates `path` with `bytes` in one step; fails if it exists.
pub fn create_exclusive(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = write_temp(path, bytes)?;
    // A hard link fails when the name is taken, where a rename would
    // replace it.
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    linked.with_context(|| format!("cannot create {}", path.display()))
}

fn write_temp(path: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(name);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    private(&mut options);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    written.map(|()| temp.clone()).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        anyhow::anyhow!(
            "cannot write {}: {e} (is HERMOD_HOME writable?)",
            temp.display()
        )
    })
}

fn private(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = options;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_replaced_whole_and_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(create_exclusive(&path, b"three").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let fresh = dir.path().join("pid");
        create_exclusive(&fresh, b"1").unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"1");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left");
    }
}
