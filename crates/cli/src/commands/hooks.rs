//! `hermod hooks list | test`: the hooks in `HERMOD_HOME/hooks`, and a run
//! of them on a sample event. Also how the gateway loads them.

use crate::commands::out;
use crate::home::{self, Create};
use crate::{config, dotenv};
use anyhow::Context;
use clap::Subcommand;
use hermod_core::{Decision, HookEvent, HookHandler, HookReport, Hooks};
use hermod_model::EnvVars;
use std::path::Path;
use tracing::{info, warn};

const LIST_HELP: &str = "\
Each hook is a directory HERMOD_HOME/hooks/<name>/ with a HOOK.yaml:

  name: no-reset
  description: Refuse /new in this deployment
  events: [\"command:new\"]        # or agent:*, session:start, ...
  run: ./handler                  # any executable, relative to the directory
  timeout_secs: 10                # optional (default 10)

or, for an outbound webhook, `url: https://...` with `secret:` or
`secret_env:` in place of `run:`.

The gateway reads the hooks when it starts; restart it after a change.
Exit code: 0, or 1 when a hook directory is skipped for a problem.";

const TEST_HELP: &str = "\
Examples:
  hermod hooks test command:new
  hermod hooks test agent:end --json '{\"response\": \"Done.\"}'
  hermod hooks test session:start --json '{\"platform\": \"cli\", \"user_id\": \"42\"}'

The sample context has platform, user_id, chat_id, chat_type, thread_id,
session_id and message (and command and raw_args for command:<name>);
--json replaces or adds keys. URL hooks are really POSTed to.
Exit code: 0, or 1 when a hook failed.";

#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Show each hook: its events, its handler, its timeout, and the
    /// problems of hook directories that were skipped.
    #[command(after_help = LIST_HELP)]
    List,
    /// Run the hooks an event reaches on a sample of it, and show what each
    /// returned, its exit code and how long it took.
    #[command(after_help = TEST_HELP)]
    Test {
        /// The event, such as `command:new`, `agent:end` or `session:start`.
        event: String,
        /// A JSON object whose keys replace or add to the sample context.
        #[arg(long)]
        json: Option<String>,
    },
}

/// The hooks of `home` for the gateway, with the process environment and
/// `.env` for their `secret_env`. Problems are logged, never fatal.
pub fn load(home: &Path, process: &EnvVars, http: hermod_http::HttpClient) -> Hooks {
    let hooks = Hooks::load(home, &env(home, process), http);
    for problem in hooks.problems() {
        warn!(path = %problem.path.display(), skipped = problem.skipped, "hook: {}", problem.message);
    }
    for hook in hooks.hooks() {
        info!(hook = %hook.name, events = %hook.events.join(", "), handler = %hook.handler, "hook loaded");
    }
    hooks
}

/// The process environment over `.env`, as the configuration reads them.
fn env(home: &Path, process: &EnvVars) -> EnvVars {
    let mut env = process.clone();
    // An unreadable .env is reported by the configuration; here it only
    // means `secret_env` finds nothing in it.
    if let Ok(text) = std::fs::read_to_string(home.join(".env"))
        && let Ok(vars) = dotenv::parse(&text)
    {
        for (k, v) in vars {
            env.set_default(k, v);
        }
    }
    env
}

pub async fn run(action: HooksAction) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let http = hermod_http::HttpClient::new().context("cannot set up HTTP for URL hooks")?;
    let hooks = Hooks::load(&home, &env(&home, &process), http);
    match action {
        HooksAction::List => list(&home, &hooks),
        HooksAction::Test { event, json } => test(&hooks, &event, json.as_deref()).await,
    }
}

