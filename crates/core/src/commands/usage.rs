//! `/usage`: token counts of this conversation.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Usage;

static SPEC: Spec = Spec {
    name: "usage",
    aliases: &[],
    args: "",
    description: "Show the tokens this conversation used",
    category: Category::Info,
    while_busy: false,
};

#[async_trait]
impl Command for Usage {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        Ok(Outcome::Reply(match cx.session().await? {
            Some(s) => format!(
                "Tokens: {} prompt + {} completion = {} total, over {} messages.",
                s.prompt_tokens,
                s.completion_tokens,
                s.prompt_tokens + s.completion_tokens,
                s.message_count
            ),
            None => "No conversation yet.".to_owned(),
        }))
    }
}
