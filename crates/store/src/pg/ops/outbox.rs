//! The outbox on PostgreSQL: deliveries written before they are sent.
//!
//! Several gateways may write the same idempotency key at once, so an entry
//! is created with `INSERT ... ON CONFLICT (key) DO NOTHING`: the unique
//! index decides which writer made the entry, a writer that lost waits for
//! the winner's transaction and then reads the entry it made. A reply's
//! messages are appended only by the writer whose insert took the key, in
//! the same transaction, so a replayed or raced reply is stored once.
//!
//! Delivered is final: every update names the states it may change in its
//! `WHERE`, so a late retry or failure report can never queue a delivered
//! reply again, whichever gateway sends it. An update that matched nothing
//! is told apart from an unknown id by a second look.

use super::super::error::{DbError, DbResult};
use super::super::pool::{Db, Params};
use super::messages::append_within;
use super::{Columns, sql_limit};
use crate::rows::{
    DEFAULT_OUTBOX_LIMIT, OUTBOX_COLUMNS, RawOutbox, encode_json, encode_message_ids,
    inserted_outbox,
};
use crate::{AppendMessages, AttachmentProgress, NewOutbox, OutboxEntry, OutboxState, StoreError};
use tokio_postgres::Row;

/// How often a write retries when the entry holding its key vanished
/// between the conflict and the read (outbox entries are never deleted by
/// hermod, so only a hand-edited database gets there).
const KEY_ATTEMPTS: usize = 3;

/// Inserts a new entry unless its key is taken; `$1` to `$11` as bound by
/// [`insert`].
const INSERT: &str = "INSERT INTO outbox (key, platform, chat_id, thread_id, reply_to, text, \
     session_id, state, attempts, message_ids_json, created_at_ms, updated_at_ms, \
     next_attempt_at_ms, attachments_json) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10, $10, $11) \
     ON CONFLICT (key) DO NOTHING RETURNING id";

fn unknown(id: i64) -> DbError {
    StoreError::NotFound(format!("outbox entry {id}")).into()
}

/// What outbox rows are called in messages about them.
const ROW: &str = "outbox row";

/// An outbox row read with [`OUTBOX_COLUMNS`], decoded.
fn decode(row: &Row) -> DbResult<OutboxEntry> {
    let c = Columns::new(row, ROW);
    let raw = RawOutbox {
        id: c.get(0)?,
        key: c.get(1)?,
        platform: c.get(2)?,
        chat_id: c.get(3)?,
        thread_id: c.get(4)?,
        reply_to: c.get(5)?,
        text: c.get(6)?,
        session_id: c.get(7)?,
        state: c.get(8)?,
        attempts: c.get(9)?,
        message_ids_json: c.get(10)?,
        error: c.get(11)?,
        created_at_ms: c.get(12)?,
        updated_at_ms: c.get(13)?,
        next_attempt_at_ms: c.get(14)?,
        delivered_at_ms: c.get(15)?,
        attachments_json: c.get(16)?,
        attachment_progress_json: c.get(17)?,
    };
    Ok(raw.decode()?)
}

