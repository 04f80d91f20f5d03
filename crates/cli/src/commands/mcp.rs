//! `hermod mcp list`: the MCP servers of `mcp_servers:`, connected once
//! here as the gateway would, with each one's state and tools.

use crate::commands::out;
use crate::config;
use crate::home::{self, Create};
use clap::Subcommand;
use hermod_mcp::{McpManager, ServerState};
use std::time::Duration;

/// How long `list` waits for the servers to connect.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum McpAction {
    /// Connect to every configured server and show its state and tools
    /// (exit code 1 when one is not connected).
    List,
}

pub async fn run(action: McpAction) -> anyhow::Result<()> {
    let McpAction::List = action;
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let config = config::load(&home, &process)?;
    if config.tools.mcp.is_empty() {
        out("no MCP servers are configured (mcp_servers: in config.yaml)");
        return Ok(());
    }
    let manager = McpManager::start(config.tools.mcp.clone());
    let settled = tokio::time::timeout(PATIENCE, manager.settled()).await;
    let servers = manager.list();
    manager.shutdown().await;
    let mut down = 0;
    for server in &servers {
        out(format_args!(
            "{} ({}): {}",
            server.name, server.transport, server.state
        ));
        if server.state != ServerState::Connected && server.state != ServerState::Disabled {
            down += 1;
        }
        for tool in &server.tools {
            let description = tool.description.lines().next().unwrap_or_default();
            out(format_args!("  {}  {description}", tool.name));
        }
    }
    if settled.is_err() {
        out(format_args!(
            "(gave up waiting after {} s for the servers still connecting)",
            PATIENCE.as_secs()
        ));
    }
    if down > 0 {
        anyhow::bail!("{down} of {} MCP servers are not connected", servers.len());
    }
    Ok(())
}
