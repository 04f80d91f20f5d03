//! Scheduled jobs and their run history, with the claim that makes a
//! scheduled time run once.
//!
//! A claim is a conditional update inside a `BEGIN IMMEDIATE` transaction:
//! it succeeds only when the job's `revision` is the one the caller
//! decided on and no live claim exists, and it moves `next_run_at_ms` on in
//! the same statement. Two gateways deciding on the same revision cannot
//! both succeed, and a restarted gateway finds the time already moved on.
//! The rows are mapped here rather than in `rows` because nothing else
//! reads them.

use super::sql_limit;
use crate::sqlite::error::DbResult;
use crate::sqlite::rows::encode_source;
use crate::{
    CRON_OUTPUT_MAX_CHARS, CRON_RUNS_KEPT, CronClaim, CronClaimHeld, CronCreator, CronFinish,
    CronJob, CronJobUpdate, CronRun, CronRunStatus, NewCronJob, ScheduleKind, StoreError,
};
use hermod_model::{PlatformId, Source};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

const JOB_COLUMNS: &str = "id, name, prompt, schedule, schedule_kind, deliver, model, enabled, \
     creator_platform, creator_user, origin_json, created_at_ms, updated_at_ms, next_run_at_ms, \
     run_requested, last_run_at_ms, last_status, last_error, claim_owner, claim_until_ms, revision";

const RUN_COLUMNS: &str =
    "id, job_id, owner, scheduled_at_ms, started_at_ms, finished_at_ms, status, output, error";

use crate::rows::DEFAULT_RUNS_LIMIT;

/// What a run interrupted by an expired claim records as its error.
const CLAIM_EXPIRED: &str =
    "the gateway running this job stopped before it finished (its claim ran out)";

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("scheduled job {id}"))
}

fn corrupt(id: &str, what: &str, value: &dyn std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!(
        "scheduled job {id} has an unreadable {what}: {value:?}"
    ))
}

struct RawJob {
    id: String,
    name: String,
    prompt: String,
    schedule: String,
    schedule_kind: String,
    deliver: String,
    model: Option<String>,
    enabled: bool,
    creator_platform: String,
    creator_user: Option<String>,
    origin_json: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
    next_run_at_ms: Option<i64>,
    run_requested: bool,
    last_run_at_ms: Option<i64>,
    last_status: Option<String>,
    last_error: Option<String>,
    claim_owner: Option<String>,
    claim_until_ms: Option<i64>,
    revision: i64,
}

impl RawJob {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            name: r.get(1)?,
            prompt: r.get(2)?,
            schedule: r.get(3)?,
            schedule_kind: r.get(4)?,
            deliver: r.get(5)?,
            model: r.get(6)?,
            enabled: r.get(7)?,
            creator_platform: r.get(8)?,
            creator_user: r.get(9)?,
            origin_json: r.get(10)?,
            created_at_ms: r.get(11)?,
            updated_at_ms: r.get(12)?,
            next_run_at_ms: r.get(13)?,
            run_requested: r.get(14)?,
            last_run_at_ms: r.get(15)?,
            last_status: r.get(16)?,
            last_error: r.get(17)?,
            claim_owner: r.get(18)?,
            claim_until_ms: r.get(19)?,
            revision: r.get(20)?,
        })
    }

    fn decode(self) -> Result<CronJob, StoreError> {
        let id = self.id;
        let schedule_kind = ScheduleKind::parse(&self.schedule_kind)
            .ok_or_else(|| corrupt(&id, "schedule kind", &self.schedule_kind))?;
        let origin: Option<Source> = self
            .origin_json
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt(&id, "origin", &e))?;
        let last_status = self
            .last_status
            .as_deref()
            .map(|s| CronRunStatus::parse(s).ok_or_else(|| corrupt(&id, "last status", &s)))
            .transpose()?;
        let claim = match (self.claim_owner, self.claim_until_ms) {
            (Some(owner), Some(until_ms)) => Some(CronClaimHeld { owner, until_ms }),
            _ => None,
        };
        Ok(CronJob {
            name: self.name,
            prompt: self.prompt,
            schedule: self.schedule,
            schedule_kind,
            deliver: self.deliver,
            model: self.model,
            enabled: self.enabled,
            created_by: CronCreator {
                platform: PlatformId::new(self.creator_platform),
                user_id: self.creator_user,
            },
            origin,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            next_run_at_ms: self.next_run_at_ms,
            run_requested: self.run_requested,
            last_run_at_ms: self.last_run_at_ms,
            last_status,
            last_error: self.last_error,
            claim,
            revision: self.revision,
            id,
        })
    }
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<(CronRun, String)> {
    let status: String = r.get(6)?;
    let run = CronRun {
        id: r.get(0)?,
        job_id: r.get(1)?,
        owner: r.get(2)?,
        scheduled_at_ms: r.get(3)?,
        started_at_ms: r.get(4)?,
        finished_at_ms: r.get(5)?,
        // Checked by the caller, which can fail with a store error.
        status: CronRunStatus::Running,
        output: r.get(7)?,
        error: r.get(8)?,
    };
    Ok((run, status))
}

