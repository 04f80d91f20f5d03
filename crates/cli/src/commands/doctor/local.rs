//! The checks of this machine: the home's permissions, the database, the
//! listen addresses, and the gateway running on this home.

use super::Check;
use crate::database;
use hermod_platforms::lock::{ProcessState, process_state};
use hermod_store::Location;
use serde::Deserialize;
use std::path::Path;

/// The files in the home holding secrets or conversations.
const SECRET_FILES: &[&str] = &[
    ".env",
    "config.yaml",
    "hermod.db",
    "hermod.db-wal",
    "hermod.db-shm",
];

/// The home and its secret files are private to this user: one line, with
/// the `chmod` that fixes what is not.
pub fn permissions(home: &Path) -> Vec<(String, Check)> {
    if !home.is_dir() {
        return Vec::new();
    }
    let mut fixes = Vec::new();
    if open_to_others(home) {
        fixes.push(format!("chmod 700 {}", home.display()));
    }
    let files: Vec<String> = SECRET_FILES
        .iter()
        .map(|name| home.join(name))
        .filter(|path| open_to_others(path))
        .map(|path| path.display().to_string())
        .collect();
    if !files.is_empty() {
        fixes.push(format!("chmod 600 {}", files.join(" ")));
    }
    let check = if fixes.is_empty() {
        Check::Ok("the home and its secret files are private to this user".into())
    } else {
        Check::Failed(format!(
            "other users can read or enter what should be private; run `{}`",
            fixes.join(" && ")
        ))
    };
    vec![("permissions".into(), check)]
}

/// Whether group or others have any permission on `path` (not following
/// a symbolic link).
#[cfg(unix)]
fn open_to_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| !m.file_type().is_symlink() && m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn open_to_others(_path: &Path) -> bool {
    false
}

/// The database — the SQLite file, or the PostgreSQL database
/// `HERMOD_DATABASE_URL` names — opens (its schema brought up to date, as
/// the gateway would) and passes its check (for SQLite `PRAGMA
/// quick_check`) and a write. The line names it, never with a password.
pub async fn database(location: &Location) -> Check {
    if let Location::Sqlite(path) = location
        && !path.exists()
    {
        return Check::Ok(format!(
            "{} does not exist yet; the gateway creates it",
            path.display()
        ));
    }
    let db = match database::open_at(location).await {
        Ok(db) => db,
        Err(e) => return Check::Failed(format!("{e:#}")),
    };
    let name = match location {
        Location::Sqlite(_) => db.describe(),
        Location::Postgres(_) => format!("PostgreSQL {}", db.describe()),
    };
    if let Err(e) = database::check(&db, location).await {
        return Check::Failed(format!("{e:#}"));
    }
    match database::close(db, location).await {
        Ok(()) => Check::Ok(format!("{name} opens and passes its check")),
        Err(e) => Check::Failed(format!("{e:#}")),
    }
}

/// What `gateway.pid` says, as far as this check needs it.
#[derive(Debug, Deserialize)]
struct PidFile {
    pid: u32,
}

/// The gateway's PID file in `home`, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gateway {
    Running(u32),
    /// The file names a process that is gone (or is not hermod).
    Gone(u32),
    Unreadable(String),
}

/// Reads `HERMOD_HOME/gateway.pid`; no file is no gateway.
pub fn running_gateway(home: &Path) -> Option<Gateway> {
    let path = home.join("gateway.pid");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Gateway::Unreadable(e.to_string())),
    };
    let pid = match serde_json::from_str::<PidFile>(&text) {
        Ok(file) => file.pid,
        Err(e) => return Some(Gateway::Unreadable(e.to_string())),
    };
    Some(match process_state(pid) {
        ProcessState::Running(Some(name)) if name != "hermod" => Gateway::Gone(pid),
        ProcessState::Running(_) => Gateway::Running(pid),
        ProcessState::Dead => Gateway::Gone(pid),
    })
}

pub fn describe_gateway(home: &Path, gateway: Option<&Gateway>) -> Check {
    match gateway {
        None => Check::Ok("not running on this home".into()),
        Some(Gateway::Running(pid)) => Check::Ok(format!("running on this home (pid {pid})")),
        Some(Gateway::Gone(pid)) => Check::Ok(format!(
            "not running; gateway.pid names pid {pid}, which is not a running gateway (left by \
             one that did not stop cleanly: the next start takes it over)"
        )),
        Some(Gateway::Unreadable(e)) => Check::Failed(format!(
            "{} cannot be read ({e}); if no gateway runs on this home, remove it",
            home.join("gateway.pid").display()
        )),
    }
}

/// `addr` is free to listen on, or held by this home's running gateway.
pub async fn port(addr: &str, gateway: Option<&Gateway>) -> Check {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(_) => Check::Ok("free".into()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => match gateway {
            Some(Gateway::Running(pid)) => {
                Check::Ok(format!("in use by this home's gateway (pid {pid})"))
            }
            _ => {
                let port = addr.rsplit(':').next().unwrap_or(addr);
                Check::Failed(format!(
                    "in use by another program; `ss -ltnp 'sport = :{port}'` names it: stop \
                     it, or set another port for this platform"
                ))
            }
        },
        Err(e) => Check::Failed(format!(
            "cannot listen on {addr} ({e}); set a host and port this machine can bind"
        )),
    }
}
