//! `/title [name]`: show or set the conversation's title.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Title;

static SPEC: Spec = Spec {
    name: "title",
    aliases: &[],
    args: "[name]",
    description: "Show or set this conversation's title",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Title {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply(
                "No conversation yet: send a message first.".to_owned(),
            ));
        };
        let name = cx.args.trim();
        if name.is_empty() {
            return Ok(Outcome::Reply(match session.title {
                Some(title) => format!("Title: {title}"),
                None => "This conversation has no title. Set one with /title <name>.".to_owned(),
            }));
        }
        let name: String = name.chars().take(200).collect();
        cx.deps.store.set_title(&session.id, &name).await?;
        Ok(Outcome::Reply(format!("📝 Title set: {name}")))
    }
}
