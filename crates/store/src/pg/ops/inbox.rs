//! The inbox on PostgreSQL: inbound messages recorded before the platform
//! is acknowledged, so each is handled exactly once across restarts.
//!
//! Recording is one `INSERT ... ON CONFLICT DO NOTHING` on the primary key
//! (platform, key): when several gateways receive the same message, exactly
//! one of them sees it as new. An entry also records the turn answering it:
//! the user message is appended and the entries marked started in one
//! transaction ([`inbox_start_turn`]), so after a crash the message is
//! resumed by its key, never stored or answered twice. Updates of several
//! keys are one statement each (`key = ANY($2)`), atomic on their own.
//!
//! `seq` (an identity column) orders the entries as SQLite's rowid does.

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use super::messages::append_within;
use super::sql_limit;
use crate::rows::{DEFAULT_INBOX_LIMIT, encode_message_ids, session_id};
use crate::{AppendMessages, InboxEntry, InboxState, InboxTurn, StoreError};
use hermod_model::PlatformId;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

/// The `inbox` columns in the order [`decode`] reads them.
const COLUMNS: &str = "seq, platform, key, event_json, state, received_at_ms, updated_at_ms, \
                       session_id, message_row, preview_ids_json";

pub(crate) async fn inbox_record(
    db: &mut Db,
    platform: &PlatformId,
    key: &str,
    event_json: &str,
    at_ms: i64,
) -> DbResult<bool> {
    let inserted = db
        .execute(
            "INSERT INTO inbox (platform, key, event_json, state, received_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, 'received', $4, $4) ON CONFLICT (platform, key) DO NOTHING",
            &[&platform.as_str(), &key, &event_json, &at_ms],
        )
        .await?;
    Ok(inserted == 1)
}

pub(crate) async fn inbox_set_state(
    db: &mut Db,
    platform: &PlatformId,
    key: &str,
    state: InboxState,
    at_ms: i64,
) -> DbResult<bool> {
    let changed = db
        .execute(
            "UPDATE inbox SET state = $3, updated_at_ms = $4 WHERE platform = $1 AND key = $2",
            &[&platform.as_str(), &key, &state.as_str(), &at_ms],
        )
        .await?;
    Ok(changed == 1)
}

pub(crate) async fn inbox_entry(
    db: &mut Db,
    platform: &PlatformId,
    key: &str,
) -> DbResult<Option<InboxEntry>> {
    let sql = format!("SELECT {COLUMNS} FROM inbox WHERE platform = $1 AND key = $2");
    db.query_opt(&sql, &[&platform.as_str(), &key])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// The append locks the session's row and the update the entries' rows;
/// both commit together or, on any error, the dropped connection rolls
/// both back.
pub(crate) async fn inbox_start_turn(
    db: &mut Db,
    append: &AppendMessages,
    platform: &PlatformId,
    keys: &[String],
    at_ms: i64,
) -> DbResult<Vec<i64>> {
    db.begin().await?;
    let ids = append_within(db, append).await?;
    let Some(&row) = ids.last() else {
        db.rollback().await?;
        return Err(StoreError::Invalid("a turn starts with at least one message".into()).into());
    };
    db.execute(
        "UPDATE inbox SET state = 'started', session_id = $3, message_row = $4, \
         updated_at_ms = $5 WHERE platform = $1 AND key = ANY($2)",
        &[
            &platform.as_str(),
            &keys,
            &append.session.as_str(),
            &row,
            &at_ms,
        ],
    )
    .await?;
    db.commit().await?;
    Ok(ids)
}

pub(crate) async fn inbox_set_previews(
    db: &mut Db,
    platform: &PlatformId,
    keys: &[String],
    preview_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_message_ids(preview_ids)?;
    db.execute(
        "UPDATE inbox SET preview_ids_json = $3, updated_at_ms = $4 \
         WHERE platform = $1 AND key = ANY($2)",
        &[&platform.as_str(), &keys, &json, &at_ms],
    )
    .await?;
    Ok(())
}

pub(crate) async fn inbox_unfinished(
    db: &mut Db,
    after_seq: i64,
    limit: usize,
) -> DbResult<Vec<InboxEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM inbox WHERE state <> 'done' AND seq > $1 ORDER BY seq LIMIT $2"
    );
    let limit = sql_limit(limit, DEFAULT_INBOX_LIMIT);
    db.query(&sql, &[&after_seq, &limit])
        .await?
        .iter()
        .map(decode)
        .collect()
}

pub(crate) async fn inbox_prune(db: &mut Db, before_ms: i64) -> DbResult<u64> {
    db.execute(
        "DELETE FROM inbox WHERE state = 'done' AND updated_at_ms < $1",
        &[&before_ms],
    )
    .await
}

/// Column `i` of an inbox row; a value of the wrong type is corrupt data
/// (not a connection failure, as the client's own error would be read).
fn column<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> DbResult<T> {
    row.try_get(i).map_err(|e| {
        StoreError::Corrupt(format!("inbox row has an unreadable column {i}: {e}")).into()
    })
}

/// An inbox row read with [`COLUMNS`], checked and decoded.
fn decode(row: &Row) -> DbResult<InboxEntry> {
    let key: String = column(row, 2)?;
    let corrupt = |what: &str, detail: &dyn std::fmt::Display| {
        DbError::Store(StoreError::Corrupt(format!(
            "inbox entry {key} has an unreadable {what}: {detail}"
        )))
    };
    let state_name: String = column(row, 4)?;
    let state = InboxState::parse(&state_name)
        .ok_or_else(|| corrupt("state", &format_args!("{state_name:?}")))?;
    let preview_ids_json: String = column(row, 9)?;
    let preview_ids: Vec<String> =
        serde_json::from_str(&preview_ids_json).map_err(|e| corrupt("preview id list", &e))?;
    let session: Option<String> = column(row, 7)?;
    let message_row: Option<i64> = column(row, 8)?;
    let turn = match (session, message_row) {
        (Some(session), Some(message_id)) => Some(InboxTurn {
            session: session_id(session)?,
            message_id,
        }),
        _ => None,
    };
    Ok(InboxEntry {
        seq: column(row, 0)?,
        platform: PlatformId::new(column::<String>(row, 1)?),
        event_json: column(row, 3)?,
        state,
        received_at_ms: column(row, 5)?,
        updated_at_ms: column(row, 6)?,
        turn,
        preview_ids,
        key,
    })
}
