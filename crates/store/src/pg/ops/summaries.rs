//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn session_summary(
    db: &mut Db,
    id: &SessionId,
) -> DbResult<Option<SessionSummary>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn set_session_summary(db: &mut Db, new: &SessionSummary) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn forget_summary_covering(
    db: &mut Db,
    id: &SessionId,
    first_undone: i64,
) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
