//! [`SqliteStore::checkpoint`] and [`SqliteStore::close`]: folding the WAL
//! into the database file, so that `hermod.db` alone — copied, moved,
//! backed up — holds every committed transaction.

use super::error::{DbError, DbResult};
use super::{Inner, SqliteStore, run_blocking};
use crate::Result;
use rusqlite::Connection;
use std::sync::{Arc, PoisonError};

/// What a checkpoint achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Every committed transaction is in the database file and the WAL is
    /// empty.
    Complete,
    /// Another connection — another process using the same database, such
    /// as a running gateway — was reading or writing, so part of the WAL
    /// stays where it is. Nothing is lost: it is still committed there, and
    /// that process's own checkpoint copies it in.
    Partial,
}

impl SqliteStore {
    /// Copies every transaction in the WAL into the database file and
    /// empties the WAL (`PRAGMA wal_checkpoint(TRUNCATE)`).
    ///
    /// It waits, as any write does, for the readers and the writer of other
    /// connections to finish what they are doing; when they are still busy
    /// after the busy timeout it returns [`Checkpoint::Partial`]. The store
    /// stays usable afterwards. An in-memory database has no WAL and is
    /// always [`Checkpoint::Complete`].
    pub async fn checkpoint(&self) -> Result<Checkpoint> {
        self.write(|conn| checkpoint(conn)).await
    }

    /// Checkpoints as [`SqliteStore::checkpoint`] does, then closes this
    /// handle. When it is the last handle (no clone of it is left) its
    /// connections are closed here, so the failure of a final write is
    /// returned rather than lost in a drop; otherwise they stay open for
    /// the other handles.
    pub async fn close(self) -> Result<Checkpoint> {
        let done = self.checkpoint().await?;
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return Ok(done);
        };
        run_blocking(move || {
            let Inner {
                name,
                readers,
                writer,
                ..
            } = inner;
            // The writer closes last: a read-only connection cannot
            // checkpoint, so it must not be the one left holding the file.
            drop(readers);
            let writer = writer.into_inner().unwrap_or_else(PoisonError::into_inner);
            writer
                .close()
                .map_err(|(_, e)| DbError::from(e).classify(&name))
        })
        .await?;
        Ok(done)
    }
}

fn checkpoint(conn: &Connection) -> DbResult<Checkpoint> {
    // One row: whether it was blocked, the WAL's frames, the frames copied
    // (-1 and -1 for a database that is not in WAL mode).
    let blocked: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(if blocked == 0 {
        Checkpoint::Complete
    } else {
        Checkpoint::Partial
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ListSessions, Store};
    use std::path::Path;

    const SESSIONS: usize = 12;

    /// A store on `path` with sessions, each with a message, read back
    /// once so the read-only connections are in use too, as in a gateway.
    async fn written(path: &Path) -> SqliteStore {
        let store = SqliteStore::open(path).expect("open");
        for n in 0..SESSIONS {
            write_session(&store, &format!("s{n}")).await;
        }
        let listed = store
            .list_sessions(ListSessions::default())
            .await
            .expect("list");
        assert_eq!(listed.len(), SESSIONS);
        store
    }

    async fn write_session(store: &SqliteStore, id: &str) {
        crate::conformance::create(store, id, "cli", 1).await;
        let hello = crate::conformance::at(hermod_model::ChatMessage::user("hello"), 2);
        crate::conformance::append(store, id, vec![hello]).await;
    }

    /// The sessions in a copy of the database file alone, without its
    /// `-wal` and `-shm`, as someone copying `hermod.db` gets.
    async fn sessions_in_a_copy_of(path: &Path) -> usize {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("copy.db");
        std::fs::copy(path, &copy).expect("copy the main file");
        let store = SqliteStore::open(&copy).expect("open the copy");
        let sessions = store
            .list_sessions(ListSessions::default())
            .await
            .expect("list");
        for s in &sessions {
            assert_eq!(s.message_count, 1, "{}", s.id);
        }
        sessions.len()
    }

    #[tokio::test]
    async fn a_closed_store_leaves_everything_in_the_database_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        let store = written(&path).await;
        assert_eq!(store.close().await.expect("close"), Checkpoint::Complete);
        let wal = dir.path().join("hermod.db-wal");
        assert!(
            std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
            "the WAL is empty or gone"
        );
        assert_eq!(sessions_in_a_copy_of(&path).await, SESSIONS);
    }

    /// A gateway's tasks keep clones of the store to the end; a checkpoint
    /// through any handle still empties the WAL.
    #[tokio::test]
    async fn a_checkpoint_with_other_handles_open_leaves_everything_in_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        let store = written(&path).await;
        let held = store.clone();
        assert_eq!(store.close().await.expect("close"), Checkpoint::Complete);
        assert_eq!(sessions_in_a_copy_of(&path).await, SESSIONS);
        write_session(&held, "later").await;
        assert_eq!(
            held.checkpoint().await.expect("again"),
            Checkpoint::Complete
        );
        assert_eq!(sessions_in_a_copy_of(&path).await, SESSIONS + 1);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_leaves_everything_in_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        drop(written(&path).await);
        assert_eq!(sessions_in_a_copy_of(&path).await, SESSIONS);
    }

    #[tokio::test]
    async fn a_reader_in_another_connection_makes_it_partial_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hermod.db");
        let store = written(&path).await;
        let other = Connection::open(&path).expect("another connection");
        other
            .execute_batch("BEGIN; SELECT count(*) FROM sessions;")
            .expect("a read transaction");
        // A write the reader's snapshot does not include, so the WAL cannot
        // be emptied while it reads.
        write_session(&store, "unseen").await;
        // Not the five seconds a write waits.
        store
            .write(|c| Ok(c.busy_timeout(std::time::Duration::ZERO)?))
            .await
            .expect("no wait");
        assert_eq!(
            store.checkpoint().await.expect("checkpoint"),
            Checkpoint::Partial
        );
        other.execute_batch("COMMIT").expect("end the read");
        assert_eq!(
            store.checkpoint().await.expect("checkpoint"),
            Checkpoint::Complete
        );
    }

    #[tokio::test]
    async fn an_in_memory_store_closes_complete() {
        let store = SqliteStore::open_in_memory().expect("open");
        assert_eq!(store.close().await.expect("close"), Checkpoint::Complete);
    }
}
