//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn inbox_record(
    db: &mut Db,
    platform: &PlatformId,
    key: &str,
    event_json: &str,
    at_ms: i64,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn inbox_set_state(
    db: &mut Db,
    platform: &PlatformId,
    key: &str,
    state: InboxState,
    at_ms: i64,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn inbox_entry(
    db: &mut Db,
    platform: &PlatformId,
    key: &str,
) -> DbResult<Option<InboxEntry>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn inbox_start_turn(
    db: &mut Db,
    append: &AppendMessages,
    platform: &PlatformId,
    keys: &[String],
    at_ms: i64,
) -> DbResult<Vec<i64>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn inbox_set_previews(
    db: &mut Db,
    platform: &PlatformId,
    keys: &[String],
    preview_ids: &[String],
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn inbox_unfinished(
    db: &mut Db,
    after_seq: i64,
    limit: usize,
) -> DbResult<Vec<InboxEntry>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn inbox_prune(db: &mut Db, before_ms: i64) -> DbResult<u64> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
