//! Messages: appending, reading, taking back (`/undo`, `/retry`) and search.
//!
//! Appends and undos lock the session's row first (`FOR UPDATE`), so the
//! operations on one session run one after another even when several
//! gateways write: message ids then increase in commit order within a
//! session, and the counters never miss an update.
//!
//! Search reads `search`, a `simple` tsvector of `search_text`: the
//! message's content, tool name and tool calls with diacritics removed here
//! (as SQLite's FTS5 index does), so `cafe` finds `café` on any server,
//! without an extension.
//!
//! PostgreSQL's `text` cannot hold a NUL character, which SQLite's can. A
//! message whose text has one keeps its exact content in `content_json`
//! (JSON escapes it) and its display and search text without it.

use super::super::error::DbResult;
use super::super::pool::Db;
use super::{Columns, not_found, sql_count, sql_limit};
use crate::rows::{
    DEFAULT_SEARCH_LIMIT, EncodedMessage, MESSAGE_COLUMNS, RawMessage, encode_message,
    search_words, session_id,
};
use crate::{AppendMessages, Owner, SearchHit, StoreError, StoredMessage};
use hermod_model::{Content, PlatformId, Role, SessionId};
use tokio_postgres::Row;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

fn sql_tokens(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid(format!("{what} {n} is too large to store")))
}

/// A `messages` row read with [`MESSAGE_COLUMNS`].
pub(crate) fn raw_message(row: &Row) -> DbResult<RawMessage> {
    let row = Columns::new(row, "message row");
    Ok(RawMessage {
        id: row.get(0)?,
        session_id: row.get(1)?,
        role: row.get(2)?,
        content: row.get(3)?,
        content_json: row.get(4)?,
        tool_calls_json: row.get(5)?,
        tool_call_id: row.get(6)?,
        tool_name: row.get(7)?,
        at_ms: row.get(8)?,
        platform_message_id: row.get(9)?,
    })
}

fn decode_all(rows: &[Row]) -> DbResult<Vec<StoredMessage>> {
    rows.iter()
        .map(|row| Ok(raw_message(row)?.decode()?))
        .collect()
}

/// Text with diacritics removed, for the search index and search words.
fn fold(text: &str) -> String {
    text.nfkd().filter(|c| !is_combining_mark(*c)).collect()
}

/// Text without NUL characters, which PostgreSQL's `text` cannot hold.
fn without_nul(text: Option<String>) -> Option<String> {
    text.map(|t| {
        if t.contains('\0') {
            t.replace('\0', "")
        } else {
            t
        }
    })
}

/// A message's columns as PostgreSQL stores them: NUL-free text, the
/// exact content in `content_json` when its text had a NUL, and the
/// folded search text.
struct PgMessage {
    encoded: EncodedMessage,
    search_text: String,
}

fn encode(message: &hermod_model::ChatMessage) -> Result<PgMessage, StoreError> {
    let mut encoded = encode_message(message)?;
    if encoded.content_json.is_none()
        && let Some(Content::Text(text)) = &message.content
        && text.contains('\0')
    {
        let json = serde_json::to_string(&Content::Text(text.clone()))
            .map_err(|e| StoreError::Invalid(format!("unserializable message: {e}")))?;
        encoded.content_json = Some(json);
    }
    // Searched as written (a NUL separates words there), shown without NULs.
    let search_text = search_text(
        encoded.content.as_deref(),
        message.name.as_deref(),
        encoded.tool_calls_text.as_deref(),
    );
    encoded.content = without_nul(encoded.content);
    encoded.tool_calls_text = without_nul(encoded.tool_calls_text);
    Ok(PgMessage {
        encoded,
        search_text,
    })
}

/// What the search index reads for a message: its content, tool name and
/// tool calls' text, joined by spaces, diacritics and NULs removed.
pub(crate) fn search_text(
    content: Option<&str>,
    tool_name: Option<&str>,
    tool_calls_text: Option<&str>,
) -> String {
    let joined = [content, tool_name, tool_calls_text]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    // A NUL separates words, as SQLite's tokenizer treats it.
    fold(&joined).replace('\0', " ")
}

pub(crate) async fn append_messages(db: &mut Db, append: &AppendMessages) -> DbResult<Vec<i64>> {
    db.begin().await?;
    let ids = append_within(db, append).await?;
    db.commit().await?;
    Ok(ids)
}

