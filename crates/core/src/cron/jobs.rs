//! [`CronJobs`]: adding, changing and reading scheduled jobs, the one API
//! behind `hermod cron`, the `/cron` command and the `cronjob` tool, so
//! all three check schedules and targets the same way.

use crate::clock::Clock;
use crate::cron::schedule::Schedule;
use crate::error::CoreError;
use hermod_model::{DeliveryTarget, Source};
use hermod_store::{CronCreator, CronJob, CronJobUpdate, CronRun, NewCronJob, Store};
use jiff::tz::TimeZone;
use std::collections::BTreeSet;
use std::sync::Arc;

/// How delivery targets are written, for errors.
pub const TARGET_FORMS: &str = "accepted targets: `origin` (the chat the job was created \
     from), `local` (a file under HERMOD_HOME/output), a platform's name for its home channel, \
     `platform:chat_id[:thread_id]`, `all` (every platform with a home channel), \
     or several separated by commas";

/// What a new job is.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// A name for lists; the prompt's start when empty.
    pub name: Option<String>,
    pub prompt: String,
    pub schedule: String,
    /// Targets as written; `origin` when there is an origin, else `local`.
    pub deliver: Option<String>,
    pub model: Option<String>,
    pub created_by: CronCreator,
    pub origin: Option<Source>,
    /// Created paused.
    pub paused: bool,
}

/// Changes to a job; `None` fields stay.
#[derive(Debug, Clone, Default)]
pub struct JobEdit {
    pub name: Option<String>,
    pub prompt: Option<String>,
    pub schedule: Option<String>,
    pub deliver: Option<String>,
    /// `Some("")` clears the model.
    pub model: Option<String>,
}

/// Manages scheduled jobs in a store. Cheap to clone.
#[derive(Clone)]
pub struct CronJobs {
    store: Arc<dyn Store>,
    tz: TimeZone,
    clock: Clock,
    /// Platform names a target may name; `None` accepts any.
    platforms: Option<Arc<BTreeSet<String>>>,
}

impl std::fmt::Debug for CronJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronJobs")
            .field("tz", &self.tz)
            .field("platforms", &self.platforms)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::Cron(message.into())
}

impl CronJobs {
    /// Jobs in `store`; schedules are read in `tz` and wall time is `clock`'s.
    pub fn new(store: Arc<dyn Store>, tz: TimeZone, clock: Clock) -> Self {
        Self {
            store,
            tz,
            clock,
            platforms: None,
        }
    }

    /// Targets may name only these platforms (a typo is an error when the
    /// job is added, not when it runs).
    pub fn with_platforms<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.platforms = Some(Arc::new(names.into_iter().map(Into::into).collect()));
        self
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Checks `deliver` (a comma list of targets) without resolving it.
    pub fn check_targets(&self, deliver: &str) -> Result<(), CoreError> {
        parse_targets(deliver, |p| {
            self.platforms
                .as_ref()
                .is_none_or(|known| known.contains(p))
        })
        .map(|_| ())
    }

