//! Scheduled jobs and their run history on PostgreSQL, with the claim that
//! makes a scheduled time run once across every gateway sharing the
//! database.
//!
//! Concurrency: SQLite's single writer made "read the job, decide, write"
//! atomic; here the job's row is the lock. Every operation that decides
//! from a job's state (claim, expire, finish) opens a transaction and
//! first takes the job's row (`SELECT ... FOR UPDATE`), then re-reads or
//! conditionally updates what it needs: two gateways claiming the same
//! time are serialized on that row, and the second finds the revision
//! moved on and is refused. Runs are only ever changed while their job's
//! row is held, and always after it, so the locks are taken in one order
//! and cannot deadlock. Adds, updates, renewals and removals are single
//! statements, atomic on their own.
//!
//! The `cron_changes` counter is raised by a statement trigger on
//! `cron_jobs` (see the schema), so no operation here writes it; the
//! statement touching `cron_jobs` comes last in each transaction, which
//! keeps that shared row locked as briefly as possible.
//!
//! The rows are read into the shared forms of `crate::rows::cron`, which
//! decodes them as for SQLite.

use super::{Columns, sql_count, sql_limit};
use crate::pg::error::DbResult;
use crate::pg::pool::Db;
use crate::rows::cron::{
    CLAIM_EXPIRED, ClaimWrites, JOB_COLUMNS, RUN_COLUMNS, RawJob, RawRun, capped, held_claim,
    not_found,
};
use crate::rows::{DEFAULT_RUNS_LIMIT, encode_source};
use crate::{
    CRON_RUNS_KEPT, CronClaim, CronClaimHeld, CronFinish, CronJob, CronJobUpdate, CronRun,
    NewCronJob, StoreError,
};
use tokio_postgres::Row;

/// What the rows of both tables are called in messages about them.
const ROW: &str = "scheduled job row";

/// A `cron_jobs` row read with [`JOB_COLUMNS`], decoded.
fn decode_job(row: &Row) -> DbResult<CronJob> {
    let c = Columns::new(row, ROW);
    let raw = RawJob {
        id: c.get(0)?,
        name: c.get(1)?,
        prompt: c.get(2)?,
        schedule: c.get(3)?,
        schedule_kind: c.get(4)?,
        deliver: c.get(5)?,
        model: c.get(6)?,
        enabled: c.get(7)?,
        creator_platform: c.get(8)?,
        creator_user: c.get(9)?,
        origin_json: c.get(10)?,
        created_at_ms: c.get(11)?,
        updated_at_ms: c.get(12)?,
        next_run_at_ms: c.get(13)?,
        run_requested: c.get(14)?,
        last_run_at_ms: c.get(15)?,
        last_status: c.get(16)?,
        last_error: c.get(17)?,
        claim_owner: c.get(18)?,
        claim_until_ms: c.get(19)?,
        revision: c.get(20)?,
    };
    Ok(raw.decode()?)
}

/// A `cron_runs` row read with [`RUN_COLUMNS`], decoded.
fn decode_run(row: &Row) -> DbResult<CronRun> {
    let c = Columns::new(row, ROW);
    let raw = RawRun {
        id: c.get(0)?,
        job_id: c.get(1)?,
        owner: c.get(2)?,
        scheduled_at_ms: c.get(3)?,
        started_at_ms: c.get(4)?,
        finished_at_ms: c.get(5)?,
        status: c.get(6)?,
        output: c.get(7)?,
        error: c.get(8)?,
    };
    Ok(raw.decode()?)
}

/// What a claim or an expiry decides from: a job's row as it is now,
/// locked until the transaction ends.
struct Locked {
    revision: i64,
    enabled: bool,
    claim: Option<CronClaimHeld>,
}

