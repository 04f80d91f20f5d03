//! `/status`: the session's id, title, model, counts, and whether the agent is working.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
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
        Ok(Outcome::Reply(lines.join("\n")))
    }
}
