//! [`SqliteStore::open_snapshot`]: an in-memory copy of a database file,
//! for commands that must look without touching it (a dry run).
//!
//! Opening the file as a store would write it: the writer connection
//! switches it to WAL mode, applies migrations, and the close checkpoints.
//! Here the file is only read, through a read-only connection inside one
//! read transaction, and copied page by page into memory with SQLite's
//! backup API; whatever is done to the copy stays in memory. A database
//! at another schema version than this build's is refused, since reading
//! it would need the migrations a snapshot must not run on the file.

use super::error::{DbError, DbResult};
use super::migrate::{APPLICATION_ID, MIGRATIONS};
use super::{SqliteStore, configure};
use crate::{Result, StoreError};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

impl SqliteStore {
    /// An in-memory store holding what the database at `path` holds now.
    /// The file (and its WAL) is never written. Fails with
    /// [`StoreError::NotFound`] when there is no file, and with
    /// [`StoreError::Corrupt`] when it is not a hermod database or its
    /// schema is not exactly this build's.
    ///
    /// This blocks while it copies; call it from blocking context.
    pub fn open_snapshot(path: &Path) -> Result<SqliteStore> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(StoreError::NotFound(format!("no database at {name}")));
        }
        let copy = copy(path, &name).map_err(|e| e.classify(&name))?;
        Ok(Self::from_connections(name, copy, Vec::new()))
    }
}

fn copy(path: &Path, name: &str) -> DbResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // A read-only connection to a WAL database whose WAL is gone (no
    // connection has it open) would create the WAL and its index and could
    // not remove them: left behind, owned by whoever ran this. Then the
    // file alone holds the database, and is read as it is (`immutable`).
    let src = if wal_of(path).exists() {
        Connection::open_with_flags(path, flags)
    } else {
        Connection::open_with_flags(immutable_uri(path), flags | OpenFlags::SQLITE_OPEN_URI)
    }
    .map_err(|e| DbError::from(e).classify_open(name))?;
    configure(&src)?;
    // One read transaction: the version checked is the one copied.
    src.execute_batch("BEGIN")?;
    check_schema(&src, name)?;
    let mut dst = Connection::open_in_memory()?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        // Nothing else uses the copy and the source is read in one
        // snapshot: every step makes progress.
        while backup.step(-1)? != StepResult::Done {}
    }
    src.execute_batch("COMMIT")?;
    drop(src);
    configure(&dst)?;
    Ok(dst)
}

/// The WAL file of the database at `path`.
fn wal_of(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// A `file:` URI for `path` that opens it without WAL or locks.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'/' | b'.' | b'-' | b'_' | b'~' => uri.push(char::from(*byte)),
            b if b.is_ascii_alphanumeric() => uri.push(char::from(*b)),
            b => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Refuses a file that is not a hermod database at this build's schema.
fn check_schema(db: &Connection, name: &str) -> DbResult<()> {
    let app_id: i32 = db.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        return Err(StoreError::Corrupt(format!("{name} is not a hermod database")).into());
    }
    let recorded: Vec<i64> = db
        .prepare("SELECT version FROM schema_migrations ORDER BY version")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let known: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
    if let Some(unknown) = recorded.iter().find(|v| !known.contains(v)) {
        return Err(StoreError::Corrupt(format!(
            "{name} has schema version {unknown}, which this hermod does not know: the \
             database was written by a newer hermod; upgrade hermod to read it"
        ))
        .into());
    }
    if let Some(missing) = known.iter().find(|v| !recorded.contains(v)) {
        return Err(StoreError::Corrupt(format!(
            "{name} lacks schema version {missing} of this hermod: it was written by an older \
             hermod and must be migrated first (any hermod command that opens it for writing, \
             such as `hermod gateway run`, migrates it)"
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn a_snapshot_reads_and_writes_only_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hermod.db");
        let store = SqliteStore::open(&path).unwrap();
        store.set_setting("a", "1", 1).await.unwrap();
        store.close().await.unwrap();
        let before = files(dir.path());

        let snapshot = SqliteStore::open_snapshot(&path).unwrap();
        assert_eq!(snapshot.setting("a").await.unwrap().as_deref(), Some("1"));
        snapshot.set_setting("b", "2", 2).await.unwrap();
        assert_eq!(snapshot.setting("b").await.unwrap().as_deref(), Some("2"));
        drop(snapshot);
        let after = files(dir.path());
        let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&after), names(&before));
        assert_eq!(after, before);
    }

    #[tokio::test]
    async fn a_path_with_uri_characters_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ho%me #1?é").join("hermod.db");
        let store = SqliteStore::open(&path).unwrap();
        store.set_setting("a", "1", 1).await.unwrap();
        store.close().await.unwrap();
        let snapshot = SqliteStore::open_snapshot(&path).unwrap();
        assert_eq!(snapshot.setting("a").await.unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn another_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hermod.db");
        drop(SqliteStore::open(&path).unwrap());
        let db = Connection::open(&path).unwrap();
        db.execute("DELETE FROM schema_migrations WHERE version = 2", [])
            .unwrap();
        let older = SqliteStore::open_snapshot(&path).unwrap_err().to_string();
        assert!(older.contains("lacks schema version 2"), "{older}");
        db.execute("INSERT INTO schema_migrations VALUES (2, 0), (9999, 0)", [])
            .unwrap();
        let newer = SqliteStore::open_snapshot(&path).unwrap_err().to_string();
        assert!(newer.contains("schema version 9999"), "{newer}");
        drop(db);
        assert!(matches!(
            SqliteStore::open_snapshot(&dir.path().join("none.db")),
            Err(StoreError::NotFound(_))
        ));
    }
}
