//! Token-scoped locks: one gateway per bot token on this machine's user.
//!
//! Two gateways with different homes but the same bot token would both
//! poll it, and each would get half of the updates (or, with a gateway
//! websocket, knock the other off). So before a platform is built, each of
//! its [`Claim`]s is locked in a per-user directory ([`LockDir`]): a file
//! `<scope>-<first 16 hex digits of sha256(identity)>.lock` (the token
//! itself is never written) holding an OS file lock for as long as the
//! gateway runs, and JSON saying who holds it ([`Holder`]) so the gateway
//! refused can name it.
//!
//! The OS lock is the truth: it goes with the process, however that ends.
//! The JSON is what a refusal shows, and what a gateway taking a free lock
//! finds left by one that did not stop cleanly (a stale lock), which it
//! takes over with a log line saying why the lock was free.

use hermod_core::Claim;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The directory the lock files are in: `$HERMOD_LOCK_DIR`, else
/// `$XDG_STATE_HOME/hermod/locks`, else `~/.local/state/hermod/locks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockDir(PathBuf);

impl LockDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    /// The directory named by these variables (read with `var`), or
    /// `None` when none of `HERMOD_LOCK_DIR`, `XDG_STATE_HOME` and `HOME`
    /// is set.
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Option<Self> {
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = set("HERMOD_LOCK_DIR") {
            return Some(Self(dir));
        }
        if let Some(state) = set("XDG_STATE_HOME") {
            return Some(Self(state.join("hermod").join("locks")));
        }
        set("HOME").map(|home| Self(home.join(".local/state/hermod/locks")))
    }

    /// The directory of this process's environment.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The lock file of `claim`.
    pub fn file_of(&self, claim: &Claim) -> PathBuf {
        let digest = Sha256::digest(claim.identity.expose().as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        self.0.join(format!("{}-{hex}.lock", claim.scope))
    }

    /// Locks `claim` for `owner` until the returned lock is dropped.
    pub fn acquire(&self, claim: &Claim, owner: &Owner) -> Result<ClaimLock, LockError> {
        let path = self.file_of(claim);
        let io = |error: std::io::Error| LockError::Io {
            path: path.clone(),
            error,
        };
        create_private_dir(&self.0).map_err(|error| LockError::Io {
            path: self.0.clone(),
            error,
        })?;
        let mut file = open_private(&path).map_err(io)?;
        if !try_lock(&file).map_err(io)? {
            let holder = read_holder(&mut file);
            return Err(LockError::Held {
                scope: claim.scope,
                holder,
                path,
            });
        }
        let previous = read_holder(&mut file);
        let took_over = previous
            .filter(|p| p.pid != owner.pid)
            .map(|holder| Takeover {
                reason: why_free(&holder, &process_state),
                holder,
            });
        let now = hermod_core::now_ms();
        let record = Holder {
            pid: owner.pid,
            start_time: owner.start_time,
            home: owner.home.clone(),
            scope: claim.scope.to_owned(),
            updated_at: now,
        };
        let json = serde_json::to_vec(&record).map_err(|e| io(std::io::Error::other(e)))?;
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(ClaimLock {
            file,
            path,
            took_over,
        })
    }
}

/// Who takes a lock: this gateway.
#[derive(Debug, Clone)]
pub struct Owner {
    pub pid: u32,
    /// When the gateway started (Unix ms).
    pub start_time: i64,
    /// Its `HERMOD_HOME`.
    pub home: PathBuf,
}

/// A lock file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// When the holding gateway started (Unix ms).
    pub start_time: i64,
    /// The holding gateway's `HERMOD_HOME`.
    pub home: PathBuf,
    pub scope: String,
    /// When the lock was taken (Unix ms).
    pub updated_at: i64,
}

/// A held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct ClaimLock {
    file: File,
    path: PathBuf,
    took_over: Option<Takeover>,
}

