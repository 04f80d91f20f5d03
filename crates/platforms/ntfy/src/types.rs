//! ntfy's message JSON and the pure conversions around it: a line of the
//! JSON stream → what the adapter does with it, and a reply → the
//! headers of a publish.
//!
//! Every line of `GET /<topic>/json` is one object with `id`, `time`,
//! `event` (`open`, `keepalive`, `message`, `poll_request`) and `topic`;
//! `message` events add `message`, `title`, `tags`, `priority`,
//! `attachment`, `click`... The publish answer is the same object for the
//! message created.

use crate::BOT_TAG;
use hermod_model::{ChatType, InboundEvent, Source};
use serde::Deserialize;

/// One object of the JSON stream (or the answer to a publish).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Event {
    pub id: String,
    #[serde(default)]
    pub time: i64,
    pub event: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attachment: Option<Attachment>,
}

/// A file attached to a message (uploaded to the server, or an external
/// URL).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Attachment {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    /// The MIME type ntfy detected.
    #[serde(default, rename = "type")]
    pub mime: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

/// What a line of the stream asks of the adapter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Line {
    /// `open`: the subscription is established.
    Open,
    /// `keepalive`: the connection is alive (the read timeout starts over).
    Keepalive,
    /// A user's message: submit it under `key`, then move the cursor to `id`.
    Message {
        id: String,
        key: String,
        event: Box<InboundEvent>,
        /// The file attached to it, to download if it is on the server.
        attachment: Option<Attachment>,
    },
    /// A message the adapter does not answer (its own, an empty one): the
    /// cursor moves past it all the same.
    Skip { id: String, reason: &'static str },
    /// An event kind without a message (`poll_request`, or a newer one).
    Other(String),
    /// A line that is not an event.
    Malformed(String),
}

/// Reads one line of the stream. `own` says whether an id is one of a
/// message this adapter published (a second way, beside [`BOT_TAG`], to
/// know them).
pub(crate) fn read_line(line: &str, own: impl Fn(&str) -> bool) -> Line {
    let event: Event = match serde_json::from_str(line) {
        Ok(event) => event,
        Err(e) => return Line::Malformed(e.to_string()),
    };
    match event.event.as_str() {
        "open" => Line::Open,
        "keepalive" => Line::Keepalive,
        "message" => convert(event, own),
        other => Line::Other(other.to_owned()),
    }
}

/// A `message` event → what to submit, or why not.
fn convert(event: Event, own: impl Fn(&str) -> bool) -> Line {
    if event.tags.iter().any(|t| t == BOT_TAG) || own(&event.id) {
        return Line::Skip {
            id: event.id,
            reason: "our own message",
        };
    }
    let text = message_text(&event);
    if text.trim().is_empty() {
        return Line::Skip {
            id: event.id,
            reason: "no text",
        };
    }
    // ntfy has no users: whoever may publish to the topic is its one user.
    let source = Source {
        chat_type: ChatType::Dm,
        chat_name: Some(event.topic.clone()),
        user_id: Some(event.topic.clone()),
        user_name: Some(event.topic.clone()),
        ..Source::dm(crate::PLATFORM, event.topic.clone())
    };
    let mut inbound = InboundEvent::text(source, text);
    inbound.message_id = Some(event.id.clone());
    Line::Message {
        key: event.id.clone(),
        id: event.id,
        event: Box::new(inbound),
        attachment: event.attachment.filter(|a| !a.url.is_empty()),
    }
}

/// The text the agent sees: the title as a first line, the message, and
/// an attachment as its name and URL (a file on the server itself is
/// also downloaded for the agent, by the receiver).
fn message_text(event: &Event) -> String {
    let mut parts = Vec::new();
    if let Some(title) = event.title.as_deref().filter(|t| !t.trim().is_empty()) {
        parts.push(title.trim().to_owned());
    }
    if let Some(message) = event.message.as_deref().filter(|m| !m.trim().is_empty()) {
        parts.push(message.to_owned());
    }
    if let Some(file) = &event.attachment
        && !file.url.is_empty()
    {
        parts.push(format!("[attachment: {} {}]", file.name, file.url));
    }
    parts.join("\n\n")
}

/// The headers of a publish of `text`: our tag always, so the stream's
/// echo is known as ours, and `Markdown: yes` when asked for and the text
/// has Markdown in it.
pub(crate) fn publish_headers(text: &str, markdown: bool) -> Vec<(&'static str, &'static str)> {
    let mut headers = vec![("Tags", BOT_TAG)];
    if markdown && looks_like_markdown(text) {
        headers.push(("Markdown", "yes"));
    }
    headers
}

