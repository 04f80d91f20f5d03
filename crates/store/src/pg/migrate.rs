//! The PostgreSQL schema's numbered migrations and how they are applied.
//!
//! Each migration is a file in `crates/store/migrations/postgres/`,
//! embedded at build time, numbered on its own (PostgreSQL's version 1 is
//! the whole schema of SQLite's version 11). Applied versions are recorded
//! in `schema_migrations`. Gateways sharing a database may start at the
//! same moment, so migrating takes a transaction-scoped advisory lock
//! first: one applies, the others wait and then find nothing to do. A
//! database recording a version this build does not know was migrated by a
//! newer hermod and is refused: during a rolling upgrade the gateways still
//! running keep working (migrations only add), but an older one restarted
//! after the upgrade stops with an error saying so.

use super::error::DbResult;
use super::ops::Columns;
use super::pool::Db;
use crate::StoreError;

/// Every migration, by version. Versions start at 1 and only increase.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    include_str!("../../migrations/postgres/0001_initial.sql"),
)];

/// The advisory lock key migrations take ("hmod" in ASCII).
const MIGRATION_LOCK: i64 = 0x686d_6f64;

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the database up to [`latest_version`]; returns the versions applied.
pub(crate) async fn migrate(db: &mut Db, name: &str, now_ms: i64) -> DbResult<Vec<i64>> {
    db.begin().await?;
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version       BIGINT PRIMARY KEY,
             applied_at_ms BIGINT NOT NULL
         )",
    )
    .await?;
    let recorded = versions(db).await?;
    let latest = latest_version();
    if let Some(unknown) = recorded
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|(known, _)| known == *v))
    {
        db.rollback().await?;
        return Err(StoreError::Corrupt(format!(
            "{name} has schema version {unknown} but this hermod knows only versions up to \
             {latest}: the database was migrated by a newer hermod; run that version (or newer)"
        ))
        .into());
    }
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !recorded.contains(v)) {
        db.batch(sql).await?;
        db.execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
            &[version, &now_ms],
        )
        .await?;
        applied.push(*version);
    }
    db.commit().await?;
    Ok(applied)
}

/// The versions recorded in the database (none for an empty database).
pub(crate) async fn recorded(db: &mut Db) -> DbResult<Vec<i64>> {
    let row = db
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?;
    let exists: bool = Columns::new(&row, "schema check").get(0)?;
    if !exists {
        return Ok(Vec::new());
    }
    versions(db).await
}

/// The versions `schema_migrations` holds, oldest first (the table must
/// exist).
async fn versions(db: &mut Db) -> DbResult<Vec<i64>> {
    db.query(
        "SELECT version FROM schema_migrations ORDER BY version",
        &[],
    )
    .await?
    .iter()
    .map(|r| Columns::new(r, "schema version").get(0))
    .collect()
}