impl ClaimLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was left in the lock file by a gateway that no longer held it.
    pub fn took_over(&self) -> Option<&Takeover> {
        self.took_over.as_ref()
    }
}

impl Drop for ClaimLock {
    fn drop(&mut self) {
        // A clean release leaves no holder behind, so the next gateway does
        // not report taking over a stale lock. The file itself stays: one
        // removed while another process opens it would let two hold it.
        let _ = self.file.set_len(0);
    }
}

/// A stale lock taken over: who had left it and why it was free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    pub holder: Holder,
    pub reason: Stale,
}

/// Why a lock file naming another process was free to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// The process no longer runs.
    Dead,
    /// The pid now belongs to another program.
    NotHermod(String),
    /// The process runs but does not hold the lock any more.
    NotHeld,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dead => f.write_str("that process no longer runs"),
            Self::NotHermod(name) => write!(f, "that pid is now another program ({name})"),
            Self::NotHeld => f.write_str("that process no longer holds the lock"),
        }
    }
}

/// What a pid is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    Dead,
    /// Running, with its program's name when the system tells it.
    Running(Option<String>),
}

/// Why the lock `holder` left was free (its OS lock was not held).
pub fn why_free(holder: &Holder, state: &dyn Fn(u32) -> ProcessState) -> Stale {
    match state(holder.pid) {
        ProcessState::Dead => Stale::Dead,
        ProcessState::Running(Some(name)) if name != "hermod" => Stale::NotHermod(name),
        ProcessState::Running(_) => Stale::NotHeld,
    }
}

/// Whether `pid` runs, and as what program.
pub fn process_state(pid: u32) -> ProcessState {
    #[cfg(unix)]
    {
        let Some(p) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return ProcessState::Dead;
        };
        match rustix::process::test_kill_process(p) {
            Ok(()) | Err(rustix::io::Errno::PERM) => {}
            Err(_) => return ProcessState::Dead,
        }
    }
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|n| n.trim().to_owned());
    ProcessState::Running(name)
}

