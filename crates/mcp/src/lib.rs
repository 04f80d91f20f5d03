//! Tools from MCP servers (stdio and streamable HTTP), offered to the agent.
//!
//! The `mcp_servers:` section of `config.yaml` ([`McpServersConfig`], as
//! Hermes writes it) is checked into [`ServerSpec`]s ([`resolve_all`]);
//! an [`McpManager`] connects to each in the background, keeps it
//! connected (restarting it with backoff when its process exits or its
//! connection breaks) and offers its tools, named `mcp__<server>__<tool>`,
//! through a [`hermod_agent::ToolSource`]: tools show up when their server
//! is up and are withdrawn while it is down, without rebuilding the agent.
//!
//! ```no_run
//! # async fn wire(servers: hermod_mcp::McpServersConfig, env: hermod_model::EnvVars) -> Result<(), hermod_mcp::McpError> {
//! let manager = hermod_mcp::McpManager::start(hermod_mcp::resolve_all(&servers, &env)?);
//! let tools = hermod_agent::ToolRegistry::new().with_source(manager.tool_source());
//! // ... the agent runs; `/reload-mcp` calls `manager.reload()` ...
//! manager.shutdown().await;
//! # drop(tools);
//! # Ok(())
//! # }
//! ```

mod config;
mod content;
mod error;
#[cfg(test)]
mod fake;
mod listing;
mod manager;
mod naming;
mod server;
#[cfg(test)]
mod supervision_tests;
mod tool;
mod transport;

pub use config::{
    Arg, Args, DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, McpServerConfig, McpServersConfig,
    Names, ServerSpec, ToolFilter, ToolsConfig, Transport, resolve_all,
};
pub use error::McpError;
pub use listing::{ReloadSummary, ServerListing, ServerState, ToolListing};
pub use manager::{Changes, McpManager, McpOptions};
pub use naming::tool_name;
pub use server::Backoff;
pub use tool::McpTool;
