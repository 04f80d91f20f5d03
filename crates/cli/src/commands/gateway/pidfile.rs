//! One gateway per home: the lock file, the PID file, and how the other
//! commands find the gateway that runs.
//!
//! `gateway.lock` in `HERMOD_HOME` is locked (`flock`, exclusive) for the
//! gateway process's whole life. The OS releases the lock when the process
//! ends however it ends, so two gateways starting at the same instant
//! cannot both win, and a crash leaves nothing to clean up. The lock file
//! itself is never removed: removing it would let a second process lock a
//! new file while the first still holds the old one.
//!
//! `gateway.pid` describes the holder (pid, start time, argv, version). It
//! is created exclusively, only while the lock is held, and removed on a
//! clean stop. A PID file left by a process that died without removing it
//! is stale: its pid is gone, or now belongs to a process that is not a
//! hermod gateway, or to one started at another time (a reused pid). A
//! stale file is taken over with a log line.

use super::files;
use hermod_core::GATEWAY_KIND;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use tracing::{info, warn};

pub const PID_FILE: &str = "gateway.pid";
pub const LOCK_FILE: &str = "gateway.lock";

/// The content of `gateway.pid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    pub pid: u32,
    /// Always `hermod-gateway`.
    pub kind: String,
    /// Unix milliseconds when the process started.
    pub started_at_ms: i64,
    /// The kernel's start time of the process (clock ticks since boot,
    /// Linux), which tells a reused pid from the one recorded.
    #[serde(default)]
    pub start_ticks: Option<u64>,
    pub argv: Vec<String>,
    pub version: String,
    /// `systemd` when the gateway runs as a systemd service (so `restart`
    /// goes through `systemctl`).
    #[serde(default)]
    pub supervisor: Option<String>,
    /// The systemd unit the gateway runs in (`hermod.service`), and whether
    /// it belongs to the per-user manager: what `restart` tells the user
    /// to pass to `systemctl`.
    #[serde(default)]
    pub unit: Option<SystemdUnit>,
}

/// A systemd unit, read from the process's cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    pub name: String,
    pub user: bool,
}

impl SystemdUnit {
    /// The unit of this process, from `/proc/self/cgroup` (cgroup v2:
    /// `0::/system.slice/hermod.service`, or
    /// `0::/user.slice/user-1000.slice/user@1000.service/app.slice/hermod.service`).
    fn current() -> Option<Self> {
        Self::from_cgroup(&std::fs::read_to_string("/proc/self/cgroup").ok()?)
    }

    fn from_cgroup(cgroup: &str) -> Option<Self> {
        let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
        let name = path.rsplit('/').find(|c| c.ends_with(".service"))?;
        Some(Self {
            name: name.to_owned(),
            user: path.split('/').any(|c| c.starts_with("user@")),
        })
    }

    /// The command that restarts it.
    pub fn restart_command(&self) -> String {
        if self.user {
            format!("systemctl --user restart {}", self.name)
        } else {
            format!("sudo systemctl restart {}", self.name)
        }
    }
}

impl PidRecord {
    /// This process.
    pub fn current(started_at_ms: i64) -> Self {
        let pid = std::process::id();
        let supervised = std::env::var_os("INVOCATION_ID").is_some()
            && std::env::var_os("NOTIFY_SOCKET").is_some();
        Self {
            pid,
            kind: GATEWAY_KIND.to_owned(),
            started_at_ms,
            start_ticks: start_ticks(pid),
            argv: std::env::args().collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            supervisor: supervised.then(|| "systemd".to_owned()),
            unit: supervised.then(SystemdUnit::current).flatten(),
        }
    }

    /// `Ok` when the recorded process is a live hermod gateway, otherwise
    /// why the record is stale.
    pub fn liveness(&self) -> Result<(), String> {
        let pid = self.pid;
        if !is_alive(pid) {
            return Err(format!("process {pid} is gone"));
        }
        if let Some(cmdline) = cmdline(pid)
            && !is_gateway_cmdline(&cmdline)
        {
            return Err(format!(
                "process {pid} is not a hermod gateway (it runs {:?})",
                cmdline.join(" ")
            ));
        }
        if let (Some(recorded), Some(now)) = (self.start_ticks, start_ticks(pid))
            && recorded != now
        {
            return Err(format!(
                "process {pid} started after the PID file was written (the pid was reused)"
            ));
        }
        Ok(())
    }
}