/// Appends `append`'s messages and usage inside the caller's transaction:
/// the one implementation of appending, shared by [`append_messages`], the
/// inbox's turns and the outbox's replies. Locks the session's row first,
/// so appends to one session are ordered. Unknown session:
/// [`StoreError::NotFound`].
pub(crate) async fn append_within(db: &mut Db, append: &AppendMessages) -> DbResult<Vec<i64>> {
    // Encoded before anything is written: a message that cannot be stored
    // must not leave half a batch behind.
    let encoded: Vec<PgMessage> = append
        .messages
        .iter()
        .map(|m| encode(&m.message))
        .collect::<Result<_, _>>()?;
    let prompt = sql_tokens(append.usage.prompt_tokens, "prompt token count")?;
    let completion = sql_tokens(append.usage.completion_tokens, "completion token count")?;
    let latest = append.messages.iter().map(|m| m.at_ms).max();
    let session = append.session.as_str();
    let updated = db
        .execute(
            "UPDATE sessions SET message_count = message_count + $2, \
             prompt_tokens = prompt_tokens + $3, completion_tokens = completion_tokens + $4, \
             updated_at_ms = greatest(updated_at_ms, coalesce($5, updated_at_ms)) WHERE id = $1",
            &[
                &session,
                &sql_count(append.messages.len()),
                &prompt,
                &completion,
                &latest,
            ],
        )
        .await?;
    if updated == 0 {
        return Err(not_found(&append.session).into());
    }
    let mut ids = Vec::with_capacity(encoded.len());
    for (new, pg) in append.messages.iter().zip(&encoded) {
        let enc = &pg.encoded;
        let row = db
            .query_one(
                "INSERT INTO messages (session_id, role, content, content_json, \
                 tool_calls_json, tool_calls_text, tool_call_id, tool_name, at_ms, \
                 platform_message_id, search_text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &[
                    &session,
                    &enc.role,
                    &enc.content,
                    &enc.content_json,
                    &enc.tool_calls_json,
                    &enc.tool_calls_text,
                    &new.message.tool_call_id,
                    &new.message.name,
                    &new.at_ms,
                    &new.platform_message_id,
                    &pg.search_text,
                ],
            )
            .await?;
        ids.push(Columns::new(&row, "new message id").get(0)?);
    }
    Ok(ids)
}

pub(crate) async fn messages(db: &mut Db, id: &SessionId) -> DbResult<Vec<StoredMessage>> {
    let rows = db
        .query(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND active \
                 ORDER BY id"
            ),
            &[&id.as_str()],
        )
        .await?;
    if rows.is_empty() && !super::session_exists(db, id).await? {
        return Err(not_found(id).into());
    }
    decode_all(&rows)
}

pub(crate) async fn undo_exchanges(
    db: &mut Db,
    id: &SessionId,
    exchanges: usize,
) -> DbResult<Vec<StoredMessage>> {
    db.begin().await?;
    let locked = db
        .query_opt(
            "SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE",
            &[&id.as_str()],
        )
        .await?;
    if locked.is_none() {
        return Err(not_found(id).into());
    }
    // The earliest of the last `exchanges` active user messages starts what
    // is taken back; everything active from there on goes with it.
    let start: Option<i64> = if exchanges == 0 {
        None
    } else {
        let row = db
            .query_one(
                "SELECT min(id) FROM (SELECT id FROM messages \
                 WHERE session_id = $1 AND active AND role = $2 ORDER BY id DESC LIMIT $3) AS last",
                &[&id.as_str(), &Role::User.as_str(), &sql_count(exchanges)],
            )
            .await?;
        Columns::new(&row, "first undone message").get(0)?
    };
    let Some(start) = start else {
        db.commit().await?;
        return Ok(Vec::new());
    };
    // Taken back and read in one statement; decoded before the commit, so
    // an unreadable message fails the whole undo rather than vanishing.
    let rows = db
        .query(
            &format!(
                "UPDATE messages SET active = FALSE \
                 WHERE session_id = $1 AND active AND id >= $2 RETURNING {MESSAGE_COLUMNS}"
            ),
            &[&id.as_str(), &start],
        )
        .await?;
    let mut undone = decode_all(&rows)?;
    undone.sort_by_key(|m| m.id);
    db.execute(
        "UPDATE sessions SET message_count = greatest(message_count - $2, 0) WHERE id = $1",
        &[&id.as_str(), &sql_count(undone.len())],
    )
    .await?;
    super::summaries::forget_summary_covering(db, id, start).await?;
    db.commit().await?;
    Ok(undone)
}

