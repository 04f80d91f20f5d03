//! `Outbound` → `m.room.message` content (pure, tested): the plain-text
//! `body` and the `org.matrix.custom.html` `formatted_body`, both from
//! `hermod-render`'s Matrix dialect; thread and reply relations; edits as
//! `m.replace` with the `* ` fallback; transaction ids.

use hermod_model::MarkdownDialect;
use serde_json::{Value, json};

/// The most bytes of text one event carries: a Matrix event is at most
/// 65536 bytes of JSON, and the HTML copy travels beside the body.
pub(crate) const MAX_PIECE_BYTES: usize = 24_000;

/// Above this, the HTML copy is left out and the body goes alone.
const MAX_TEXT_BYTES: usize = 56_000;

/// `m.notice` (the bot convention) or `m.text`.
pub(crate) fn msgtype(notices: bool) -> &'static str {
    if notices { "m.notice" } else { "m.text" }
}

/// The content of a message showing `markdown`.
pub(crate) fn text_content(markdown: &str, msgtype: &str) -> Value {
    let rendered = hermod_render::render(markdown, MarkdownDialect::MatrixHtml);
    let mut content = json!({
        "msgtype": msgtype,
        "body": rendered.text,
        // Nobody is pinged by what the bot says (v1.7 intentional
        // mentions: an empty object turns the body-text guess off).
        "m.mentions": {},
    });
    if let Some(html) = rendered
        .html
        .filter(|h| !h.trim().is_empty() && h.len() + rendered.text.len() <= MAX_TEXT_BYTES)
    {
        content["format"] = json!("org.matrix.custom.html");
        content["formatted_body"] = json!(html);
    }
    content
}

/// Adds the thread (`m.thread`, with a reply fallback to `reply_to` or the
/// root for clients without threads) or plain reply relation.
pub(crate) fn relate(content: &mut Value, thread: Option<&str>, reply_to: Option<&str>) {
    match (thread, reply_to) {
        (Some(root), reply) => {
            content["m.relates_to"] = json!({
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": reply.is_none(),
                "m.in_reply_to": {"event_id": reply.unwrap_or(root)},
            });
        }
        (None, Some(reply)) => {
            content["m.relates_to"] = json!({"m.in_reply_to": {"event_id": reply}});
        }
        (None, None) => {}
    }
}

/// The content that replaces event `original` with `markdown`: the new
/// content in `m.new_content`, and a `* `-prefixed fallback for clients
/// that do not apply edits.
pub(crate) fn edit_content(markdown: &str, msgtype: &str, original: &str) -> Value {
    let new = text_content(markdown, msgtype);
    let body = format!("* {}", new["body"].as_str().unwrap_or_default());
    let html = new["formatted_body"]
        .as_str()
        .map(|html| format!("* {html}"));
    let mut content = json!({
        "msgtype": msgtype,
        "body": body,
        "m.mentions": {},
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    });
    if let Some(html) = html {
        content["format"] = json!("org.matrix.custom.html");
        content["formatted_body"] = json!(html);
    }
    content
}

/// The content of a file message (`m.image`, `m.file`, ...) for an
/// uploaded `mxc` URI; `caption` goes in `body` with `filename` apart
/// (v1.10 media captions).
pub(crate) fn file_content(
    msgtype: &str,
    mxc: &str,
    file_name: &str,
    mime: &str,
    size: usize,
    caption: Option<&str>,
) -> Value {
    let mut content = json!({
        "msgtype": msgtype,
        "body": caption.filter(|c| !c.trim().is_empty()).unwrap_or(file_name),
        "filename": file_name,
        "url": mxc,
        "info": {"mimetype": mime, "size": size},
        "m.mentions": {},
    });
    if let Some(caption) = caption.filter(|c| !c.trim().is_empty()) {
        let rendered = hermod_render::render(caption, MarkdownDialect::MatrixHtml);
        content["body"] = json!(rendered.text);
        if let Some(html) = rendered.html {
            content["format"] = json!("org.matrix.custom.html");
            content["formatted_body"] = json!(html);
        }
    }
    content
}

