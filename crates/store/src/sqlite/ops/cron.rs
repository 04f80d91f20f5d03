//! Scheduled jobs and their run history, with the claim that makes a
//! scheduled time run once.
//!
//! A claim is a conditional update inside a `BEGIN IMMEDIATE` transaction:
//! it succeeds only when the job's `revision` is the one the caller
//! decided on and no live claim exists, and it moves `next_run_at_ms` on in
//! the same statement. Two gateways deciding on the same revision cannot
//! both succeed, and a restarted gateway finds the time already moved on.
//! The rows are read into the shared forms of `crate::rows::cron`.

use super::sql_limit;
use crate::rows::DEFAULT_RUNS_LIMIT;
use crate::rows::cron::{
    CLAIM_EXPIRED, ClaimWrites, JOB_COLUMNS, RUN_COLUMNS, RawJob, RawRun, capped, not_found,
};
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::encode_source;
use crate::{
    CRON_RUNS_KEPT, CronClaim, CronFinish, CronJob, CronJobUpdate, CronRun, CronRunStatus,
    NewCronJob, StoreError,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub(crate) fn cron_job(conn: &Connection, id: &str) -> DbResult<Option<CronJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM cron_jobs WHERE id = ?1"
    ))?;
    let raw = stmt.query_row([id], RawJob::from_row).optional()?;
    Ok(raw.map(RawJob::decode).transpose()?)
}

pub(crate) fn cron_jobs(conn: &Connection) -> DbResult<Vec<CronJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM cron_jobs ORDER BY created_at_ms, id"
    ))?;
    let raws = stmt
        .query_map([], RawJob::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(raws
        .into_iter()
        .map(RawJob::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn cron_add(conn: &mut Connection, new: &NewCronJob) -> DbResult<CronJob> {
    let origin = new.origin.as_ref().map(encode_source).transpose()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if cron_job(&tx, &new.id)?.is_some() {
        return Err(StoreError::Conflict(format!("scheduled job {}", new.id)).into());
    }
    tx.execute(
        "INSERT INTO cron_jobs (id, name, prompt, schedule, schedule_kind, deliver, model, \
         enabled, creator_platform, creator_user, origin_json, created_at_ms, updated_at_ms, \
         next_run_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
        params![
            new.id,
            new.name,
            new.prompt,
            new.schedule,
            new.schedule_kind.as_str(),
            new.deliver,
            new.model,
            new.enabled,
            new.created_by.platform.as_str(),
            new.created_by.user_id,
            origin,
            new.created_at_ms,
            new.next_run_at_ms,
        ],
    )?;
    let job = cron_job(&tx, &new.id)?.ok_or_else(|| not_found(&new.id))?;
    tx.commit()?;
    Ok(job)
}

pub(crate) fn cron_update(
    conn: &mut Connection,
    id: &str,
    update: &CronJobUpdate,
    at_ms: i64,
) -> DbResult<CronJob> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(mut job) = cron_job(&tx, id)? else {
        return Err(not_found(id).into());
    };
    if let Some(name) = &update.name {
        job.name.clone_from(name);
    }
    if let Some(prompt) = &update.prompt {
        job.prompt.clone_from(prompt);
    }
    if let Some((schedule, kind)) = &update.schedule {
        job.schedule.clone_from(schedule);
        job.schedule_kind = *kind;
    }
    if let Some(deliver) = &update.deliver {
        job.deliver.clone_from(deliver);
    }
    if let Some(model) = &update.model {
        job.model.clone_from(model);
    }
    if let Some(enabled) = update.enabled {
        job.enabled = enabled;
    }
    if let Some(next) = update.next_run_at_ms {
        job.next_run_at_ms = next;
    }
    if let Some(requested) = update.run_requested {
        job.run_requested = requested;
    }
    tx.execute(
        "UPDATE cron_jobs SET name = ?2, prompt = ?3, schedule = ?4, schedule_kind = ?5, \
         deliver = ?6, model = ?7, enabled = ?8, next_run_at_ms = ?9, run_requested = ?10, \
         updated_at_ms = ?11, revision = revision + 1 WHERE id = ?1",
        params![
            id,
            job.name,
            job.prompt,
            job.schedule,
            job.schedule_kind.as_str(),
            job.deliver,
            job.model,
            job.enabled,
            job.next_run_at_ms,
            job.run_requested,
            at_ms,
        ],
    )?;
    let job = cron_job(&tx, id)?.ok_or_else(|| not_found(id))?;
    tx.commit()?;
    Ok(job)
}

pub(crate) fn cron_remove(conn: &Connection, id: &str) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached("DELETE FROM cron_jobs WHERE id = ?1")?;
    Ok(stmt.execute([id])? > 0)
}

pub(crate) fn cron_claim(conn: &mut Connection, claim: &CronClaim) -> DbResult<Option<CronRun>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(job) = cron_job(&tx, &claim.job_id)? else {
        return Ok(None);
    };
    if job.revision != claim.revision || !job.enabled {
        return Ok(None);
    }
    if let Some(held) = &job.claim {
        if held.until_ms > claim.now_ms {
            return Ok(None);
        }
        // The holder stopped mid-run: its run ends as interrupted.
        tx.execute(
            "UPDATE cron_runs SET status = 'interrupted', finished_at_ms = ?3, error = ?4 \
             WHERE job_id = ?1 AND owner = ?2 AND status = 'running'",
            params![job.id, held.owner, claim.now_ms, CLAIM_EXPIRED],
        )?;
    }
    let writes = ClaimWrites::of(claim);
    tx.execute(
        "UPDATE cron_jobs SET next_run_at_ms = ?2, run_requested = 0, claim_owner = ?3, \
         claim_until_ms = ?4, revision = revision + 1, \
         last_status = CASE WHEN ?5 THEN last_status ELSE 'missed' END, \
         last_error = CASE WHEN ?5 THEN last_error ELSE NULL END \
         WHERE id = ?1",
        params![
            job.id,
            claim.next_run_at_ms,
            writes.claim_owner,
            writes.claim_until_ms,
            writes.running
        ],
    )?;
    tx.execute(
        "INSERT INTO cron_runs (job_id, owner, scheduled_at_ms, started_at_ms, finished_at_ms, \
         status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            job.id,
            claim.owner,
            claim.scheduled_at_ms,
            claim.now_ms,
            writes.finished_at_ms,
            claim.status.as_str()
        ],
    )?;
    let run = writes.run(claim, tx.last_insert_rowid());
    tx.execute(
        "DELETE FROM cron_runs WHERE job_id = ?1 AND id NOT IN \
         (SELECT id FROM cron_runs WHERE job_id = ?1 ORDER BY id DESC LIMIT ?2)",
        params![job.id, super::sql_count(CRON_RUNS_KEPT)],
    )?;
    tx.commit()?;
    Ok(Some(run))
}

