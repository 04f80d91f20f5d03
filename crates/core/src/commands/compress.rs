//! `/compress [focus]` (Hermes' alias `/compact`): summarize this
//! conversation's older messages now, keeping a topic in detail if asked.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::session::context::Compressed;
use async_trait::async_trait;

pub(crate) struct Compress;

static SPEC: Spec = Spec {
    name: "compress",
    aliases: &["compact"],
    args: "[focus topic]",
    description: "Summarize the older messages now to free context; a topic keeps its details",
    category: Category::Session,
    while_busy: false,
};

#[async_trait]
impl Command for Compress {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply(
                "No conversation yet: there is nothing to compress.".to_owned(),
            ));
        };
        let focus = cx.args.trim();
        let focus = (!focus.is_empty()).then_some(focus);
        let deps = cx.deps;
        let text = match deps.context.compress_now(deps, &session, focus).await? {
            Compressed::Done {
                before,
                after,
                summarized,
            } => {
                let focused =
                    focus.map_or_else(String::new, |f| format!(", keeping “{f}” in detail"));
                format!(
                    "🗜️ Compressed {summarized} older messages into a summary{focused}: the \
                     conversation went from ~{before} to ~{after} tokens. The full history stays stored."
                )
            }
            Compressed::NothingOlder => {
                "Nothing to compress yet: every message is among the recent \
                 ones kept as they are."
                    .to_owned()
            }
            Compressed::Failed(why) => format!(
                "⚠️ Could not compress the conversation: {why}. It goes on as it is; try /compress \
                 again later."
            ),
        };
        Ok(Outcome::Reply(text))
    }
}
