//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn memory_notes(db: &mut Db, owner: &Owner) -> DbResult<Vec<MemoryNote>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn memory_add(
    db: &mut Db,
    owner: &Owner,
    text: &str,
    at_ms: i64,
) -> DbResult<MemoryNote> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn memory_replace(
    db: &mut Db,
    owner: &Owner,
    id: i64,
    text: &str,
    at_ms: i64,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn memory_remove(db: &mut Db, owner: &Owner, id: i64) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn approval_grant(
    db: &mut Db,
    owner: &Owner,
    key: &str,
    at_ms: i64,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn approval_granted(db: &mut Db, owner: &Owner, key: &str) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn approval_grants(
    db: &mut Db,
    owner: &Owner,
    limit: usize,
) -> DbResult<Vec<ApprovalGrant>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn approval_revoke(db: &mut Db, owner: &Owner, key: &str) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
