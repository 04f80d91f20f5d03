//! `/steer <text>`: hand text to the running turn; the model sees it after
//! its next tool result. Without a running turn it is an ordinary message.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_model::Content;

pub(crate) struct Steer;

static SPEC: Spec = Spec {
    name: "steer",
    aliases: &[],
    args: "<text>",
    description: "Add guidance to the reply in progress",
    category: Category::Control,
    while_busy: true,
};

#[async_trait]
impl Command for Steer {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let text = cx.args.trim().to_owned();
        if text.is_empty() {
            return Ok(Outcome::Reply("Usage: /steer <guidance>".to_owned()));
        }
        let control = cx.state.running.as_ref().and_then(|r| r.slot.control());
        if control.is_some_and(|c| c.steer(text.clone())) {
            return Ok(Outcome::Reply(
                "⏩ Steered into the current reply.".to_owned(),
            ));
        }
        // Nothing running that can take it: it becomes the next message.
        cx.hand_on(Content::Text(text)).await;
        Ok(Outcome::HandedOn)
    }
}
