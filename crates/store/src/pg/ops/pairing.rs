//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn add_pending_pairing(db: &mut Db, p: &PendingPairing) -> DbResult<i64> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn pending_pairings(
    db: &mut Db,
    platform: Option<&PlatformId>,
    now_ms: i64,
) -> DbResult<Vec<PendingPairing>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn remove_pending_pairing(db: &mut Db, id: i64) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn purge_expired_pairings(db: &mut Db, now_ms: i64) -> DbResult<u64> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn approve_user(db: &mut Db, user: &ApprovedUser) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn revoke_user(
    db: &mut Db,
    platform: &PlatformId,
    user_id: &str,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn is_approved(
    db: &mut Db,
    platform: &PlatformId,
    user_id: &str,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn approved_users(
    db: &mut Db,
    platform: Option<&PlatformId>,
) -> DbResult<Vec<ApprovedUser>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
