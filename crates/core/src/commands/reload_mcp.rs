//! `/reload-mcp`: reconnects every MCP server and lists its tools again,
//! answering with what is up and what is not. For an operator who changed
//! a server or wants a broken one retried now rather than at its next
//! backoff.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use tracing::info;

pub(crate) struct ReloadMcp;

static SPEC: Spec = Spec {
    name: "reload-mcp",
    aliases: &["reload_mcp"],
    args: "",
    description: "Reconnect the MCP tool servers and list their tools again",
    category: Category::Info,
    while_busy: false,
};

#[async_trait]
impl Command for ReloadMcp {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let Some(reloader) = &cx.deps.tools_reload else {
            return Ok(Outcome::Reply(
                "MCP is not configured: there are no MCP servers to reload (mcp_servers: in \
                 config.yaml)."
                    .to_owned(),
            ));
        };
        let source = &cx.job().event.source;
        info!(platform = %source.platform, user = ?source.user_id, "MCP reload requested from a chat");
        Ok(Outcome::Reply(match reloader.reload().await {
            Ok(summary) => format!("🔄 {summary}"),
            Err(reason) => format!("⚠️ The MCP servers could not be reloaded: {reason}"),
        }))
    }
}
