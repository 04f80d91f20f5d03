//! The scheduler: started by the gateway, it sleeps on tokio's clock until
//! the next job is due or the jobs change, claims each due time in the
//! store, and runs it.
//!
//! Noticing changes: changes made in this process and by `hermod cron` in
//! another both raise the store's change counter (`Store::cron_changes`);
//! the scheduler reads that one number every [`POLL`] and reads the jobs
//! again only when it moved, so a change is seen within seconds at the
//! cost of one tiny read.
//!
//! Claiming: before a run starts, the scheduler claims it with a
//! conditional update (the job's revision, no live claim) that also moves
//! the next run on; the claim holds [`CLAIM_TTL`] (Hermes' 1800 s) and is
//! renewed while the run goes on. So a restart never runs a time twice (it
//! was moved on before the run began), and of two gateways on one
//! database only the one whose claim landed runs it. A run cut short by a
//! crash is recorded as interrupted when its claim runs out; it is not run
//! again.
//!
//! Missed times after downtime (see `Schedule::due`): the latest time that
//! passed runs once if it is within the job's grace window (half its
//! period, between 2 minutes and 2 hours; 2 minutes for a one-shot), and
//! is recorded as missed otherwise; either way the job goes on from its
//! next time after now.

use crate::clock::millis;
use crate::cron::jobs::new_owner_id;
use crate::cron::run::run_job;
use crate::cron::schedule::Schedule;
use crate::router::Shared;
use hermod_store::{CronClaim, CronJob, CronRunStatus};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// How often the change counter is read.
pub(crate) const POLL: Duration = Duration::from_secs(5);
/// How long a claim holds unless renewed (Hermes' run-claim TTL).
pub(crate) const CLAIM_TTL: Duration = Duration::from_secs(1800);
/// How often a running job renews its claim.
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(600);

/// Runs the scheduler until `stop` is cancelled. Runs are spawned on
/// `tracker`, so the gateway's drain waits for them like for other turns.
pub(crate) async fn run_scheduler(
    shared: Arc<Shared>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let owner = new_owner_id();
    info!(owner = %owner, "scheduler started");
    loop {
        let seen = match shared.deps().store.cron_changes().await {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "scheduler cannot read the store; trying again shortly");
                if sleep_or_stop(&stop, POLL).await {
                    return;
                }
                continue;
            }
        };
        let wake_at = match pass(&shared, &owner, &tracker).await {
            Ok(at) => at,
            Err(e) => {
                warn!(error = %e, "scheduler cannot read its jobs; trying again shortly");
                shared.deps().clock.now_ms() + millis(POLL)
            }
        };
        // Sleep until the next job is due, reading the change counter on
        // the way so a new or changed job is seen.
        loop {
            let now = shared.deps().clock.now_ms();
            if now >= wake_at {
                break;
            }
            let nap = Duration::from_millis(u64::try_from(wake_at - now).unwrap_or(0)).min(POLL);
            if sleep_or_stop(&stop, nap).await {
                info!("scheduler stopped");
                return;
            }
            match shared.deps().store.cron_changes().await {
                Ok(n) if n != seen => break,
                _ => {}
            }
        }
        if stop.is_cancelled() {
            info!("scheduler stopped");
            return;
        }
    }
}

/// Sleeps `d` on tokio's clock; true when `stop` came first.
async fn sleep_or_stop(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(d) => false,
    }
}

/// Claims and starts every due job; returns when the next one is due.
async fn pass(
    shared: &Arc<Shared>,
    owner: &str,
    tracker: &TaskTracker,
) -> Result<i64, hermod_store::StoreError> {
    let deps = shared.deps();
    let jobs = deps.store.cron_jobs().await?;
    let now = deps.clock.now_ms();
    let mut wake_at = i64::MAX;
    for job in jobs {
        if !job.enabled {
            continue;
        }
        if let Some(claim) = &job.claim {
            if claim.until_ms > now {
                // Running (here or elsewhere); look again when the claim would end.
                wake_at = wake_at.min(claim.until_ms);
            } else if deps.store.cron_expire(&job.id, now).await? {
                // Its gateway stopped mid-run; the change brings a new pass.
                warn!(job = %job.id, name = %job.name, "a scheduled run was cut short (its gateway stopped); recorded as interrupted, not run again");
            }
            continue;
        }
        let due_at = job.next_run_at_ms.filter(|n| *n <= now);
        if due_at.is_none() && !job.run_requested {
            if let Some(next) = job.next_run_at_ms {
                wake_at = wake_at.min(next);
            }
            continue;
        }
        let Some(claim) = decide(shared, &job, owner, now, due_at) else {
            continue;
        };
        let status = claim.status;
        let scheduled = claim.scheduled_at_ms;
        match deps.store.cron_claim(claim).await? {
            None => {} // another gateway (or a change) came first
            Some(run) if status == CronRunStatus::Missed => {
                info!(job = %job.id, name = %job.name, scheduled_at_ms = scheduled, run = run.id,
                    "a scheduled time passed while no gateway ran, beyond its grace window: not run");
            }
            Some(run) => {
                info!(job = %job.id, name = %job.name, run = run.id, "running a scheduled job");
                tracker.spawn(run_job(Arc::clone(shared), job, run, owner.to_owned()));
            }
        }
    }
    Ok(wake_at)
}

/// The claim for a job that is due (`due_at`) or asked to run now.
fn decide(
    shared: &Arc<Shared>,
    job: &CronJob,
    owner: &str,
    now: i64,
    due_at: Option<i64>,
) -> Option<CronClaim> {
    let deps = shared.deps();
    let claim = |scheduled_at_ms, next_run_at_ms, status| CronClaim {
        job_id: job.id.clone(),
        revision: job.revision,
        owner: owner.to_owned(),
        scheduled_at_ms,
        next_run_at_ms,
        now_ms: now,
        ttl_ms: millis(CLAIM_TTL),
        status,
    };
    let Some(due_at) = due_at else {
        // Only asked to run now: the schedule stays as it is.
        return Some(claim(now, job.next_run_at_ms, CronRunStatus::Running));
    };
    let schedule = match job.schedule_kind {
        hermod_store::ScheduleKind::Once => Schedule::Once(due_at),
        _ => match Schedule::parse(&job.schedule, now, &deps.timezone) {
            Ok(s) => s,
            Err(e) => {
                warn!(job = %job.id, error = %e, "a scheduled job's schedule no longer parses; it does not run until edited");
                return None;
            }
        },
    };
    let due = schedule.due(due_at, now, &deps.timezone);
    let status = if due.run || job.run_requested {
        CronRunStatus::Running
    } else {
        CronRunStatus::Missed
    };
    Some(claim(due.scheduled_at_ms, due.next_run_at_ms, status))
}
