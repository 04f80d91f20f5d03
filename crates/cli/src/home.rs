//! `HERMOD_HOME` and the privacy of what is in it.
//!
//! The home holds conversations (`hermod.db` with its `-wal` and `-shm`),
//! received files (`media/`), written deliveries (`output/`) and secrets
//! (`.env`, and keys `config.yaml` may hold): nothing in it is for other local
//! users. Two measures keep it so:
//!
//! - [`restrict_umask`], first thing in `main`, makes every file the process
//!   creates — by SQLite, an adapter, core or the CLI — 0600 and every
//!   directory 0700, without each of them having to ask;
//! - [`open`], in every command that uses the home, creates it 0700 and
//!   takes group and other permissions away from what an older hermod, a
//!   restored backup or a copy left readable, logging once what it changed.

use crate::config;
use anyhow::Context;
use hermod_model::EnvVars;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// The files directly in the home that must be private.
const PRIVATE_FILES: &[&str] = &[
    "hermod.db",
    "hermod.db-wal",
    "hermod.db-shm",
    ".env",
    "config.yaml",
];

/// The directories in the home whose whole contents must be private.
const PRIVATE_DIRS: &[&str] = &["media", "output"];

/// Whether a command may create the home when it does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// The command writes to the home (the gateway, pairing).
    Yes,
    /// The command only reads; a missing home is its own answer.
    No,
}

/// Makes files the process creates from now on private to its user
/// (umask 0o077: files 0600, directories 0700).
pub fn restrict_umask() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::RWXG | Mode::RWXO);
    }
}

/// Finds `HERMOD_HOME`, creates it (0700) when `create` says so and it does
/// not exist, and makes what is already in it private.
pub fn open(process_env: &EnvVars, create: Create) -> anyhow::Result<PathBuf> {
    let home = config::home_dir(process_env)?;
    if create == Create::Yes && !home.exists() {
        create_private_dir(&home).with_context(|| format!("cannot create {}", home.display()))?;
    }
    if home.is_dir() {
        let tightened = tighten(&home);
        if !tightened.is_empty() {
            info!(
                home = %home.display(),
                tightened = %tightened.join(", "),
                "made files in HERMOD_HOME private: other users could read them"
            );
        }
    }
    Ok(home)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Takes group and other permissions from the home and the private files
/// and directories in it; returns what it changed, for the log (a
/// directory's entries are counted, not named). A path it cannot change is
/// logged and left as it is: the command still runs.
#[cfg(unix)]
fn tighten(home: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    if make_private(home) {
        changed.push("HERMOD_HOME".to_owned());
    }
    for name in PRIVATE_FILES {
        if make_private(&home.join(name)) {
            changed.push((*name).to_owned());
        }
    }
    for name in PRIVATE_DIRS {
        let n = tighten_tree(&home.join(name));
        if n > 0 {
            changed.push(format!("{name}/ ({n} entries)"));
        }
    }
    changed
}

#[cfg(not(unix))]
fn tighten(_home: &Path) -> Vec<String> {
    Vec::new()
}

/// Makes `root` and everything under it private; returns how many entries
/// changed. Symbolic links are neither followed nor changed.
#[cfg(unix)]
fn tighten_tree(root: &Path) -> usize {
    let mut changed = 0;
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        if make_private(&path) {
            changed += 1;
        }
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir {
            continue;
        }
        match std::fs::read_dir(&path) {
            Ok(entries) => pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path())),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot list a directory to make it private")
            }
        }
    }
    changed
}

/// Clears the group and other bits of a file or directory (not of a
/// symbolic link's target); returns whether it changed anything.
#[cfg(unix)]
fn make_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() || mode & 0o077 == 0 {
        return false;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077)) {
        Ok(()) => true,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot make a file in HERMOD_HOME private");
            false
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn tightens_the_home_its_files_and_its_directories_recursively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path();
        let nested = home.join("media").join("chat");
        std::fs::create_dir_all(&nested).expect("mkdir");
        std::fs::create_dir_all(home.join("output")).expect("mkdir");
        for file in ["hermod.db", ".env", "media/chat/photo.jpg", "output/a.md"] {
            std::fs::write(home.join(file), "x").expect("write");
            chmod(&home.join(file), 0o644);
        }
        std::fs::write(home.join("notes.txt"), "mine").expect("write");
        chmod(&home.join("notes.txt"), 0o644);
        std::os::unix::fs::symlink(home.join("notes.txt"), home.join("media/link"))
            .expect("symlink");
        for d in [home, &home.join("media"), &nested, &home.join("output")] {
            chmod(d, 0o755);
        }
        chmod(&home.join("hermod.db"), 0o440);

        let changed = tighten(home);
        assert_eq!(
            changed,
            [
                "HERMOD_HOME",
                "hermod.db",
                ".env",
                "media/ (3 entries)",
                "output/ (2 entries)"
            ]
        );
        assert_eq!(mode(home), 0o700);
        assert_eq!(mode(&home.join("hermod.db")), 0o400, "only access is taken");
        assert_eq!(mode(&home.join(".env")), 0o600);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&home.join("media/chat/photo.jpg")), 0o600);
        assert_eq!(mode(&home.join("output/a.md")), 0o600);
        assert_eq!(
            mode(&home.join("notes.txt")),
            0o644,
            "a link's target outside the private set is left alone"
        );
        assert!(tighten(home).is_empty(), "a second pass changes nothing");
    }

    #[test]
    fn open_creates_a_missing_home_private_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("a").join("home");
        let env: EnvVars = [("HERMOD_HOME", home.to_str().expect("utf-8"))]
            .into_iter()
            .collect();
        assert_eq!(open(&env, Create::No).expect("open"), home);
        assert!(!home.exists());
        open(&env, Create::Yes).expect("open");
        assert_eq!(mode(&home), 0o700);
    }
}
