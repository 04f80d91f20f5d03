//! [`McpError`]: what can go wrong configuring MCP servers.
//!
//! Failures of a running server (it does not start, its connection
//! breaks, a call times out) are not errors of this crate's API: they are
//! the server's state in [`crate::ServerListing`] and the text of the
//! failed tool call, since the gateway keeps running either way.

/// A problem with the `mcp_servers:` configuration.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// One server's entry is wrong.
    #[error("mcp_servers.{server}: {message}")]
    Config { server: String, message: String },
    /// Several entries are wrong: one line each.
    #[error("{0}")]
    Invalid(String),
}