/// Whether `argv` is `hermod gateway` or `hermod gateway run` (any
/// options), as opposed to another hermod command.
fn is_gateway_cmdline(argv: &[String]) -> bool {
    let Some(program) = argv.first() else {
        return false;
    };
    let name = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let words: Vec<&str> = argv[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    name.starts_with("hermod") && matches!(words.as_slice(), ["gateway"] | ["gateway", "run", ..])
}

/// The gateway's hold on its home. Dropping it removes the PID file and
/// releases the lock.
#[derive(Debug)]
pub struct HomeLock {
    /// Holds the `flock` for as long as it is open.
    _lock: File,
    pid_file: PathBuf,
    pid: u32,
}

impl Drop for HomeLock {
    fn drop(&mut self) {
        // Only our own record: a file that is not ours is left alone.
        if read(&self.pid_file).is_some_and(|r| r.pid == self.pid)
            && let Err(e) = std::fs::remove_file(&self.pid_file)
        {
            warn!(path = %self.pid_file.display(), error = %e, "cannot remove the PID file");
        }
    }
}

/// Takes `home` for this process: locks `gateway.lock`, takes over a stale
/// PID file and writes `record`. Fails, naming the running gateway's pid,
/// when another gateway holds the home.
pub fn acquire(home: &Path, record: &PidRecord) -> anyhow::Result<HomeLock> {
    let lock_path = home.join(LOCK_FILE);
    let pid_path = home.join(PID_FILE);
    let lock = files::open_private(&lock_path)?;
    if !try_lock(&lock)? {
        let who = match read(&pid_path) {
            Some(other) => format!("pid {}", other.pid),
            None => "a process that is still starting".to_owned(),
        };
        anyhow::bail!(
            "another hermod gateway ({who}) is running on {}: stop it first (`hermod gateway stop`), or give this one its own HERMOD_HOME",
            home.display()
        );
    }
    if let Some(old) = read(&pid_path) {
        match old.liveness() {
            // The lock was free yet the recorded gateway lives: it runs
            // without holding the lock (its lock file was removed).
            Ok(()) if old.pid != record.pid => anyhow::bail!(
                "another hermod gateway (pid {}) is running on {}, though it does not hold {}: stop it first (`hermod gateway stop`)",
                old.pid,
                home.display(),
                lock_path.display()
            ),
            Ok(()) => {}
            Err(reason) => info!(
                path = %pid_path.display(),
                old_pid = old.pid,
                "taking over a stale PID file: {reason}"
            ),
        }
    }
    // Held under the lock: nothing else writes it now.
    match std::fs::remove_file(&pid_path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot remove the stale PID file {}: {e} (remove it yourself)",
                pid_path.display()
            ));
        }
    }
    files::create_exclusive(&pid_path, &serde_json::to_vec_pretty(record)?)?;
    Ok(HomeLock {
        _lock: lock,
        pid_file: pid_path,
        pid: record.pid,
    })
}

/// The gateway running on `home`, if any; `Err` with the reason when the
/// PID file is stale.
pub fn running(home: &Path) -> Option<Result<PidRecord, String>> {
    let record = read(&home.join(PID_FILE))?;
    Some(record.liveness().map(|()| record))
}

/// The PID file's record, if it exists and can be read.
pub fn read(path: &Path) -> Option<PidRecord> {
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice::<PidRecord>(&text) {
        Ok(record) if record.kind == GATEWAY_KIND => Some(record),
        Ok(_) | Err(_) => {
            warn!(path = %path.display(), "the PID file is not hermod's; ignoring it");
            None
        }
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> anyhow::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(anyhow::anyhow!(
            "cannot lock {}: {e} (is HERMOD_HOME on a file system without locks?)",
            LOCK_FILE
        )),
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> anyhow::Result<bool> {
    Ok(true)
}

/// Whether a process with this pid exists (one we may not signal counts).
#[cfg(unix)]
pub fn is_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

#[cfg(not(unix))]
pub fn is_alive(_pid: u32) -> bool {
    true
}

/// Sends SIGTERM to `pid`.
#[cfg(unix)]
pub fn terminate(pid: u32) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "not a pid"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(Into::into)
}

#[cfg(not(unix))]
pub fn terminate(_pid: u32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        ErrorKind::Unsupported,
        "stopping a gateway needs signals (Unix)",
    ))
}

/// The process's argv, where `/proc` shows it.
fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock
/// ticks since boot.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn the_systemd_unit_comes_from_the_cgroup() {
        let system = SystemdUnit::from_cgroup("0::/system.slice/hermod.service\n").unwrap();
        assert_eq!(
            system.restart_command(),
            "sudo systemctl restart hermod.service"
        );
        let user = SystemdUnit::from_cgroup(
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/hermod-work.service",
        )
        .unwrap();
        assert_eq!(
            user.restart_command(),
            "systemctl --user restart hermod-work.service"
        );
        assert_eq!(
            SystemdUnit::from_cgroup("0::/user.slice/user-1000.slice/session-3.scope"),
            None
        );
        assert_eq!(SystemdUnit::from_cgroup("12:cpu:/\n"), None);
    }

    #[test]
    fn only_a_gateway_run_counts_as_a_gateway() {
        for yes in [
            &["/usr/bin/hermod", "gateway"][..],
            &["hermod", "gateway", "run"],
            &["./target/debug/hermod", "-v", "gateway", "run"],
        ] {
            assert!(is_gateway_cmdline(&argv(yes)), "{yes:?}");
        }
        for no in [
            &["hermod", "gateway", "status"][..],
            &["hermod", "sessions", "list"],
            &["/usr/bin/python3", "gateway", "run"],
            &[],
        ] {
            assert!(!is_gateway_cmdline(&argv(no)), "{no:?}");
        }
    }

    #[test]
    fn a_record_of_a_gone_or_reused_pid_is_stale() {
        let record = PidRecord::current(0);
        assert!(is_alive(record.pid));
        assert_eq!(start_ticks(record.pid), record.start_ticks);

        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let dead = PidRecord {
            pid: gone,
            ..record.clone()
        };
        assert!(dead.liveness().unwrap_err().contains("is gone"));

        if let Some(ticks) = record.start_ticks {
            let reused = PidRecord {
                start_ticks: Some(ticks + 1),
                // The argv check is not what this is about.
                ..record
            };
            let reason = reused.liveness().unwrap_err();
            assert!(
                reason.contains("reused") || reason.contains("not a hermod gateway"),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_second_lock_on_the_same_home_is_refused_and_names_the_pid() {
        let home = tempfile::tempdir().unwrap();
        let record = PidRecord::current(0);
        let held = acquire(home.path(), &record).unwrap();
        let pid_file = home.path().join(PID_FILE);
        assert_eq!(read(&pid_file).unwrap(), record);
        let refused = acquire(home.path(), &record).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("pid {}", record.pid)),
            "{refused}"
        );
        drop(held);
        assert!(!pid_file.exists(), "removed on a clean stop");
        assert!(acquire(home.path(), &record).is_ok());
    }
}