/// A transaction id for part `part` of a send. `key` is the outbox's
/// idempotency key when core gives one (a resend after a crash is then
/// the same transaction, which the homeserver answers with the first
/// event instead of a second), else a fresh random nonce: retries inside
/// one send reuse it either way.
pub(crate) fn txn_id(key: &str, part: usize) -> String {
    let clean: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("hermod-{clean}-{part}")
}

/// A random nonce for a transaction id.
pub(crate) fn nonce() -> String {
    let mut bytes = [0_u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: the clock is unique enough within one device.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        return format!("t{now}");
    }
    hermod_model::to_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_body_and_matrix_html() {
        let content = text_content("**bold** and `code`", "m.notice");
        assert_eq!(content["msgtype"], "m.notice");
        assert_eq!(content["body"], "bold and code");
        assert_eq!(content["format"], "org.matrix.custom.html");
        let html = content["formatted_body"].as_str().unwrap();
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert_eq!(content["m.mentions"], json!({}));
    }

    #[test]
    fn html_too_large_for_one_event_is_left_out() {
        let text = "**é** ".repeat(1000);
        let content = text_content(&text, "m.text");
        assert!(content["formatted_body"].is_string());
        let text = "**éééé**".repeat(MAX_TEXT_BYTES / 8);
        let content = text_content(&text, "m.text");
        assert!(content.get("formatted_body").is_none());
        assert!(content.to_string().len() < 65_536);
    }

    #[test]
    fn threads_and_replies_are_related() {
        let mut content = text_content("hi", "m.text");
        relate(&mut content, Some("$root"), None);
        assert_eq!(
            content["m.relates_to"],
            json!({"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true,
                   "m.in_reply_to": {"event_id": "$root"}})
        );
        let mut content = text_content("hi", "m.text");
        relate(&mut content, Some("$root"), Some("$msg"));
        assert_eq!(content["m.relates_to"]["is_falling_back"], false);
        assert_eq!(content["m.relates_to"]["m.in_reply_to"]["event_id"], "$msg");
        let mut content = text_content("hi", "m.text");
        relate(&mut content, None, Some("$msg"));
        assert_eq!(
            content["m.relates_to"],
            json!({"m.in_reply_to": {"event_id": "$msg"}})
        );
    }

    #[test]
    fn edits_replace_with_a_star_fallback() {
        let content = edit_content("*new* text", "m.notice", "$orig");
        assert_eq!(content["body"], "* new text");
        assert_eq!(content["m.new_content"]["body"], "new text");
        assert_eq!(content["m.new_content"]["msgtype"], "m.notice");
        assert_eq!(
            content["m.relates_to"],
            json!({"rel_type": "m.replace", "event_id": "$orig"})
        );
        assert!(
            content["formatted_body"]
                .as_str()
                .unwrap()
                .starts_with("* ")
        );
    }

    #[test]
    fn files_have_a_filename_and_an_optional_caption() {
        let content = file_content("m.image", "mxc://hs/abc", "cat.png", "image/png", 10, None);
        assert_eq!(content["body"], "cat.png");
        assert_eq!(content["url"], "mxc://hs/abc");
        assert_eq!(content["info"]["mimetype"], "image/png");
        let content = file_content(
            "m.file",
            "mxc://hs/d",
            "r.pdf",
            "application/pdf",
            3,
            Some("the **report**"),
        );
        assert_eq!(content["body"], "the report");
        assert_eq!(content["filename"], "r.pdf");
    }

    #[test]
    fn transaction_ids_are_stable_per_key_and_part() {
        assert_eq!(txn_id("fabc123", 0), "hermod-fabc123-0");
        assert_ne!(txn_id("fabc123", 0), txn_id("fabc123", 1));
        assert_eq!(txn_id("a/b c", 2), "hermod-abc-2");
        assert_ne!(nonce(), nonce());
    }
}