pub(crate) async fn search(db: &mut Db, query: &str, limit: usize) -> DbResult<Vec<SearchHit>> {
    search_in(db, query, limit, Within::All).await
}

/// [`search`] over the sessions whose source names `owner` (same platform,
/// same user id); the owner is part of the query, so another user's hits
/// never take a place under the limit.
pub(crate) async fn search_owned(
    db: &mut Db,
    owner: &Owner,
    query: &str,
    limit: usize,
) -> DbResult<Vec<SearchHit>> {
    search_in(db, query, limit, Within::Owner(owner)).await
}

/// [`search`] over the sessions of `platform`.
pub(crate) async fn search_platform(
    db: &mut Db,
    platform: &PlatformId,
    query: &str,
    limit: usize,
) -> DbResult<Vec<SearchHit>> {
    search_in(db, query, limit, Within::Platform(platform)).await
}

/// Which sessions a search looks in.
#[derive(Clone, Copy)]
enum Within<'a> {
    All,
    Owner(&'a Owner),
    Platform(&'a PlatformId),
}

/// The search itself: every word a phrase (`phraseto_tsquery`), all of
/// them required, best match first (`ts_rank` normalized by the length of
/// the message, ties by id). The snippet marks matches with >>> and <<<
/// and shows about 16 words around them. Taken-back messages and sessions
/// outside `within` are dropped before the limit applies.
async fn search_in(
    db: &mut Db,
    query: &str,
    limit: usize,
    within: Within<'_>,
) -> DbResult<Vec<SearchHit>> {
    let words: Vec<String> = search_words(query)
        .map(fold)
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let limit = sql_limit(limit, DEFAULT_SEARCH_LIMIT);
    let (filter, platform, user) = match within {
        Within::All => ("", None, None),
        Within::Owner(owner) => (
            "AND s.platform = $3 AND (s.source_json::jsonb ->> 'user_id') = $4 ",
            Some(owner.platform.as_str()),
            Some(owner.user_id.as_str()),
        ),
        Within::Platform(platform) => ("AND s.platform = $3 ", Some(platform.as_str()), None),
    };
    let join = if platform.is_some() {
        "JOIN sessions AS s ON s.id = m.session_id "
    } else {
        ""
    };
    let sql = format!(
        "WITH q AS (SELECT hermod_tsquery_and(phraseto_tsquery('simple', w)) AS q \
                    FROM unnest($1::text[]) AS w) \
         SELECT m.session_id, m.id, m.role, \
                ts_headline('simple', concat_ws(' ', m.content, m.tool_name, m.tool_calls_text), \
                            q.q, 'StartSel=>>>, StopSel=<<<, MaxWords=16, MinWords=6, \
                            MaxFragments=1, FragmentDelimiter=...'), \
                m.at_ms \
         FROM q, messages AS m {join}\
         WHERE m.search @@ q.q AND m.active {filter}\
         ORDER BY ts_rank(m.search, q.q, 1) DESC, m.id ASC LIMIT $2"
    );
    let rows = match (platform, user) {
        (Some(platform), Some(user)) => db.query(&sql, &[&words, &limit, &platform, &user]).await?,
        (Some(platform), None) => db.query(&sql, &[&words, &limit, &platform]).await?,
        _ => db.query(&sql, &[&words, &limit]).await?,
    };
    rows.iter().map(decode_hit).collect()
}

fn decode_hit(row: &Row) -> DbResult<SearchHit> {
    let row = Columns::new(row, "search hit");
    let message_id: i64 = row.get(1)?;
    let role: String = row.get(2)?;
    let role = Role::parse(&role).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "message {message_id} has an unreadable role: {role:?}"
        ))
    })?;
    Ok(SearchHit {
        session: session_id(row.get(0)?)?,
        message_id,
        role,
        snippet: row.get::<Option<String>>(3)?.unwrap_or_default(),
        at_ms: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::ChatMessage;

    #[test]
    fn search_text_loses_diacritics_and_nul() {
        assert_eq!(fold("Café Zoë naïve"), "Cafe Zoe naive");
        let m = encode(&ChatMessage::user("a\0b café")).expect("encode");
        assert_eq!(m.encoded.content.as_deref(), Some("ab café"));
        assert_eq!(m.search_text, "a b cafe");
        assert_eq!(search_text(Some("a\0inside"), None, None), "a inside");
        let exact: Content =
            serde_json::from_str(m.encoded.content_json.as_deref().expect("kept")).expect("json");
        assert_eq!(exact, Content::Text("a\0b café".into()));
    }
}
