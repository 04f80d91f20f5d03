//! How scheduled jobs and their runs map to and from rows, the same for
//! every backend: each backend reads a row into [`RawJob`] or [`RawRun`]
//! (plain SQL values), and the checks that turn them into records live
//! here once.

use crate::{CRON_OUTPUT_MAX_CHARS, CronClaim, CronClaimHeld, CronCreator, CronJob, CronRun};
use crate::{CronRunStatus, ScheduleKind, StoreError};
use hermod_model::{PlatformId, Source};

/// The `cron_jobs` columns in the order every backend reads them into [`RawJob`].
pub(crate) const JOB_COLUMNS: &str = "id, name, prompt, schedule, schedule_kind, deliver, model, \
     enabled, creator_platform, creator_user, origin_json, created_at_ms, updated_at_ms, \
     next_run_at_ms, run_requested, last_run_at_ms, last_status, last_error, claim_owner, \
     claim_until_ms, revision";

/// The `cron_runs` columns in the order every backend reads them into [`RawRun`].
pub(crate) const RUN_COLUMNS: &str =
    "id, job_id, owner, scheduled_at_ms, started_at_ms, finished_at_ms, status, output, error";

/// What a run interrupted by an expired claim records as its error.
pub(crate) const CLAIM_EXPIRED: &str =
    "the gateway running this job stopped before it finished (its claim ran out)";

/// The failure for a job id that names no job.
pub(crate) fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("scheduled job {id}"))
}

/// The failure for a value of job `id` that does not make sense.
fn corrupt(id: &str, what: &str, value: &dyn std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!(
        "scheduled job {id} has an unreadable {what}: {value:?}"
    ))
}

/// The claim a job's row records, if any (an owner and an end; either
/// alone means none).
pub(crate) fn held_claim(owner: Option<String>, until_ms: Option<i64>) -> Option<CronClaimHeld> {
    match (owner, until_ms) {
        (Some(owner), Some(until_ms)) => Some(CronClaimHeld { owner, until_ms }),
        _ => None,
    }
}

/// `text` cut to [`CRON_OUTPUT_MAX_CHARS`] characters, marked when cut.
pub(crate) fn capped(text: Option<&str>) -> Option<String> {
    let text = text?;
    match text.char_indices().nth(CRON_OUTPUT_MAX_CHARS) {
        Some((at, _)) => Some(format!(
            "{}\n… [output cut at {CRON_OUTPUT_MAX_CHARS} characters]",
            &text[..at]
        )),
        None => Some(text.to_owned()),
    }
}

/// What a successful claim writes, worked out from it the same way by
/// every backend.
pub(crate) struct ClaimWrites<'a> {
    /// Whether the run starts now; otherwise it is recorded as missed and
    /// the job is left unclaimed.
    pub(crate) running: bool,
    /// When the recorded run ended: now for a missed one, none for a
    /// running one.
    pub(crate) finished_at_ms: Option<i64>,
    /// Who holds the job's claim afterwards (none for a missed run).
    pub(crate) claim_owner: Option<&'a str>,
    /// When that claim runs out unless renewed.
    pub(crate) claim_until_ms: Option<i64>,
}

impl<'a> ClaimWrites<'a> {
    pub(crate) fn of(claim: &'a CronClaim) -> Self {
        let running = claim.status == CronRunStatus::Running;
        let (claim_owner, claim_until_ms) = if running {
            (
                Some(claim.owner.as_str()),
                Some(claim.now_ms.saturating_add(claim.ttl_ms)),
            )
        } else {
            (None, None)
        };
        Self {
            running,
            finished_at_ms: (!running).then_some(claim.now_ms),
            claim_owner,
            claim_until_ms,
        }
    }

    /// The run the claim recorded as `id`, as reading it back would
    /// return it.
    pub(crate) fn run(&self, claim: &CronClaim, id: i64) -> CronRun {
        CronRun {
            id,
            job_id: claim.job_id.clone(),
            owner: claim.owner.clone(),
            scheduled_at_ms: claim.scheduled_at_ms,
            started_at_ms: claim.now_ms,
            finished_at_ms: self.finished_at_ms,
            status: claim.status,
            output: None,
            error: None,
        }
    }
}

/// A `cron_jobs` row as stored, read with [`JOB_COLUMNS`].
pub(crate) struct RawJob {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) prompt: String,
    pub(crate) schedule: String,
    pub(crate) schedule_kind: String,
    pub(crate) deliver: String,
    pub(crate) model: Option<String>,
    pub(crate) enabled: bool,
    pub(crate) creator_platform: String,
    pub(crate) creator_user: Option<String>,
    pub(crate) origin_json: Option<String>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) next_run_at_ms: Option<i64>,
    pub(crate) run_requested: bool,
    pub(crate) last_run_at_ms: Option<i64>,
    pub(crate) last_status: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) claim_owner: Option<String>,
    pub(crate) claim_until_ms: Option<i64>,
    pub(crate) revision: i64,
}

impl RawJob {
    /// The job, with its schedule kind, origin and last status checked.
    pub(crate) fn decode(self) -> Result<CronJob, StoreError> {
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
            .map(|s| CronRunStatus::parse(&s).ok_or_else(|| corrupt(&id, "last status", &s)))
            .transpose()?;
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
            claim: held_claim(self.claim_owner, self.claim_until_ms),
            revision: self.revision,
            id,
        })
    }
}

/// A `cron_runs` row as stored, read with [`RUN_COLUMNS`].
pub(crate) struct RawRun {
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) owner: String,
    pub(crate) scheduled_at_ms: i64,
    pub(crate) started_at_ms: i64,
    pub(crate) finished_at_ms: Option<i64>,
    pub(crate) status: String,
    pub(crate) output: Option<String>,
    pub(crate) error: Option<String>,
}

impl RawRun {
    /// The run, with its status checked.
    pub(crate) fn decode(self) -> Result<CronRun, StoreError> {
        let status = CronRunStatus::parse(&self.status)
            .ok_or_else(|| corrupt(&self.job_id, "run status", &self.status))?;
        Ok(CronRun {
            id: self.id,
            job_id: self.job_id,
            owner: self.owner,
            scheduled_at_ms: self.scheduled_at_ms,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
            status,
            output: self.output,
            error: self.error,
        })
    }
}
