//! `/reasoning [level]`: how hard a reasoning model thinks in this
//! conversation (OpenAI's `reasoning_effort`, Hermes' levels). Alone, it
//! shows the current level.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::config::REASONING_LEVELS;
use crate::error::CoreError;
use crate::session::context::presets;
use async_trait::async_trait;

pub(crate) struct Reasoning;

static SPEC: Spec = Spec {
    name: "reasoning",
    aliases: &[],
    args: "[none|minimal|low|medium|high|xhigh|default]",
    description: "Show or set the reasoning effort of reasoning models in this conversation",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Reasoning {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply(
                "No conversation yet: send a message first, then choose its reasoning effort."
                    .to_owned(),
            ));
        };
        let store = cx.deps.store.as_ref();
        let configured = cx.deps.context.config.reasoning_effort.clone();
        let default = || match &configured {
            Some(level) => format!("{level} (the configured default)"),
            None => "the model's own default (none is sent)".to_owned(),
        };
        let wanted = cx.args.trim().to_lowercase();
        if wanted.is_empty() {
            let current = presets::reasoning(store, &session.id)
                .await?
                .unwrap_or_else(default);
            return Ok(Outcome::Reply(format!(
                "🧠 Reasoning effort: {current}. Set it with /reasoning {}.",
                SPEC.args.trim_matches(['[', ']'])
            )));
        }
        let now = cx.deps.clock.now_ms();
        if matches!(wanted.as_str(), "default" | "reset") {
            presets::set_reasoning(store, &session.id, None, now).await?;
            return Ok(Outcome::Reply(format!(
                "🧠 Reasoning effort: {}.",
                default()
            )));
        }
        if !REASONING_LEVELS.contains(&wanted.as_str()) {
            return Ok(Outcome::Reply(format!(
                "Unknown reasoning effort “{wanted}”. Use one of {}, or default.",
                REASONING_LEVELS.join(", ")
            )));
        }
        presets::set_reasoning(store, &session.id, Some(&wanted), now).await?;
        Ok(Outcome::Reply(format!(
            "🧠 Reasoning effort for this conversation: {wanted}. A model without reasoning may \
             refuse it; /reasoning default stops sending it."
        )))
    }
}