/// Takes the job's row for the open transaction (waiting for any other
/// gateway holding it) and reads its claim state; `None` when there is no
/// such job.
async fn lock_job(db: &mut Db, id: &str) -> DbResult<Option<Locked>> {
    let Some(row) = db
        .query_opt(
            "SELECT revision, enabled, claim_owner, claim_until_ms FROM cron_jobs \
             WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let c = Columns::new(&row, ROW);
    Ok(Some(Locked {
        revision: c.get(0)?,
        enabled: c.get(1)?,
        claim: held_claim(c.get(2)?, c.get(3)?),
    }))
}

pub(crate) async fn cron_job(db: &mut Db, id: &str) -> DbResult<Option<CronJob>> {
    let row = db
        .query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM cron_jobs WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(decode_job).transpose()
}

pub(crate) async fn cron_jobs(db: &mut Db) -> DbResult<Vec<CronJob>> {
    // Ties broken by the id compared byte by byte, as SQLite does, whatever
    // the database's collation.
    let rows = db
        .query(
            &format!(
                "SELECT {JOB_COLUMNS} FROM cron_jobs ORDER BY created_at_ms, id COLLATE \"C\""
            ),
            &[],
        )
        .await?;
    rows.iter().map(decode_job).collect()
}

pub(crate) async fn cron_add(db: &mut Db, new: &NewCronJob) -> DbResult<CronJob> {
    let origin = new.origin.as_ref().map(encode_source).transpose()?;
    // A plain INSERT: the primary key refuses a taken id, and a refused
    // statement does not fire the change trigger.
    let sql = format!(
        "INSERT INTO cron_jobs (id, name, prompt, schedule, schedule_kind, deliver, model, \
         enabled, creator_platform, creator_user, origin_json, created_at_ms, updated_at_ms, \
         next_run_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) \
         RETURNING {JOB_COLUMNS}"
    );
    let added = db
        .query_one(
            &sql,
            &[
                &new.id,
                &new.name,
                &new.prompt,
                &new.schedule,
                &new.schedule_kind.as_str(),
                &new.deliver,
                &new.model,
                &new.enabled,
                &new.created_by.platform.as_str(),
                &new.created_by.user_id,
                &origin,
                &new.created_at_ms,
                &new.next_run_at_ms,
            ],
        )
        .await;
    match added {
        Ok(row) => decode_job(&row),
        Err(e) if e.is_unique_violation() => {
            Err(StoreError::Conflict(format!("scheduled job {}", new.id)).into())
        }
        Err(e) => Err(e),
    }
}

pub(crate) async fn cron_update(
    db: &mut Db,
    id: &str,
    update: &CronJobUpdate,
    at_ms: i64,
) -> DbResult<CronJob> {
    // One statement: a field left out (NULL, or its "set" flag false for
    // the fields that can be cleared) keeps the row's value, so no read
    // comes first and a concurrent change is never overwritten with a
    // stale copy.
    let sql = format!(
        "UPDATE cron_jobs SET name = COALESCE($2::text, name), \
         prompt = COALESCE($3::text, prompt), schedule = COALESCE($4::text, schedule), \
         schedule_kind = COALESCE($5::text, schedule_kind), \
         deliver = COALESCE($6::text, deliver), \
         model = CASE WHEN $7::boolean THEN $8::text ELSE model END, \
         enabled = COALESCE($9::boolean, enabled), \
         next_run_at_ms = CASE WHEN $10::boolean THEN $11::bigint ELSE next_run_at_ms END, \
         run_requested = COALESCE($12::boolean, run_requested), \
         updated_at_ms = $13, revision = revision + 1 \
         WHERE id = $1 RETURNING {JOB_COLUMNS}"
    );
    let schedule = update.schedule.as_ref();
    let row = db
        .query_opt(
            &sql,
            &[
                &id,
                &update.name,
                &update.prompt,
                &schedule.map(|(text, _)| text.as_str()),
                &schedule.map(|(_, kind)| kind.as_str()),
                &update.deliver,
                &update.model.is_some(),
                &update.model.as_ref().and_then(Option::as_deref),
                &update.enabled,
                &update.next_run_at_ms.is_some(),
                &update.next_run_at_ms.flatten(),
                &update.run_requested,
                &at_ms,
            ],
        )
        .await?;
    match row {
        Some(row) => decode_job(&row),
        None => Err(not_found(id).into()),
    }
}

pub(crate) async fn cron_remove(db: &mut Db, id: &str) -> DbResult<bool> {
    // Its runs go with it (ON DELETE CASCADE).
    let removed = db
        .execute("DELETE FROM cron_jobs WHERE id = $1", &[&id])
        .await?;
    Ok(removed > 0)
}

pub(crate) async fn cron_claim(db: &mut Db, claim: &CronClaim) -> DbResult<Option<CronRun>> {
    db.begin().await?;
    let Some(job) = lock_job(db, &claim.job_id).await? else {
        db.rollback().await?;
        return Ok(None);
    };
    let live = job
        .claim
        .as_ref()
        .is_some_and(|held| held.until_ms > claim.now_ms);
    if job.revision != claim.revision || !job.enabled || live {
        db.rollback().await?;
        return Ok(None);
    }
    // A claim still on the row has run out: its holder stopped mid-run.
    let expired_owner = job.claim.map(|held| held.owner);
    let writes = ClaimWrites::of(claim);
    // The expired holder's run ends as interrupted (no row when there is
    // none: `owner = NULL` matches nothing), and this run is recorded.
    let row = db
        .query_one(
            "WITH interrupted AS (\
                 UPDATE cron_runs SET status = 'interrupted', finished_at_ms = $4, error = $7 \
                 WHERE job_id = $1 AND owner = $8 AND status = 'running') \
             INSERT INTO cron_runs (job_id, owner, scheduled_at_ms, started_at_ms, \
             finished_at_ms, status) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &claim.job_id,
                &claim.owner,
                &claim.scheduled_at_ms,
                &claim.now_ms,
                &writes.finished_at_ms,
                &claim.status.as_str(),
                &CLAIM_EXPIRED,
                &expired_owner,
            ],
        )
        .await?;
    let run_id: i64 = Columns::new(&row, ROW).get(0)?;
    // Older runs beyond the newest CRON_RUNS_KEPT go (this statement sees
    // the run just recorded), and the job moves on.
    db.execute(
        "WITH pruned AS (\
             DELETE FROM cron_runs WHERE job_id = $1 AND id NOT IN \
             (SELECT id FROM cron_runs WHERE job_id = $1 ORDER BY id DESC LIMIT $6)) \
         UPDATE cron_jobs SET next_run_at_ms = $2, run_requested = FALSE, claim_owner = $3, \
         claim_until_ms = $4, revision = revision + 1, \
         last_status = CASE WHEN $5::boolean THEN last_status ELSE 'missed' END, \
         last_error = CASE WHEN $5::boolean THEN last_error ELSE NULL END \
         WHERE id = $1",
        &[
            &claim.job_id,
            &claim.next_run_at_ms,
            &writes.claim_owner,
            &writes.claim_until_ms,
            &writes.running,
            &sql_count(CRON_RUNS_KEPT),
        ],
    )
    .await?;
    db.commit().await?;
    Ok(Some(writes.run(claim, run_id)))
}

