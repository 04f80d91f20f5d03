//! `hermod cron add|list|show|edit|pause|resume|remove|run|history`:
//! scheduled jobs in the home's database. Works whether or not the gateway
//! runs: a running gateway reads the store's change counter every few
//! seconds and picks changes up; otherwise the next start does.

use crate::commands::{out, utc};
use crate::config;
use crate::database;
use crate::home::{self, Create};
use clap::{Args, Subcommand};
use hermod_core::{Clock, CronJobs, JobEdit, JobSpec};
use hermod_store::{CronCreator, CronJob, Store};
use std::sync::Arc;

const ADD_HELP: &str = "\
Schedules:
  every 30m | every 2h | every 1d     repeating, first run one interval from now
  \"0 8 * * 1-5\"                       cron: minute hour day-of-month month day-of-week
                                      (a 6th field is seconds), in gateway.timezone
  2026-05-01T08:00                    once (no offset: gateway.timezone)
  30m | 2h                            once, that long from now

Targets (--deliver, comma-separated): origin, local, <platform> (its home
channel), <platform>:<chat_id>[:<thread_id>], all (every platform with a
home channel). Default: local (a file under HERMOD_HOME/output).

Examples:
  hermod cron add --schedule \"0 8 * * 1-5\" --deliver all \"Give me a short morning briefing\"
  hermod cron add --name logs --schedule \"every 1d\" --deliver local \"Summarise yesterday's logs\"
  hermod cron add --schedule 30m --deliver \"$PLATFORM:$CHAT_ID\" \"Remind me to call Ana\"";

const LIST_HELP: &str = "\
Examples:
  hermod cron list
  hermod cron list --json | jq '.[].id'";

const ID_HELP: &str = "\
The id is the job's 12 hex digits as `hermod cron list` shows them, or
enough of its start to tell it from the others.

Examples:
  hermod cron show 3f9a
  hermod cron pause 3f9a2b7c10de";

const EDIT_HELP: &str = "\
Only the options given change; a new schedule starts from now.

Examples:
  hermod cron edit 3f9a --schedule \"30 7 * * *\"
  hermod cron edit 3f9a --deliver \"all,local\" --model \"\"";

const RUN_HELP: &str = "\
The job runs within seconds if the gateway runs, else when it next starts;
its schedule stays as it is.

Example:
  hermod cron run 3f9a";

const HISTORY_HELP: &str = "\
The last runs, newest first, with their output (the last 50 are kept).

Examples:
  hermod cron history 3f9a
  hermod cron history 3f9a --limit 3 --json";

