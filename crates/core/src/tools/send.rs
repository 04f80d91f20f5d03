//! The `send_message` tool: the agent posts a message somewhere other than
//! its reply ("post the summary to the team channel").
//!
//! Messages go through the gateway's delivery targets and the outbox, as
//! scheduled jobs' results do, so a post is durable and made once (its key
//! is the tool call's). Where it may go is the operator's choice, not the
//! user's: this chat (`origin`), a running platform's home channel
//! (`<platform>`, set in the configuration or by an admin's `/sethome`),
//! or an explicit `<platform>:<chat_id>[:<thread_id>]` only when that is
//! this chat or a home channel. Any other chat is refused, so a user can
//! never make the bot post into chats the operator did not pick; `local`
//! (a file on the gateway's machine) is refused too.

use super::{asking_user, text_arg};
use crate::Deliveries;
use async_trait::async_trait;
use hermod_agent::{Tool, ToolContext};
use hermod_model::{DeliveryTarget, Source};
use hermod_store::Store;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

/// The gateway's deliveries, connected once the gateway is built (the
/// agent and its tools are built before it). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct DeliveriesLink(Arc<OnceLock<Deliveries>>);

impl DeliveriesLink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects the gateway's deliveries ([`crate::Gateway::deliveries`]);
    /// a second call changes nothing.
    pub fn connect(&self, deliveries: Deliveries) {
        let _ = self.0.set(deliveries);
    }

    fn get(&self) -> Option<&Deliveries> {
        self.0.get()
    }
}

/// The target forms, for the model.
const TARGETS: &str = "`origin` (this chat), a platform name such as the one this chat is on \
                       (its home channel), or `<platform>:<chat_id>[:<thread_id>]` naming this \
                       chat or a home channel";

/// The `send_message` tool.
#[derive(Clone)]
pub struct SendMessageTool {
    store: Arc<dyn Store>,
    deliveries: DeliveriesLink,
    description: String,
}

impl std::fmt::Debug for SendMessageTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMessageTool").finish_non_exhaustive()
    }
}

impl SendMessageTool {
    pub fn new(store: Arc<dyn Store>, deliveries: DeliveriesLink) -> Self {
        let description = format!(
            "Post a message to a chat, apart from your reply: to {TARGETS}. Only this chat and \
             the home channels the operator set up are allowed. Returns where it was \
             delivered, or why not (a platform that is not running, no home channel)."
        );
        Self {
            store,
            deliveries,
            description,
        }
    }

    /// Whether `target` is somewhere this user may post, by the rule in
    /// the module docs.
    async fn allowed(
        &self,
        deliveries: &Deliveries,
        target: &DeliveryTarget,
        origin: &Source,
    ) -> Result<(), String> {
        match target {
            DeliveryTarget::Origin if origin.chat_id.is_none() => {
                Err("this conversation has no chat to post to; name a home channel".to_owned())
            }
            DeliveryTarget::Origin | DeliveryTarget::Home { .. } => Ok(()),
            DeliveryTarget::Local => {
                Err("send_message posts to chats only; `local` is not allowed".to_owned())
            }
            DeliveryTarget::Chat {
                platform, chat_id, ..
            } => {
                if *platform == origin.platform && Some(chat_id) == origin.chat_id.as_ref() {
                    return Ok(());
                }
                match deliveries.home_channel(platform).await {
                    Ok(home) if &home.chat_id == chat_id => Ok(()),
                    _ => Err(format!(
                        "{platform}:{chat_id} is neither this chat nor a home channel; \
                         send_message may post only to {TARGETS}"
                    )),
                }
            }
        }
    }
}

#[async_trait]
impl Tool for SendMessageTool {
    fn name(&self) -> &str {
        "send_message"
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "target": {"type": "string", "description": format!("where: {TARGETS}")},
                "message": {"type": "string", "description": "the text to post"}
            },
            "required": ["target", "message"]
        })
    }

    async fn call(&self, args: Value, ctx: ToolContext) -> Result<String, String> {
        let raw = text_arg(&args, "target")
            .ok_or_else(|| format!("send_message needs a target: {TARGETS}"))?;
        let message = text_arg(&args, "message").ok_or("send_message needs a message")?;
        let Some(deliveries) = self.deliveries.get() else {
            return Err("messages cannot be sent yet: the gateway is still starting".into());
        };
        let (origin, _) = asking_user(self.store.as_ref(), &ctx).await?;
        let target =
            DeliveryTarget::parse(&raw, |_| true).map_err(|e| format!("{e}; use {TARGETS}"))?;
        self.allowed(deliveries, &target, &origin).await?;
        // One post per tool call, even when the call runs again after a restart.
        let key = format!("send_message:{}:{}", ctx.session_id, ctx.call_id);
        let receipt = deliveries
            .deliver(&target, Some(&origin), &message, &key)
            .await
            .map_err(|e| e.to_string())?;
        Ok(json!({
            "sent_to": receipt.target,
            "message_ids": receipt.message_ids,
            "truncated": receipt.truncated,
        })
        .to_string())
    }
}
