//! `/personality [name|none]`: a system-prompt preset for this
//! conversation (Hermes' built-ins and `agent.personalities`). Alone, it
//! lists them and shows the current one.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::config::is_neutral_personality;
use crate::error::CoreError;
use crate::session::context::presets;
use async_trait::async_trait;

pub(crate) struct Personality;

static SPEC: Spec = Spec {
    name: "personality",
    aliases: &[],
    args: "[name|none]",
    description: "Choose a personality (a system prompt preset) for this conversation, or list them",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Personality {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply(
                "No conversation yet: send a message first, then choose its personality."
                    .to_owned(),
            ));
        };
        let store = cx.deps.store.as_ref();
        let all = cx.deps.context.config.personalities();
        let wanted = cx.args.trim().to_lowercase();
        if wanted.is_empty() {
            let current = presets::personality(store, &session.id)
                .await?
                .filter(|name| all.contains_key(name));
            let mut lines = vec![format!(
                "🎭 Personality: {}",
                current.as_deref().unwrap_or("none")
            )];
            lines.extend(
                all.iter()
                    .map(|(name, p)| format!("• {name} — {}", p.describe())),
            );
            lines.push(
                "Choose one with /personality <name>; /personality none clears it.".to_owned(),
            );
            return Ok(Outcome::Reply(lines.join("\n")));
        }
        let now = cx.deps.clock.now_ms();
        if is_neutral_personality(&wanted) {
            presets::set_personality(store, &session.id, None, now).await?;
            return Ok(Outcome::Reply(
                "🎭 No personality: the configured system prompt alone.".to_owned(),
            ));
        }
        if !all.contains_key(&wanted) {
            let names: Vec<&str> = all.keys().map(String::as_str).collect();
            return Ok(Outcome::Reply(format!(
                "Unknown personality “{wanted}”. Available: none, {}.",
                names.join(", ")
            )));
        }
        presets::set_personality(store, &session.id, Some(&wanted), now).await?;
        Ok(Outcome::Reply(format!(
            "🎭 This conversation now has the {wanted} personality."
        )))
    }
}
