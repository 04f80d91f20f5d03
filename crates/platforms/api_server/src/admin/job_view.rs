//! Scheduled jobs and their runs as `/api/jobs` answers them: Hermes' job
//! fields (`schedule` as `{kind, minutes | expr | run_at, display}`,
//! `enabled`, `state`, ISO times in the gateway's time zone, `last_status`
//! `ok`/`error`) plus hermod's (`paused`, `running`, `last_outcome`, who
//! created it).

use hermod_core::{CronJobs, parse_duration};
use hermod_store::{CronJob, CronRun, CronRunStatus, ScheduleKind};
use jiff::tz::TimeZone;
use serde_json::{Value, json};

/// One job. `state` is Hermes' (`scheduled`, `paused`, `completed`: a
/// one-shot that ran) or `running` while a run holds it.
pub(super) fn job(jobs: &CronJobs, job: &CronJob, now_ms: i64) -> Value {
    let tz = jobs.time_zone();
    let running = job.claim.as_ref().is_some_and(|c| c.until_ms > now_ms);
    let state = if !job.enabled {
        "paused"
    } else if running {
        "running"
    } else if job.next_run_at_ms.is_none() && !job.run_requested {
        "completed"
    } else {
        "scheduled"
    };
    let origin = job.origin.as_ref().map(|o| {
        json!({
            "platform": o.platform.as_str(),
            "chat_type": o.chat_type.as_str(),
            "chat_id": o.chat_id,
            "thread_id": o.thread_id,
            "user_id": o.participant(),
        })
    });
    json!({
        "id": job.id,
        "name": job.name,
        "prompt": job.prompt,
        "model": job.model,
        "schedule": schedule(job, tz),
        "schedule_display": job.schedule,
        "enabled": job.enabled,
        "paused": !job.enabled,
        "state": state,
        "running": running,
        "run_requested": job.run_requested,
        "deliver": job.deliver,
        "origin": origin,
        "created_by": {
            "platform": job.created_by.platform.as_str(),
            "user_id": job.created_by.user_id,
        },
        "created_at": iso(tz, job.created_at_ms),
        "updated_at": iso(tz, job.updated_at_ms),
        "next_run_at": job.next_run_at_ms.map(|ms| iso(tz, ms)),
        "last_run_at": job.last_run_at_ms.map(|ms| iso(tz, ms)),
        "last_status": job.last_status.map(hermes_status),
        "last_outcome": job.last_status.map(CronRunStatus::as_str),
        "last_error": job.last_error,
    })
}

/// One run of a job, newest first in a history.
pub(super) fn run(tz: &TimeZone, run: &CronRun) -> Value {
    json!({
        "id": run.id,
        "job_id": run.job_id,
        "status": run.status.as_str(),
        "scheduled_at": iso(tz, run.scheduled_at_ms),
        "started_at": iso(tz, run.started_at_ms),
        "finished_at": run.finished_at_ms.map(|ms| iso(tz, ms)),
        "output": run.output,
        "error": run.error,
    })
}

/// The schedule as Hermes' parsed form: an interval in minutes, a cron
/// expression, or a one-shot's time; `display` is the text as written.
fn schedule(job: &CronJob, tz: &TimeZone) -> Value {
    let written = job.schedule.as_str();
    match job.schedule_kind {
        ScheduleKind::Interval => {
            let minutes = written
                .trim()
                .get("every ".len()..)
                .and_then(|rest| parse_duration(rest).ok())
                .map(|d| d.as_secs() / 60);
            json!({"kind": "interval", "minutes": minutes, "display": written})
        }
        ScheduleKind::Cron => json!({"kind": "cron", "expr": written, "display": written}),
        ScheduleKind::Once => json!({
            "kind": "once",
            "run_at": job.next_run_at_ms.or(job.last_run_at_ms).map(|ms| iso(tz, ms)),
            "display": written,
        }),
    }
}

/// Hermes' two outcomes: `ok` (answered, delivered or kept silent) or
/// `error`; a time missed while no gateway ran is `missed`.
fn hermes_status(status: CronRunStatus) -> &'static str {
    match status {
        CronRunStatus::Ok | CronRunStatus::Silent => "ok",
        CronRunStatus::Failed | CronRunStatus::Interrupted => "error",
        CronRunStatus::Missed => "missed",
        CronRunStatus::Running => "running",
    }
}

/// Unix milliseconds as an ISO 8601 time with the zone's offset
/// (`2026-06-01T08:00:00+02:00`), as Hermes' `isoformat()`.
pub(super) fn iso(tz: &TimeZone, ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_the_zones_offset() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        // 2026-06-01T06:00:00Z
        assert_eq!(iso(&tz, 1_780_293_600_000), "2026-06-01T08:00:00+02:00");
        assert_eq!(iso(&TimeZone::UTC, 0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn outcomes_map_to_hermes_two() {
        assert_eq!(hermes_status(CronRunStatus::Silent), "ok");
        assert_eq!(hermes_status(CronRunStatus::Interrupted), "error");
        assert_eq!(hermes_status(CronRunStatus::Failed), "error");
    }
}
