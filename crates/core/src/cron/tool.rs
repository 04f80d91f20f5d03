//! The `cronjob` tool: the agent schedules, lists, pauses, resumes and
//! removes jobs for the user it talks to ("remind me every weekday at 8").
//! A job it creates delivers to the chat that asked unless told otherwise;
//! it sees and changes only jobs created from that user's chats.

use crate::cron::jobs::{CronJobs, JobSpec};
use crate::cron::schedule::SCHEDULE_FORMS;
use crate::cron::{TARGET_FORMS, created_by};
use async_trait::async_trait;
use hermod_agent::{Tool, ToolContext};
use hermod_model::Source;
use hermod_store::{CronCreator, CronJob};
use serde_json::{Value, json};

/// The `cronjob` tool over a gateway's jobs.
#[derive(Debug)]
pub struct CronTool {
    jobs: CronJobs,
    description: String,
}

impl CronTool {
    pub fn new(jobs: CronJobs) -> Self {
        let description = format!(
            "Schedule, list, pause, resume or remove jobs that run a prompt later or \
             repeatedly; each run's final reply is delivered to this chat (or the given \
             targets). Use it for reminders, briefings and checks (\"remind me every weekday at \
             8\" → action create, schedule \"0 8 * * 1-5\"). Times are in the gateway's time zone \
             ({}). Write the prompt as an instruction to yourself at run time (\"Remind the user \
             to stand up\").",
            jobs.time_zone().iana_name().unwrap_or("system time")
        );
        Self { jobs, description }
    }

    /// The chat the tool was called from.
    async fn origin(&self, ctx: &ToolContext) -> Result<Source, String> {
        match self.jobs.store().session(&ctx.session_id).await {
            Ok(Some(session)) => Ok(session.source),
            Ok(None) => Err(
                "this conversation is not stored, so nothing can be scheduled from it".to_owned(),
            ),
            Err(e) => Err(format!("cannot read this conversation: {e}")),
        }
    }

    /// The job `id` if the asking user created it.
    async fn own_job(&self, origin: &Source, args: &Value) -> Result<CronJob, String> {
        let id = text(args, "job_id").ok_or("this action needs job_id (from action list)")?;
        let job = self.jobs.get(&id).await.map_err(|e| e.to_string())?;
        if !created_by(&job, origin.platform.as_str(), origin.user_id.as_deref()) {
            return Err(format!(
                "job {} was not created by this user; only its creator or an admin (/cron) may change it",
                job.id
            ));
        }
        Ok(job)
    }

    fn describe(&self, job: &CronJob) -> Value {
        json!({
            "job_id": job.id,
            "name": job.name,
            "prompt": job.prompt,
            "schedule": job.schedule,
            "deliver": job.deliver,
            "paused": !job.enabled,
            "next_run": job.next_run_at_ms.map(|ms| self.jobs.local_time(ms)),
            "last_status": job.last_status.map(|s| s.as_str()),
        })
    }
}

fn text(args: &Value, key: &str) -> Option<String> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[async_trait]
impl Tool for CronTool {
    fn name(&self) -> &str {
        "cronjob"
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "action": {
                    "type": "string",
                    "enum": ["create", "list", "pause", "resume", "remove"],
                    "description": "create a job; list this user's jobs; pause, resume or remove one by job_id"
                },
                "prompt": {
                    "type": "string",
                    "description": "create: what to do at each run, as an instruction to yourself"
                },
                "schedule": {
                    "type": "string",
                    "description": "create: `every 30m` / `every 2h` / `every 1d`; a cron expression `minute hour day-of-month month day-of-week` (`0 8 * * 1-5` = 8:00 Monday to Friday, `30 18 * * *` = 18:30 daily); an ISO time `2026-05-01T08:00` for once; or `30m` / `2h` for once, that long from now"
                },
                "name": {"type": "string", "description": "create: a short name for lists"},
                "deliver": {
                    "type": "string",
                    "description": "create: where results go; default `origin` (this chat). Also `local`, a platform name (its home channel), `platform:chat_id`, `all`, or a comma list"
                },
                "job_id": {"type": "string", "description": "pause, resume, remove: the job's id from list"}
            },
            "required": ["action"]
        })
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<String, String> {
        let origin = self.origin(&ctx).await?;
        let action = text(&args, "action").unwrap_or_default();
        let result = match action.as_str() {
            "create" => {
                let prompt =
                    text(&args, "prompt").ok_or("create needs a prompt: what to do at each run")?;
                let schedule = text(&args, "schedule")
                    .ok_or_else(|| format!("create needs a schedule; {SCHEDULE_FORMS}"))?;
                let spec = JobSpec {
                    name: text(&args, "name"),
                    prompt,
                    schedule,
                    deliver: text(&args, "deliver"),
                    model: None,
                    created_by: CronCreator {
                        platform: origin.platform.clone(),
                        user_id: origin.user_id.clone(),
                    },
                    origin: Some(origin),
                    paused: false,
                };
                let job = self.jobs.add(spec).await.map_err(|e| {
                    let e = e.to_string();
                    if e.contains("accepted") {
                        e
                    } else {
                        format!("{e}; {TARGET_FORMS}")
                    }
                })?;
                json!({"created": self.describe(&job)})
            }
            "list" => {
                let jobs = self.jobs.list().await.map_err(|e| e.to_string())?;
                let mine: Vec<Value> = jobs
                    .iter()
                    .filter(|j| created_by(j, origin.platform.as_str(), origin.user_id.as_deref()))
                    .map(|j| self.describe(j))
                    .collect();
                json!({"jobs": mine})
            }
            "pause" | "resume" | "remove" => {
                let job = self.own_job(&origin, &args).await?;
                let done = match action.as_str() {
                    "pause" => self.jobs.pause(&job.id).await,
                    "resume" => self.jobs.resume(&job.id).await,
                    _ => self.jobs.remove(&job.id).await,
                }
                .map_err(|e| e.to_string())?;
                json!({ action.as_str(): self.describe(&done) })
            }
            other => {
                return Err(format!(
                    "unknown action {other:?}: use create, list, pause, resume or remove"
                ));
            }
        };
        Ok(result.to_string())
    }
}
