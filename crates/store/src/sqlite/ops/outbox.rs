//! The outbox: deliveries written before they are sent.
//!
//! Every write that may create an entry first looks the key up inside a
//! `BEGIN IMMEDIATE` transaction, so under the write lock "exists" and
//! "inserted" cannot race: a key gets one entry, and a repeated write returns
//! it. Delivered is final: no operation here moves an entry out of it, so a
//! late retry or failure report can never queue a delivered reply again.

use super::messages::PreparedAppend;
use super::sql_limit;
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::{
    OUTBOX_COLUMNS, RawOutbox, encode_json, encode_message_ids, inserted_outbox,
};
use crate::{AppendMessages, AttachmentProgress, NewOutbox, OutboxEntry, OutboxState, StoreError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::rows::DEFAULT_OUTBOX_LIMIT;

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("outbox entry {id}"))
}

/// Fails with [`StoreError::NotFound`] unless the entry exists; for updates
/// that changed nothing, to tell "unknown" from "left as it is".
fn ensure_exists(conn: &Connection, id: i64) -> DbResult<()> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM outbox WHERE id = ?1")?;
    if stmt.exists([id])? {
        Ok(())
    } else {
        Err(not_found(id).into())
    }
}

pub(crate) fn outbox_entry(conn: &Connection, key: &str) -> DbResult<Option<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = ?1"
    ))?;
    let raw = stmt.query_row([key], RawOutbox::from_row).optional()?;
    Ok(raw.map(RawOutbox::decode).transpose()?)
}

/// Inserts a new entry (its key known to be free) and returns it as stored.
fn insert(conn: &Connection, new: &NewOutbox, message_ids_json: &str) -> DbResult<OutboxEntry> {
    let attachments_json = encode_json("attachments", &new.attachments)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO outbox (key, platform, chat_id, thread_id, reply_to, text, session_id, \
         state, attempts, message_ids_json, created_at_ms, updated_at_ms, next_attempt_at_ms, \
         attachments_json) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?10, ?10, ?11)",
    )?;
    stmt.execute(params![
        new.key,
        new.platform.as_str(),
        new.target.chat_id,
        new.target.thread_id,
        new.reply_to,
        new.text,
        new.session.as_ref().map(|s| s.as_str()),
        OutboxState::Pending.as_str(),
        message_ids_json,
        new.created_at_ms,
        attachments_json,
    ])?;
    Ok(inserted_outbox(conn.last_insert_rowid(), new))
}

pub(crate) fn outbox_put(conn: &mut Connection, new: &NewOutbox) -> DbResult<OutboxEntry> {
    let message_ids_json = encode_message_ids(&new.message_ids)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(existing) = outbox_entry(&tx, &new.key)? {
        return Ok(existing);
    }
    let entry = insert(&tx, new, &message_ids_json)?;
    tx.commit()?;
    Ok(entry)
}

pub(crate) fn append_reply(
    conn: &mut Connection,
    append: &AppendMessages,
    outbox: &NewOutbox,
) -> DbResult<(Vec<i64>, OutboxEntry)> {
    let prepared = PreparedAppend::new(append)?;
    let message_ids_json = encode_message_ids(&outbox.message_ids)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A replay: the reply was stored by an earlier call. Dropping the
    // transaction unused writes nothing.
    if let Some(existing) = outbox_entry(&tx, &outbox.key)? {
        return Ok((Vec::new(), existing));
    }
    let ids = prepared.apply(&tx)?;
    let entry = insert(&tx, outbox, &message_ids_json)?;
    tx.commit()?;
    Ok((ids, entry))
}

pub(crate) fn outbox_set_message_ids(
    conn: &Connection,
    id: i64,
    message_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_message_ids(message_ids)?;
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET message_ids_json = ?2, updated_at_ms = ?3 \
         WHERE id = ?1 AND state <> 'delivered'",
    )?;
    if stmt.execute(params![id, json, at_ms])? == 0 {
        ensure_exists(conn, id)?;
    }
    Ok(())
}

pub(crate) fn outbox_set_attachment_progress(
    conn: &Connection,
    id: i64,
    progress: &[AttachmentProgress],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_json("attachment progress", &progress)?;
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET attachment_progress_json = ?2, updated_at_ms = ?3 \
         WHERE id = ?1 AND state <> 'delivered'",
    )?;
    if stmt.execute(params![id, json, at_ms])? == 0 {
        ensure_exists(conn, id)?;
    }
    Ok(())
}

pub(crate) fn outbox_delivered(
    conn: &Connection,
    id: i64,
    message_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_message_ids(message_ids)?;
    // Only the first delivery counts; marking it again changes nothing.
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET state = 'delivered', message_ids_json = ?2, error = NULL, \
         delivered_at_ms = ?3, updated_at_ms = ?3 WHERE id = ?1 AND state <> 'delivered'",
    )?;
    if stmt.execute(params![id, json, at_ms])? == 0 {
        ensure_exists(conn, id)?;
    }
    Ok(())
}

pub(crate) fn outbox_retry_later(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at_ms: i64,
    at_ms: i64,
) -> DbResult<()> {
    // attempts is read back as a u32; it saturates rather than overflow it.
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET attempts = min(attempts + 1, 4294967295), error = ?2, \
         next_attempt_at_ms = ?3, updated_at_ms = ?4 WHERE id = ?1 AND state = 'pending'",
    )?;
    if stmt.execute(params![id, error, next_attempt_at_ms, at_ms])? == 0 {
        ensure_exists(conn, id)?;
    }
    Ok(())
}

pub(crate) fn outbox_failed(conn: &Connection, id: i64, error: &str, at_ms: i64) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET state = 'failed', attempts = min(attempts + 1, 4294967295), \
         error = ?2, updated_at_ms = ?3 WHERE id = ?1 AND state = 'pending'",
    )?;
    if stmt.execute(params![id, error, at_ms])? == 0 {
        ensure_exists(conn, id)?;
    }
    Ok(())
}

pub(crate) fn outbox_pending(
    conn: &Connection,
    after_id: i64,
    limit: usize,
) -> DbResult<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' AND id > ?1 \
         ORDER BY id LIMIT ?2"
    ))?;
    let raws = stmt
        .query_map(
            params![after_id, sql_limit(limit, DEFAULT_OUTBOX_LIMIT)],
            RawOutbox::from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(raws
        .into_iter()
        .map(RawOutbox::decode)
        .collect::<Result<_, _>>()?)
}
