//! [`Outbound`]s and edits → REST request bodies: a pure conversion.
//!
//! Text is rendered as Discord Markdown (`hermod-render`) in parts of at
//! most 2,000 characters (Discord counts characters); core's outbox
//! already splits long replies at lines, and a part whose rendering grew
//! past the limit (a table's padding) is cut again here. Files go in one
//! multipart request (`payload_json` + `files[n]`), the text as its
//! content when it fits one message.

use crate::config::ReplyToMode;
use hermod_model::text::{cut, split_message};
use hermod_model::{LengthUnit, MarkdownDialect, Outbound};
use serde_json::{Value, json};

/// Longest message content, in characters.
pub(crate) const MAX_MESSAGE: usize = 2000;

/// Discord's Markdown for `markdown`.
pub(crate) fn render(markdown: &str) -> String {
    hermod_render::render(markdown, MarkdownDialect::DiscordMarkdown).text
}

fn len(text: &str) -> usize {
    LengthUnit::Chars.measure(text)
}

/// Renders `markdown` as message contents of at most `limit` characters,
/// dropping blank ones (Discord refuses empty messages).
pub(crate) fn render_parts(markdown: &str, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    for piece in split_message(markdown, limit, LengthUnit::Chars) {
        push_fitting(&piece, limit, &mut parts);
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

fn push_fitting(markdown: &str, limit: usize, out: &mut Vec<String>) {
    let rendered = render(markdown);
    let length = len(markdown);
    if len(&rendered) <= limit || length <= 1 {
        out.push(rendered);
        return;
    }
    let halves = cut(markdown, length.div_ceil(2), LengthUnit::Chars);
    if halves.tail.is_empty() {
        out.push(rendered.chars().take(limit).collect());
        return;
    }
    push_fitting(&halves.head, limit, out);
    push_fitting(&halves.tail, limit, out);
}

/// Who may be pinged by what the agent writes: nobody by `@everyone`,
/// roles or user markup it happens to produce; the replied-to user is
/// not pinged either (the reply shows who it is for).
fn allowed_mentions() -> Value {
    json!({"parse": [], "replied_user": false})
}

/// Whether this message of a reply is sent as a Discord reply.
pub(crate) fn threads_reply(mode: ReplyToMode, first: bool) -> bool {
    match mode {
        ReplyToMode::Off => false,
        ReplyToMode::First => first,
        ReplyToMode::All => true,
    }
}

/// `POST /channels/{id}/messages`: `content`, and a reply reference that
/// does not fail when the message is gone.
pub(crate) fn create_message(content: &str, reply_to: Option<&str>) -> Value {
    let mut body = json!({
        "content": content,
        "allowed_mentions": allowed_mentions(),
    });
    if let Some(id) = reply_to {
        body["message_reference"] = json!({"message_id": id, "fail_if_not_exists": false});
    }
    body
}

/// Makes a create-message body idempotent: Discord checks a `nonce` with
/// `enforce_nonce` "for uniqueness in the past few minutes" and returns the
/// message it already created for it instead of creating another. Nonces
/// are at most 25 characters; a longer key is not sent (no guarantee beats
/// a refused request).
pub(crate) fn with_nonce(mut body: Value, nonce: Option<&str>) -> Value {
    if let Some(nonce) = nonce.filter(|n| !n.is_empty() && n.len() <= 25) {
        body["nonce"] = json!(nonce);
        body["enforce_nonce"] = json!(true);
    }
    body
}

/// `PATCH` of a message's content.
pub(crate) fn edit_message(content: &str) -> Value {
    json!({"content": content, "allowed_mentions": allowed_mentions()})
}

/// The `payload_json` of an upload: `attachments` naming each
/// `files[n]` part, and the content when there is one.
pub(crate) fn upload_payload(
    content: Option<&str>,
    file_names: &[String],
    reply_to: Option<&str>,
) -> Value {
    let mut body = create_message(content.unwrap_or(""), reply_to);
    if content.is_none() {
        body.as_object_mut().map(|o| o.remove("content"));
    }
    body["attachments"] = Value::Array(
        file_names
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"id": i, "filename": name}))
            .collect(),
    );
    body
}

/// What one [`Outbound`] becomes, in sending order: text messages, then
/// one upload with the files (the last text as its content when there is
/// exactly one that fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub texts: Vec<String>,
    pub caption: Option<String>,
}

