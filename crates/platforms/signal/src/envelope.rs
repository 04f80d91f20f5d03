//! What an event of signal-cli's stream means: the `receive`
//! notification's params (`{"envelope": {...}, "account": "+..."}`)
//! turned into a message to submit, or the reason it is not one (pure,
//! tested on the JSON signal-cli writes).
//!
//! Rules, as Hermes applies them:
//! - the sender is `sourceNumber`, else `sourceUuid`, else `source`; a
//!   direct chat's id is the sender, a group's `group:<groupId>`;
//! - the account's own messages (sync messages of what it sent from
//!   another device) are skipped, except what its owner writes to the
//!   account itself ("Note to Self") or in a group, which Hermes answers
//!   (an account linked to the owner's phone), unless it is the echo of
//!   one of our own sends; receipts, typing, calls, stories and messages
//!   without text or files (reactions, profile key updates) are skipped;
//! - an edited message (`editMessage.dataMessage`) is read as a new one;
//! - groups: only those in `SIGNAL_GROUP_ALLOWED_USERS` (`*` for all), and
//!   with `SIGNAL_REQUIRE_MENTION` only messages mentioning the account;
//!   mentions (U+FFFC placeholders at UTF-16 `start`/`length`) are written
//!   as `@<number or uuid>`, the account's own mention taken out;
//! - a quoted message is put in front of the text (`> ...`).
//!
//! Each message is keyed `<sender>:<timestamp>` in the inbox (Signal's
//! timestamp is unique per sender), and that is its message id too, so a
//! reaction or a quote can name the author signal-cli needs.

use hermod_model::{AttachmentKind, ChatType, InboundEvent, Source};
use serde_json::Value;

/// What the adapter knows when reading an envelope.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    /// `SIGNAL_ACCOUNT`.
    pub(crate) account: &'a str,
    /// The account's uuid, once known.
    pub(crate) account_uuid: Option<&'a str>,
    pub(crate) config: &'a crate::SignalConfig,
    /// Whether a timestamp is one of the adapter's own sends.
    pub(crate) sent_by_us: &'a (dyn Fn(u64) -> bool + Sync),
}

/// A file signal-cli received, to fetch with `getAttachment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileRef {
    pub(crate) id: String,
    pub(crate) kind: AttachmentKind,
    pub(crate) content_type: Option<String>,
    pub(crate) filename: Option<String>,
    pub(crate) size: Option<u64>,
}

/// A message to submit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// The inbox key, also the message id: `<sender>:<timestamp>`.
    pub(crate) key: String,
    pub(crate) event: InboundEvent,
    /// Files to fetch before submitting.
    pub(crate) files: Vec<FileRef>,
}

/// What an event is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Read {
    Message(Box<Message>),
    /// Not for the agent (DEBUG log): why.
    Skip(&'static str),
    /// The account's uuid, learned from its own sync message; then skipped.
    Own {
        uuid: Option<String>,
    },
}

/// The message id of the message `author` sent at `timestamp`.
pub(crate) fn message_id(author: &str, timestamp: u64) -> String {
    format!("{author}:{timestamp}")
}

