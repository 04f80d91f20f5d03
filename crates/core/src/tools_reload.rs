//! [`ToolsReload`]: what `/reload-mcp` asks to reconnect the agent's tool
//! servers. Core knows nothing of how the tools are served; the binary
//! hands the gateway whatever reconnects them.

use async_trait::async_trait;

/// Reconnects the agent's external tool servers and lists their tools
/// again (an operator's `/reload-mcp`).
#[async_trait]
pub trait ToolsReload: Send + Sync {
    /// Reconnects every server and waits for each to connect or fail.
    /// `Ok` is a summary for the operator (servers up and down, tool
    /// counts); `Err` says why nothing could be reloaded.
    async fn reload(&self) -> Result<String, String>;
}
