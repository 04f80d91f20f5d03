//! The inbox: inbound messages recorded before the platform is
//! acknowledged, so each is handled exactly once across restarts.

use crate::sqlite::error::{DbError, DbResult};
use crate::{InboxEntry, InboxState, StoreError};
use hermod_model::PlatformId;
use rusqlite::{Connection, params};

pub(crate) fn inbox_record(
    conn: &Connection,
    platform: &PlatformId,
    key: &str,
    event_json: &str,
    at_ms: i64,
) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO inbox (platform, key, event_json, state, received_at_ms, updated_at_ms) \
         VALUES (?1, ?2, ?3, 'received', ?4, ?4) ON CONFLICT (platform, key) DO NOTHING",
    )?;
    Ok(stmt.execute(params![platform.as_str(), key, event_json, at_ms])? == 1)
}

pub(crate) fn inbox_set_state(
    conn: &Connection,
    platform: &PlatformId,
    key: &str,
    state: InboxState,
    at_ms: i64,
) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE inbox SET state = ?3, updated_at_ms = ?4 WHERE platform = ?1 AND key = ?2",
    )?;
    Ok(stmt.execute(params![platform.as_str(), key, state.as_str(), at_ms])? == 1)
}

pub(crate) fn inbox_unfinished(conn: &Connection, limit: usize) -> DbResult<Vec<InboxEntry>> {
    let limit = if limit == 0 { 1000 } else { limit };
    let mut stmt = conn.prepare_cached(
        "SELECT platform, key, event_json, state, received_at_ms, updated_at_ms FROM inbox \
         WHERE state != 'done' ORDER BY received_at_ms, rowid LIMIT ?1",
    )?;
    let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (platform, key, event_json, state, received_at_ms, updated_at_ms) = row?;
        let state = InboxState::parse(&state).ok_or_else(|| {
            DbError::Store(StoreError::Corrupt(format!(
                "inbox entry {key} has unknown state {state:?}"
            )))
        })?;
        entries.push(InboxEntry {
            platform: PlatformId::new(platform),
            key,
            event_json,
            state,
            received_at_ms,
            updated_at_ms,
        });
    }
    Ok(entries)
}

pub(crate) fn inbox_prune(conn: &Connection, before_ms: i64) -> DbResult<u64> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM inbox WHERE state = 'done' AND updated_at_ms < ?1")?;
    Ok(u64::try_from(stmt.execute([before_ms])?).unwrap_or(u64::MAX))
}
