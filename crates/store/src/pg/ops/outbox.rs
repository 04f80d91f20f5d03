//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn outbox_entry(db: &mut Db, key: &str) -> DbResult<Option<OutboxEntry>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_put(db: &mut Db, new: &NewOutbox) -> DbResult<OutboxEntry> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn append_reply(
    db: &mut Db,
    append: &AppendMessages,
    outbox: &NewOutbox,
) -> DbResult<(Vec<i64>, OutboxEntry)> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_set_message_ids(
    db: &mut Db,
    id: i64,
    message_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_set_attachment_progress(
    db: &mut Db,
    id: i64,
    progress: &[AttachmentProgress],
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_delivered(
    db: &mut Db,
    id: i64,
    message_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_retry_later(
    db: &mut Db,
    id: i64,
    error: &str,
    next_attempt_at_ms: i64,
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_failed(db: &mut Db, id: i64, error: &str, at_ms: i64) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn outbox_pending(
    db: &mut Db,
    after_id: i64,
    limit: usize,
) -> DbResult<Vec<OutboxEntry>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