pub(crate) async fn outbox_entry(db: &mut Db, key: &str) -> DbResult<Option<OutboxEntry>> {
    let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = $1");
    db.query_opt(&sql, &[&key])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// A delivery's JSON columns, encoded before any statement runs.
struct Encoded {
    message_ids: String,
    attachments: String,
}

impl Encoded {
    fn new(new: &NewOutbox) -> DbResult<Self> {
        Ok(Self {
            message_ids: encode_message_ids(&new.message_ids)?,
            attachments: encode_json("attachments", &new.attachments)?,
        })
    }
}

/// Inserts `new` unless its key is taken; returns the entry as stored when
/// this call made it, `None` when the key belongs to an entry already (one
/// committed, or one whose transaction committed while this one waited).
async fn insert(db: &mut Db, new: &NewOutbox, encoded: &Encoded) -> DbResult<Option<OutboxEntry>> {
    let row = db
        .query_opt(
            INSERT,
            &[
                &new.key,
                &new.platform.as_str(),
                &new.target.chat_id,
                &new.target.thread_id,
                &new.reply_to,
                &new.text,
                &new.session.as_ref().map(|s| s.as_str()),
                &OutboxState::Pending.as_str(),
                &encoded.message_ids,
                &new.created_at_ms,
                &encoded.attachments,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id = Columns::new(&row, ROW).get(0)?;
    Ok(Some(inserted_outbox(id, new)))
}

/// The failure when a key stayed taken but its entry kept vanishing.
fn key_vanished(key: &str) -> DbError {
    StoreError::Busy(format!(
        "outbox key {key} is taken, but its entry vanished while it was read; try again"
    ))
    .into()
}

/// One statement, so no transaction: the insert either takes the key or
/// finds it taken, and then the entry holding it is read (a new statement,
/// which sees the winner's commit).
pub(crate) async fn outbox_put(db: &mut Db, new: &NewOutbox) -> DbResult<OutboxEntry> {
    let encoded = Encoded::new(new)?;
    for _ in 0..KEY_ATTEMPTS {
        if let Some(entry) = insert(db, new, &encoded).await? {
            return Ok(entry);
        }
        if let Some(existing) = outbox_entry(db, &new.key).await? {
            return Ok(existing);
        }
    }
    Err(key_vanished(&new.key))
}

/// The entry is inserted first, inside the transaction: its key's unique
/// index entry then serialises writers of the same reply, and only the one
/// that took the key appends the messages. A replay rolls back (nothing
/// was written) and returns the entry that holds the key.
pub(crate) async fn append_reply(
    db: &mut Db,
    append: &AppendMessages,
    outbox: &NewOutbox,
) -> DbResult<(Vec<i64>, OutboxEntry)> {
    let encoded = Encoded::new(outbox)?;
    for _ in 0..KEY_ATTEMPTS {
        db.begin().await?;
        if let Some(entry) = insert(db, outbox, &encoded).await? {
            // Unknown session: the error drops the connection inside the
            // transaction, which rolls the entry back with it.
            let ids = append_within(db, append).await?;
            db.commit().await?;
            return Ok((ids, entry));
        }
        db.rollback().await?;
        if let Some(existing) = outbox_entry(db, &outbox.key).await? {
            return Ok((Vec::new(), existing));
        }
    }
    Err(key_vanished(&outbox.key))
}

/// Runs an update of entry `id` (bound as `$1`) that names the states it
/// may change; when it changed nothing, fails with [`StoreError::NotFound`]
/// unless the entry exists (it was in a state the update leaves alone).
async fn update(db: &mut Db, id: i64, sql: &str, params: &Params<'_>) -> DbResult<()> {
    if db.execute(sql, params).await? == 0
        && db
            .query_opt("SELECT 1 FROM outbox WHERE id = $1", &[&id])
            .await?
            .is_none()
    {
        return Err(unknown(id));
    }
    Ok(())
}

/// Sets one JSON column of entry `id` (`column`, one of this module's own
/// names) unless it was delivered, as [`update`] does.
async fn set_undelivered(
    db: &mut Db,
    id: i64,
    column: &str,
    json: &str,
    at_ms: i64,
) -> DbResult<()> {
    let sql = format!(
        "UPDATE outbox SET {column} = $2, updated_at_ms = $3 \
         WHERE id = $1 AND state <> 'delivered'"
    );
    update(db, id, &sql, &[&id, &json, &at_ms]).await
}

pub(crate) async fn outbox_set_message_ids(
    db: &mut Db,
    id: i64,
    message_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_message_ids(message_ids)?;
    set_undelivered(db, id, "message_ids_json", &json, at_ms).await
}

pub(crate) async fn outbox_set_attachment_progress(
    db: &mut Db,
    id: i64,
    progress: &[AttachmentProgress],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_json("attachment progress", &progress)?;
    set_undelivered(db, id, "attachment_progress_json", &json, at_ms).await
}

pub(crate) async fn outbox_delivered(
    db: &mut Db,
    id: i64,
    message_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    let json = encode_message_ids(message_ids)?;
    // Only the first delivery counts; marking it again changes nothing.
    update(
        db,
        id,
        "UPDATE outbox SET state = 'delivered', message_ids_json = $2, error = NULL, \
         delivered_at_ms = $3, updated_at_ms = $3 WHERE id = $1 AND state <> 'delivered'",
        &[&id, &json, &at_ms],
    )
    .await
}

pub(crate) async fn outbox_retry_later(
    db: &mut Db,
    id: i64,
    error: &str,
    next_attempt_at_ms: i64,
    at_ms: i64,
) -> DbResult<()> {
    // attempts is read back as a u32; it saturates rather than overflow it.
    update(
        db,
        id,
        "UPDATE outbox SET attempts = LEAST(attempts + 1, 4294967295), error = $2, \
         next_attempt_at_ms = $3, updated_at_ms = $4 WHERE id = $1 AND state = 'pending'",
        &[&id, &error, &next_attempt_at_ms, &at_ms],
    )
    .await
}

pub(crate) async fn outbox_failed(db: &mut Db, id: i64, error: &str, at_ms: i64) -> DbResult<()> {
    update(
        db,
        id,
        "UPDATE outbox SET state = 'failed', attempts = LEAST(attempts + 1, 4294967295), \
         error = $2, updated_at_ms = $3 WHERE id = $1 AND state = 'pending'",
        &[&id, &error, &at_ms],
    )
    .await
}

pub(crate) async fn outbox_pending(
    db: &mut Db,
    after_id: i64,
    limit: usize,
) -> DbResult<Vec<OutboxEntry>> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' AND id > $1 \
         ORDER BY id LIMIT $2"
    );
    let limit = sql_limit(limit, DEFAULT_OUTBOX_LIMIT);
    db.query(&sql, &[&after_id, &limit])
        .await?
        .iter()
        .map(decode)
        .collect()
}