    /// Adds a job; its first run is computed from its schedule.
    pub async fn add(&self, spec: JobSpec) -> Result<CronJob, CoreError> {
        let now = self.clock.now_ms();
        let prompt = spec.prompt.trim().to_owned();
        if prompt.is_empty() {
            return Err(invalid(
                "a scheduled job needs a prompt: what the agent should do",
            ));
        }
        let schedule =
            Schedule::parse(&spec.schedule, now, &self.tz).map_err(|e| invalid(e.to_string()))?;
        let deliver = match spec.deliver.as_deref().map(str::trim) {
            Some(d) if !d.is_empty() => d.to_owned(),
            _ if spec.origin.is_some() => "origin".to_owned(),
            _ => "local".to_owned(),
        };
        self.check_targets(&deliver)?;
        let name = spec
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| prompt.chars().take(40).collect());
        let new = NewCronJob {
            id: new_job_id(),
            name,
            prompt,
            schedule: spec.schedule.trim().to_owned(),
            schedule_kind: schedule.kind(),
            deliver,
            model: spec.model.filter(|m| !m.trim().is_empty()),
            enabled: !spec.paused,
            created_by: spec.created_by,
            origin: spec.origin,
            next_run_at_ms: schedule.first_run(now, &self.tz),
            created_at_ms: now,
        };
        Ok(self.store.cron_add(new).await?)
    }

    /// Every job, oldest first.
    pub async fn list(&self) -> Result<Vec<CronJob>, CoreError> {
        Ok(self.store.cron_jobs().await?)
    }

    /// The job with this id (or the one job whose id starts with it).
    pub async fn get(&self, id: &str) -> Result<CronJob, CoreError> {
        let id = id.trim();
        if let Some(job) = self.store.cron_job(id).await? {
            return Ok(job);
        }
        let mut matches: Vec<CronJob> = self
            .store
            .cron_jobs()
            .await?
            .into_iter()
            .filter(|j| !id.is_empty() && j.id.starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(invalid(format!(
                "no scheduled job has the id {id:?}; list them with `hermod cron list` or /cron list"
            ))),
            n => Err(invalid(format!(
                "{n} scheduled jobs have ids starting with {id:?}; give more of the id"
            ))),
        }
    }

    /// Pauses a job: it does not run until resumed.
    pub async fn pause(&self, id: &str) -> Result<CronJob, CoreError> {
        let job = self.get(id).await?;
        let update = CronJobUpdate {
            enabled: Some(false),
            ..CronJobUpdate::default()
        };
        Ok(self
            .store
            .cron_update(&job.id, update, self.clock.now_ms())
            .await?)
    }

    /// Resumes a paused job. A repeating job runs next at its next time
    /// from now (times passed while paused are not made up); a one-shot
    /// keeps its time (run at once if it passed less than its grace ago).
    pub async fn resume(&self, id: &str) -> Result<CronJob, CoreError> {
        let job = self.get(id).await?;
        let now = self.clock.now_ms();
        let next = match self.schedule_of(&job)? {
            Some(schedule) => schedule.first_run(now, &self.tz),
            None => job.next_run_at_ms,
        };
        let update = CronJobUpdate {
            enabled: Some(true),
            next_run_at_ms: Some(next),
            ..CronJobUpdate::default()
        };
        Ok(self.store.cron_update(&job.id, update, now).await?)
    }

    /// Removes a job and its history; returns it as it was.
    pub async fn remove(&self, id: &str) -> Result<CronJob, CoreError> {
        let job = self.get(id).await?;
        self.store.cron_remove(&job.id).await?;
        Ok(job)
    }

    /// Asks for a run now (a running gateway takes it up within seconds;
    /// otherwise the next start does). A paused job is not run.
    pub async fn run_now(&self, id: &str) -> Result<CronJob, CoreError> {
        let job = self.get(id).await?;
        if !job.enabled {
            return Err(invalid(format!(
                "job {} is paused; resume it first (`hermod cron resume {}`)",
                job.id, job.id
            )));
        }
        let update = CronJobUpdate {
            run_requested: Some(true),
            ..CronJobUpdate::default()
        };
        Ok(self
            .store
            .cron_update(&job.id, update, self.clock.now_ms())
            .await?)
    }

    /// Changes a job; a new schedule starts from now.
    pub async fn edit(&self, id: &str, edit: JobEdit) -> Result<CronJob, CoreError> {
        let job = self.get(id).await?;
        let now = self.clock.now_ms();
        let mut update = CronJobUpdate {
            name: edit.name.map(|n| n.trim().to_owned()),
            prompt: edit.prompt.map(|p| p.trim().to_owned()),
            model: edit
                .model
                .map(|m| Some(m.trim().to_owned()).filter(|m| !m.is_empty())),
            ..CronJobUpdate::default()
        };
        if update.prompt.as_deref().is_some_and(str::is_empty) {
            return Err(invalid("the prompt cannot be empty"));
        }
        if let Some(text) = edit.schedule {
            let schedule =
                Schedule::parse(&text, now, &self.tz).map_err(|e| invalid(e.to_string()))?;
            update.next_run_at_ms = Some(schedule.first_run(now, &self.tz));
            update.schedule = Some((text.trim().to_owned(), schedule.kind()));
        }
        if let Some(deliver) = edit.deliver {
            self.check_targets(&deliver)?;
            update.deliver = Some(deliver.trim().to_owned());
        }
        Ok(self.store.cron_update(&job.id, update, now).await?)
    }

    /// A job's runs, newest first.
    pub async fn history(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<(CronJob, Vec<CronRun>), CoreError> {
        let job = self.get(id).await?;
        let runs = self.store.cron_runs(&job.id, limit).await?;
        Ok((job, runs))
    }

    /// The repeating schedule of a job (`None` for a one-shot, whose time
    /// is its next run).
    fn schedule_of(&self, job: &CronJob) -> Result<Option<Schedule>, CoreError> {
        match job.schedule_kind {
            hermod_store::ScheduleKind::Once => Ok(None),
            _ => Schedule::parse(&job.schedule, self.clock.now_ms(), &self.tz)
                .map(Some)
                .map_err(|e| invalid(format!("job {}: {e}", job.id))),
        }
    }

    /// A job's time as people read it, in the configured zone.
    pub fn local_time(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| {
                t.to_zoned(self.tz.clone())
                    .strftime("%Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .unwrap_or_else(|_| ms.to_string())
    }
}

/// One entry of a job's target list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// Every platform with a home channel.
    All,
    One(DeliveryTarget),
}

/// Parses a comma list of targets (see [`TARGET_FORMS`]).
pub(crate) fn parse_targets(
    deliver: &str,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<TargetSpec>, CoreError> {
    let mut targets = Vec::new();
    for item in deliver.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(invalid(format!(
                "{deliver:?} has an empty target; {TARGET_FORMS}"
            )));
        }
        if item.eq_ignore_ascii_case("all") {
            targets.push(TargetSpec::All);
            continue;
        }
        let target = DeliveryTarget::parse(item, &known)
            .map_err(|e| invalid(format!("{e}; {TARGET_FORMS}")))?;
        targets.push(TargetSpec::One(target));
    }
    Ok(targets)
}

/// A job id: 12 hex digits, as Hermes'.
fn new_job_id() -> String {
    let mut bytes = [0u8; 6];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = jiff::Timestamp::now().as_nanosecond().to_le_bytes();
        bytes.copy_from_slice(&nanos[..6]);
    }
    hermod_model::to_hex(&bytes)
}

/// Who claims runs for this scheduler: the process and a random part, so
/// two schedulers never share an owner.
pub(crate) fn new_owner_id() -> String {
    format!("{}-{}", std::process::id(), new_job_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_lists_and_all() {
        let known = |p: &str| p == "test" || p == "pager";
        let parsed = parse_targets("origin, test, pager:7:t1,all,local", known).expect("parse");
        assert_eq!(parsed.len(), 5);
        assert_eq!(parsed[3], TargetSpec::All);
        for bad in ["", "origin,,local", "nowhere", "test:"] {
            let err = parse_targets(bad, known).expect_err(bad).to_string();
            assert!(err.contains("accepted targets"), "{bad}: {err}");
        }
    }

    #[test]
    fn job_ids_are_twelve_hex_digits() {
        let (a, b) = (new_job_id(), new_job_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
