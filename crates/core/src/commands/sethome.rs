//! `/sethome`: make this chat the platform's home channel, where scheduled
//! results are delivered. Persisted in the store.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_model::ChatTarget;

pub(crate) struct SetHome;

static SPEC: Spec = Spec {
    name: "sethome",
    aliases: &["set-home"],
    args: "",
    description: "Make this chat the home channel for scheduled results",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for SetHome {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        if cx.streamed() {
            return Ok(Outcome::Reply(
                "The HTTP API has no chat to deliver to; run /sethome in a chat.".to_owned(),
            ));
        }
        let source = &cx.job().event.source;
        let Some(chat_id) = source.chat_id.clone() else {
            return Ok(Outcome::Reply(
                "This chat has no id to deliver to.".to_owned(),
            ));
        };
        let target = ChatTarget {
            chat_id,
            thread_id: source.thread_id.clone(),
        };
        let value = serde_json::to_string(&target).map_err(|e| CoreError::Store(e.to_string()))?;
        let platform = source.platform.clone();
        cx.deps
            .store
            .set_setting(
                &crate::delivery::home_key(&platform),
                &value,
                cx.deps.clock.now_ms(),
            )
            .await?;
        Ok(Outcome::Reply(format!(
            "🏠 This chat is now the home channel for {platform}."
        )))
    }
}