pub(crate) fn plan(outbound: &Outbound) -> Plan {
    let mut texts = render_parts(&outbound.text, MAX_MESSAGE);
    let caption = if !outbound.attachments.is_empty() && texts.len() == 1 {
        texts.pop()
    } else {
        None
    };
    Plan { texts, caption }
}

/// A thread's name from the message that starts it: its first line, at
/// most 100 characters (Discord's limit), never empty.
pub(crate) fn thread_name(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let name: String = line.chars().take(100).collect();
    if name.is_empty() {
        "Conversation".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{Attachment, AttachmentKind, ChatTarget};

    fn outbound(text: &str, files: usize) -> Outbound {
        Outbound {
            target: ChatTarget {
                chat_id: "1".into(),
                thread_id: None,
            },
            text: text.into(),
            reply_to: Some("7".into()),
            attachments: (0..files)
                .map(|i| Attachment::new(AttachmentKind::Document, format!("/tmp/{i}.txt")))
                .collect(),
            idempotency_key: None,
        }
    }

    #[test]
    fn an_idempotency_key_becomes_an_enforced_nonce() {
        let body = with_nonce(create_message("x", None), Some("f0123"));
        assert_eq!(body["nonce"], "f0123");
        assert_eq!(body["enforce_nonce"], true);
        let long = with_nonce(create_message("x", None), Some(&"n".repeat(26)));
        assert!(long.get("nonce").is_none());
        assert!(
            with_nonce(create_message("x", None), None)
                .get("enforce_nonce")
                .is_none()
        );
    }

    #[test]
    fn a_message_replies_without_pinging_anyone() {
        assert_eq!(
            create_message("**hi**", Some("7")),
            json!({
                "content": "**hi**",
                "allowed_mentions": {"parse": [], "replied_user": false},
                "message_reference": {"message_id": "7", "fail_if_not_exists": false}
            })
        );
        assert!(create_message("x", None).get("message_reference").is_none());
        assert!(threads_reply(ReplyToMode::First, true));
        assert!(!threads_reply(ReplyToMode::First, false));
        assert!(threads_reply(ReplyToMode::All, false));
        assert!(!threads_reply(ReplyToMode::Off, true));
    }

    #[test]
    fn long_text_is_split_at_lines_within_2000_characters() {
        let lines: Vec<String> = (0..300).map(|i| format!("line {i:03} é😀 words")).collect();
        let parts = render_parts(&lines.join("\n"), MAX_MESSAGE);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(
                part.chars().count() <= MAX_MESSAGE,
                "{}",
                part.chars().count()
            );
        }
        // Every part ends at a line's end: no line is cut.
        let joined = parts.join("\n");
        for line in &lines {
            assert!(joined.contains(line.as_str()), "{line} was cut");
        }
    }

    #[test]
    fn a_table_that_grows_when_rendered_still_fits() {
        let mut table = String::from("| a | b |\n|---|---|\n");
        for i in 0..150 {
            table.push_str(&format!("| {i} | {} |\n", "x".repeat(i % 30)));
        }
        for part in render_parts(&table, 1000) {
            assert!(part.chars().count() <= 1000);
        }
    }

    #[test]
    fn files_take_the_text_as_content_when_it_is_one_message() {
        let p = plan(&outbound("see *this*", 2));
        assert!(p.texts.is_empty());
        assert_eq!(p.caption.as_deref(), Some("see *this*"));
        let payload = upload_payload(
            p.caption.as_deref(),
            &["a.txt".into(), "b.txt".into()],
            None,
        );
        assert_eq!(
            payload["attachments"],
            json!([{"id": 0, "filename": "a.txt"}, {"id": 1, "filename": "b.txt"}])
        );
        let bare = upload_payload(None, &["a.txt".into()], None);
        assert!(bare.get("content").is_none());
        assert_eq!(plan(&outbound("plain", 0)).texts, ["plain"]);
        assert!(render_parts(" \n ", MAX_MESSAGE).is_empty());
    }

    #[test]
    fn thread_names_are_the_first_line_cut_to_100() {
        assert_eq!(thread_name("\n  hello world \nmore"), "hello world");
        assert_eq!(thread_name(&"x".repeat(300)).len(), 100);
        assert_eq!(thread_name(""), "Conversation");
    }
}
