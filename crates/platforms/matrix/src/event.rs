//! One timeline event read as what the gateway should do with it (pure,
//! tested on the spec's example payloads): answer it, note that its room
//! is encrypted, or skip it and why.
//!
//! The rules follow Hermes' Matrix adapter: our own events and edits are
//! skipped, `m.notice` is skipped unless `MATRIX_PROCESS_NOTICES` (bots
//! send notices; answering them could loop two bots), group rooms outside
//! `MATRIX_ALLOWED_ROOMS` are skipped, and in group rooms with
//! `MATRIX_REQUIRE_MENTION` only messages that mention the bot
//! (`m.mentions.user_ids`, its user id or localpart in the body, or a
//! `matrix.to` pill) or follow a thread it is in are answered. A
//! `m.thread` relation keeps the reply in its thread; `MATRIX_AUTO_THREAD`
//! starts one at the message otherwise.

use crate::config::MatrixConfig;
use hermod_model::{AttachmentKind, ChatType, PlatformId, Source};
use serde_json::Value;

/// Who the bot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bot {
    pub user_id: String,
    /// The bot's display name, which clients write for a mention pill.
    pub display_name: Option<String>,
}

impl Bot {
    pub(crate) fn new(user_id: String) -> Self {
        Self {
            user_id,
            display_name: None,
        }
    }

    /// The display name, when it is long enough to be told from a word.
    fn display_name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .map(str::trim)
            .filter(|name| name.chars().count() >= 2)
    }

    fn localpart(&self) -> &str {
        self.user_id
            .strip_prefix('@')
            .and_then(|rest| rest.split_once(':'))
            .map_or("", |(local, _)| local)
    }
}

/// What the adapter knows about the event's room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Room {
    pub is_dm: bool,
}

/// A file a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Media {
    pub kind: AttachmentKind,
    pub mxc: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
}

/// A message to hand to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub source: Source,
    pub event_id: String,
    pub text: String,
    pub media: Option<Media>,
}

/// What one timeline event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Message(Box<Incoming>),
    /// `m.room.encrypted` from someone else: the bot cannot read it.
    Encrypted {
        sender: String,
        event_id: String,
    },
    /// Room membership changed: cached member counts are stale.
    Membership,
    /// Not for the gateway (DEBUG log).
    Skip(&'static str),
    /// Cannot be read (WARN log).
    Malformed(String),
}

/// The event's type, sender and id, if it has them.
fn head(event: &Value) -> Option<(&str, &str, &str)> {
    Some((
        event["type"].as_str()?,
        event["sender"].as_str()?,
        event["event_id"].as_str()?,
    ))
}

/// Reads `event` from room `room_id`. `in_bot_thread` says whether a
/// thread root is one the bot has taken part in.
pub(crate) fn read(
    platform: &PlatformId,
    config: &MatrixConfig,
    bot: &Bot,
    room_id: &str,
    room: Room,
    event: &Value,
    in_bot_thread: impl Fn(&str) -> bool,
) -> Read {
    let Some((kind, sender, event_id)) = head(event) else {
        return Read::Malformed("a timeline event without type, sender or event_id".into());
    };
    match kind {
        "m.room.message" => {}
        "m.room.encrypted" if sender != bot.user_id => {
            return Read::Encrypted {
                sender: sender.to_owned(),
                event_id: event_id.to_owned(),
            };
        }
        "m.room.member" => return Read::Membership,
        _ => return Read::Skip("not a message"),
    }
    if sender == bot.user_id {
        return Read::Skip("our own message");
    }
    let content = &event["content"];
    let Some(msgtype) = content["msgtype"].as_str() else {
        // A redacted message has empty content.
        return Read::Skip("a message without msgtype (redacted)");
    };
    let relates = &content["m.relates_to"];
    if relates["rel_type"] == "m.replace" {
        return Read::Skip("an edit");
    }
    if msgtype == "m.notice" && !config.process_notices {
        return Read::Skip("a notice (MATRIX_PROCESS_NOTICES is off)");
    }
    let Some(body) = content["body"].as_str() else {
        return Read::Malformed(format!("a {msgtype} message without a body"));
    };
    let media = match media_kind(msgtype) {
        Some(kind) => match content["url"].as_str() {
            Some(mxc) => Some(Media {
                kind,
                mxc: mxc.to_owned(),
                file_name: content["filename"]
                    .as_str()
                    .or(Some(body))
                    .map(str::to_owned),
                mime_type: content["info"]["mimetype"].as_str().map(str::to_owned),
                size: content["info"]["size"].as_u64(),
            }),
            // An encrypted file (`file` instead of `url`).
            None => return Read::Skip("an encrypted file"),
        },
        None if matches!(msgtype, "m.text" | "m.notice" | "m.emote") => None,
        None => return Read::Skip("a message type not handled"),
    };
    let thread_root = (relates["rel_type"] == "m.thread")
        .then(|| relates["event_id"].as_str())
        .flatten();
    let mentioned = mentions_bot(bot, content);
    if !room.is_dm {
        if !config.allowed_rooms.is_empty() && !config.allowed_rooms.iter().any(|r| r == room_id) {
            return Read::Skip("a room not in MATRIX_ALLOWED_ROOMS");
        }
        let free = config.free_response_rooms.iter().any(|r| r == room_id);
        let followed = !config.thread_require_mention && thread_root.is_some_and(&in_bot_thread);
        if config.require_mention && !free && !followed && !mentioned {
            return Read::Skip("not mentioned (MATRIX_REQUIRE_MENTION)");
        }
    }
    // A caption is the body when `filename` is given apart from it.
    let mut text = match &media {
        Some(m) if m.file_name.as_deref() == Some(body) => String::new(),
        _ => body.to_owned(),
    };
    if relates["m.in_reply_to"]["event_id"].is_string() {
        text = strip_reply_fallback(&text);
    }
    if mentioned && config.require_mention {
        text = strip_mention(bot, &text);
    }
    if msgtype == "m.emote" {
        text = format!("* {text}");
    }
    let text = slash_to_bang(&text);
    let thread_id = match thread_root {
        Some(root) => Some(root.to_owned()),
        None if room.is_dm && config.dm_auto_thread => Some(event_id.to_owned()),
        None if !room.is_dm && config.auto_thread => Some(event_id.to_owned()),
        None => None,
    };
    let source = Source {
        platform: platform.clone(),
        chat_type: if room.is_dm {
            ChatType::Dm
        } else {
            ChatType::Group
        },
        chat_id: Some(room_id.to_owned()),
        chat_name: None,
        user_id: Some(sender.to_owned()),
        user_id_alt: None,
        user_name: None,
        thread_id,
        is_bot: false,
    };
    Read::Message(Box::new(Incoming {
        source,
        event_id: event_id.to_owned(),
        text,
        media,
    }))
}

