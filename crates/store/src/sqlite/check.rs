//! [`SqliteStore::check`]: whether the database can be used at all — its
//! pages are intact and a write reaches the file — so a gateway can refuse to
//! start instead of failing every request later.
//!
//! Opening a database proves little: SQLite opens a file it may not write
//! read-only without complaint, and reads only the pages a statement needs,
//! so damage elsewhere shows up message by message.

use super::error::DbResult;
use super::{SqliteStore, now_ms, ops};
use crate::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};

/// How many of `quick_check`'s problems the error names.
const SHOWN_PROBLEMS: usize = 3;

/// The setting the write probe writes and deletes again.
const PROBE_KEY: &str = "hermod.store_check";

impl SqliteStore {
    /// Checks that the database is whole and takes writes: runs
    /// `PRAGMA quick_check`, then writes and deletes a setting in a committed
    /// transaction, so the write goes through SQLite's journal to the file.
    ///
    /// Fails with [`StoreError::Corrupt`] naming the first problems when
    /// pages are damaged, with [`StoreError::Full`] when the file, its
    /// directory or the disk refuse the write, and as any other operation
    /// would otherwise. `quick_check` reads the whole file: call this at
    /// startup, not per request.
    pub async fn check(&self) -> Result<()> {
        let name = self.inner.name.clone();
        self.write(move |conn| {
            quick_check(conn, &name)?;
            write_probe(conn)
        })
        .await
    }
}

/// `PRAGMA quick_check`: every page's structure, without comparing indexes
/// to their tables (which `integrity_check` does, much more slowly).
pub(super) fn quick_check(conn: &Connection, db: &str) -> DbResult<()> {
    let mut stmt = conn.prepare(&format!("PRAGMA quick_check({SHOWN_PROBLEMS})"))?;
    let problems = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if problems.iter().all(|p| p == "ok") {
        return Ok(());
    }
    // A problem may span lines, under headers like `*** in database main ***`.
    let problems: Vec<&str> = problems
        .iter()
        .flat_map(|p| p.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("***"))
        .collect();
    Err(StoreError::Corrupt(format!("{db} is damaged: {}", problems.join("; "))).into())
}

/// Writes a row and deletes it again in one committed transaction.
fn write_probe(conn: &mut Connection) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ops::set_setting(&tx, PROBE_KEY, "", now_ms())?;
    ops::delete_setting(&tx, PROBE_KEY)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use rusqlite::OpenFlags;
    use std::io::{Seek, SeekFrom, Write};
    use std::path::Path;

    /// A database file with a few sessions in it, closed again.
    async fn seeded(path: &Path) {
        let store = SqliteStore::open(path).expect("open");
        for n in 0..20 {
            crate::conformance::create(&store, &format!("s{n}"), "cli", 1).await;
        }
    }

    #[tokio::test]
    async fn a_sound_database_passes_and_keeps_no_trace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        seeded(&path).await;
        let store = SqliteStore::open(&path).expect("open");
        store.check().await.expect("a sound database passes");
        assert_eq!(store.setting(PROBE_KEY).await.expect("read"), None);
        SqliteStore::open_in_memory()
            .expect("open")
            .check()
            .await
            .expect("in memory");
    }

    /// A file SQLite can only open read-only (its mode, a read-only mount)
    /// gives a connection like this one; opening it that way makes the test
    /// hold for root too, whom file modes do not stop.
    #[tokio::test]
    async fn a_read_only_database_fails_as_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        seeded(&path).await;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).expect("open read-only");
        let name = path.display().to_string();
        let store = SqliteStore::from_connections(name.clone(), conn, Vec::new());
        match store.check().await {
            Err(StoreError::Full(msg)) => assert!(msg.contains(&name), "{msg}"),
            other => panic!("expected Full, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn damaged_pages_fail_as_corrupt_naming_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        seeded(&path).await;
        let (page_size, root): (u32, u32) = {
            let conn = Connection::open(&path).expect("raw");
            let size = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .expect("page size");
            let root = conn
                .query_row(
                    "SELECT rootpage FROM sqlite_schema WHERE name = 'sessions'",
                    [],
                    |r| r.get(0),
                )
                .expect("root page");
            (size, root)
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open file");
        file.seek(SeekFrom::Start(u64::from(root - 1) * u64::from(page_size)))
            .expect("seek");
        file.write_all(&vec![0xA5; usize::try_from(page_size).expect("size")])
            .expect("overwrite");
        drop(file);

        let store = SqliteStore::open(&path).expect("the damage is not where opening reads");
        match store.check().await {
            Err(StoreError::Corrupt(msg)) => {
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains("page") && !msg.contains('\n'), "{msg}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