pub(crate) async fn cron_expire(db: &mut Db, job_id: &str, now_ms: i64) -> DbResult<bool> {
    db.begin().await?;
    let held = lock_job(db, job_id)
        .await?
        .and_then(|job| job.claim)
        .filter(|held| held.until_ms <= now_ms);
    let Some(held) = held else {
        db.rollback().await?;
        return Ok(false);
    };
    db.execute(
        "WITH interrupted AS (\
             UPDATE cron_runs SET status = 'interrupted', finished_at_ms = $3, error = $4 \
             WHERE job_id = $1 AND owner = $2 AND status = 'running') \
         UPDATE cron_jobs SET claim_owner = NULL, claim_until_ms = NULL, \
         last_status = 'interrupted', last_error = $4, revision = revision + 1 WHERE id = $1",
        &[&job_id, &held.owner, &now_ms, &CLAIM_EXPIRED],
    )
    .await?;
    db.commit().await?;
    Ok(true)
}

pub(crate) async fn cron_renew(
    db: &mut Db,
    job_id: &str,
    owner: &str,
    until_ms: i64,
) -> DbResult<bool> {
    let renewed = db
        .execute(
            "UPDATE cron_jobs SET claim_until_ms = $3, revision = revision + 1 \
             WHERE id = $1 AND claim_owner = $2",
            &[&job_id, &owner, &until_ms],
        )
        .await?;
    Ok(renewed > 0)
}

