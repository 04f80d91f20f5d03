//! The inbox: inbound messages recorded before the platform is
//! acknowledged, so each is handled exactly once across restarts.
//!
//! An entry also records the turn answering it: the stored user message is
//! appended and the entry marked started in one transaction
//! ([`inbox_start_turn`]), so after a crash the message is resumed by its
//! key, never stored or answered twice.

use super::messages::PreparedAppend;
use super::sql_limit;
use crate::rows::DEFAULT_INBOX_LIMIT;
use crate::rows::inbox::{INBOX_COLUMNS, RawInbox};
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::encode_message_ids;
use crate::{AppendMessages, InboxEntry, InboxState, StoreError};
use hermod_model::PlatformId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

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

pub(crate) fn inbox_entry(
    conn: &Connection,
    platform: &PlatformId,
    key: &str,
) -> DbResult<Option<InboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT rowid, {INBOX_COLUMNS} FROM inbox WHERE platform = ?1 AND key = ?2"
    ))?;
    let raw = stmt
        .query_row(params![platform.as_str(), key], RawInbox::from_row)
        .optional()?;
    Ok(raw.map(RawInbox::decode).transpose()?)
}

pub(crate) fn inbox_start_turn(
    conn: &mut Connection,
    append: &AppendMessages,
    platform: &PlatformId,
    keys: &[String],
    at_ms: i64,
) -> DbResult<Vec<i64>> {
    let prepared = PreparedAppend::new(append)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids = prepared.apply(&tx)?;
    let Some(&row) = ids.last() else {
        return Err(StoreError::Invalid("a turn starts with at least one message".into()).into());
    };
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE inbox SET state = 'started', session_id = ?3, message_row = ?4, \
             updated_at_ms = ?5 WHERE platform = ?1 AND key = ?2",
        )?;
        for key in keys {
            stmt.execute(params![
                platform.as_str(),
                key,
                append.session.as_str(),
                row,
                at_ms
            ])?;
        }
    }
    tx.commit()?;
    Ok(ids)
}

pub(crate) fn inbox_set_previews(
    conn: &mut Connection,
    platform: &PlatformId,
    keys: &[String],
    preview_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_message_ids(preview_ids)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE inbox SET preview_ids_json = ?3, updated_at_ms = ?4 \
             WHERE platform = ?1 AND key = ?2",
        )?;
        for key in keys {
            stmt.execute(params![platform.as_str(), key, json, at_ms])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn inbox_unfinished(
    conn: &Connection,
    after_seq: i64,
    limit: usize,
) -> DbResult<Vec<InboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT rowid, {INBOX_COLUMNS} FROM inbox WHERE state != 'done' AND rowid > ?1 \
         ORDER BY rowid LIMIT ?2"
    ))?;
    let raws = stmt
        .query_map(
            params![after_seq, sql_limit(limit, DEFAULT_INBOX_LIMIT)],
            RawInbox::from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(raws
        .into_iter()
        .map(RawInbox::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn inbox_prune(conn: &Connection, before_ms: i64) -> DbResult<u64> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM inbox WHERE state = 'done' AND updated_at_ms < ?1")?;
    Ok(u64::try_from(stmt.execute([before_ms])?).unwrap_or(u64::MAX))
}
