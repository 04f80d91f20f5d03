//! The SQLite schema's numbered migrations and how they are applied.
//!
//! Each migration is a file in `crates/store/migrations/`, embedded at build
//! time. Applied versions are recorded in `schema_migrations`; missing ones are
//! applied in order inside one `BEGIN IMMEDIATE` transaction, so two processes
//! opening the same new database cannot both apply them. A database that
//! records a version this build does not know was written by a newer hermod and
//! is refused rather than guessed at.

use super::error::DbResult;
use crate::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Every migration, by version. Versions start at 1 and increase by 1.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_initial.sql")),
    (
        2,
        include_str!("../../migrations/0002_conversation_engine.sql"),
    ),
    (3, include_str!("../../migrations/0003_outbox.sql")),
    (4, include_str!("../../migrations/0004_inbox.sql")),
    (5, include_str!("../../migrations/0005_inbox_turns.sql")),
    (
        6,
        include_str!("../../migrations/0006_outbox_attachments.sql"),
    ),
    (7, include_str!("../../migrations/0007_cron.sql")),
    (8, include_str!("../../migrations/0008_handoff.sql")),
    (
        9,
        include_str!("../../migrations/0009_memory_and_approvals.sql"),
    ),
];

/// The `PRAGMA application_id` stamped on hermod databases ("hmod" in ASCII),
/// so `file(1)` and hermod itself can tell them from other SQLite files.
pub(crate) const APPLICATION_ID: i32 = 0x686d_6f64;

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the database up to [`latest_version`]; returns the versions applied.
pub(crate) fn migrate(conn: &mut Connection, db: &str, now_ms: i64) -> DbResult<Vec<i64>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;

    let app_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(StoreError::Corrupt(format!(
            "{db} is not a hermod database (it belongs to another application, id {app_id:#x})"
        ))
        .into());
    }

    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version       INTEGER PRIMARY KEY,
             applied_at_ms INTEGER NOT NULL
         );",
    )?;
    let current: i64 = tx
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    let latest = latest_version();
    if current > latest {
        return Err(StoreError::Corrupt(format!(
            "{db} has schema version {current} but this hermod knows only up to {latest}: \
             the database was written by a newer hermod; upgrade hermod to open it"
        ))
        .into());
    }

    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)",
            (version, now_ms),
        )?;
        applied.push(*version);
    }
    if app_id == 0 {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.commit()?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, (version, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1);
            assert!(!sql.trim().is_empty());
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn applies_once() {
        let mut conn = Connection::open_in_memory().expect("open");
        let first = migrate(&mut conn, "mem", 1).expect("first migration");
        assert_eq!(first, (1..=latest_version()).collect::<Vec<_>>());
        let second = migrate(&mut conn, "mem", 2).expect("second migration");
        assert!(second.is_empty());
        let id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .expect("id");
        assert_eq!(id, APPLICATION_ID);
    }

    #[test]
    fn refuses_other_applications() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "application_id", 42)
            .expect("set id");
        let err = migrate(&mut conn, "other.db", 1)
            .expect_err("must refuse")
            .classify("other.db");
        assert!(matches!(err, StoreError::Corrupt(m) if m.contains("not a hermod database")));
    }
}
