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

use super::super::error::DbResult;
use super::super::pool::Db;
use super::messages::append_within;
use super::{Columns, sql_limit};
use crate::rows::inbox::{INBOX_COLUMNS, RawInbox};
use crate::rows::{DEFAULT_INBOX_LIMIT, encode_message_ids};
use crate::{AppendMessages, InboxEntry, InboxState, StoreError};
use hermod_model::PlatformId;
use tokio_postgres::Row;

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
    let sql = format!("SELECT seq, {INBOX_COLUMNS} FROM inbox WHERE platform = $1 AND key = $2");
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
        "SELECT seq, {INBOX_COLUMNS} FROM inbox WHERE state <> 'done' AND seq > $1 \
         ORDER BY seq LIMIT $2"
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

/// An `inbox` row read with `seq` (its position) and [`INBOX_COLUMNS`],
/// decoded.
fn decode(row: &Row) -> DbResult<InboxEntry> {
    let c = Columns::new(row, "inbox row");
    let raw = RawInbox {
        seq: c.get(0)?,
        platform: c.get(1)?,
        key: c.get(2)?,
        event_json: c.get(3)?,
        state: c.get(4)?,
        received_at_ms: c.get(5)?,
        updated_at_ms: c.get(6)?,
        session_id: c.get(7)?,
        message_row: c.get(8)?,
        preview_ids_json: c.get(9)?,
    };
    Ok(raw.decode()?)
}
