//! Sessions and the routing keys that point at them, on PostgreSQL.
//!
//! Every operation here is one statement, so it is atomic on its own even
//! with several gateways writing: a duplicate id is refused by the primary
//! key (`ON CONFLICT DO NOTHING`, then [`StoreError::Conflict`]), a route
//! to a missing session by the foreign key, and "end unless already ended"
//! is decided inside the `UPDATE` rather than by a read before it.

use super::{Columns, not_found, sql_count, sql_limit};
use crate::pg::error::{DbError, DbResult};
use crate::pg::pool::Db;
use crate::rows::{
    DEFAULT_LIST_LIMIT, RawSession, SESSION_COLUMNS, created_session, encode_source, session_id,
};
use crate::{ListSessions, NewSession, SessionRecord, StoreError};
use hermod_model::{SessionId, SessionKey};
use tokio_postgres::Row;

/// What session and routing rows are called in messages about them.
const ROW: &str = "session row";

/// A `sessions` row read with [`SESSION_COLUMNS`], decoded.
fn decode(row: &Row) -> DbResult<SessionRecord> {
    let c = Columns::new(row, ROW);
    let raw = RawSession {
        id: c.get(0)?,
        key: c.get(1)?,
        platform: c.get(2)?,
        source_json: c.get(3)?,
        title: c.get(4)?,
        created_at_ms: c.get(5)?,
        updated_at_ms: c.get(6)?,
        ended_at_ms: c.get(7)?,
        end_reason: c.get(8)?,
        message_count: c.get(9)?,
        prompt_tokens: c.get(10)?,
        completion_tokens: c.get(11)?,
        model_override: c.get(12)?,
    };
    Ok(raw.decode()?)
}

fn decode_all(rows: &[Row]) -> DbResult<Vec<SessionRecord>> {
    rows.iter().map(decode).collect()
}

pub(crate) async fn create_session(db: &mut Db, new: &NewSession) -> DbResult<SessionRecord> {
    let source_json = encode_source(&new.source)?;
    // DO NOTHING rather than catching the unique violation: the loser of
    // two concurrent creates learns it from the row count, and the server
    // logs no error for an expected outcome.
    let inserted = db
        .execute(
            "INSERT INTO sessions (id, session_key, platform, source_json, created_at_ms, \
             updated_at_ms) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &new.id.as_str(),
                &new.key.as_str(),
                &new.source.platform.as_str(),
                &source_json,
                &new.created_at_ms,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("session {}", new.id)).into());
    }
    Ok(created_session(new))
}

pub(crate) async fn session(db: &mut Db, id: &SessionId) -> DbResult<Option<SessionRecord>> {
    let row = db
        .query_opt(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"),
            &[&id.as_str()],
        )
        .await?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn list_sessions(db: &mut Db, q: &ListSessions) -> DbResult<Vec<SessionRecord>> {
    let limit = sql_limit(q.limit, DEFAULT_LIST_LIMIT);
    let offset = sql_count(q.offset);
    // Two statements rather than `$1 IS NULL OR platform = $1`, so each
    // prepared plan can use its index. Ties on updated_at_ms fall back to
    // the id for a stable order, compared byte by byte (`COLLATE "C"`) as
    // SQLite does, whatever the database's locale.
    let rows = match &q.platform {
        Some(platform) => {
            db.query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE platform = $1 \
                     ORDER BY updated_at_ms DESC, id COLLATE \"C\" ASC LIMIT $2 OFFSET $3"
                ),
                &[&platform.as_str(), &limit, &offset],
            )
            .await?
        }
        None => {
            db.query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     ORDER BY updated_at_ms DESC, id COLLATE \"C\" ASC LIMIT $1 OFFSET $2"
                ),
                &[&limit, &offset],
            )
            .await?
        }
    };
    decode_all(&rows)
}

pub(crate) async fn sessions_for_key(
    db: &mut Db,
    key: &SessionKey,
    limit: usize,
) -> DbResult<Vec<SessionRecord>> {
    // sessions_by_key narrows to the key; a key has few sessions to sort.
    let rows = db
        .query(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE session_key = $1 \
                 ORDER BY updated_at_ms DESC, id COLLATE \"C\" ASC LIMIT $2"
            ),
            &[&key.as_str(), &sql_limit(limit, DEFAULT_LIST_LIMIT)],
        )
        .await?;
    decode_all(&rows)
}

pub(crate) async fn end_session(
    db: &mut Db,
    id: &SessionId,
    reason: &str,
    at_ms: i64,
) -> DbResult<()> {
    // Only the first end counts. The choice is made inside the UPDATE (the
    // right-hand sides read the row as it was), so two gateways ending the
    // same session at once keep one end, and the row count alone says
    // whether the session exists: one round trip whatever the outcome.
    let changed = db
        .execute(
            "UPDATE sessions SET \
                 end_reason = CASE WHEN ended_at_ms IS NULL THEN $3 ELSE end_reason END, \
                 ended_at_ms = COALESCE(ended_at_ms, $2) \
             WHERE id = $1",
            &[&id.as_str(), &at_ms, &reason],
        )
        .await?;
    if changed == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) async fn reopen_session(db: &mut Db, id: &SessionId) -> DbResult<()> {
    let changed = db
        .execute(
            "UPDATE sessions SET ended_at_ms = NULL, end_reason = NULL WHERE id = $1",
            &[&id.as_str()],
        )
        .await?;
    if changed == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) async fn set_title(db: &mut Db, id: &SessionId, title: &str) -> DbResult<()> {
    let changed = db
        .execute(
            "UPDATE sessions SET title = $2 WHERE id = $1",
            &[&id.as_str(), &title],
        )
        .await?;
    if changed == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) async fn set_model_override(
    db: &mut Db,
    id: &SessionId,
    model: Option<&str>,
) -> DbResult<()> {
    let changed = db
        .execute(
            "UPDATE sessions SET model_override = $2 WHERE id = $1",
            &[&id.as_str(), &model],
        )
        .await?;
    if changed == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) async fn route(db: &mut Db, key: &SessionKey) -> DbResult<Option<SessionId>> {
    let row = db
        .query_opt(
            "SELECT session_id FROM routing WHERE session_key = $1",
            &[&key.as_str()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(session_id(Columns::new(&row, ROW).get(0)?)?))
}

pub(crate) async fn set_route(
    db: &mut Db,
    key: &SessionKey,
    id: &SessionId,
    at_ms: i64,
) -> DbResult<()> {
    // The foreign key checks the session (and holds it against a
    // concurrent delete until this statement ends), so no read before.
    let upserted = db
        .execute(
            "INSERT INTO routing (session_key, session_id, updated_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (session_key) DO UPDATE \
             SET session_id = excluded.session_id, updated_at_ms = excluded.updated_at_ms",
            &[&key.as_str(), &id.as_str(), &at_ms],
        )
        .await;
    match upserted {
        Ok(_) => Ok(()),
        Err(e) if e.is_foreign_key_violation() => Err(DbError::from(not_found(id))),
        Err(e) => Err(e),
    }
}

/// Deletes a session; its messages (and so their search entries), summary,
/// hand-off and routes go with it by cascade. Outbox entries and inbox
/// turns naming it have no foreign key and stay, so replies already
/// written are still delivered.
pub(crate) async fn delete_session(db: &mut Db, id: &SessionId) -> DbResult<bool> {
    Ok(db
        .execute("DELETE FROM sessions WHERE id = $1", &[&id.as_str()])
        .await?
        > 0)
}
