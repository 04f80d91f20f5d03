//! `/whoami`: platform, scope, user id, tier and the commands the user may run.

use super::{COMMANDS, Category, Command, Cx, Outcome, Spec};
use crate::access::Tier;
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct WhoAmI;

static SPEC: Spec = Spec {
    name: "whoami",
    aliases: &[],
    args: "",
    description: "Show who you are to the gateway and what you may run",
    category: Category::Info,
    while_busy: true,
};

#[async_trait]
impl Command for WhoAmI {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let source = &cx.job().event.source;
        let scope = if source.chat_type.is_dm() {
            "direct message"
        } else {
            "group"
        };
        let user = source.participant().unwrap_or("(unknown)");
        let runnable = match cx.tier {
            Tier::Unrestricted | Tier::Admin => "all".to_owned(),
            Tier::User(_) => COMMANDS
                .iter()
                .map(|c| c.spec().name)
                .filter(|n| cx.tier.may_run(n))
                .map(|n| format!("/{n}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        Ok(Outcome::Reply(format!(
            "Platform: {}\nScope: {scope}\nUser: {user}\nTier: {}\nCommands: {runnable}",
            source.platform,
            cx.tier.label()
        )))
    }
}
