//! Opening `hermod.db` for a command, and telling the operator what to do
//! when it cannot be used.

use crate::home::{self, Blocked};
use hermod_store::{Checkpoint, SqliteStore, StoreError};
use std::path::Path;
use tracing::debug;

/// Opens (creating if needed) the database at `path`.
pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(path).map_err(|e| with_advice(e, path, Stage::Open, &home::writable))
}

/// Checks that the database is whole and takes writes, so the gateway never
/// says "ready" on one that fails every request.
pub async fn check(store: &SqliteStore, path: &Path) -> anyhow::Result<()> {
    store
        .check()
        .await
        .map_err(|e| with_advice(e, path, Stage::Check, &home::writable))
}

/// Ends a command's use of the database: folds the WAL into `hermod.db`, so
/// that file alone holds what the command wrote (copying it is a backup).
/// While a gateway uses the database the WAL may stay in part; the
/// gateway's own close folds that in.
pub async fn close(store: SqliteStore, path: &Path) -> anyhow::Result<()> {
    match store.close().await {
        Ok(Checkpoint::Complete) => Ok(()),
        Ok(Checkpoint::Partial) => {
            debug!(path = %path.display(), "another process is using the database; part of the WAL stays for it to fold in");
            Ok(())
        }
        Err(e) => Err(with_advice(e, path, Stage::Check, &home::writable)),
    }
}

/// Folds the WAL of the database at `path` into it, once a gateway's tasks
/// — which kept their handles to its store to the end — have all stopped.
pub async fn close_path(path: &Path) -> anyhow::Result<()> {
    close(open(path)?, path).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    Check,
}

/// Puts what to do in front of the store's own description of the failure;
/// `writable` tells which paths this user may write, to tell a permission
/// problem from a full disk.
fn with_advice(
    error: StoreError,
    path: &Path,
    stage: Stage,
    writable: &dyn Fn(&Path) -> bool,
) -> anyhow::Error {
    let p = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let blocked = match &error {
        StoreError::CannotOpen(_) | StoreError::Full(_) => Blocked::find(dir, Some(path), writable),
        _ => None,
    };
    let failed = match stage {
        Stage::Open => format!("cannot open the database {p}"),
        Stage::Check => format!("hermod cannot write the database {p}"),
    };
    if let Some(blocked) = blocked {
        let advice = format!("{failed}: {}", blocked.advice(&home::user_id()));
        return anyhow::Error::new(error).context(advice);
    }
    let recover = format!(
        "stop hermod, keep a copy, and recover with `sqlite3 {p} .recover | sqlite3 recovered.db` \
         or restore a backup"
    );
    let advice = match (&error, stage) {
        (StoreError::Full(_), _) => {
            format!("hermod cannot write {p}: check its permissions and free disk space")
        }
        (StoreError::Corrupt(_), Stage::Check) => format!("the database {p} is damaged: {recover}"),
        // Opening also refuses foreign files and newer schemas, which the
        // store's message (shown below this one) tells apart from damage.
        (StoreError::Corrupt(_), Stage::Open) => {
            format!("cannot open the database {p}; if it is damaged: {recover}")
        }
        (StoreError::Busy(_), _) => format!(
            "the database {p} is locked by another program; stop it (is another hermod running?) and try again"
        ),
        (StoreError::CannotOpen(_), _) => format!(
            "{failed}: make sure {} is a directory this user can write, or set HERMOD_HOME to one",
            dir.display()
        ),
        (_, Stage::Open) => failed,
        (_, Stage::Check) => format!("the database {p} failed its check"),
    };
    anyhow::Error::new(error).context(advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advice(error: StoreError, stage: Stage) -> String {
        with_advice(error, Path::new("/h/hermod.db"), stage, &|_| true).to_string()
    }

    #[test]
    fn each_kind_of_failure_says_what_to_do() {
        let full = advice(StoreError::Full("read-only".into()), Stage::Check);
        assert_eq!(
            full,
            "hermod cannot write /h/hermod.db: check its permissions and free disk space"
        );
        let damaged = advice(StoreError::Corrupt("page 3".into()), Stage::Check);
        assert!(
            damaged.starts_with("the database /h/hermod.db is damaged: stop hermod, keep a copy")
                && damaged.contains("`sqlite3 /h/hermod.db .recover")
                && damaged.ends_with("or restore a backup"),
            "{damaged}"
        );
        let foreign = advice(StoreError::Corrupt("newer hermod".into()), Stage::Open);
        assert!(foreign.starts_with("cannot open the database /h/hermod.db; if it is damaged"));
        let busy = advice(StoreError::Busy("locked".into()), Stage::Open);
        assert!(busy.contains("another hermod"), "{busy}");
    }

    #[test]
    fn the_store_error_stays_in_the_chain() {
        let e = with_advice(
            StoreError::Full("x".into()),
            Path::new("db"),
            Stage::Open,
            &|_| true,
        );
        assert!(e.chain().any(|c| c.downcast_ref::<StoreError>().is_some()));
    }

    /// SQLite's "unable to open database file" in a home this user may not
    /// write: the message names the directory and what to do.
    #[test]
    fn a_database_in_a_home_that_is_not_writable_is_a_permission_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("hermod.db");
        let cantopen =
            || StoreError::CannotOpen(format!("{}: unable to open database file", db.display()));
        let home_denied = |p: &Path| p != dir.path();
        let message = with_advice(cantopen(), &db, Stage::Open, &home_denied).to_string();
        let (d, uid) = (dir.path().display(), home::user_id());
        assert_eq!(
            message,
            format!(
                "cannot open the database {}: a permission problem: {d} is not writable by \
                 this user (uid {uid}); give it to this user with `chown -R {uid} {d}` (as root) \
                 or make it writable with `chmod u+w {d}`, or set HERMOD_HOME to a directory \
                 this user can write",
                db.display()
            )
        );

        // A database file that is there but read-only, found when its
        // first write fails.
        std::fs::write(&db, "").expect("write");
        let file_denied = |p: &Path| p != db;
        let message = with_advice(
            StoreError::Full("attempt to write a readonly database".into()),
            &db,
            Stage::Check,
            &file_denied,
        )
        .to_string();
        assert!(
            message.starts_with(&format!(
                "hermod cannot write the database {0}: a permission problem: {0} is not writable",
                db.display()
            )) && message.contains("set HERMOD_HOME"),
            "{message}"
        );

        // Permissions are fine: the path itself is the problem.
        let message = with_advice(cantopen(), &db, Stage::Open, &|_| true).to_string();
        assert_eq!(
            message,
            format!(
                "cannot open the database {}: make sure {d} is a directory this user can \
                 write, or set HERMOD_HOME to one",
                db.display()
            )
        );
    }
}
