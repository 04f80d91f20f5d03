//! Messages: appending, reading, taking back (`/undo`, `/retry`) and search.
//!
//! A message is active until [`undo_exchanges`] takes it back. Every query
//! here that reads history filters on `active = 1`; the full-text index keeps
//! indexing every row (so its integrity checks and rebuilds stay plain) and
//! [`search`] drops the inactive hits in the join.

use super::{DEFAULT_SEARCH_LIMIT, not_found, session_exists, sql_count, sql_limit};
use crate::sqlite::error::DbResult;
use crate::sqlite::fts;
use crate::sqlite::rows::{
    EncodedMessage, MESSAGE_COLUMNS, RawMessage, encode_message, session_id,
};
use crate::{AppendMessages, Owner, SearchHit, StoreError, StoredMessage};
use hermod_model::{PlatformId, Role, SessionId};
use rusqlite::{Connection, TransactionBehavior, params};

fn sql_tokens(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid(format!("{what} {n} is too large to store")))
}

fn decode_all(raws: Vec<RawMessage>) -> DbResult<Vec<StoredMessage>> {
    Ok(raws
        .into_iter()
        .map(RawMessage::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn append_messages(
    conn: &mut Connection,
    append: &AppendMessages,
) -> DbResult<Vec<i64>> {
    let prepared = PreparedAppend::new(append)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids = prepared.apply(&tx)?;
    tx.commit()?;
    Ok(ids)
}

/// An [`AppendMessages`] checked and encoded, ready to apply inside a
/// transaction: the one implementation of appending, shared by
/// [`append_messages`] and the outbox's `append_reply`.
pub(crate) struct PreparedAppend<'a> {
    append: &'a AppendMessages,
    encoded: Vec<EncodedMessage>,
    prompt: i64,
    completion: i64,
}

impl<'a> PreparedAppend<'a> {
    /// Encodes everything first: a message that cannot be stored must not
    /// leave half a batch behind (the transaction would roll back anyway, but
    /// this also keeps the write lock short).
    pub(crate) fn new(append: &'a AppendMessages) -> DbResult<Self> {
        let encoded: Vec<EncodedMessage> = append
            .messages
            .iter()
            .map(|m| encode_message(&m.message))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            append,
            encoded,
            prompt: sql_tokens(append.usage.prompt_tokens, "prompt token count")?,
            completion: sql_tokens(append.usage.completion_tokens, "completion token count")?,
        })
    }

    /// Inserts the messages and adds them and the usage to the session's
    /// counters; returns the messages' ids. Must run inside a transaction
    /// (the caller commits), so the session cannot vanish between the check
    /// and the inserts. Unknown session: [`StoreError::NotFound`].
    pub(crate) fn apply(&self, tx: &Connection) -> DbResult<Vec<i64>> {
        let append = self.append;
        if !session_exists(tx, &append.session)? {
            return Err(not_found(&append.session).into());
        }
        let ids = insert_messages(tx, append, &self.encoded)?;
        let mut update = tx.prepare_cached(
            "UPDATE sessions SET message_count = message_count + ?2, \
             prompt_tokens = prompt_tokens + ?3, completion_tokens = completion_tokens + ?4, \
             updated_at_ms = max(updated_at_ms, coalesce(?5, updated_at_ms)) WHERE id = ?1",
        )?;
        update.execute(params![
            append.session.as_str(),
            sql_count(append.messages.len()),
            self.prompt,
            self.completion,
            append.messages.iter().map(|m| m.at_ms).max(),
        ])?;
        Ok(ids)
    }
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
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ?1 AND active = 1 ORDER BY id"
    ))?;
    let raws = stmt
        .query_map([id.as_str()], RawMessage::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if raws.is_empty() && !session_exists(conn, id)? {
        return Err(not_found(id).into());
    }
    decode_all(raws)
}

