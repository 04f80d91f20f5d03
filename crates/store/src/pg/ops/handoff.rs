//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn handoff_request(db: &mut Db, new: &NewHandoff) -> DbResult<Handoff> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn handoff(db: &mut Db, session: &SessionId) -> DbResult<Option<Handoff>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn handoffs_in(
    db: &mut Db,
    state: HandoffState,
    limit: usize,
) -> DbResult<Vec<Handoff>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn handoff_claim(db: &mut Db, session: &SessionId, at_ms: i64) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn handoff_finish(
    db: &mut Db,
    session: &SessionId,
    outcome: &HandoffOutcome,
    at_ms: i64,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
