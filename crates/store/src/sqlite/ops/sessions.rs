//! Sessions and the routing keys that point at them.

use super::{DEFAULT_LIST_LIMIT, not_found, session_exists, sql_count, sql_limit};
use crate::sqlite::error::{DbResult, is_foreign_key_violation, is_unique_violation};
use crate::sqlite::rows::{
    RawSession, SESSION_COLUMNS, created_session, encode_source, session_id,
};
use crate::{ListSessions, NewSession, SessionRecord, StoreError};
use hermod_model::{SessionId, SessionKey};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn create_session(conn: &Connection, new: &NewSession) -> DbResult<SessionRecord> {
    let source_json = encode_source(&new.source)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO sessions (id, session_key, platform, source_json, created_at_ms, \
         updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    let inserted = stmt.execute(params![
        new.id.as_str(),
        new.key.as_str(),
        new.source.platform.as_str(),
        source_json,
        new.created_at_ms,
    ]);
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict(format!("session {}", new.id)).into());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(created_session(new))
}

pub(crate) fn session(conn: &Connection, id: &SessionId) -> DbResult<Option<SessionRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
    ))?;
    let raw = stmt
        .query_row([id.as_str()], RawSession::from_row)
        .optional()?;
    Ok(raw.map(RawSession::decode).transpose()?)
}

/// Decodes the rows a listing read.
fn decode_all(raws: Vec<RawSession>) -> DbResult<Vec<SessionRecord>> {
    Ok(raws
        .into_iter()
        .map(RawSession::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn list_sessions(conn: &Connection, q: &ListSessions) -> DbResult<Vec<SessionRecord>> {
    let limit = sql_limit(q.limit, DEFAULT_LIST_LIMIT);
    let offset = sql_count(q.offset);
    // Two statements rather than `?1 IS NULL OR platform = ?1`, so each can
    // use its index. Ties on updated_at_ms fall back to the id for a stable order.
    let raws = match &q.platform {
        Some(platform) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE platform = ?1 \
                 ORDER BY updated_at_ms DESC, id ASC LIMIT ?2 OFFSET ?3"
            ))?;
            stmt.query_map(
                params![platform.as_str(), limit, offset],
                RawSession::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?
        }
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions \
                 ORDER BY updated_at_ms DESC, id ASC LIMIT ?1 OFFSET ?2"
            ))?;
            stmt.query_map(params![limit, offset], RawSession::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    decode_all(raws)
}

pub(crate) fn sessions_for_key(
    conn: &Connection,
    key: &SessionKey,
    limit: usize,
) -> DbResult<Vec<SessionRecord>> {
    // sessions_by_key narrows to the key; a key has few sessions to sort.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE session_key = ?1 \
         ORDER BY updated_at_ms DESC, id ASC LIMIT ?2"
    ))?;
    let raws = stmt
        .query_map(
            params![key.as_str(), sql_limit(limit, DEFAULT_LIST_LIMIT)],
            RawSession::from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    decode_all(raws)
}

pub(crate) fn end_session(
    conn: &Connection,
    id: &SessionId,
    reason: &str,
    at_ms: i64,
) -> DbResult<()> {
    // Only the first end counts; a second end of an existing session is a no-op.
    let mut stmt = conn.prepare_cached(
        "UPDATE sessions SET ended_at_ms = ?2, end_reason = ?3 \
         WHERE id = ?1 AND ended_at_ms IS NULL",
    )?;
    let changed = stmt.execute(params![id.as_str(), at_ms, reason])?;
    if changed == 0 && !session_exists(conn, id)? {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) fn reopen_session(conn: &Connection, id: &SessionId) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE sessions SET ended_at_ms = NULL, end_reason = NULL WHERE id = ?1",
    )?;
    if stmt.execute([id.as_str()])? == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) fn set_title(conn: &Connection, id: &SessionId, title: &str) -> DbResult<()> {
    let mut stmt = conn.prepare_cached("UPDATE sessions SET title = ?2 WHERE id = ?1")?;
    if stmt.execute(params![id.as_str(), title])? == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) fn set_model_override(
    conn: &Connection,
    id: &SessionId,
    model: Option<&str>,
) -> DbResult<()> {
    let mut stmt = conn.prepare_cached("UPDATE sessions SET model_override = ?2 WHERE id = ?1")?;
    if stmt.execute(params![id.as_str(), model])? == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) fn route(conn: &Connection, key: &SessionKey) -> DbResult<Option<SessionId>> {
    let mut stmt = conn.prepare_cached("SELECT session_id FROM routing WHERE session_key = ?1")?;
    let raw: Option<String> = stmt.query_row([key.as_str()], |r| r.get(0)).optional()?;
    Ok(raw.map(session_id).transpose()?)
}

pub(crate) fn set_route(
    conn: &Connection,
    key: &SessionKey,
    id: &SessionId,
    at_ms: i64,
) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO routing (session_key, session_id, updated_at_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (session_key) DO UPDATE \
         SET session_id = excluded.session_id, updated_at_ms = excluded.updated_at_ms",
    )?;
    match stmt.execute(params![key.as_str(), id.as_str(), at_ms]) {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => Err(not_found(id).into()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a session; its messages (and their search entries, through the
/// triggers), summary, hand-off and routes go with it by cascade.
pub(crate) fn delete_session(conn: &Connection, id: &SessionId) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM sessions WHERE id = ?1")?;
    Ok(stmt.execute([id.as_str()])? > 0)
}
