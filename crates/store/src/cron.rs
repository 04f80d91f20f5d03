//! Records of scheduled jobs and their runs, read from and written to the
//! store. The store keeps them; the gateway decides when they run (it
//! parses schedules and computes the next run).

use hermod_model::{PlatformId, Source};
use serde::{Deserialize, Serialize};

/// Runs kept per job; older ones are dropped as new ones are recorded.
pub const CRON_RUNS_KEPT: usize = 50;

/// The most characters of a run's output kept in its history; longer
/// output is cut there (with a marker).
pub const CRON_OUTPUT_MAX_CHARS: usize = 16_000;

/// What a schedule was parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// `every 30m`: a fixed interval.
    Interval,
    /// A 5- or 6-field cron expression.
    Cron,
    /// An ISO timestamp or a bare duration: once.
    Once,
}

impl ScheduleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleKind::Interval => "interval",
            ScheduleKind::Cron => "cron",
            ScheduleKind::Once => "once",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "interval" => Some(ScheduleKind::Interval),
            "cron" => Some(ScheduleKind::Cron),
            "once" => Some(ScheduleKind::Once),
            _ => None,
        }
    }
}

/// Who created a job: a chat user (platform and user id) or the CLI
/// (platform `cli`, no user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronCreator {
    pub platform: PlatformId,
    pub user_id: Option<String>,
}

impl CronCreator {
    /// A job created with `hermod cron`.
    pub fn cli() -> Self {
        Self {
            platform: PlatformId::from_static("cli"),
            user_id: None,
        }
    }
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewCronJob {
    /// Unique; chosen by the caller.
    pub id: String,
    pub name: String,
    pub prompt: String,
    /// The schedule as written.
    pub schedule: String,
    pub schedule_kind: ScheduleKind,
    /// The delivery targets as written.
    pub deliver: String,
    pub model: Option<String>,
    pub enabled: bool,
    pub created_by: CronCreator,
    /// The chat the job was created from, for the `origin` target.
    pub origin: Option<Source>,
    /// The first run; `None` schedules nothing.
    pub next_run_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// How a run ended (or that it is still running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CronRunStatus {
    Running,
    /// Answered and delivered (or delivery attempted; see the run's error).
    Ok,
    /// Answered with a silence marker: kept, not delivered.
    Silent,
    Failed,
    /// The gateway stopped during the run (its claim ran out).
    Interrupted,
    /// The scheduled time passed while no gateway ran, beyond the grace
    /// window: not run.
    Missed,
}

impl CronRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CronRunStatus::Running => "running",
            CronRunStatus::Ok => "ok",
            CronRunStatus::Silent => "silent",
            CronRunStatus::Failed => "failed",
            CronRunStatus::Interrupted => "interrupted",
            CronRunStatus::Missed => "missed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "running" => CronRunStatus::Running,
            "ok" => CronRunStatus::Ok,
            "silent" => CronRunStatus::Silent,
            "failed" => CronRunStatus::Failed,
            "interrupted" => CronRunStatus::Interrupted,
            "missed" => CronRunStatus::Missed,
            _ => return None,
        })
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronJob {
    pub id: String,
    pub name: String,
    pub prompt: String,
    pub schedule: String,
    pub schedule_kind: ScheduleKind,
    pub deliver: String,
    pub model: Option<String>,
    /// False while paused.
    pub enabled: bool,
    pub created_by: CronCreator,
    pub origin: Option<Source>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// When it runs next; `None` when nothing more is scheduled.
    pub next_run_at_ms: Option<i64>,
    /// `hermod cron run` (or `/cron run`) asked for a run now.
    pub run_requested: bool,
    pub last_run_at_ms: Option<i64>,
    pub last_status: Option<CronRunStatus>,
    pub last_error: Option<String>,
    /// The gateway running it now, and until when its claim holds.
    pub claim: Option<CronClaimHeld>,
    /// Goes up with every change to the job; claims are conditional on it.
    pub revision: i64,
}

/// A live or expired claim on a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronClaimHeld {
    pub owner: String,
    pub until_ms: i64,
}

/// Changes to a job; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct CronJobUpdate {
    pub name: Option<String>,
    pub prompt: Option<String>,
    /// A new schedule: as written, and its kind.
    pub schedule: Option<(String, ScheduleKind)>,
    pub deliver: Option<String>,
    /// `Some(None)` clears the model.
    pub model: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// `Some(None)` schedules nothing.
    pub next_run_at_ms: Option<Option<i64>>,
    pub run_requested: Option<bool>,
}

/// A gateway's claim of one scheduled time of a job: see
/// [`crate::Store::cron_claim`].
#[derive(Debug, Clone)]
pub struct CronClaim {
    pub job_id: String,
    /// The job's revision the caller decided on; any change since fails
    /// the claim.
    pub revision: i64,
    /// Who claims (unique per gateway process).
    pub owner: String,
    /// The scheduled time being run (or now, for a requested run).
    pub scheduled_at_ms: i64,
    /// The job's next run after this one; `None` when there is none.
    pub next_run_at_ms: Option<i64>,
    pub now_ms: i64,
    /// How long the claim holds unless renewed.
    pub ttl_ms: i64,
    /// [`CronRunStatus::Running`] to run now; [`CronRunStatus::Missed`]
    /// to record the time as missed and move on (no claim is kept).
    pub status: CronRunStatus,
}

/// How a run ended, for [`crate::Store::cron_finish`].
#[derive(Debug, Clone)]
pub struct CronFinish {
    pub run_id: i64,
    pub owner: String,
    pub status: CronRunStatus,
    pub output: Option<String>,
    pub error: Option<String>,
    pub at_ms: i64,
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronRun {
    pub id: i64,
    pub job_id: String,
    pub owner: String,
    pub scheduled_at_ms: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub status: CronRunStatus,
    pub output: Option<String>,
    pub error: Option<String>,
}
