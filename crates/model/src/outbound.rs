//! What core asks an adapter to send, and the receipt it gets back.

use serde::{Deserialize, Serialize};

/// Where a message goes: a chat and optionally a thread in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatTarget {
    pub chat_id: String,
    pub thread_id: Option<String>,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub target: ChatTarget,
    /// Markdown text; the adapter renders it in its platform's dialect.
    pub text: String,
    /// The platform message this one replies to, when threading replies.
    pub reply_to: Option<String>,
    /// Files to send with the text (the text becomes their caption where
    /// the platform has captions).
    pub attachments: Vec<crate::inbound::Attachment>,
    /// The same key on a repeated send asks the platform to create the
    /// message only once (see `Capabilities::idempotency_window`); at most
    /// 25 ASCII characters. Platforms without such a feature ignore it.
    pub idempotency_key: Option<String>,
}

impl Outbound {
    /// A text message to `target`, with nothing else set.
    pub fn text(target: ChatTarget, text: impl Into<String>) -> Self {
        Self {
            target,
            text: text.into(),
            reply_to: None,
            attachments: Vec::new(),
            idempotency_key: None,
        }
    }
}

/// The platform ids of every message a send created (a long text may
/// become several messages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub message_ids: Vec<String>,
}

/// One message already on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    pub target: ChatTarget,
    pub message_id: String,
}

/// Replace the text of a message already sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub message: MessageRef,
    pub text: String,
}