#[derive(Debug, Subcommand)]
pub enum CronAction {
    /// Schedule a prompt.
    #[command(after_help = ADD_HELP)]
    Add(AddArgs),
    /// List the jobs.
    #[command(after_help = LIST_HELP)]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one job.
    #[command(after_help = ID_HELP)]
    Show {
        /// The job's id.
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change a job's name, prompt, schedule, targets or model.
    #[command(after_help = EDIT_HELP)]
    Edit(EditArgs),
    /// Stop a job from running until it is resumed.
    #[command(after_help = ID_HELP)]
    Pause {
        /// The job's id.
        id: String,
    },
    /// Let a paused job run again, from its next time after now.
    #[command(after_help = ID_HELP)]
    Resume {
        /// The job's id.
        id: String,
    },
    /// Delete a job and its history.
    #[command(after_help = ID_HELP, alias = "rm")]
    Remove {
        /// The job's id.
        id: String,
    },
    /// Run a job now, besides its schedule.
    #[command(after_help = RUN_HELP)]
    Run {
        /// The job's id.
        id: String,
    },
    /// Show a job's last runs and their output.
    #[command(after_help = HISTORY_HELP)]
    History {
        /// The job's id.
        id: String,
        /// How many runs to show.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// What the agent should do at each run.
    prompt: String,
    /// When it runs (see below).
    #[arg(long, short)]
    schedule: String,
    /// Where the result goes (see below).
    #[arg(long, short)]
    deliver: Option<String>,
    /// A name for lists (default: the prompt's start).
    #[arg(long)]
    name: Option<String>,
    /// The model to use instead of the configured one.
    #[arg(long)]
    model: Option<String>,
    /// Create it paused.
    #[arg(long)]
    paused: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The job's id.
    id: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    prompt: Option<String>,
    #[arg(long, short)]
    schedule: Option<String>,
    #[arg(long, short)]
    deliver: Option<String>,
    /// The model; an empty string goes back to the configured one.
    #[arg(long)]
    model: Option<String>,
}

pub async fn run(action: CronAction) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let config = config::load(&home, &process)?;
    let tz = hermod_core::time_zone(&config.gateway).map_err(config::ConfigError)?;
    let location = database::location(&home, &process)?;
    let db = database::open_at(&location).await?;
    let jobs = CronJobs::new(db.store(), tz, Clock::System)
        .with_platforms(hermod_platforms::platform_names());
    let done = act(&jobs, action).await;
    drop(jobs);
    let closed = database::close(db, &location).await;
    done.and(closed)
}

async fn act(jobs: &CronJobs, action: CronAction) -> anyhow::Result<()> {
    match action {
        CronAction::Add(args) => {
            let job = jobs
                .add(JobSpec {
                    name: args.name,
                    prompt: args.prompt,
                    schedule: args.schedule,
                    deliver: args.deliver,
                    model: args.model,
                    created_by: CronCreator::cli(),
                    origin: None,
                    paused: args.paused,
                })
                .await?;
            out(format_args!("Added job {} ({}).", job.id, job.name));
            show(jobs, &job);
        }
        CronAction::List { json } => {
            let all = jobs.list().await?;
            if json {
                out(serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                out("No scheduled jobs. Add one with `hermod cron add`.");
            } else {
                out(format_args!(
                    "{:<12}  {:<20}  {:<16}  {:<22}  {}",
                    "ID", "NAME", "SCHEDULE", "NEXT RUN", "DELIVER"
                ));
                for job in &all {
                    out(format_args!(
                        "{:<12}  {:<20}  {:<16}  {:<22}  {}",
                        job.id,
                        clip(&job.name, 20),
                        clip(&job.schedule, 16),
                        state(jobs, job),
                        job.deliver
                    ));
                }
            }
        }
        CronAction::Show { id, json } => {
            let job = jobs.get(&id).await?;
            if json {
                out(serde_json::to_string_pretty(&job)?);
            } else {
                show(jobs, &job);
            }
        }
        CronAction::Edit(args) => {
            let edit = JobEdit {
                name: args.name,
                prompt: args.prompt,
                schedule: args.schedule,
                deliver: args.deliver,
                model: args.model,
            };
            let job = jobs.edit(&args.id, edit).await?;
            out(format_args!("Changed job {}.", job.id));
            show(jobs, &job);
        }
        CronAction::Pause { id } => {
            let job = jobs.pause(&id).await?;
            out(format_args!("Paused job {} ({}).", job.id, job.name));
        }
        CronAction::Resume { id } => {
            let job = jobs.resume(&id).await?;
            out(format_args!(
                "Resumed job {} ({}); next run {}.",
                job.id,
                job.name,
                state(jobs, &job)
            ));
        }
        CronAction::Remove { id } => {
            let job = jobs.remove(&id).await?;
            out(format_args!("Removed job {} ({}).", job.id, job.name));
        }
        CronAction::Run { id } => {
            let job = jobs.run_now(&id).await?;
            out(format_args!(
                "Job {} ({}) runs now if the gateway runs, else when it starts.",
                job.id, job.name
            ));
        }
        CronAction::History { id, limit, json } => {
            let (job, runs) = jobs.history(&id, limit).await?;
            if json {
                out(serde_json::to_string_pretty(&runs)?);
                return Ok(());
            }
            out(format_args!(
                "Runs of {} ({}), newest first:",
                job.id, job.name
            ));
            if runs.is_empty() {
                out("  (none yet)");
            }
            for run in &runs {
                out(format_args!(
                    "  #{} {} scheduled {} — {}",
                    run.id,
                    run.status.as_str(),
                    jobs.local_time(run.scheduled_at_ms),
                    run.finished_at_ms.map_or_else(|| "running".to_owned(), utc)
                ));
                if let Some(error) = &run.error {
                    out(format_args!("    error: {error}"));
                }
                if let Some(output) = &run.output {
                    for line in output.lines() {
                        out(format_args!("    | {line}"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(n - 1).collect();
    cut.push('…');
    cut
}

/// The next run, or why there is none.
fn state(jobs: &CronJobs, job: &CronJob) -> String {
    if !job.enabled {
        return "paused".to_owned();
    }
    match job.next_run_at_ms {
        Some(ms) if job.run_requested => format!("now (then {})", jobs.local_time(ms)),
        Some(ms) => jobs.local_time(ms),
        None if job.run_requested => "now".to_owned(),
        None => "done".to_owned(),
    }
}

fn show(jobs: &CronJobs, job: &CronJob) {
    out(format_args!("id:        {}", job.id));
    out(format_args!("name:      {}", job.name));
    out(format_args!("prompt:    {}", job.prompt));
    out(format_args!(
        "schedule:  {} ({})",
        job.schedule,
        job.schedule_kind.as_str()
    ));
    out(format_args!("deliver:   {}", job.deliver));
    if let Some(model) = &job.model {
        out(format_args!("model:     {model}"));
    }
    out(format_args!("next run:  {}", state(jobs, job)));
    let creator = match &job.created_by.user_id {
        Some(user) => format!("{} user {user}", job.created_by.platform),
        None => job.created_by.platform.to_string(),
    };
    out(format_args!(
        "created:   {} by {creator}",
        utc(job.created_at_ms)
    ));
    if let Some(last) = job.last_run_at_ms {
        let status = job.last_status.map_or("?", |s| s.as_str());
        out(format_args!(
            "last run:  {} ({status})",
            jobs.local_time(last)
        ));
    }
    if let Some(error) = &job.last_error {
        out(format_args!("error:     {error}"));
    }
}

/// The agent's `cronjob` tool, over the jobs in `store`, read in
/// `gateway.timezone` (the gateway refuses an unknown zone before any
/// tool runs, so the system's zone stands in for it here).
pub(crate) fn tool(config: &config::Config, store: Arc<dyn Store>) -> hermod_core::CronTool {
    let tz =
        hermod_core::time_zone(&config.gateway).unwrap_or_else(|_| jiff::tz::TimeZone::system());
    let jobs =
        CronJobs::new(store, tz, Clock::System).with_platforms(hermod_platforms::platform_names());
    hermod_core::CronTool::new(jobs)
}