/// Whether `text` uses Markdown that renders differently from plain text.
fn looks_like_markdown(text: &str) -> bool {
    text.contains("**")
        || text.contains('`')
        || text.contains("](")
        || text
            .lines()
            .any(|l| l.starts_with('#') || l.starts_with("- ") || l.starts_with("* "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::Content;
    use std::collections::HashSet;

    fn none() -> impl Fn(&str) -> bool {
        |_| false
    }

    // The examples of ntfy's "Subscribe via API" page.
    #[test]
    fn documented_stream_lines_are_read() {
        let open = r#"{"id":"SLiKI64DOt","time":1635528757,"event":"open","topic":"mytopic"}"#;
        assert_eq!(read_line(open, none()), Line::Open);
        let keepalive =
            r#"{"id":"DGUDShMCsc","time":1635528787,"event":"keepalive","topic":"mytopic"}"#;
        assert_eq!(read_line(keepalive, none()), Line::Keepalive);
        let poll =
            r#"{"id":"371sevb0pD","time":1638046000,"event":"poll_request","topic":"mytopic"}"#;
        assert_eq!(read_line(poll, none()), Line::Other("poll_request".into()));
        let message = r#"{"id":"hwQ2YpKdmg","time":1635528741,"event":"message","topic":"mytopic","message":"Disk full"}"#;
        let Line::Message { id, key, event, .. } = read_line(message, none()) else {
            panic!("a message");
        };
        assert_eq!((id.as_str(), key.as_str()), ("hwQ2YpKdmg", "hwQ2YpKdmg"));
        assert_eq!(event.content, Content::Text("Disk full".into()));
        assert_eq!(event.source.chat_id.as_deref(), Some("mytopic"));
        assert_eq!(event.source.user_id.as_deref(), Some("mytopic"));
        assert_eq!(event.message_id.as_deref(), Some("hwQ2YpKdmg"));
    }

    #[test]
    fn titles_and_attachments_are_part_of_the_text() {
        let line = r#"{"id":"xE73Iyuabi","time":1673542291,"expires":1673585491,"event":"message","topic":"mytopic","title":"Backup","message":"done","priority":4,"tags":["warning"],"attachment":{"name":"log.txt","url":"https://ntfy.sh/file/xE73Iyuabi.txt","type":"text/plain","size":12}}"#;
        let Line::Message { event, .. } = read_line(line, none()) else {
            panic!("a message");
        };
        assert_eq!(
            event.content,
            Content::Text(
                "Backup\n\ndone\n\n[attachment: log.txt https://ntfy.sh/file/xE73Iyuabi.txt]"
                    .into()
            )
        );
    }

    #[test]
    fn our_own_messages_are_known_by_tag_and_by_id() {
        let tagged = r#"{"id":"a1","time":1,"event":"message","topic":"t","message":"hi","tags":["hermod"]}"#;
        assert!(matches!(
            read_line(tagged, none()),
            Line::Skip {
                reason: "our own message",
                ..
            }
        ));
        let plain = r#"{"id":"a2","time":1,"event":"message","topic":"t","message":"hi"}"#;
        let own: HashSet<String> = ["a2".to_owned()].into();
        assert!(matches!(
            read_line(plain, |id| own.contains(id)),
            Line::Skip { .. }
        ));
        assert!(matches!(read_line(plain, none()), Line::Message { .. }));
    }

    #[test]
    fn empty_unknown_and_malformed_lines() {
        let empty = r#"{"id":"a3","time":1,"event":"message","topic":"t","message":"  "}"#;
        assert!(matches!(
            read_line(empty, none()),
            Line::Skip {
                reason: "no text",
                ..
            }
        ));
        let future = r#"{"id":"a4","time":1,"event":"message_delete","topic":"t"}"#;
        assert_eq!(
            read_line(future, none()),
            Line::Other("message_delete".into())
        );
        assert!(matches!(read_line("not json", none()), Line::Malformed(_)));
        assert!(matches!(
            read_line(r#"{"event":"message"}"#, none()),
            Line::Malformed(_)
        ));
    }

    #[test]
    fn publishes_are_tagged_and_markdown_only_where_it_helps() {
        assert_eq!(publish_headers("plain words", true), [("Tags", "hermod")]);
        assert_eq!(
            publish_headers("**bold**", true),
            [("Tags", "hermod"), ("Markdown", "yes")]
        );
        assert_eq!(publish_headers("**bold**", false), [("Tags", "hermod")]);
        assert!(looks_like_markdown("# Title\ntext"));
        assert!(looks_like_markdown("see [docs](https://x)"));
    }
}
