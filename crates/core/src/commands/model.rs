//! `/model [name]`: show or switch the model of this conversation.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Model;

static SPEC: Spec = Spec {
    name: "model",
    aliases: &[],
    args: "[name|default]",
    description: "Show or switch the model for this conversation",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Model {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply(
                "No conversation yet: send a message first, then choose its model.".to_owned(),
            ));
        };
        let name = cx.args.trim();
        if name.is_empty() {
            return Ok(Outcome::Reply(format!(
                "Model: {}",
                cx.model_of(Some(&session))
            )));
        }
        if name.chars().any(char::is_whitespace) || name.len() > 200 {
            return Ok(Outcome::Reply(
                "A model name is one word, such as gpt-4o-mini.".to_owned(),
            ));
        }
        if matches!(name, "default" | "reset") {
            cx.deps.store.set_model_override(&session.id, None).await?;
            return Ok(Outcome::Reply(
                "🤖 Back to the configured default model.".to_owned(),
            ));
        }
        cx.deps
            .store
            .set_model_override(&session.id, Some(name))
            .await?;
        Ok(Outcome::Reply(format!(
            "🤖 This conversation now uses {name}."
        )))
    }
}
