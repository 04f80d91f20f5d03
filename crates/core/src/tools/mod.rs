//! Tools that live in the gateway because they need what only the gateway
//! has: who is asking (the session's source in the store), the user's own
//! sessions and notes, and the delivery targets.
//!
//! - [`MemoryTool`] (`memory`): notes per user, shown to the model in
//!   every turn of that user's sessions.
//! - [`SessionSearchTool`] (`session_search`): full-text search over the
//!   asking user's own sessions.
//! - [`SendMessageTool`] (`send_message`): posts to this chat or a
//!   platform's home channel through the outbox.
//!
//! A user is a platform and that platform's user id
//! ([`hermod_store::Owner`]); the tools never reach another user's data.
//! Approval answers and grants ([`ApprovalChoice`]) live here too: they
//! are what the gateway adds to the agent's tool approvals.

mod approvals;
mod memory;
mod search;
mod send;

pub use approvals::{Answered, ApprovalAnswerError, ApprovalChoice};
pub use memory::{MemoryLimits, MemoryTool};
pub use search::SessionSearchTool;
pub use send::{DeliveriesLink, SendMessageTool};

pub(crate) use approvals::Grants;
pub(crate) use memory::memory_prompt;

use hermod_agent::ToolContext;
use hermod_model::Source;
use hermod_store::{Owner, Store};

/// Where the tool call's conversation came from, and its user.
async fn asking_user(store: &dyn Store, ctx: &ToolContext) -> Result<(Source, Owner), String> {
    let source = match store.session(&ctx.session_id).await {
        Ok(Some(session)) => session.source,
        Ok(None) => {
            return Err("this conversation is not stored, so it has no user to act for".to_owned());
        }
        Err(e) => return Err(format!("cannot read this conversation: {e}")),
    };
    let owner = Owner::of(&source)
        .ok_or("this conversation names no user, so there is no one to act for")?;
    Ok((source, owner))
}

/// A trimmed, non-empty string argument.
fn text_arg(args: &serde_json::Value, key: &str) -> Option<String> {
    args.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
