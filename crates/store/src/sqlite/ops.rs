//! The store's operations as plain synchronous functions on one connection.
//!
//! [`super::SqliteStore`] decides which connection (the writer or a reader)
//! and which thread each runs on; here is only the SQL and its contracts.
//! Writes that touch more than one row run in a `BEGIN IMMEDIATE`
//! transaction, which takes the write lock up front so a busy database shows
//! up as [`StoreError::Busy`] at the start rather than halfway through.

use super::error::{DbResult, is_foreign_key_violation, is_unique_violation};
use super::fts;
use super::rows::{
    EncodedMessage, MESSAGE_COLUMNS, RawMessage, RawSession, SESSION_COLUMNS, encode_message,
    encode_source, session_id,
};
use crate::{
    AppendMessages, ListSessions, NewSession, SearchHit, SessionRecord, StoreError, StoredMessage,
};
use hermod_model::{Role, SessionId, SessionKey};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Rows returned by [`list_sessions`] when the caller passes a limit of 0.
pub(crate) const DEFAULT_LIST_LIMIT: usize = 50;
/// Hits returned by [`search`] when the caller passes a limit of 0.
pub(crate) const DEFAULT_SEARCH_LIMIT: usize = 20;

/// A `usize` count as an SQL integer (saturating: a limit that large is "all").
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn sql_tokens(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid(format!("{what} {n} is too large to store")))
}

fn not_found(id: &SessionId) -> StoreError {
    StoreError::NotFound(format!("session {id}"))
}

fn session_exists(conn: &Connection, id: &SessionId) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?;
    Ok(stmt.exists([id.as_str()])?)
}

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
    Ok(SessionRecord {
        id: new.id.clone(),
        key: new.key.clone(),
        platform: new.source.platform.clone(),
        source: new.source.clone(),
        title: None,
        created_at_ms: new.created_at_ms,
        updated_at_ms: new.created_at_ms,
        ended_at_ms: None,
        end_reason: None,
        message_count: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
    })
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

pub(crate) fn list_sessions(conn: &Connection, q: &ListSessions) -> DbResult<Vec<SessionRecord>> {
    let limit = sql_count(if q.limit == 0 {
        DEFAULT_LIST_LIMIT
    } else {
        q.limit
    });
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
    Ok(raws
        .into_iter()
        .map(RawSession::decode)
        .collect::<Result<_, _>>()?)
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

pub(crate) fn set_title(conn: &Connection, id: &SessionId, title: &str) -> DbResult<()> {
    let mut stmt = conn.prepare_cached("UPDATE sessions SET title = ?2 WHERE id = ?1")?;
    if stmt.execute(params![id.as_str(), title])? == 0 {
        return Err(not_found(id).into());
    }
    Ok(())
}

pub(crate) fn append_messages(
    conn: &mut Connection,
    append: &AppendMessages,
) -> DbResult<Vec<i64>> {
    // Encode everything first: a message that cannot be stored must not leave
    // half a batch behind (the transaction would roll back anyway, but this
    // also keeps the write lock short).
    let encoded: Vec<EncodedMessage> = append
        .messages
        .iter()
        .map(|m| encode_message(&m.message))
        .collect::<Result<_, _>>()?;
    let prompt = sql_tokens(append.usage.prompt_tokens, "prompt token count")?;
    let completion = sql_tokens(append.usage.completion_tokens, "completion token count")?;
    let count = sql_count(append.messages.len());
    let latest_at = append.messages.iter().map(|m| m.at_ms).max();

    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Checked inside the transaction so the session cannot vanish between the
    // check and the inserts.
    if !session_exists(&tx, &append.session)? {
        return Err(not_found(&append.session).into());
    }
    let ids = insert_messages(&tx, append, &encoded)?;
    let mut update = tx.prepare_cached(
        "UPDATE sessions SET message_count = message_count + ?2, \
         prompt_tokens = prompt_tokens + ?3, completion_tokens = completion_tokens + ?4, \
         updated_at_ms = max(updated_at_ms, coalesce(?5, updated_at_ms)) WHERE id = ?1",
    )?;
    update.execute(params![
        append.session.as_str(),
        count,
        prompt,
        completion,
        latest_at
    ])?;
    drop(update);
    tx.commit()?;
    Ok(ids)
}

/// Inserts `append`'s messages (already encoded as `encoded`); returns their ids.
fn insert_messages(
    conn: &Connection,
    append: &AppendMessages,
    encoded: &[EncodedMessage],
) -> DbResult<Vec<i64>> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (session_id, role, content, content_json, tool_calls_json, \
         tool_calls_text, tool_call_id, tool_name, at_ms, platform_message_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut ids = Vec::with_capacity(encoded.len());
    for (new, enc) in append.messages.iter().zip(encoded) {
        insert.execute(params![
            append.session.as_str(),
            enc.role,
            enc.content,
            enc.content_json,
            enc.tool_calls_json,
            enc.tool_calls_text,
            new.message.tool_call_id,
            new.message.name,
            new.at_ms,
            new.platform_message_id,
        ])?;
        ids.push(conn.last_insert_rowid());
    }
    Ok(ids)
}

pub(crate) fn messages(conn: &Connection, id: &SessionId) -> DbResult<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?1 ORDER BY id"
    ))?;
    let raws = stmt
        .query_map([id.as_str()], RawMessage::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if raws.is_empty() && !session_exists(conn, id)? {
        return Err(not_found(id).into());
    }
    Ok(raws
        .into_iter()
        .map(RawMessage::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn search(conn: &Connection, query: &str, limit: usize) -> DbResult<Vec<SearchHit>> {
    let Some(expression) = fts::match_expression(query) else {
        return Ok(Vec::new());
    };
    let limit = sql_count(if limit == 0 {
        DEFAULT_SEARCH_LIMIT
    } else {
        limit
    });
    // `rank` is bm25() by default: best match first. The snippet marks matches
    // with >>> and <<< and shows about 16 tokens around them.
    let mut stmt = conn.prepare_cached(
        "SELECT m.session_id, m.id, m.role, \
                snippet(messages_fts, 0, '>>>', '<<<', '...', 16), m.at_ms \
         FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid \
         WHERE messages_fts MATCH ?1 ORDER BY rank LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![expression, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut hits = Vec::with_capacity(rows.len());
    for (session, message_id, role, snippet, at_ms) in rows {
        let role = Role::parse(&role).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "message {message_id} has an unreadable role: {role:?}"
            ))
        })?;
        hits.push(SearchHit {
            session: session_id(session)?,
            message_id,
            role,
            snippet: snippet.unwrap_or_default(),
            at_ms,
        });
    }
    Ok(hits)
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