fn list(home: &Path, hooks: &Hooks) -> anyhow::Result<()> {
    let dir = home.join("hooks");
    if hooks.is_empty() && hooks.problems().is_empty() {
        out(format_args!(
            "No hooks in {}. `hermod hooks list --help` shows how to write one.",
            dir.display()
        ));
        return Ok(());
    }
    for hook in hooks.hooks() {
        out(format_args!("{}  ({})", hook.name, hook.dir.display()));
        if !hook.description.is_empty() {
            out(format_args!("  {}", hook.description));
        }
        out(format_args!("  events:  {}", hook.events.join(", ")));
        out(format_args!("  handler: {}", hook.handler));
        out(format_args!("  timeout: {} s", hook.timeout.as_secs()));
        if let HookHandler::Url { .. } = hook.handler {
            out("  (a URL hook is told of events; it never decides commands)");
        }
    }
    if !hooks.problems().is_empty() {
        out("Problems:");
        for problem in hooks.problems() {
            out(format_args!("  {problem}"));
        }
    }
    let skipped = hooks.problems().iter().filter(|p| p.skipped).count();
    if skipped > 0 {
        anyhow::bail!("{skipped} hook directories were skipped; see the problems above");
    }
    Ok(())
}

/// The sample event `hooks test` sends.
fn sample(event: &str, json: Option<&str>) -> anyhow::Result<HookEvent> {
    let valid = event
        .split_once(':')
        .is_some_and(|(base, name)| !base.is_empty() && !name.is_empty() && !event.contains('*'));
    if !valid {
        anyhow::bail!(
            "{event:?} is not an event: give `<base>:<name>`, such as command:new or agent:end"
        );
    }
    let mut sample = HookEvent::new(event)
        .with("platform", "hooks-test")
        .with("user_id", "test-user")
        .with("chat_id", "test-chat")
        .with("chat_type", "dm")
        .with("thread_id", serde_json::Value::Null)
        .with("session_id", "test-session")
        .with("message", "A sample event from `hermod hooks test`.");
    if let Some(command) = event.strip_prefix("command:") {
        sample = sample
            .with("command", command)
            .with("raw_args", "")
            .with("message", format!("/{command}"));
    }
    if let Some(json) = json {
        let extra: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).context("--json must be a JSON object")?;
        sample = sample.merge(extra);
    }
    Ok(sample)
}

async fn test(hooks: &Hooks, event: &str, json: Option<&str>) -> anyhow::Result<()> {
    let sample = sample(event, json)?;
    let reports = hooks.test(&sample).await;
    if reports.is_empty() {
        out(format_args!("No hook listens to {event}."));
        return Ok(());
    }
    out(format_args!("{}", sample.to_json()));
    let mut failed = 0;
    for report in &reports {
        failed += usize::from(!show(report));
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} hooks failed", reports.len());
    }
    Ok(())
}

/// Prints what one hook did; whether it succeeded.
fn show(report: &HookReport) -> bool {
    out(format_args!("{}  ({})", report.hook, report.handler));
    let ran = match &report.ran {
        Ok(ran) => ran,
        Err(reason) => {
            out(format_args!("  failed: {reason}"));
            return false;
        }
    };
    let exit = ran
        .exit_code
        .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
    out(format_args!("  {exit} in {} ms", ran.elapsed.as_millis()));
    for (name, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
        if !text.trim().is_empty() {
            out(format_args!("  {name}: {}", text.trim_end()));
        }
    }
    match &report.decision {
        None => {}
        Some(Ok(None | Some(Decision::Allow))) => out("  decision: allow"),
        Some(Ok(Some(decision))) => out(format_args!("  decision: {}", describe(decision))),
        Some(Err(reason)) => {
            out(format_args!(
                "  decision: none ({reason}); the hook is skipped"
            ));
            return false;
        }
    }
    ran.success()
}

fn describe(decision: &Decision) -> String {
    let said = |m: &Option<String>| m.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
    match decision {
        Decision::Allow => "allow".to_owned(),
        Decision::Deny { message } => format!("deny{}", said(message)),
        Decision::Handled { message } => format!("handled{}", said(message)),
        Decision::Rewrite {
            command_name,
            raw_args,
        } => format!("rewrite to /{command_name} {raw_args}")
            .trim_end()
            .to_owned(),
    }
}
