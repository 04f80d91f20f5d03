//! [`McpTool`]: one tool of a server, as a [`hermod_agent::Tool`].

use crate::content::result_text;
use crate::server::{Shared, human};
use hermod_agent::{Tool, ToolContext};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A server's tool under its model-facing name. A call goes to the
/// server's current session, bounded by the server's `timeout`; while the
/// server is down it fails at once, saying when the server is retried.
#[derive(Debug)]
pub struct McpTool {
    server: Arc<Shared>,
    /// `mcp__<server>__<tool>`.
    name: String,
    /// The name the server knows it by.
    remote_name: String,
    description: String,
    parameters: Value,
}

impl McpTool {
    pub(crate) fn new(
        server: Arc<Shared>,
        name: String,
        remote_name: String,
        description: String,
        parameters: Value,
    ) -> Self {
        Self {
            server,
            name,
            remote_name,
            description,
            parameters,
        }
    }

    /// The name the server knows the tool by.
    pub fn remote_name(&self) -> &str {
        &self.remote_name
    }
}

#[async_trait::async_trait]
impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        self.parameters.clone()
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let session = self.server.session()?;
        let arguments = match arguments {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let spec = &self.server.spec;
        let limit = spec.call_timeout;
        // Dropping the call (interrupted, timed out) tells the server to cancel it.
        tokio::select! {
            () = ctx.cancel.cancelled() => Err("the call was interrupted".to_owned()),
            answer = tokio::time::timeout(limit, session.call_tool(&self.remote_name, arguments)) => {
                match answer {
                    Ok(Ok(result)) => result_text(&result),
                    Ok(Err(error)) => Err(format!(
                        "the MCP server '{}' could not run {}: {error}",
                        spec.name, self.remote_name
                    )),
                    Err(_) => Err(format!(
                        "the MCP server '{}' did not finish {} within {} (its timeout); the call was cancelled",
                        spec.name,
                        self.remote_name,
                        human(limit)
                    )),
                }
            }
        }
    }
}
