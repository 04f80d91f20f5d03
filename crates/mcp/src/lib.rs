//! Tools from MCP servers (stdio and streamable HTTP), offered to the agent.
