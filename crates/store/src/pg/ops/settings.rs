//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn setting(db: &mut Db, key: &str) -> DbResult<Option<String>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn set_setting(db: &mut Db, key: &str, value: &str, at_ms: i64) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn delete_setting(db: &mut Db, key: &str) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
