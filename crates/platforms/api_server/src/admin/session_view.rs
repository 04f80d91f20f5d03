//! Sessions and their messages as `/api/sessions` answers them: Hermes'
//! field names (`source`, `started_at`, `last_active`, `input_tokens`,
//! `tool_name`, epoch-second times) plus what hermod adds (the chat, the
//! session key, whether a stored reply is partial).

use super::seconds;
use hermod_model::{Content, ContentPart, Role};
use hermod_store::{SearchHit, SessionRecord, StoredMessage};
use serde_json::{Value, json};

/// The end of a stored reply that the model's stream cut short, as core
/// stores it.
const CUT_OFF_MARK: &str = "[reply cut off:";
/// The end of a stored reply an interrupt stopped, as core stores it.
const INTERRUPTED_MARK: &str = "[reply interrupted:";

/// The most characters of the first user message a list shows (Hermes').
const PREVIEW_CHARS: usize = 60;

/// One session. `title` is `null` when unset or cleared; `model` is the
/// session's own model (`/model`), `null` when it uses the default;
/// `preview` the start of its first user message (`""` when none).
pub(super) fn session(record: &SessionRecord, preview: &str) -> Value {
    let source = &record.source;
    json!({
        "id": record.id.as_str(),
        "source": record.platform.as_str(),
        "platform": record.platform.as_str(),
        "session_key": record.key.as_str(),
        "chat_type": source.chat_type.as_str(),
        "chat_id": source.chat_id,
        "chat_name": source.chat_name,
        "thread_id": source.thread_id,
        "user_id": source.participant(),
        "user_name": source.user_name,
        "title": record.title.as_deref().filter(|t| !t.is_empty()),
        "model": record.model_override,
        "started_at": seconds(record.created_at_ms),
        "last_active": seconds(record.updated_at_ms),
        "ended_at": record.ended_at_ms.map(seconds),
        "end_reason": record.end_reason,
        "message_count": record.message_count,
        "input_tokens": record.prompt_tokens,
        "output_tokens": record.completion_tokens,
        "preview": preview,
    })
}

/// The start of the first user message with text, as Hermes shows it in
/// lists: whitespace runs made one space, at most [`PREVIEW_CHARS`]
/// characters, `...` when cut.
pub(super) fn preview(messages: &[StoredMessage]) -> String {
    let Some(text) = messages
        .iter()
        .filter(|m| m.message.role == Role::User)
        .map(|m| m.message.text())
        .find(|t| !t.trim().is_empty())
    else {
        return String::new();
    };
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut shown: String = flat.chars().take(PREVIEW_CHARS).collect();
    if flat.chars().count() > PREVIEW_CHARS {
        shown.push_str("...");
    }
    shown
}

/// One session found by a search, with the messages that matched (best
/// first).
pub(super) fn found(record: &SessionRecord, preview: &str, hits: &[&SearchHit]) -> Value {
    let mut value = session(record, preview);
    value["matches"] = hits
        .iter()
        .map(|hit| {
            json!({
                "message_id": hit.message_id,
                "role": hit.role.as_str(),
                "snippet": hit.snippet,
                "timestamp": seconds(hit.at_ms),
            })
        })
        .collect();
    value
}

/// One stored message. `content` is its text; images are counted, never
/// linked (a platform's file URL may carry its bot token). A reply stored
/// cut off or interrupted is `partial`, with `finish_reason` saying which.
pub(super) fn message(stored: &StoredMessage) -> Value {
    let message = &stored.message;
    let text = message.text();
    let finish_reason = partial_reason(&text);
    let images = match &message.content {
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter(|p| matches!(p, ContentPart::ImageUrl { .. }))
            .count(),
        _ => 0,
    };
    let tool_calls = if message.tool_calls.is_empty() {
        Value::Null
    } else {
        json!(message.tool_calls)
    };
    json!({
        "id": stored.id,
        "session_id": stored.session.as_str(),
        "role": message.role.as_str(),
        "content": text,
        "tool_calls": tool_calls,
        "tool_call_id": message.tool_call_id,
        "tool_name": message.name,
        "timestamp": seconds(stored.at_ms),
        "images": images,
        "partial": finish_reason.is_some(),
        "finish_reason": finish_reason,
    })
}

/// `incomplete` or `interrupted` when the stored text ends with core's
/// mark of a partial reply (the mark is its last line).
fn partial_reason(text: &str) -> Option<&'static str> {
    let last_line = text.trim_end().rsplit('\n').next().unwrap_or_default();
    if last_line.starts_with(CUT_OFF_MARK) {
        Some("incomplete")
    } else if last_line.starts_with(INTERRUPTED_MARK) {
        Some("interrupted")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{ChatMessage, ImageUrl, SessionId, ToolCall};

    fn stored(message: ChatMessage) -> StoredMessage {
        StoredMessage {
            id: 7,
            session: SessionId::parse("s1").unwrap(),
            message,
            at_ms: 1_500,
            platform_message_id: None,
        }
    }

    #[test]
    fn partial_replies_are_marked_by_their_last_line() {
        let cut =
            "Half an answer\n\n[reply cut off: the model's answer ended before it was complete]";
        let stopped = "Half\n[reply interrupted: it was stopped before it was complete]";
        assert_eq!(partial_reason(cut), Some("incomplete"));
        assert_eq!(partial_reason(stopped), Some("interrupted"));
        assert_eq!(partial_reason("a whole answer"), None);
        assert_eq!(
            partial_reason("[reply interrupted: quoted]\nthen more text"),
            None
        );
        let value = message(&stored(ChatMessage::assistant(cut)));
        assert_eq!(value["partial"], true);
        assert_eq!(value["finish_reason"], "incomplete");
        assert_eq!(value["timestamp"], 1.5);
    }

    #[test]
    fn the_preview_is_the_first_user_words() {
        let long = format!("plan\n  a trip {}", "x".repeat(80));
        let messages = [
            stored(ChatMessage::assistant("hello, I am the agent")),
            stored(ChatMessage::user(" ")),
            stored(ChatMessage::user(long.as_str())),
            stored(ChatMessage::user("later")),
        ];
        let shown = preview(&messages);
        assert!(shown.starts_with("plan a trip xx"), "{shown}");
        assert!(shown.ends_with("..."));
        assert_eq!(shown.chars().count(), PREVIEW_CHARS + 3);
        assert_eq!(preview(&messages[3..]), "later");
        assert_eq!(preview(&[]), "");
    }

    #[test]
    fn images_are_counted_not_linked_and_tool_calls_kept() {
        let url = "https://api.example.org/file/bot123:SECRET/photo.jpg";
        let user = ChatMessage::user(Content::Parts(vec![
            ContentPart::Text {
                text: "look".into(),
            },
            ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: url.into(),
                    detail: None,
                },
            },
        ]));
        let value = message(&stored(user));
        assert_eq!(value["content"], "look");
        assert_eq!(value["images"], 1);
        assert!(!value.to_string().contains("SECRET"), "{value}");

        let mut call = ChatMessage::assistant("");
        call.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "terminal".into(),
            arguments: "{\"command\":\"ls\"}".into(),
        });
        let value = message(&stored(call));
        assert_eq!(value["tool_calls"][0]["function"]["name"], "terminal");
        assert_eq!(value["partial"], false);
        assert!(value["finish_reason"].is_null());
    }
}
