//! `/retry`: take back the last exchange and send its message again.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_model::{Content, Role};

pub(crate) struct Retry;

static SPEC: Spec = Spec {
    name: "retry",
    aliases: &[],
    args: "",
    description: "Answer your last message again",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Retry {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply("Nothing to retry.".to_owned()));
        };
        let removed = cx.deps.store.undo_exchanges(&session.id, 1).await?;
        let Some(last) = removed.into_iter().find(|m| m.message.role == Role::User) else {
            return Ok(Outcome::Reply("Nothing to retry.".to_owned()));
        };
        let content = last
            .message
            .content
            .unwrap_or_else(|| Content::Text(String::new()));
        cx.hand_on(content).await;
        Ok(Outcome::HandedOn)
    }
}
