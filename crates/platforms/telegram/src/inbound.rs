//! Updates → [`InboundEvent`]s: a pure conversion that also decides which
//! messages the gateway answers at all.
//!
//! How Telegram maps onto hermod's vocabulary:
//!
//! * a private chat is [`ChatType::Dm`] (chat id = the user's id);
//!   groups and supergroups are [`ChatType::Group`];
//! * a message in a forum topic is [`ChatType::Group`] with `thread_id` =
//!   `message_thread_id`, so each topic is its own session (shared by its
//!   members unless `thread_sessions_per_user`). Reply threads of
//!   non-forum supergroups also carry a `message_thread_id`; they are not
//!   topics and are ignored here;
//! * channel posts are ignored (a bot in a channel has no one to answer);
//! * the text is the message's text or a media caption; a reply carries
//!   the replied-to text (or the part the user quoted) in front, each line
//!   prefixed with `> `, then a blank line — except for commands, which
//!   must stay first;
//! * a leading `@botname` mention is removed, so `@bot /new` is a command;
//!   `/cmd@botname` is passed on as is (core strips the suffix).
//!
//! In groups, only messages addressed to the bot are answered (unless
//! `require_mention` is off or the chat is free-response): an @mention
//! (`mention` entity with our username or `text_mention` of our id), a
//! reply to one of our messages, or a command (bare `/cmd`, or
//! `/cmd@ourname`). A command for another bot (`/cmd@otherbot`) is never
//! ours. Entity offsets count UTF-16 code units.

use crate::config::TelegramConfig;
use crate::types::{Message, MessageEntity, Sticker, Update, User};
use hermod_model::{AttachmentKind, ChatType, Content, InboundEvent, Source};

/// Who the bot is and the configured rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules<'a> {
    pub bot_id: i64,
    /// Without the `@`.
    pub bot_username: &'a str,
    pub config: &'a TelegramConfig,
}

/// A file of a message, to download before the event is submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaRef {
    pub kind: AttachmentKind,
    pub file_id: String,
    /// Stable across bots and time: names the local copy.
    pub unique_id: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
    /// A sticker's emoji and set, for the model.
    pub label: Option<String>,
}

/// A message to hand to the router.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Received {
    /// Attachments are added once the media is downloaded.
    pub event: InboundEvent,
    /// The dedupe key: `<chat id>:<message id>` (`:edit:<date>` for edits).
    pub key: String,
    pub media: Vec<MediaRef>,
}

/// What to do with an update.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Submit(Box<Received>),
    /// Not for the gateway; the reason is for DEBUG logs.
    Ignore(&'static str),
}

/// Converts one update.
pub(crate) fn convert(update: &Update, rules: &Rules<'_>) -> Decision {
    let (message, edited) = match (&update.message, &update.edited_message) {
        (Some(message), _) => (message, false),
        (None, Some(_)) if rules.config.ignore_edits => return Decision::Ignore("edited message"),
        (None, Some(message)) => (message, true),
        (None, None) if update.channel_post.is_some() => return Decision::Ignore("channel post"),
        (None, None) => return Decision::Ignore("update kind not handled"),
    };
    convert_message(message, edited, rules)
}