pub(crate) async fn cron_finish(db: &mut Db, finish: &CronFinish) -> DbResult<()> {
    db.begin().await?;
    // The run's job first, in the order claims take them (job, then runs).
    let job = db
        .query_opt(
            "SELECT id FROM cron_jobs \
             WHERE id = (SELECT job_id FROM cron_runs WHERE id = $1) FOR UPDATE",
            &[&finish.run_id],
        )
        .await?;
    if job.is_none() {
        db.rollback().await?;
        return Err(StoreError::NotFound(format!("scheduled run {}", finish.run_id)).into());
    }
    // A new statement sees whatever the job's last holder committed: a run
    // that already ended (interrupted when its claim ran out), or that
    // `owner` does not own, matches nothing and stays as it is.
    let output = capped(finish.output.as_deref());
    db.execute(
        "WITH run AS (\
             UPDATE cron_runs SET status = $3, output = $4, error = $5, finished_at_ms = $6 \
             WHERE id = $1 AND owner = $2 AND status = 'running' \
             RETURNING job_id, started_at_ms) \
         UPDATE cron_jobs AS j SET last_run_at_ms = run.started_at_ms, last_status = $3, \
         last_error = $5, \
         claim_owner = CASE WHEN j.claim_owner = $2 THEN NULL ELSE j.claim_owner END, \
         claim_until_ms = CASE WHEN j.claim_owner = $2 THEN NULL ELSE j.claim_until_ms END, \
         revision = j.revision + 1 \
         FROM run WHERE j.id = run.job_id",
        &[
            &finish.run_id,
            &finish.owner,
            &finish.status.as_str(),
            &output,
            &finish.error,
            &finish.at_ms,
        ],
    )
    .await?;
    db.commit().await?;
    Ok(())
}

pub(crate) async fn cron_runs(db: &mut Db, job_id: &str, limit: usize) -> DbResult<Vec<CronRun>> {
    let rows = db
        .query(
            &format!(
                "SELECT {RUN_COLUMNS} FROM cron_runs WHERE job_id = $1 ORDER BY id DESC LIMIT $2"
            ),
            &[&job_id, &sql_limit(limit, DEFAULT_RUNS_LIMIT)],
        )
        .await?;
    rows.iter().map(decode_run).collect()
}

pub(crate) async fn cron_changes(db: &mut Db) -> DbResult<i64> {
    let row = db
        .query_opt("SELECT counter FROM cron_changes WHERE id = 1", &[])
        .await?;
    match row {
        Some(row) => Columns::new(&row, ROW).get(0),
        None => Ok(0),
    }
}

/// Races between gateways, on a throwaway server: two stores (two pools,
/// as two gateways have) on one database. Skipped with a note when the
/// machine has no PostgreSQL programs (fails under CI).
#[cfg(test)]
mod tests {
    use crate::{
        CronClaim, CronCreator, CronFinish, CronRunStatus, NewCronJob, PgStore, ScheduleKind, Store,
    };
    use hermod_testkit::postgres::PgServer;

    async fn two_gateways() -> Option<(PgStore, PgStore, PgServer)> {
        let Some(bin) = PgServer::find_bin() else {
            hermod_testkit::real_peer::missing("PostgreSQL's programs");
            return None;
        };
        let server = tokio::task::spawn_blocking(move || PgServer::start(&bin))
            .await
            .expect("start task")
            .expect("a PostgreSQL server");
        let url = server.url("postgres");
        let a = PgStore::connect(&url, 2).await.expect("gateway a");
        let b = PgStore::connect(&url, 2).await.expect("gateway b");
        Some((a, b, server))
    }

