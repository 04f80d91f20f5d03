//! Scheduled jobs: schedules as Hermes parses them, the scheduler the
//! gateway runs, one run as a turn delivered to the job's targets, and
//! the API behind `hermod cron`, `/cron` and the `cronjob` tool.

mod jobs;
mod run;
mod schedule;
pub(crate) mod scheduler;
mod silence;
mod tool;

pub use jobs::{CronJobs, JobEdit, JobSpec, TARGET_FORMS};
pub use run::CRON_PLATFORM;
pub use schedule::{SCHEDULE_FORMS, Schedule, ScheduleError, parse_duration};
pub use silence::is_silent;
pub use tool::CronTool;

use crate::config::GatewayConfig;
use hermod_store::CronJob;
use jiff::tz::TimeZone;

/// The zone schedules are read in: `gateway.timezone`, else the system's.
pub fn time_zone(config: &GatewayConfig) -> Result<TimeZone, String> {
    match &config.timezone {
        Some(name) => TimeZone::get(name).map_err(|e| format!("gateway.timezone {name:?}: {e}")),
        None => Ok(TimeZone::system()),
    }
}

/// Whether the chat user on `platform` with `user_id` created `job`.
pub(crate) fn created_by(job: &CronJob, platform: &str, user_id: Option<&str>) -> bool {
    job.created_by.platform.as_str() == platform
        && job.created_by.user_id.is_some()
        && job.created_by.user_id.as_deref() == user_id
}
