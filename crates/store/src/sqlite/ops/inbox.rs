//! The inbox: inbound messages recorded before the platform is
//! acknowledged, so each is handled exactly once across restarts.
//!
//! An entry also records the turn answering it: the stored user message is
//! appended and the entry marked started in one transaction
//! ([`inbox_start_turn`]), so after a crash the message is resumed by its
//! key, never stored or answered twice.

use super::messages::PreparedAppend;
use super::sql_limit;
use crate::sqlite::error::{DbError, DbResult};
use crate::sqlite::rows::{encode_message_ids, session_id};
use crate::{AppendMessages, InboxEntry, InboxState, InboxTurn, StoreError};
use hermod_model::PlatformId;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::rows::DEFAULT_INBOX_LIMIT;

const COLUMNS: &str = "rowid, platform, key, event_json, state, received_at_ms, updated_at_ms, \
                       session_id, message_row, preview_ids_json";

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
        "SELECT {COLUMNS} FROM inbox WHERE platform = ?1 AND key = ?2"
    ))?;
    let raw = stmt
        .query_row(params![platform.as_str(), key], RawInbox::from_row)
        .optional()?;
    raw.map(RawInbox::decode).transpose()
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
        "SELECT {COLUMNS} FROM inbox WHERE state != 'done' AND rowid > ?1 ORDER BY rowid LIMIT ?2"
    ))?;
    let raws = stmt
        .query_map(
            params![after_seq, sql_limit(limit, DEFAULT_INBOX_LIMIT)],
            RawInbox::from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(RawInbox::decode).collect()
}

pub(crate) fn inbox_prune(conn: &Connection, before_ms: i64) -> DbResult<u64> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM inbox WHERE state = 'done' AND updated_at_ms < ?1")?;
    Ok(u64::try_from(stmt.execute([before_ms])?).unwrap_or(u64::MAX))
}

/// An inbox row as read, before its fields are checked.
struct RawInbox {
    seq: i64,
    platform: String,
    key: String,
    event_json: String,
    state: String,
    received_at_ms: i64,
    updated_at_ms: i64,
    session_id: Option<String>,
    message_row: Option<i64>,
    preview_ids_json: String,
}

impl RawInbox {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get(0)?,
            platform: r.get(1)?,
            key: r.get(2)?,
            event_json: r.get(3)?,
            state: r.get(4)?,
            received_at_ms: r.get(5)?,
            updated_at_ms: r.get(6)?,
            session_id: r.get(7)?,
            message_row: r.get(8)?,
            preview_ids_json: r.get(9)?,
        })
    }

    fn decode(self) -> DbResult<InboxEntry> {
        let key = self.key;
        let corrupt = |what: &str, detail: &dyn std::fmt::Display| {
            DbError::Store(StoreError::Corrupt(format!(
                "inbox entry {key} has an unreadable {what}: {detail}"
            )))
        };
        let state = InboxState::parse(&self.state)
            .ok_or_else(|| corrupt("state", &format_args!("{:?}", self.state)))?;
        let preview_ids: Vec<String> = serde_json::from_str(&self.preview_ids_json)
            .map_err(|e| corrupt("preview id list", &e))?;
        let turn = match (self.session_id, self.message_row) {
            (Some(session), Some(message_id)) => Some(InboxTurn {
                session: session_id(session)?,
                message_id,
            }),
            _ => None,
        };
        Ok(InboxEntry {
            seq: self.seq,
            platform: PlatformId::new(self.platform),
            key,
            event_json: self.event_json,
            state,
            received_at_ms: self.received_at_ms,
            updated_at_ms: self.updated_at_ms,
            turn,
            preview_ids,
        })
    }
}