fn media_kind(msgtype: &str) -> Option<AttachmentKind> {
    Some(match msgtype {
        "m.image" => AttachmentKind::Photo,
        "m.file" => AttachmentKind::Document,
        "m.audio" => AttachmentKind::Audio,
        "m.video" => AttachmentKind::Video,
        _ => return None,
    })
}

/// Whether the message mentions the bot: `m.mentions.user_ids` (v1.7),
/// else its user id or localpart in the body, or a pill in the HTML.
pub(crate) fn mentions_bot(bot: &Bot, content: &Value) -> bool {
    if let Some(ids) = content["m.mentions"]["user_ids"].as_array()
        && ids
            .iter()
            .any(|id| id.as_str() == Some(bot.user_id.as_str()))
    {
        return true;
    }
    let body = content["body"].as_str().unwrap_or("");
    if body.contains(&bot.user_id) {
        return true;
    }
    let lower = body.to_lowercase();
    let local = bot.localpart();
    if !local.is_empty() && contains_word(&lower, &local.to_lowercase()) {
        return true;
    }
    if bot
        .display_name()
        .is_some_and(|name| contains_word(&lower, &name.to_lowercase()))
    {
        return true;
    }
    content["formatted_body"]
        .as_str()
        .is_some_and(|html| html.contains(&format!("matrix.to/#/{}", bot.user_id)))
}

/// `word` in `text` with no letter, digit or `_` on either side.
fn contains_word(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// Removes `@bot:server`, `@localpart` and a leading `localpart:` from the
/// text, never the bare word elsewhere.
fn strip_mention(bot: &Bot, text: &str) -> String {
    let local = bot.localpart();
    let mut out = text.replace(&bot.user_id, "");
    if !local.is_empty() {
        out = out.replace(&format!("@{local}"), "");
    }
    // A pill's text at the start (`Hermod: hi`): the display name or the
    // localpart, followed by a colon.
    for name in [bot.display_name(), Some(local)].into_iter().flatten() {
        let trimmed = out.trim_start();
        let lead = format!("{name}:");
        if !name.is_empty()
            && trimmed
                .get(..lead.len())
                .is_some_and(|head| head.to_lowercase() == lead.to_lowercase())
        {
            out = trimmed[lead.len()..].to_owned();
            break;
        }
    }
    let out = out.trim().trim_start_matches([':', ',']).trim();
    out.to_owned()
}

/// Drops the `> ` quote of a reply's fallback body (up to its blank line).
fn strip_reply_fallback(text: &str) -> String {
    if !text.starts_with("> ") {
        return text.to_owned();
    }
    let mut lines = text.lines();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if !line.starts_with('>') {
            return text.to_owned();
        }
    }
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        text.to_owned()
    } else {
        rest.join("\n")
    }
}

/// `/command args` becomes `!command args`: Matrix clients keep `/` for
/// their own commands, so hermod's are `!`-prefixed, and a `/` that got
/// through means the same.
fn slash_to_bang(text: &str) -> String {
    let trimmed = text.trim_start();
    if hermod_model::parse_command(trimmed, '/').is_some() {
        format!("!{}", &trimmed[1..])
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
