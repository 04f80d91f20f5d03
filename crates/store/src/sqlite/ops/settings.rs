//! Settings: small key-value state such as home channels and rate-limit stamps.

use crate::sqlite::error::DbResult;
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn setting(conn: &Connection, key: &str) -> DbResult<Option<String>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
    Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
}

pub(crate) fn set_setting(conn: &Connection, key: &str, value: &str, at_ms: i64) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO settings (key, value, updated_at_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (key) DO UPDATE \
         SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
    )?;
    stmt.execute(params![key, value, at_ms])?;
    Ok(())
}

pub(crate) fn delete_setting(conn: &Connection, key: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM settings WHERE key = ?1")?;
    Ok(stmt.execute([key])? > 0)
}
