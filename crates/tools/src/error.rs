//! The one error type of this crate: what can go wrong while building the
//! tools from their config. Errors while a tool runs are text for the model
//! (`Err(String)` from [`hermod_agent::Tool::call`]), not this type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    /// The workspace directory cannot be created or resolved.
    #[error(
        "cannot use {path} as the tools' workspace: {source}; check that the directory can be created and read by hermod"
    )]
    Workspace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configured dangerous-command pattern does not parse.
    #[error("terminal.dangerous_patterns: {pattern:?} is not a valid pattern: {reason}")]
    Pattern { pattern: String, reason: String },
    /// A setting is out of its range.
    #[error("{key}: {reason}")]
    Config { key: &'static str, reason: String },
    /// The HTTP client for web_fetch cannot be built.
    #[error("cannot build web_fetch's HTTP client: {0}")]
    Http(String),
}
