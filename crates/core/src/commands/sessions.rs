//! `/sessions`: this chat's recent conversations.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_store::SessionRecord;

pub(crate) struct Sessions;

static SPEC: Spec = Spec {
    name: "sessions",
    aliases: &[],
    args: "",
    description: "List this chat's recent conversations",
    category: Category::Session,
    while_busy: false,
};

/// One line per session, numbered as `/resume N` expects.
pub(crate) fn render(sessions: &[SessionRecord], current: Option<&str>) -> String {
    let mut lines = vec!["Recent conversations:".to_owned()];
    for (i, s) in sessions.iter().enumerate() {
        let title = s.title.as_deref().unwrap_or("(untitled)");
        let marker = if Some(s.id.as_str()) == current {
            " ← current"
        } else {
            ""
        };
        lines.push(format!(
            "{}. {title} — {} messages [{}]{marker}",
            i + 1,
            s.message_count,
            s.id
        ));
    }
    lines.push("Continue one with /resume <number or title>.".to_owned());
    lines.join("\n")
}

#[async_trait]
impl Command for Sessions {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let sessions = cx.deps.store.sessions_for_key(cx.key, 10).await?;
        if sessions.is_empty() {
            return Ok(Outcome::Reply("No conversations yet.".to_owned()));
        }
        let current = cx.session().await?.map(|s| s.id);
        Ok(Outcome::Reply(render(
            &sessions,
            current.as_ref().map(|id| id.as_str()),
        )))
    }
}
