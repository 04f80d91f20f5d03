//! An external agent over the Agent Client Protocol (ACP), behind the gateway.
//!
//! [`AcpAgent`] implements hermod's [`hermod_agent::Agent`] by driving any
//! program that speaks ACP (JSON-RPC 2.0, one message per line, on its
//! stdin/stdout): `hermes acp`, `gemini --experimental-acp`,
//! `npx @zed-industries/claude-code-acp`. The client is a thin set of serde
//! types for the few messages hermod needs (`protocol`), not the full SDK.
//!
//! - One process for all sessions (`supervisor`), started on the first
//!   turn, restarted with exponential backoff by the turn after it died;
//!   its stderr is logged under the `hermod::acp` target.
//! - One ACP session per hermod session (`sessions`), remembered in the
//!   store so a restart loads it (`session/load`) when the agent can.
//! - One prompt turn per hermod turn (`turn`): streamed text, hidden
//!   thoughts, tool calls and plans as tool progress, permission requests
//!   as hermod approvals, `session/cancel` on interrupt.

mod agent;
mod config;
mod connection;
mod error;
mod frames;
mod prompt;
mod protocol;
mod sessions;
mod supervisor;
mod turn;

pub use agent::AcpAgent;
pub use config::AcpConfig;
pub use error::AcpError;
pub use protocol::{AgentCapabilities, PromptCapabilities, RpcError};
pub use sessions::setting_key;
