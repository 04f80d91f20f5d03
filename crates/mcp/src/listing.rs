//! What `hermod mcp list` and `/reload-mcp` show: each server, its state
//! and its tools.

use crate::server::human;
use std::fmt;
use std::time::Duration;

/// One configured server as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerListing {
    /// Its name in `mcp_servers:`.
    pub name: String,
    /// `stdio` or `http`.
    pub transport: &'static str,
    pub state: ServerState,
    /// The tools of its last listing (offered only while connected).
    pub tools: Vec<ToolListing>,
}

/// Where a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// Up; its tools are offered.
    Connected,
    /// Starting or reconnecting.
    Connecting,
    /// The last attempt failed or the connection broke; retried in `retry_in`.
    Failed { error: String, retry_in: Duration },
    /// `enabled: false`.
    Disabled,
    /// The manager shut down.
    Stopped,
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerState::Connected => f.write_str("connected"),
            ServerState::Connecting => f.write_str("connecting"),
            ServerState::Failed { error, retry_in } => {
                write!(f, "failed: {error} (retried in {})", human(*retry_in))
            }
            ServerState::Disabled => f.write_str("disabled"),
            ServerState::Stopped => f.write_str("stopped"),
        }
    }
}

/// One tool of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolListing {
    /// The model's name for it (`mcp__<server>__<tool>`).
    pub name: String,
    /// The server's own name for it.
    pub remote_name: String,
    pub description: String,
}

/// What a reload found: every server after its reconnection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    pub servers: Vec<ServerListing>,
}

impl ReloadSummary {
    /// Servers connected now.
    pub fn connected(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.state == ServerState::Connected)
            .count()
    }

    /// Tools offered now.
    pub fn tools(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.state == ServerState::Connected)
            .map(|s| s.tools.len())
            .sum()
    }
}

impl fmt::Display for ReloadSummary {
    /// `MCP servers reloaded: 1 of 2 connected, 3 tools.` and a line per
    /// server.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enabled = self
            .servers
            .iter()
            .filter(|s| s.state != ServerState::Disabled)
            .count();
        write!(
            f,
            "MCP servers reloaded: {} of {enabled} connected, {} tool{}.",
            self.connected(),
            self.tools(),
            if self.tools() == 1 { "" } else { "s" }
        )?;
        for server in &self.servers {
            write!(
                f,
                "\n• {} ({}): {}",
                server.name, server.transport, server.state
            )?;
            if server.state == ServerState::Connected {
                write!(f, ", {} tools", server.tools.len())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_what_is_up() {
        let tool = ToolListing {
            name: "mcp__a__x".into(),
            remote_name: "x".into(),
            description: String::new(),
        };
        let summary = ReloadSummary {
            servers: vec![
                ServerListing {
                    name: "a".into(),
                    transport: "stdio",
                    state: ServerState::Connected,
                    tools: vec![tool.clone(), tool.clone()],
                },
                ServerListing {
                    name: "b".into(),
                    transport: "http",
                    state: ServerState::Failed {
                        error: "connection refused".into(),
                        retry_in: Duration::from_secs(4),
                    },
                    tools: vec![tool],
                },
                ServerListing {
                    name: "c".into(),
                    transport: "http",
                    state: ServerState::Disabled,
                    tools: vec![],
                },
            ],
        };
        assert_eq!(
            summary.to_string(),
            "MCP servers reloaded: 1 of 2 connected, 2 tools.\n\
             • a (stdio): connected, 2 tools\n\
             • b (http): failed: connection refused (retried in 4 s)\n\
             • c (http): disabled"
        );
    }
}
