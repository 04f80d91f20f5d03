//! `/restart`: drains the gateway and ends its process with "restart
//! requested", which the binary turns into exit code 75 so the service
//! manager starts it again. The chat that asked is told when it is back.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use tracing::info;

pub(crate) struct Restart;

static SPEC: Spec = Spec {
    name: "restart",
    aliases: &[],
    args: "",
    description: "Restart the gateway (running replies finish first, or continue after it)",
    category: Category::Control,
    while_busy: true,
};

#[async_trait]
impl Command for Restart {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let event = &cx.job().event;
        info!(platform = %event.source.platform, user = ?event.source.user_id, "restart requested from a chat");
        crate::resume::remember_restart_chat(cx.deps, event).await;
        cx.deps.restart.cancel();
        Ok(Outcome::Reply(
            "♻️ Restarting the gateway. I'll tell you here when it is back.".to_owned(),
        ))
    }
}
