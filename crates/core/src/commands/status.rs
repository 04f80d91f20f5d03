//! `/status`: the session's id, title, model, counts, whether the agent is
//! working, and how each platform is connected.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::health::ComponentState;
use async_trait::async_trait;

pub(crate) struct Status;

static SPEC: Spec = Spec {
    name: "status",
    aliases: &[],
    args: "",
    description: "Show this conversation's state",
    category: Category::Info,
    while_busy: true,
};

#[async_trait]
impl Command for Status {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let session = cx.session().await?;
        let mut lines = Vec::new();
        match &session {
            Some(s) => {
                lines.push(format!("Session: {}", s.id));
                lines.push(format!("Title: {}", s.title.as_deref().unwrap_or("(none)")));
                lines.push(format!("Messages: {}", s.message_count));
                lines.push(format!(
                    "Tokens: {} in, {} out",
                    s.prompt_tokens, s.completion_tokens
                ));
            }
            None => lines.push("Session: none yet (your next message starts one)".to_owned()),
        }
        lines.push(format!("Model: {}", cx.model_of(session.as_ref())));
        let state = match &cx.state.running {
            Some(running) => format!("working ({} s)", running.started.elapsed().as_secs()),
            None => "idle".to_owned(),
        };
        lines.push(format!("Agent: {state}"));
        if !cx.state.pending.is_empty() {
            lines.push(format!("Queued: {}", cx.state.pending.len()));
        }
        let now = crate::clock::now_ms();
        let mut ids: Vec<_> = cx.deps.adapters.keys().collect();
        ids.sort();
        let platforms: Vec<String> = ids
            .into_iter()
            .map(|id| {
                let state = cx
                    .deps
                    .health
                    .get(id.as_str())
                    .map_or_else(|| "not started".to_owned(), |s| describe(&s.state, now));
                format!("{id} {state}")
            })
            .collect();
        if !platforms.is_empty() {
            lines.push(format!("Platforms: {}", platforms.join("; ")));
        }
        Ok(Outcome::Reply(lines.join("\n")))
    }
}

/// A platform's state in a few words, for people.
pub(crate) fn describe(state: &ComponentState, now_ms: i64) -> String {
    match state {
        ComponentState::Connecting => "connecting".to_owned(),
        ComponentState::Running => "connected".to_owned(),
        ComponentState::Degraded { reason } => format!("having trouble ({reason})"),
        ComponentState::Retrying {
            reason,
            next_attempt_ms,
        } => {
            let secs = u64::try_from(next_attempt_ms - now_ms)
                .unwrap_or(0)
                .div_ceil(1000);
            format!("reconnecting in {secs} s ({reason})")
        }
        ComponentState::Failed { reason } => format!("failed ({reason})"),
        ComponentState::Stopped => "stopped".to_owned(),
        ComponentState::Paused {
            reason,
            until_ms: Some(until_ms),
            ..
        } => {
            let secs = u64::try_from(until_ms - now_ms).unwrap_or(0).div_ceil(1000);
            format!("paused, tried again in {secs} s ({reason})")
        }
        ComponentState::Paused {
            reason,
            until_ms: None,
            ..
        } => format!("paused until resumed ({reason})"),
        ComponentState::Standby { holder } => format!("standing by (received by {holder})"),
    }
}
