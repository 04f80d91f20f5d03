//! The SQLite schema's numbered migrations and how they are applied.
//!
//! Each migration is a file in `crates/store/migrations/`, embedded at build
//! time. Applied versions are recorded in `schema_migrations`; every known
//! version not recorded there is applied, in order, inside one
//! `BEGIN IMMEDIATE` transaction, so two processes opening the same new
//! database cannot both apply them. Versions increase but need not be
//! consecutive: a migration numbered below one already applied (added on a
//! branch developed beside it) is still applied. A database that records a
//! version this build does not know was written by a newer hermod and is
//! refused rather than guessed at.

use super::error::DbResult;
use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};

/// Every migration, by version. Versions start at 1 and only increase.
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
    (
        10,
        include_str!("../../migrations/0010_session_summaries.sql"),
    ),
    (
        11,
        include_str!("../../migrations/0011_stored_responses.sql"),
    ),
    (12, include_str!("../../migrations/0012_cluster.sql")),
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
    apply(conn, db, now_ms, MIGRATIONS)
}

/// [`migrate`] with these migrations.
fn apply(
    conn: &mut Connection,
    db: &str,
    now_ms: i64,
    migrations: &[(i64, &str)],
) -> DbResult<Vec<i64>> {
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
    let recorded: Vec<i64> = tx
        .prepare("SELECT version FROM schema_migrations ORDER BY version")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let latest = migrations.last().map_or(0, |(v, _)| *v);
    if let Some(unknown) = recorded
        .iter()
        .find(|v| !migrations.iter().any(|(known, _)| known == *v))
    {
        return Err(StoreError::Corrupt(format!(
            "{db} has schema version {unknown} but this hermod knows only versions up to {latest}: \
             the database was written by a newer hermod; upgrade hermod to open it"
        ))
        .into());
    }

    let mut applied = Vec::new();
    for (version, sql) in migrations.iter().filter(|(v, _)| !recorded.contains(v)) {
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

    fn versions() -> Vec<i64> {
        MIGRATIONS.iter().map(|(v, _)| *v).collect()
    }

    #[test]
    fn versions_start_at_one_and_increase() {
        assert_eq!(MIGRATIONS.first().map(|(v, _)| *v), Some(1));
        for pair in MIGRATIONS.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "version {} after {}",
                pair[1].0,
                pair[0].0
            );
        }
        assert!(MIGRATIONS.iter().all(|(_, sql)| !sql.trim().is_empty()));
        assert_eq!(latest_version(), *versions().last().expect("migrations"));
    }

    #[test]
    fn applies_once() {
        let mut conn = Connection::open_in_memory().expect("open");
        let first = migrate(&mut conn, "mem", 1).expect("first migration");
        assert_eq!(first, versions());
        let second = migrate(&mut conn, "mem", 2).expect("second migration");
        assert!(second.is_empty());
        let id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .expect("id");
        assert_eq!(id, APPLICATION_ID);
    }

    #[test]
    fn applies_a_version_below_the_newest_applied_one() {
        let mut conn = Connection::open_in_memory().expect("open");
        let without_two: &[(i64, &str)] =
            &[(1, "CREATE TABLE one (x);"), (3, "CREATE TABLE three (x);")];
        assert_eq!(
            apply(&mut conn, "mem", 1, without_two).expect("first"),
            vec![1, 3]
        );
        let with_two: &[(i64, &str)] = &[
            (1, "CREATE TABLE one (x);"),
            (2, "CREATE TABLE two (x);"),
            (3, "CREATE TABLE three (x);"),
        ];
        assert_eq!(
            apply(&mut conn, "mem", 2, with_two).expect("second"),
            vec![2]
        );
        assert!(
            apply(&mut conn, "mem", 3, with_two)
                .expect("third")
                .is_empty()
        );
        conn.execute("INSERT INTO two (x) VALUES (1)", [])
            .expect("two exists");
    }

    #[test]
    fn refuses_versions_it_does_not_know() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn, "mem", 1).expect("first migration");
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, 1)",
            [latest_version() + 1],
        )
        .expect("record");
        let err = migrate(&mut conn, "new.db", 2)
            .expect_err("must refuse")
            .classify("new.db");
        assert!(matches!(err, StoreError::Corrupt(m) if m.contains("newer hermod")));
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