fn convert_message(message: &Message, edited: bool, rules: &Rules<'_>) -> Decision {
    let chat_type = match message.chat.kind.as_str() {
        "private" => ChatType::Dm,
        "group" | "supergroup" => ChatType::Group,
        "channel" => return Decision::Ignore("channel message"),
        _ => return Decision::Ignore("unknown chat type"),
    };
    let (user_id, user_name, is_bot) = match (&message.from, &message.sender_chat) {
        (Some(from), _) => {
            if from.id == rules.bot_id {
                return Decision::Ignore("our own message");
            }
            if from.is_bot && !rules.config.allow_bots {
                return Decision::Ignore("message from another bot");
            }
            (from.id, display_name(from), from.is_bot)
        }
        // An anonymous group admin, or a channel writing in its group.
        (None, Some(sender)) => (
            sender.id,
            sender
                .title
                .clone()
                .or_else(|| sender.username.clone())
                .unwrap_or_default(),
            false,
        ),
        (None, None) => return Decision::Ignore("message without a sender"),
    };
    let (text, entities) = match (&message.text, &message.caption) {
        (Some(text), _) => (text.as_str(), message.entities.as_slice()),
        (None, Some(caption)) => (caption.as_str(), message.caption_entities.as_slice()),
        (None, None) => ("", &[][..]),
    };
    let media = media_of(message);
    if text.trim().is_empty() && media.is_empty() {
        return Decision::Ignore("no text or media");
    }
    let chat_id = message.chat.id.to_string();
    let group = chat_type == ChatType::Group;
    let command = command_target(text, entities);
    if group {
        let config = rules.config;
        let user = user_id.to_string();
        if !config.group_allowed_users.is_empty()
            && !config.group_allowed_users.contains(&user)
            && !config.group_allowed_chats.contains(&chat_id)
        {
            return Decision::Ignore("sender not in TELEGRAM_GROUP_ALLOWED_USERS");
        }
        if let Some(Some(target)) = &command
            && !target.eq_ignore_ascii_case(rules.bot_username)
        {
            return Decision::Ignore("command for another bot");
        }
        let free = !config.require_mention || config.free_response_chats.contains(&chat_id);
        let addressed = command.is_some()
            || mentions_bot(text, entities, rules)
            || replies_to_bot(message, rules.bot_id);
        if !free && !addressed {
            return Decision::Ignore("group message not addressed to the bot");
        }
    }

    let mut content = if group {
        strip_leading_mention(text, rules.bot_username).to_owned()
    } else {
        text.to_owned()
    };
    if command.is_none()
        && let Some(quoted) = quoted_text(message)
    {
        content = hermod_adapter_kit::inbound::with_quote(&quoted, &content);
    }
    let thread_id = message
        .message_thread_id
        .filter(|_| message.is_topic_message)
        .map(|id| id.to_string());
    let chat_name = message
        .chat
        .title
        .clone()
        .or_else(|| message.chat.first_name.clone())
        .or_else(|| message.chat.username.clone());
    let source = Source {
        platform: crate::PLATFORM,
        chat_type,
        chat_id: Some(chat_id.clone()),
        chat_name,
        user_id: Some(user_id.to_string()),
        user_id_alt: None,
        user_name: Some(user_name),
        thread_id,
        is_bot,
    };
    let mut event = InboundEvent::text(source, content);
    event.message_id = Some(message.message_id.to_string());
    let key = match (edited, message.edit_date) {
        (true, Some(date)) => format!("{chat_id}:{}:edit:{date}", message.message_id),
        (true, None) => format!("{chat_id}:{}:edit", message.message_id),
        (false, _) => format!("{chat_id}:{}", message.message_id),
    };
    Decision::Submit(Box::new(Received { event, key, media }))
}

fn display_name(user: &User) -> String {
    user.username
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| user.first_name.clone())
}

/// The files of a message: the largest size of a photo, a document, a
/// voice message, an audio file, a video, a sticker (its still image:
/// the WEBP itself, or an animated sticker's thumbnail).
fn media_of(message: &Message) -> Vec<MediaRef> {
    let mut media = Vec::new();
    if let Some(photo) = message.photo.iter().max_by_key(|p| {
        (
            p.file_size.unwrap_or(0),
            u64::from(p.width) * u64::from(p.height),
        )
    }) {
        media.push(MediaRef {
            kind: AttachmentKind::Photo,
            file_id: photo.file_id.clone(),
            unique_id: photo.file_unique_id.clone(),
            file_name: None,
            mime_type: Some("image/jpeg".into()),
            size: photo.file_size,
            label: None,
        });
    }
    let files = [
        (AttachmentKind::Document, &message.document),
        (AttachmentKind::Voice, &message.voice),
        (AttachmentKind::Audio, &message.audio),
        (AttachmentKind::Video, &message.video),
    ];
    for (kind, file) in files {
        if let Some(file) = file {
            media.push(MediaRef {
                kind,
                file_id: file.file_id.clone(),
                unique_id: file.file_unique_id.clone(),
                file_name: file.file_name.clone(),
                mime_type: file.mime_type.clone(),
                size: file.file_size,
                label: None,
            });
        }
    }
    media.extend(message.sticker.as_ref().and_then(sticker_of));
    media
}

/// A sticker's still image, labelled `😀 from "SetName"`. An animated or
/// video sticker without a thumbnail has nothing to look at; its label
/// is all the model gets (through the message's note).
fn sticker_of(sticker: &Sticker) -> Option<MediaRef> {
    let label = match (&sticker.emoji, &sticker.set_name) {
        (Some(emoji), Some(set)) => Some(format!("{emoji} from \"{set}\"")),
        (Some(emoji), None) => Some(emoji.clone()),
        (None, Some(set)) => Some(format!("from \"{set}\"")),
        (None, None) => None,
    };
    let still = !(sticker.is_animated || sticker.is_video);
    let (file_id, size, mime) = if still {
        (
            &sticker.file_id,
            sticker.file_size,
            Some("image/webp".to_owned()),
        )
    } else {
        let thumb = sticker.thumbnail.as_ref()?;
        (&thumb.file_id, thumb.file_size, None)
    };
    Some(MediaRef {
        kind: AttachmentKind::Sticker,
        file_id: file_id.clone(),
        // The sticker's own id, also for a thumbnail: descriptions are
        // cached by it.
        unique_id: sticker.file_unique_id.clone(),
        file_name: None,
        mime_type: mime,
        size,
        label,
    })
}

