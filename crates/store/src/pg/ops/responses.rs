//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn response_put(
    db: &mut Db,
    response: &StoredResponse,
    keep: usize,
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn response(
    db: &mut Db,
    id: &str,
    at_ms: i64,
) -> DbResult<Option<StoredResponse>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn latest_response(
    db: &mut Db,
    conversation: &str,
) -> DbResult<Option<StoredResponse>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn response_delete(db: &mut Db, id: &str) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