pub(crate) fn undo_exchanges(
    conn: &mut Connection,
    id: &SessionId,
    exchanges: usize,
) -> DbResult<Vec<StoredMessage>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !session_exists(&tx, id)? {
        return Err(not_found(id).into());
    }
    if exchanges == 0 {
        return Ok(Vec::new());
    }
    // The earliest of the last `exchanges` active user messages starts what
    // is taken back; everything active from there on goes with it.
    let mut first = tx.prepare_cached(
        "SELECT min(id) FROM (SELECT id FROM messages \
         WHERE session_id = ?1 AND active = 1 AND role = ?2 ORDER BY id DESC LIMIT ?3)",
    )?;
    // An aggregate always yields one row: NULL when there is no user message.
    let start: Option<i64> = first.query_row(
        params![id.as_str(), Role::User.as_str(), sql_count(exchanges)],
        |r| r.get(0),
    )?;
    drop(first);
    let Some(start) = start else {
        return Ok(Vec::new());
    };

    let mut select = tx.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE session_id = ?1 AND active = 1 AND id >= ?2 ORDER BY id"
    ))?;
    let raws = select
        .query_map(params![id.as_str(), start], RawMessage::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(select);
    // Decoded before anything changes: an unreadable message fails the whole
    // undo rather than vanishing unseen.
    let undone = decode_all(raws)?;

    let mut deactivate = tx.prepare_cached(
        "UPDATE messages SET active = 0 WHERE session_id = ?1 AND active = 1 AND id >= ?2",
    )?;
    let changed = deactivate.execute(params![id.as_str(), start])?;
    drop(deactivate);
    let mut recount = tx.prepare_cached(
        "UPDATE sessions SET message_count = max(message_count - ?2, 0) WHERE id = ?1",
    )?;
    recount.execute(params![id.as_str(), sql_count(changed)])?;
    drop(recount);
    super::summaries::forget_summary_covering(&tx, id, start)?;
    tx.commit()?;
    Ok(undone)
}

pub(crate) fn search(conn: &Connection, query: &str, limit: usize) -> DbResult<Vec<SearchHit>> {
    search_in(conn, query, limit, Within::All)
}

/// [`search`] over the sessions whose source names `owner` (same platform,
/// same user id). The owner is part of the query, so another user's hits
/// never take a place under the limit.
pub(crate) fn search_owned(
    conn: &Connection,
    owner: &Owner,
    query: &str,
    limit: usize,
) -> DbResult<Vec<SearchHit>> {
    search_in(conn, query, limit, Within::Owner(owner))
}

/// [`search`] over the sessions of `platform`. The platform is part of the
/// query, so other platforms' hits never take a place under the limit.
pub(crate) fn search_platform(
    conn: &Connection,
    platform: &PlatformId,
    query: &str,
    limit: usize,
) -> DbResult<Vec<SearchHit>> {
    search_in(conn, query, limit, Within::Platform(platform))
}

/// Which sessions a search looks in.
#[derive(Clone, Copy)]
enum Within<'a> {
    All,
    Owner(&'a Owner),
    Platform(&'a PlatformId),
}

/// The search itself. `rank` is bm25() by default: best match first. The
/// snippet marks matches with >>> and <<< and shows about 16 tokens around
/// them. Taken-back messages stay indexed and are dropped here, before the
/// limit applies, as are the sessions outside `within`.
fn search_in(
    conn: &Connection,
    query: &str,
    limit: usize,
    within: Within<'_>,
) -> DbResult<Vec<SearchHit>> {
    const SELECT: &str = "SELECT m.session_id, m.id, m.role, \
                snippet(messages_fts, 0, '>>>', '<<<', '...', 16), m.at_ms \
         FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid ";
    let Some(expression) = fts::match_expression(query) else {
        return Ok(Vec::new());
    };
    let limit = sql_limit(limit, DEFAULT_SEARCH_LIMIT);
    let (filter, platform, user) = match within {
        Within::All => ("", None, None),
        Within::Owner(owner) => (
            "AND s.platform = ?3 AND json_extract(s.source_json, '$.user_id') = ?4 ",
            Some(owner.platform.as_str()),
            Some(owner.user_id.as_str()),
        ),
        Within::Platform(platform) => ("AND s.platform = ?3 ", Some(platform.as_str()), None),
    };
    let join = if platform.is_some() {
        "JOIN sessions AS s ON s.id = m.session_id "
    } else {
        ""
    };
    let sql = format!(
        "{SELECT}{join}WHERE messages_fts MATCH ?1 AND m.active = 1 {filter}ORDER BY rank LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = match (platform, user) {
        (Some(platform), Some(user)) => stmt
            .query_map(params![expression, limit, platform, user], raw_hit)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        (Some(platform), None) => stmt
            .query_map(params![expression, limit, platform], raw_hit)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        _ => stmt
            .query_map(params![expression, limit], raw_hit)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    decode_hits(rows)
}

/// A search row: session, message id, role, snippet, time.
type RawHit = (String, i64, String, Option<String>, i64);

fn raw_hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawHit> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decode_hits(rows: Vec<RawHit>) -> DbResult<Vec<SearchHit>> {
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