/// `Some(None)` for a bare `/command`, `Some(Some(bot))` for
/// `/command@bot`, `None` when the text is not a command.
fn command_target(text: &str, entities: &[MessageEntity]) -> Option<Option<String>> {
    let word = match entities
        .iter()
        .find(|e| e.kind == "bot_command" && e.offset == 0)
    {
        Some(entity) => entity_text(text, entity)?,
        None => {
            let word = text.split_whitespace().next()?;
            let name = word.strip_prefix('/')?;
            let plain = name.split('@').next().unwrap_or_default();
            if plain.is_empty() || !plain.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            word
        }
    };
    Some(word.split_once('@').map(|(_, bot)| bot.to_owned()))
}

/// An @mention of the bot: a `mention` entity with its username or a
/// `text_mention` of its id; without entities, `@username` as a word.
fn mentions_bot(text: &str, entities: &[MessageEntity], rules: &Rules<'_>) -> bool {
    let is_us = |mention: &str| {
        mention
            .strip_prefix('@')
            .is_some_and(|name| name.eq_ignore_ascii_case(rules.bot_username))
    };
    if entities.iter().any(|e| match e.kind.as_str() {
        "mention" => entity_text(text, e).is_some_and(is_us),
        "text_mention" => e.user.as_ref().is_some_and(|u| u.id == rules.bot_id),
        _ => false,
    }) {
        return true;
    }
    entities.is_empty()
        && text
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '@'))
            .any(is_us)
}

/// A reply to one of the bot's messages.
fn replies_to_bot(message: &Message, bot_id: i64) -> bool {
    real_reply(message)
        .and_then(|reply| reply.from.as_ref())
        .is_some_and(|from| from.id == bot_id)
}

/// The replied-to message, unless the "reply" is only the pointer every
/// message in a forum topic has to the topic's first message.
fn real_reply(message: &Message) -> Option<&Message> {
    let reply = message.reply_to_message.as_deref()?;
    let topic_root = reply.forum_topic_created.is_some()
        || (message.is_topic_message && Some(reply.message_id) == message.message_thread_id);
    (!topic_root).then_some(reply)
}

/// The text a reply refers to: the quoted part, else the replied-to
/// message's text or caption.
fn quoted_text(message: &Message) -> Option<String> {
    let reply = real_reply(message)?;
    let text = message
        .quote
        .as_ref()
        .map(|q| q.text.as_str())
        .or(reply.text.as_deref())
        .or(reply.caption.as_deref())?
        .trim();
    if text.is_empty() {
        return None;
    }
    Some(text.to_owned())
}

/// The text without a leading `@username` of the bot.
fn strip_leading_mention<'t>(text: &'t str, username: &str) -> &'t str {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix('@') else {
        return text;
    };
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if !rest[..end].eq_ignore_ascii_case(username) {
        return text;
    }
    let rest = rest[end..].trim_start_matches([',', ':']).trim_start();
    if rest.is_empty() { text } else { rest }
}

/// The part of `text` an entity covers (offsets in UTF-16 code units).
fn entity_text<'t>(text: &'t str, entity: &MessageEntity) -> Option<&'t str> {
    let start = utf16_to_byte(text, entity.offset)?;
    let end = utf16_to_byte(text, entity.offset + entity.length)?;
    text.get(start..end)
}

fn utf16_to_byte(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (byte, c) in text.char_indices() {
        if counted == units {
            return Some(byte);
        }
        counted += c.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(text.len())
}

/// The line added to a message's text when one of its files was not
/// downloaded.
pub(crate) fn skipped_media_note(kind: AttachmentKind, reason: &str) -> String {
    let what = match kind {
        AttachmentKind::Photo => "a photo",
        AttachmentKind::Document => "a file",
        AttachmentKind::Audio => "an audio file",
        AttachmentKind::Voice => "a voice message",
        AttachmentKind::Video => "a video",
        AttachmentKind::Sticker => "a sticker",
    };
    format!("[{what} was attached but not downloaded: {reason}]")
}

/// Appends a line to the event's text.
pub(crate) fn append_line(event: &mut InboundEvent, line: &str) {
    let text = event.content.text();
    let joined = if text.is_empty() {
        line.to_owned()
    } else {
        format!("{text}\n{line}")
    };
    event.content = Content::Text(joined);
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
