//! `/cron [list | pause <id> | resume <id> | remove <id> | run <id>]`:
//! scheduled jobs from a chat. Admins (and everyone where no admins are
//! configured) see and manage every job; other users only the jobs they
//! created.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::access::Tier;
use crate::cron::{CronJobs, created_by};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_store::CronJob;

pub(crate) struct Cron;

static SPEC: Spec = Spec {
    name: "cron",
    aliases: &[],
    args: "[list | pause <id> | resume <id> | remove <id> | run <id>]",
    description: "List and manage scheduled jobs",
    category: Category::Info,
    while_busy: false,
};

const USAGE: &str = "Usage: /cron list | pause <id> | resume <id> | remove <id> | run <id>\n\
     Add jobs with `hermod cron add` or ask the agent (\"remind me every weekday at 8\").";

#[async_trait]
impl Command for Cron {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let deps = cx.deps;
        let jobs = CronJobs::new(
            deps.store.clone(),
            deps.timezone.clone(),
            deps.clock.clone(),
        );
        let source = cx.job().event.source.clone();
        let everyone = matches!(cx.tier, Tier::Admin | Tier::Unrestricted);
        let mine = |job: &CronJob| {
            everyone || created_by(job, source.platform.as_str(), source.user_id.as_deref())
        };
        let args = cx.args.trim().to_owned();
        let mut words = args.split_whitespace();
        let action = words.next().unwrap_or("list").to_ascii_lowercase();
        let id = words.next();
        if action == "list" {
            let listed: Vec<String> = jobs
                .list()
                .await?
                .iter()
                .filter(|j| mine(j))
                .map(|j| line(&jobs, j))
                .collect();
            return Ok(Outcome::Reply(if listed.is_empty() {
                "No scheduled jobs.".to_owned()
            } else {
                format!("Scheduled jobs:\n{}", listed.join("\n"))
            }));
        }
        let Some(id) = id else {
            return Ok(Outcome::Reply(USAGE.to_owned()));
        };
        let job = match jobs.get(id).await {
            Ok(job) if mine(&job) => job,
            Ok(_) => {
                return Ok(Outcome::Reply(
                    "That job was created by someone else; only its creator or an admin may change it."
                        .to_owned(),
                ));
            }
            Err(e) => return Ok(Outcome::Reply(e.to_string())),
        };
        let reply = match action.as_str() {
            "pause" => jobs
                .pause(&job.id)
                .await
                .map(|j| format!("⏸ Paused {} ({}).", j.id, j.name)),
            "resume" => jobs.resume(&job.id).await.map(|j| {
                format!(
                    "▶️ Resumed {} ({}); next run {}.",
                    j.id,
                    j.name,
                    j.next_run_at_ms
                        .map_or_else(|| "none".to_owned(), |ms| jobs.local_time(ms))
                )
            }),
            "remove" | "rm" | "delete" => jobs
                .remove(&job.id)
                .await
                .map(|j| format!("🗑 Removed {} ({}).", j.id, j.name)),
            "run" => jobs.run_now(&job.id).await.map(|j| {
                format!(
                    "🚀 {} ({}) runs now; its result goes to {}.",
                    j.id, j.name, j.deliver
                )
            }),
            _ => return Ok(Outcome::Reply(USAGE.to_owned())),
        };
        Ok(Outcome::Reply(reply.unwrap_or_else(|e| e.to_string())))
    }
}

/// One job in a list.
fn line(jobs: &CronJobs, job: &CronJob) -> String {
    let state = if job.enabled {
        job.next_run_at_ms.map_or_else(
            || "done".to_owned(),
            |ms| format!("next {}", jobs.local_time(ms)),
        )
    } else {
        "paused".to_owned()
    };
    format!(
        "• {} {} — {} → {} ({state})",
        job.id, job.name, job.schedule, job.deliver
    )
}