pub(crate) fn cron_expire(conn: &mut Connection, job_id: &str, now_ms: i64) -> DbResult<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(job) = cron_job(&tx, job_id)? else {
        return Ok(false);
    };
    let Some(held) = job.claim.filter(|c| c.until_ms <= now_ms) else {
        return Ok(false);
    };
    tx.execute(
        "UPDATE cron_runs SET status = 'interrupted', finished_at_ms = ?3, error = ?4 \
         WHERE job_id = ?1 AND owner = ?2 AND status = 'running'",
        params![job.id, held.owner, now_ms, CLAIM_EXPIRED],
    )?;
    tx.execute(
        "UPDATE cron_jobs SET claim_owner = NULL, claim_until_ms = NULL, \
         last_status = 'interrupted', last_error = ?2, revision = revision + 1 WHERE id = ?1",
        params![job.id, CLAIM_EXPIRED],
    )?;
    tx.commit()?;
    Ok(true)
}

pub(crate) fn cron_renew(
    conn: &Connection,
    job_id: &str,
    owner: &str,
    until_ms: i64,
) -> DbResult<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE cron_jobs SET claim_until_ms = ?3, revision = revision + 1 \
         WHERE id = ?1 AND claim_owner = ?2",
    )?;
    Ok(stmt.execute(params![job_id, owner, until_ms])? > 0)
}

pub(crate) fn cron_finish(conn: &mut Connection, finish: &CronFinish) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM cron_runs WHERE id = ?1"
    ))?;
    let Some(run) = stmt
        .query_row([finish.run_id], RawRun::from_row)
        .optional()?
    else {
        return Err(StoreError::NotFound(format!("scheduled run {}", finish.run_id)).into());
    };
    drop(stmt);
    let run = run.decode()?;
    if run.status != CronRunStatus::Running || run.owner != finish.owner {
        // Already ended (interrupted when its claim ran out): the record stays.
        return Ok(());
    }
    let output = capped(finish.output.as_deref());
    tx.execute(
        "UPDATE cron_runs SET status = ?2, output = ?3, error = ?4, finished_at_ms = ?5 \
         WHERE id = ?1",
        params![
            run.id,
            finish.status.as_str(),
            output,
            finish.error,
            finish.at_ms
        ],
    )?;
    tx.execute(
        "UPDATE cron_jobs SET last_run_at_ms = ?3, last_status = ?4, last_error = ?5, \
         claim_owner = CASE WHEN claim_owner = ?2 THEN NULL ELSE claim_owner END, \
         claim_until_ms = CASE WHEN claim_owner = ?2 THEN NULL ELSE claim_until_ms END, \
         revision = revision + 1 WHERE id = ?1",
        params![
            run.job_id,
            finish.owner,
            run.started_at_ms,
            finish.status.as_str(),
            finish.error
        ],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn cron_runs(conn: &Connection, job_id: &str, limit: usize) -> DbResult<Vec<CronRun>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM cron_runs WHERE job_id = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(
            params![job_id, sql_limit(limit, DEFAULT_RUNS_LIMIT)],
            RawRun::from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .map(RawRun::decode)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn cron_changes(conn: &Connection) -> DbResult<i64> {
    let mut stmt = conn.prepare_cached("SELECT counter FROM cron_changes WHERE id = 1")?;
    Ok(stmt.query_row([], |r| r.get(0)).optional()?.unwrap_or(0))
}
