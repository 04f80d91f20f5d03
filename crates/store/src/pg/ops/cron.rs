//! Not yet written.

#![allow(unused_variables, unused_imports, clippy::unused_async)]

use super::super::error::{DbError, DbResult};
use super::super::pool::Db;
use crate::*;
use hermod_model::*;

pub(crate) async fn cron_job(db: &mut Db, id: &str) -> DbResult<Option<CronJob>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_jobs(db: &mut Db) -> DbResult<Vec<CronJob>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_add(db: &mut Db, new: &NewCronJob) -> DbResult<CronJob> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_update(
    db: &mut Db,
    id: &str,
    update: &CronJobUpdate,
    at_ms: i64,
) -> DbResult<CronJob> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_remove(db: &mut Db, id: &str) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_claim(db: &mut Db, claim: &CronClaim) -> DbResult<Option<CronRun>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_expire(db: &mut Db, job_id: &str, now_ms: i64) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_renew(
    db: &mut Db,
    job_id: &str,
    owner: &str,
    until_ms: i64,
) -> DbResult<bool> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_finish(db: &mut Db, finish: &CronFinish) -> DbResult<()> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_runs(db: &mut Db, job_id: &str, limit: usize) -> DbResult<Vec<CronRun>> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}

pub(crate) async fn cron_changes(db: &mut Db) -> DbResult<i64> {
    Err(DbError::Store(StoreError::Other("not written".into())))
}
