//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn create_session(db: &mut Db, new: &NewSession) -> DbResult<SessionRecord> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn session(db: &mut Db, id: &SessionId) -> DbResult<Option<SessionRecord>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn list_sessions(db: &mut Db, q: &ListSessions) -> DbResult<Vec<SessionRecord>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn sessions_for_key(
    db: &mut Db,
    key: &SessionKey,
    limit: usize,
) -> DbResult<Vec<SessionRecord>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn end_session(
    db: &mut Db,
    id: &SessionId,
    reason: &str,
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn reopen_session(db: &mut Db, id: &SessionId) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn set_title(db: &mut Db, id: &SessionId, title: &str) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn set_model_override(
    db: &mut Db,
    id: &SessionId,
    model: Option<&str>,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn route(db: &mut Db, key: &SessionKey) -> DbResult<Option<SessionId>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn set_route(
    db: &mut Db,
    key: &SessionKey,
    id: &SessionId,
    at_ms: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn delete_session(db: &mut Db, id: &SessionId) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
