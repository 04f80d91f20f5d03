//! `/queue <text>` (`/q`): run the text as the next turn, without interrupting.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::reply::ReplyMode;
use crate::session::reply;
use async_trait::async_trait;
use hermod_model::Content;

pub(crate) struct Queue;

static SPEC: Spec = Spec {
    name: "queue",
    aliases: &["q"],
    args: "<text>",
    description: "Send a message that waits for the current reply instead of interrupting it",
    category: Category::Control,
    while_busy: true,
};

#[async_trait]
impl Command for Queue {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        if cx.args.trim().is_empty() {
            return Ok(Outcome::Reply("Usage: /queue <message>".to_owned()));
        }
        let busy = cx.state.running.is_some();
        let streamed = cx.streamed();
        let ack_to = cx.job().event.clone();
        if cx.hand_on(Content::Text(cx.args.trim().to_owned())).await && busy && !streamed {
            reply(
                cx.deps,
                &ReplyMode::Adapter,
                &ack_to,
                "⏳ Queued for the next turn.".to_owned(),
            )
            .await;
        }
        Ok(Outcome::HandedOn)
    }
}
