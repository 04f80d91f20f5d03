//! `/background <prompt>` (`/bg`, `/btw`): run a prompt as an independent
//! conversation and post the result to this chat when it is done.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::reply::ReplyMode;
use crate::router::Router;
use async_trait::async_trait;
use hermod_model::{InboundEvent, SessionKey};

pub(crate) struct Background;

static SPEC: Spec = Spec {
    name: "background",
    aliases: &["bg", "btw"],
    args: "<prompt>",
    description: "Run a prompt on the side; the result is posted here when done",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Background {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let prompt = cx.args.trim().to_owned();
        if prompt.is_empty() {
            return Ok(Outcome::Reply("Usage: /background <prompt>".to_owned()));
        }
        if cx.streamed() {
            return Ok(Outcome::Reply(
                "Background tasks post their result to a chat; the HTTP API cannot receive it. Send the \
                 prompt as a separate request instead."
                    .to_owned(),
            ));
        }
        let id = cx.deps.clock.new_session_id();
        let mut event = InboundEvent::text(cx.job().event.source.clone(), prompt.clone());
        event.message_id = cx.job().event.message_id.clone();
        event.session_id = Some(id.clone());
        // Its own routing key, so it neither waits for nor blocks this chat.
        event.route = Some(SessionKey::from_raw(format!("{}:bg:{id}", cx.key)));
        let short: String = prompt.chars().take(60).collect();
        let prefix = format!("✅ Background task finished ({short}):");
        Router::from_shared(cx.shared).submit(event, ReplyMode::Notify { prefix })?;
        Ok(Outcome::Reply(format!(
            "🚀 Started a background task [{id}]; I'll post the result here."
        )))
    }
}
