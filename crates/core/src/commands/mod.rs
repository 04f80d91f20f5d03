//! Slash commands: one module per command, one registry.
//!
//! Each command declares its name, aliases, argument hint, description,
//! category and whether it may run while the agent is busy; `/help` is
//! generated from the registry. [`dispatch`] applies the tier gate and the
//! busy gate, runs the command and sends its answer.

mod approvals;
mod approve;
mod background;
mod compress;
mod context;
mod cron;
mod help;
mod model;
mod new;
mod personality;
mod platform;
mod queue;
mod reasoning;
mod reload_mcp;
mod restart;
mod resume;
mod retry;
mod sessions;
mod sethome;
mod status;
mod steer;
mod stop;
mod title;
mod undo;
mod usage;
mod version;
mod voice;
mod whoami;

pub(crate) use status::describe as describe_state;

use crate::access::Tier;
use crate::error::CoreError;
use crate::hooks::Decision;
use crate::router::Shared;
use crate::session::{Job, WorkerDeps, WorkerState, enqueue, inbox_done, latest_session, reply};
use async_trait::async_trait;
use hermod_model::{Content, ParsedCommand, SessionKey};
use hermod_store::SessionRecord;
use std::sync::Arc;

/// Where a command shows up in `/help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    Session,
    Control,
    Info,
}

impl Category {
    fn title(self) -> &'static str {
        match self {
            Category::Session => "Conversation",
            Category::Control => "While the agent works",
            Category::Info => "Information",
        }
    }
}

/// A command's description.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) aliases: &'static [&'static str],
    pub(crate) args: &'static str,
    pub(crate) description: &'static str,
    pub(crate) category: Category,
    /// May run while a turn is running.
    pub(crate) while_busy: bool,
}

/// What a command did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answer the user with this text.
    Reply(String),
    /// The command handed the message on (queued it as a turn); the turn answers.
    HandedOn,
}

/// Everything a command may use.
pub(crate) struct Cx<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) deps: &'a WorkerDeps,
    pub(crate) key: &'a SessionKey,
    pub(crate) state: &'a mut WorkerState,
    /// The command's own message; a command that hands it on takes it.
    pub(crate) job: Option<Job>,
    pub(crate) args: String,
    pub(crate) tier: &'a Tier,
}

impl Cx<'_> {
    fn job(&self) -> &Job {
        self.job
            .as_ref()
            .expect("the job is taken only by commands that hand it on")
    }

    /// Whether the message came from a streaming source (the HTTP API).
    fn streamed(&self) -> bool {
        self.job().reply.is_stream()
    }

    /// The session this chat is in: the one the source pinned, or the
    /// current routed one.
    async fn session(&self) -> Result<Option<SessionRecord>, CoreError> {
        let store = self.deps.store.as_ref();
        if let Some(id) = &self.job().event.session_id {
            return Ok(store.session(id).await?);
        }
        Ok(latest_session(store, self.key).await?)
    }

    /// Hands the command's own message on as an ordinary message with
    /// `content`; the worker runs it next (or answers that the queue is
    /// full). Returns whether it was queued.
    async fn hand_on(&mut self, content: Content) -> bool {
        let mut job = self
            .job
            .take()
            .expect("a command hands its message on once");
        job.event.content = content;
        enqueue(self.deps, self.state, job).await
    }

    /// Tells the hooks of a session event (`session:end`, ...) in this chat.
    fn session_event(&self, name: &str, session: &hermod_model::SessionId, reason: &str) {
        self.deps.hooks.emit(
            crate::hooks::HookEvent::about(name, &self.job().event.source)
                .with("session_id", session.as_str())
                .with("reason", reason),
        );
    }

    /// The model a turn in `session` would use.
    fn model_of(&self, session: Option<&SessionRecord>) -> String {
        session
            .and_then(|s| s.model_override.clone())
            .unwrap_or_else(|| self.deps.default_model.clone())
    }
}

#[async_trait]
pub(crate) trait Command: Send + Sync {
    fn spec(&self) -> &'static Spec;
    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError>;
}

/// The registry. Order is the order of `/help` within a category.
pub(crate) const COMMANDS: &[&dyn Command] = &[
    &new::New,
    &retry::Retry,
    &undo::Undo,
    &title::Title,
    &resume::Resume,
    &sessions::Sessions,
    &model::Model,
    &personality::Personality,
    &reasoning::Reasoning,
    &compress::Compress,
    &background::Background,
    &sethome::SetHome,
    &cron::Cron,
    &voice::Voice,
    &stop::Stop,
    &queue::Queue,
    &steer::Steer,
    &approve::Approve,
    &approve::Deny,
    &approvals::Approvals,
    &status::Status,
    &platform::Platform,
    &reload_mcp::ReloadMcp,
    &restart::Restart,
    &usage::Usage,
    &context::Context,
    &whoami::WhoAmI,
    &help::Help,
    &version::Version,
];

/// The built-in commands as a platform's command menu lists them (name,
/// description), in `/help` order: platforms with a native command menu
/// register it from this, so a new command shows up everywhere at once.
pub fn menu() -> Vec<(String, String)> {
    COMMANDS
        .iter()
        .map(|c| (c.spec().name.to_owned(), c.spec().description.to_owned()))
        .collect()
}

