//! What tests send through a messenger ([`outbound`], [`edit`]) and how
//! they read what a fake shows ([`finished`], [`texts`]), for any fake's
//! message type.

use hermod_core::StreamingConfig;
use hermod_model::{ChatTarget, Edit, MessageRef, Outbound};
use std::fmt::Display;

/// The top level of a chat (no thread).
pub fn target(chat_id: impl Display) -> ChatTarget {
    ChatTarget {
        chat_id: chat_id.to_string(),
        thread_id: None,
    }
}

/// A text message to `chat_id`, replying to nothing, without attachments.
pub fn outbound(chat_id: impl Display, text: &str) -> Outbound {
    Outbound {
        target: target(chat_id),
        text: text.to_owned(),
        reply_to: None,
        attachments: Vec::new(),
        idempotency_key: None,
    }
}

/// Message `message_id` in `chat_id`.
pub fn message_ref(chat_id: impl Display, message_id: &str) -> MessageRef {
    MessageRef {
        target: target(chat_id),
        message_id: message_id.to_owned(),
    }
}

/// Message `message_id` in `chat_id` to show `text`.
pub fn edit(chat_id: impl Display, message_id: &str, text: &str) -> Edit {
    Edit {
        message: message_ref(chat_id, message_id),
        text: text.to_owned(),
    }
}

/// A predicate for a fake's `wait_for`: at least `n` messages, and none
/// still shows the streaming cursor (every reply finished). `text` reads
/// what a message shows now.
pub fn finished<M>(n: usize, text: impl Fn(&M) -> &str) -> impl Fn(&[M]) -> bool {
    let cursor = StreamingConfig::default().cursor.trim().to_owned();
    move |messages| messages.len() >= n && messages.iter().all(|m| !text(m).contains(&cursor))
}

/// What each message shows now, read by `text`.
pub fn texts<M>(messages: &[M], text: impl Fn(&M) -> &str) -> Vec<String> {
    messages.iter().map(|m| text(m).to_owned()).collect()
}
