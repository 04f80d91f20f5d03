//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn append_messages(db: &mut Db, append: &AppendMessages) -> DbResult<Vec<i64>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn messages(db: &mut Db, id: &SessionId) -> DbResult<Vec<StoredMessage>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn undo_exchanges(
    db: &mut Db,
    id: &SessionId,
    exchanges: usize,
) -> DbResult<Vec<StoredMessage>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn search(db: &mut Db, query: &str, limit: usize) -> DbResult<Vec<SearchHit>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn search_owned(
    db: &mut Db,
    owner: &Owner,
    query: &str,
    limit: usize,
) -> DbResult<Vec<SearchHit>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn search_platform(
    db: &mut Db,
    platform: &PlatformId,
    query: &str,
    limit: usize,
) -> DbResult<Vec<SearchHit>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