/// The author and timestamp of a message id; ids without an author are
/// our own sends (`account`).
pub(crate) fn parse_message_id<'a>(id: &'a str, account: &'a str) -> Option<(&'a str, u64)> {
    match id.rsplit_once(':') {
        Some((author, ts)) => Some((author, ts.parse().ok()?)),
        None => Some((account, id.parse().ok()?)),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Reads one `receive` notification's params.
pub(crate) fn read(params: &Value, ctx: Context<'_>) -> Read {
    let Some(envelope) = params.get("envelope").filter(|e| e.is_object()) else {
        return Read::Skip("no envelope (an exception report)");
    };
    let number = text(envelope, "sourceNumber");
    let uuid = text(envelope, "sourceUuid");
    let Some(sender) = number.or(uuid).or_else(|| text(envelope, "source")) else {
        return Read::Skip("no sender");
    };
    let own = sender == ctx.account || (uuid.is_some() && uuid == ctx.account_uuid);
    let own_uuid = || uuid.filter(|_| own).map(str::to_owned);
    let note = envelope
        .pointer("/syncMessage/sentMessage")
        .filter(|sent| own && is_note_to_self(sent, ctx));
    if note.is_none() && (own || envelope.get("syncMessage").is_some()) {
        return Read::Own { uuid: own_uuid() };
    }
    if note
        .and_then(|sent| sent.get("timestamp"))
        .and_then(Value::as_u64)
        .is_some_and(|ts| (ctx.sent_by_us)(ts))
    {
        // The echo of one of our own replies.
        return Read::Own { uuid: own_uuid() };
    }
    if envelope.get("storyMessage").is_some() {
        return Read::Skip("a story");
    }
    let data = note
        .or_else(|| envelope.get("dataMessage"))
        .or_else(|| envelope.pointer("/editMessage/dataMessage"));
    let Some(data) = data.filter(|d| d.is_object()) else {
        return Read::Skip("no message (a receipt, typing, a call)");
    };
    let Some(timestamp) = envelope
        .get("timestamp")
        .and_then(Value::as_u64)
        .or_else(|| data.get("timestamp").and_then(Value::as_u64))
    else {
        return Read::Skip("no timestamp");
    };
    let group = data.get("groupInfo").filter(|g| g.is_object());
    let group_id = group.and_then(|g| text(g, "groupId"));
    let mentions = data
        .get("mentions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let own_ids = [Some(ctx.account), ctx.account_uuid];
    let mentioned = mentions.iter().any(|m| {
        [text(m, "number"), text(m, "uuid")]
            .iter()
            .any(|id| id.is_some() && own_ids.contains(id))
    });
    let mut vouched = false;
    if let Some(group_id) = group_id {
        if !ctx.config.group_allowed(group_id) {
            return Read::Skip("a group not in SIGNAL_GROUP_ALLOWED_USERS");
        }
        if ctx.config.require_mention && !mentioned {
            return Read::Skip(
                "a group message not mentioning the account (SIGNAL_REQUIRE_MENTION)",
            );
        }
        let ids: Vec<&str> = [number, uuid].into_iter().flatten().collect();
        vouched = ctx.config.group_vouches(&ids);
    }
    let raw = text(data, "message").unwrap_or_default();
    let mut body = render_mentions(raw, mentions);
    if group_id.is_some() {
        body = strip_own_mentions(&body, &own_ids);
    }
    let files = files(data);
    if body.trim().is_empty() && files.is_empty() {
        return Read::Skip("nothing to answer (a reaction, a profile key update)");
    }
    if let Some(quote) = data.get("quote").filter(|q| q.is_object()) {
        body =
            hermod_adapter_kit::inbound::with_quote(text(quote, "text").unwrap_or_default(), &body);
    }
    let name = text(envelope, "sourceName");
    let source = Source {
        platform: crate::PLATFORM,
        chat_type: if group_id.is_some() {
            ChatType::Group
        } else {
            ChatType::Dm
        },
        chat_id: Some(match group_id {
            Some(group) => format!("group:{group}"),
            None => sender.to_owned(),
        }),
        chat_name: match group {
            Some(group) => text(group, "groupName").map(str::to_owned),
            None => name.map(str::to_owned),
        },
        user_id: Some(sender.to_owned()),
        user_id_alt: uuid.filter(|u| *u != sender).map(str::to_owned),
        user_name: Some(name.unwrap_or(sender).to_owned()),
        thread_id: None,
        is_bot: false,
    };
    let key = message_id(sender, timestamp);
    let mut event = InboundEvent::text(source, body);
    event.message_id = Some(key.clone());
    event.vouched = vouched;
    Read::Message(Box::new(Message { key, event, files }))
}

/// A message the account's owner wrote from another device that is for
/// the bot: to the account itself ("Note to Self"), or in a group (Hermes
/// takes both, for an account linked to the owner's phone).
fn is_note_to_self(sent: &Value, ctx: Context<'_>) -> bool {
    let to_self = [text(sent, "destinationNumber"), text(sent, "destination")]
        .contains(&Some(ctx.account))
        || (text(sent, "destinationUuid").is_some()
            && text(sent, "destinationUuid") == ctx.account_uuid);
    let in_group = sent.pointer("/groupInfo/groupId").is_some();
    to_self || in_group
}

/// The text with each mention's placeholder (at UTF-16 `start`, `length`
/// units) written as `@<number or uuid>`.
pub(crate) fn render_mentions(text: &str, mentions: &[Value]) -> String {
    if mentions.is_empty() {
        return text.to_owned();
    }
    let mut units: Vec<u16> = text.encode_utf16().collect();
    let mut spans: Vec<(usize, usize, String)> = mentions
        .iter()
        .filter_map(|m| {
            let start = usize::try_from(m.get("start")?.as_u64()?).ok()?;
            let length =
                usize::try_from(m.get("length").and_then(Value::as_u64).unwrap_or(1)).ok()?;
            let who = [text_of(m, "number"), text_of(m, "uuid"), text_of(m, "name")]
                .into_iter()
                .flatten()
                .next()
                .unwrap_or("user");
            Some((start, length, format!("@{who}")))
        })
        .collect();
    // From the end, so earlier offsets stay right.
    spans.sort_by_key(|span| std::cmp::Reverse(span.0));
    let mut last = units.len();
    for (start, length, replacement) in spans {
        let end = start.saturating_add(length);
        if end > last || start > end {
            // Overlapping or outside the text: leave it.
            continue;
        }
        units.splice(start..end, replacement.encode_utf16());
        last = start;
    }
    String::from_utf16_lossy(&units)
}

fn text_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    text(value, key)
}

/// The account's own `@` mentions taken out of a group message, so the
/// agent does not read its own number as someone to contact.
fn strip_own_mentions(text: &str, own: &[Option<&str>]) -> String {
    let mut text = text.to_owned();
    let mut changed = false;
    for id in own.iter().flatten() {
        let tag = format!("@{id}");
        if text.contains(&tag) {
            text = text.replace(&tag, "");
            changed = true;
        }
    }
    if !changed {
        return text;
    }
    while text.contains("  ") {
        text = text.replace("  ", " ");
    }
    text.trim().to_owned()
}

/// The files of a data message.
fn files(data: &Value) -> Vec<FileRef> {
    let Some(list) = data.get("attachments").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| {
            let id = text(a, "id")?.to_owned();
            let content_type = text(a, "contentType").map(str::to_owned);
            let kind = match content_type.as_deref().and_then(|t| t.split('/').next()) {
                Some("image") => AttachmentKind::Photo,
                Some("audio") => AttachmentKind::Voice,
                Some("video") => AttachmentKind::Video,
                _ => AttachmentKind::Document,
            };
            Some(FileRef {
                id,
                kind,
                content_type,
                filename: text(a, "filename").map(str::to_owned),
                size: a.get("size").and_then(Value::as_u64),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