/// Why a claim could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it.
    Held {
        scope: &'static str,
        holder: Option<Holder>,
        path: PathBuf,
    },
    /// The lock file could not be made or read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Held {
                scope,
                holder: Some(holder),
                path,
            } => {
                write!(
                    f,
                    "its {scope} token is in use by another hermod gateway (home {}, pid {}); \
                     stop that gateway, or give this home a {scope} token of its own",
                    holder.home.display(),
                    holder.pid
                )?;
                if process_state(holder.pid) == ProcessState::Dead {
                    write!(
                        f,
                        " (pid {} no longer runs but a process it started holds the lock; \
                         `fuser {}` names it)",
                        holder.pid,
                        path.display()
                    )?;
                }
                Ok(())
            }
            Self::Held {
                scope,
                holder: None,
                path,
            } => write!(
                f,
                "its {scope} token is locked by another process (`fuser {}` names it); stop \
                 it, or give this home a {scope} token of its own",
                path.display()
            ),
            Self::Io { path, error } => write!(
                f,
                "cannot lock its token in {}: {error}; make that directory writable by this \
                 user, or set HERMOD_LOCK_DIR to one that is",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LockError {}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Takes the OS lock without waiting: whether it was free.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    file.try_lock().map(|()| true).or_else(|e| match e {
        std::fs::TryLockError::WouldBlock => Ok(false),
        std::fs::TryLockError::Error(e) => Err(e),
    })
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::Secret;

    const TOKEN: &str = "123456:very-secret-token";

    fn claim() -> Claim {
        Claim::new("telegram-bot", &Secret::new(TOKEN))
    }

    fn owner(home: &str) -> Owner {
        Owner {
            pid: std::process::id(),
            start_time: 1,
            home: PathBuf::from(home),
        }
    }

    fn dir_of(set: &[(&str, &str)]) -> Option<LockDir> {
        LockDir::from_vars(|name| {
            set.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn the_directory_follows_the_variables_in_order() {
        let all = [
            ("HERMOD_LOCK_DIR", "/l"),
            ("XDG_STATE_HOME", "/s"),
            ("HOME", "/h"),
        ];
        assert_eq!(dir_of(&all), Some(LockDir::new("/l")));
        assert_eq!(dir_of(&all[1..]), Some(LockDir::new("/s/hermod/locks")));
        assert_eq!(
            dir_of(&all[2..]),
            Some(LockDir::new("/h/.local/state/hermod/locks"))
        );
        assert_eq!(dir_of(&[("HOME", "")]), None);
    }

    #[test]
    fn the_file_is_named_by_scope_and_hash_never_by_the_token() {
        let dir = LockDir::new("/l");
        let name = dir.file_of(&claim());
        let name = name.file_name().unwrap().to_str().unwrap();
        // sha256("123456:very-secret-token"), its first 16 hex digits.
        let digest = Sha256::digest(TOKEN.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(name, format!("telegram-bot-{}.lock", &hex[..16]));
        assert!(!name.contains("secret"));
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_home_and_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::new(tmp.path().join("locks"));
        let first = dir.acquire(&claim(), &owner("/first")).unwrap();
        assert_eq!(first.took_over(), None);
        let text = std::fs::read_to_string(first.path()).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        let held: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(held.home, Path::new("/first"));
        assert_eq!(held.scope, "telegram-bot");

        let refused = dir.acquire(&claim(), &owner("/second")).unwrap_err();
        let LockError::Held { holder, .. } = &refused else {
            panic!("{refused}");
        };
        assert_eq!(holder.as_ref().map(|h| h.pid), Some(std::process::id()));
        let message = refused.to_string();
        assert!(
            message.contains("home /first")
                && message.contains(&format!("pid {}", std::process::id()))
                && message.contains("stop that gateway")
                && !message.contains(TOKEN),
            "{message}"
        );

        // Another token is another lock.
        let other = Claim::new("telegram-bot", &Secret::new("654321:other"));
        let _other = dir.acquire(&other, &owner("/second")).unwrap();

        // Released: the next one takes it, with nothing stale to report.
        drop(first);
        let second = dir.acquire(&claim(), &owner("/second")).unwrap();
        assert_eq!(second.took_over(), None);
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::new(tmp.path());
        let left = Holder {
            // Above any pid_max: no such process.
            pid: 999_999_999,
            start_time: 1,
            home: PathBuf::from("/crashed"),
            scope: "telegram-bot".into(),
            updated_at: 2,
        };
        std::fs::write(dir.file_of(&claim()), serde_json::to_vec(&left).unwrap()).unwrap();
        let lock = dir.acquire(&claim(), &owner("/new")).unwrap();
        assert_eq!(
            lock.took_over(),
            Some(&Takeover {
                holder: left,
                reason: Stale::Dead
            })
        );
        let now: Holder =
            serde_json::from_str(&std::fs::read_to_string(lock.path()).unwrap()).unwrap();
        assert_eq!(now.home, Path::new("/new"));
    }

    #[test]
    fn why_a_free_lock_was_stale() {
        let holder = Holder {
            pid: 42,
            start_time: 1,
            home: PathBuf::from("/h"),
            scope: "s".into(),
            updated_at: 1,
        };
        assert_eq!(why_free(&holder, &|_| ProcessState::Dead), Stale::Dead);
        assert_eq!(
            why_free(&holder, &|_| ProcessState::Running(Some("sshd".into()))),
            Stale::NotHermod("sshd".into())
        );
        assert_eq!(
            why_free(&holder, &|_| ProcessState::Running(Some("hermod".into()))),
            Stale::NotHeld
        );
        // This test process runs, and is not called hermod.
        assert!(matches!(
            process_state(std::process::id()),
            ProcessState::Running(_)
        ));
        assert_eq!(process_state(999_999_999), ProcessState::Dead);
    }
}
