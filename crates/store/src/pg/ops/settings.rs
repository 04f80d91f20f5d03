//! Settings on PostgreSQL: small key-value state such as home channels and
//! rate-limit stamps. Each operation is one statement; a set is an upsert,
//! so two gateways setting the same key at once both succeed and the later
//! one wins.

use crate::StoreError;
use crate::pg::error::DbResult;
use crate::pg::pool::Db;

pub(crate) async fn setting(db: &mut Db, key: &str) -> DbResult<Option<String>> {
    let row = db
        .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    // A value of the wrong type is corrupt data, not a connection failure
    // (which is how the client's own error would be classified).
    let value = row.try_get(0).map_err(|e| {
        StoreError::Corrupt(format!("setting {key:?} has an unreadable value: {e}"))
    })?;
    Ok(Some(value))
}

pub(crate) async fn set_setting(db: &mut Db, key: &str, value: &str, at_ms: i64) -> DbResult<()> {
    db.execute(
        "INSERT INTO settings (key, value, updated_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE \
         SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
        &[&key, &value, &at_ms],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_setting(db: &mut Db, key: &str) -> DbResult<bool> {
    Ok(db
        .execute("DELETE FROM settings WHERE key = $1", &[&key])
        .await?
        > 0)
}