/// Finds a command by name or alias (names are already lower-case).
pub(crate) fn find(name: &str) -> Option<&'static dyn Command> {
    COMMANDS
        .iter()
        .copied()
        .find(|c| c.spec().name == name || c.spec().aliases.contains(&name))
}

/// Runs a parsed command for `job`.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    key: &SessionKey,
    state: &mut WorkerState,
    job: Job,
    parsed: &ParsedCommand,
    tier: &Tier,
) {
    let deps = shared.deps();
    let checked = match find(&parsed.name) {
        None => Err(unknown(&parsed.name)),
        Some(command) => match refusal(command.spec(), state, tier) {
            Some(text) => Err(text),
            // The operator's hooks may refuse it, answer it or rewrite it.
            None => ask_hooks(deps, state, tier, &job, command, &parsed.args).await,
        },
    };
    let (command, args) = match checked {
        Ok(run) => run,
        Err(text) => {
            reply(deps, &job.reply, &job.event, text).await;
            return inbox_done(deps, &job.event, &job.inbox).await;
        }
    };
    let spec = command.spec();
    let mut cx = Cx {
        shared,
        deps,
        key,
        state,
        job: Some(job),
        args,
        tier,
    };
    let text = match command.run(&mut cx).await {
        Ok(Outcome::Reply(text)) => text,
        Ok(Outcome::HandedOn) => return,
        Err(e) => format!("⚠️ /{} failed: {e}", spec.name),
    };
    if let Some(job) = cx.job.take() {
        reply(deps, &job.reply, &job.event, text).await;
        inbox_done(deps, &job.event, &job.inbox).await;
    }
}

fn unknown(name: &str) -> String {
    format!(
        "Unknown command /{name}. Send /help for the list, or resend without the leading / to send it \
         as a message."
    )
}

/// Why `spec` may not run for this sender now (its tier, or a turn
/// running), if it may not.
fn refusal(spec: &Spec, state: &WorkerState, tier: &Tier) -> Option<String> {
    if !tier.may_run(spec.name) {
        return Some(format!(
            "⛔ /{} is not available to you here. Send /help for what you can run.",
            spec.name
        ));
    }
    if state.running.is_some() && !spec.while_busy {
        return Some(format!(
            "⏳ The agent is working — /{} can't run mid-turn. Wait for the reply or send /stop first.",
            spec.name
        ));
    }
    None
}

/// The `command:<name>` hooks' verdict (Hermes' command hook): the command
/// and arguments to run, or the answer to give instead. A rewritten
/// command passes the tier and busy gates again and is not asked about.
async fn ask_hooks(
    deps: &WorkerDeps,
    state: &WorkerState,
    tier: &Tier,
    job: &Job,
    command: &'static dyn Command,
    args: &str,
) -> Result<(&'static dyn Command, String), String> {
    let name = command.spec().name;
    let event = crate::hooks::HookEvent::about_message(format!("command:{name}"), &job.event)
        .with("command", name)
        .with("raw_args", args);
    match deps.hooks.decide(&event).await {
        None | Some(Decision::Allow) => Ok((command, args.to_owned())),
        Some(Decision::Deny { message }) => {
            Err(message.unwrap_or_else(|| format!("⛔ /{name} was refused by a hook.")))
        }
        // Said nothing: the hook answered the user itself.
        Some(Decision::Handled { message }) => Err(message.unwrap_or_default()),
        Some(Decision::Rewrite {
            command_name,
            raw_args,
        }) => {
            let rewritten = find(&command_name).ok_or_else(|| unknown(&command_name))?;
            match refusal(rewritten.spec(), state, tier) {
                Some(text) => Err(text),
                None => Ok((rewritten, raw_args)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_aliases_are_unique_lowercase_and_findable() {
        let mut seen = HashSet::new();
        for c in COMMANDS {
            let spec = c.spec();
            for name in std::iter::once(&spec.name).chain(spec.aliases) {
                assert!(seen.insert(*name), "/{name} is registered twice");
                assert_eq!(name.to_lowercase(), *name);
                assert_eq!(find(name).map(|c| c.spec().name), Some(spec.name));
            }
            assert!(!spec.description.is_empty());
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn the_menu_lists_every_command_once_within_menu_limits() {
        let menu = menu();
        assert_eq!(menu.len(), COMMANDS.len());
        assert_eq!(menu[0].0, "new");
        // The strictest menu known caps a description at 100 characters.
        assert!(
            menu.iter()
                .all(|(_, d)| (1..=100).contains(&d.chars().count()))
        );
    }

    #[test]
    fn the_documented_commands_may_run_while_busy() {
        let busy: HashSet<&str> = COMMANDS
            .iter()
            .filter(|c| c.spec().while_busy)
            .map(|c| c.spec().name)
            .collect();
        let expected: HashSet<&str> = [
            "stop", "new", "status", "approve", "deny", "queue", "steer", "help", "whoami",
            "platform", "restart",
        ]
        .into();
        assert_eq!(busy, expected);
    }
}