    fn job(id: &str) -> NewCronJob {
        NewCronJob {
            id: id.to_owned(),
            name: id.to_owned(),
            prompt: "p".to_owned(),
            schedule: "every 1m".to_owned(),
            schedule_kind: ScheduleKind::Interval,
            deliver: "origin".to_owned(),
            model: None,
            enabled: true,
            created_by: CronCreator::cli(),
            origin: None,
            next_run_at_ms: Some(0),
            created_at_ms: 0,
        }
    }

    fn claim(job: &str, revision: i64, owner: &str, now_ms: i64) -> CronClaim {
        CronClaim {
            job_id: job.to_owned(),
            revision,
            owner: owner.to_owned(),
            scheduled_at_ms: now_ms,
            next_run_at_ms: Some(now_ms + 100),
            now_ms,
            ttl_ms: 10,
            status: CronRunStatus::Running,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_gateways_claiming_one_time_run_it_once() {
        let Some((a, b, _server)) = two_gateways().await else {
            return;
        };
        a.cron_add(job("j")).await.expect("add");
        for round in 0..30_i64 {
            let now = round * 100;
            let revision = a.cron_job("j").await.expect("get").expect("job").revision;
            let (ga, gb) = (a.clone(), b.clone());
            let first =
                tokio::spawn(async move { ga.cron_claim(claim("j", revision, "a", now)).await });
            let second =
                tokio::spawn(async move { gb.cron_claim(claim("j", revision, "b", now)).await });
            let first = first.await.expect("task").expect("claim a");
            let second = second.await.expect("task").expect("claim b");
            let won = match (first, second) {
                (Some(run), None) | (None, Some(run)) => run,
                other => panic!("round {round}: exactly one claim must win, got {other:?}"),
            };
            a.cron_finish(CronFinish {
                run_id: won.id,
                owner: won.owner,
                status: CronRunStatus::Ok,
                output: None,
                error: None,
                at_ms: now + 1,
            })
            .await
            .expect("finish");
        }
        assert_eq!(a.cron_runs("j", 1_000).await.expect("runs").len(), 30);
    }

    /// A gateway finishing late while another takes its expired claim
    /// over: both calls succeed (no deadlock), and exactly one of them
    /// decides how the run ended.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_finish_racing_a_takeover_settles_once() {
        let Some((a, b, _server)) = two_gateways().await else {
            return;
        };
        for round in 0..20_i64 {
            let id = format!("j{round}");
            a.cron_add(job(&id)).await.expect("add");
            let lost = a
                .cron_claim(claim(&id, 1, "dead", 0))
                .await
                .expect("claim")
                .expect("claimed");
            let revision = a.cron_job(&id).await.expect("get").expect("job").revision;
            let (ga, gb, job_id) = (a.clone(), b.clone(), id.clone());
            let finish = tokio::spawn(async move {
                ga.cron_finish(CronFinish {
                    run_id: lost.id,
                    owner: "dead".to_owned(),
                    status: CronRunStatus::Ok,
                    output: None,
                    error: None,
                    at_ms: 50,
                })
                .await
            });
            let takeover =
                tokio::spawn(
                    async move { gb.cron_claim(claim(&job_id, revision, "new", 50)).await },
                );
            finish.await.expect("task").expect("finish");
            let taken = takeover.await.expect("task").expect("takeover");
            let runs = a.cron_runs(&id, 0).await.expect("runs");
            let first = runs.last().expect("the first run");
            match taken {
                Some(_) => assert_eq!(first.status, CronRunStatus::Interrupted, "round {round}"),
                None => assert_eq!(first.status, CronRunStatus::Ok, "round {round}"),
            }
        }
    }
}