fn decode_run((mut run, status): (CronRun, String)) -> Result<CronRun, StoreError> {
    run.status =
        CronRunStatus::parse(&status).ok_or_else(|| corrupt(&run.job_id, "run status", &status))?;
    Ok(run)
}

/// `text` cut to [`CRON_OUTPUT_MAX_CHARS`] characters, marked when cut.
fn capped(text: Option<&str>) -> Option<String> {
    let text = text?;
    match text.char_indices().nth(CRON_OUTPUT_MAX_CHARS) {
        Some((at, _)) => Some(format!(
            "{}\n… [output cut at {CRON_OUTPUT_MAX_CHARS} characters]",
            &text[..at]
        )),
        None => Some(text.to_owned()),
    }
}

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
    let running = claim.status == CronRunStatus::Running;
    let (owner, until) = if running {
        (
            Some(claim.owner.as_str()),
            Some(claim.now_ms.saturating_add(claim.ttl_ms)),
        )
    } else {
        (None, None)
    };
    tx.execute(
        "UPDATE cron_jobs SET next_run_at_ms = ?2, run_requested = 0, claim_owner = ?3, \
         claim_until_ms = ?4, revision = revision + 1, \
         last_status = CASE WHEN ?5 THEN last_status ELSE 'missed' END, \
         last_error = CASE WHEN ?5 THEN last_error ELSE NULL END \
         WHERE id = ?1",
        params![job.id, claim.next_run_at_ms, owner, until, running],
    )?;
    let finished = (!running).then_some(claim.now_ms);
    tx.execute(
        "INSERT INTO cron_runs (job_id, owner, scheduled_at_ms, started_at_ms, finished_at_ms, \
         status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            job.id,
            claim.owner,
            claim.scheduled_at_ms,
            claim.now_ms,
            finished,
            claim.status.as_str()
        ],
    )?;
    let run = CronRun {
        id: tx.last_insert_rowid(),
        job_id: job.id.clone(),
        owner: claim.owner.clone(),
        scheduled_at_ms: claim.scheduled_at_ms,
        started_at_ms: claim.now_ms,
        finished_at_ms: finished,
        status: claim.status,
        output: None,
        error: None,
    };
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
    let Some(run) = stmt.query_row([finish.run_id], run_from_row).optional()? else {
        return Err(StoreError::NotFound(format!("scheduled run {}", finish.run_id)).into());
    };
    drop(stmt);
    let run = decode_run(run)?;
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
            run_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows.into_iter().map(decode_run).collect::<Result<_, _>>()?)
}

pub(crate) fn cron_changes(conn: &Connection) -> DbResult<i64> {
    let mut stmt = conn.prepare_cached("SELECT counter FROM cron_changes WHERE id = 1")?;
    Ok(stmt.query_row([], |r| r.get(0)).optional()?.unwrap_or(0))
}
