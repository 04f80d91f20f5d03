//! [`FakeUser`]: someone writing to the bot. Every message becomes an
//! update in the queue, shaped as Telegram sends it: private chats have the
//! user's id, groups are supergroups, topic messages carry
//! `message_thread_id` and reply to the topic's creation message, and
//! `/commands` and `@mentions` get their entities (UTF-16 offsets).

use super::files;
use super::state::{Chat, Shared, State, object};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Where a message is written.
#[derive(Debug, Clone, Copy)]
enum Place {
    Private,
    Group(i64),
    Topic(i64, i64),
}

/// What a message carries.
#[derive(Debug)]
enum Content<'a> {
    Text(&'a str),
    Photo(Option<&'a str>, Vec<u8>),
    Document {
        file_name: &'a str,
        mime_type: &'a str,
        bytes: Vec<u8>,
        caption: Option<&'a str>,
    },
    Voice {
        mime_type: &'a str,
        bytes: Vec<u8>,
    },
    Sticker {
        bytes: Vec<u8>,
        emoji: &'a str,
        set_name: &'a str,
    },
}

/// A Telegram user (or another bot) writing to the fake's bot. Cheap to
/// clone. Every method queues one update and returns the message id.
#[derive(Debug, Clone)]
pub struct FakeUser {
    shared: Arc<Shared>,
    id: i64,
    first_name: String,
    username: String,
    is_bot: bool,
}

impl FakeUser {
    pub(crate) fn new(shared: Arc<Shared>, id: i64, first_name: &str, is_bot: bool) -> Self {
        let mut username = first_name.to_lowercase().replace(' ', "_");
        if is_bot && !username.ends_with("bot") {
            username.push_str("_bot");
        }
        Self {
            shared,
            id,
            first_name: first_name.to_owned(),
            username,
            is_bot,
        }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn first_name(&self) -> &str {
        &self.first_name
    }

    /// The first name in lowercase (`_bot` added for bots).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The user as a `User` object.
    pub fn user_json(&self) -> Value {
        json!({
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
            "username": self.username,
            "language_code": "en",
        })
    }

    /// A direct message (the private chat's id is the user's id).
    pub fn dm(&self, text: &str) -> i64 {
        self.write(Place::Private, Content::Text(text), None)
    }

    /// A command in the private chat; a `/` is added when missing.
    pub fn command(&self, text: &str) -> i64 {
        if text.starts_with('/') {
            self.dm(text)
        } else {
            self.dm(&format!("/{text}"))
        }
    }

    /// A photo in the private chat; `getFile` serves `bytes` for every size.
    pub fn dm_photo(&self, caption: Option<&str>, bytes: Vec<u8>) -> i64 {
        self.write(Place::Private, Content::Photo(caption, bytes), None)
    }

    /// A document in the private chat.
    pub fn dm_document(
        &self,
        file_name: &str,
        mime_type: &str,
        bytes: Vec<u8>,
        caption: Option<&str>,
    ) -> i64 {
        let content = Content::Document {
            file_name,
            mime_type,
            bytes,
            caption,
        };
        self.write(Place::Private, content, None)
    }

    /// A voice message in the private chat (Telegram records OGG/Opus;
    /// `mime_type` says what `bytes` are).
    pub fn dm_voice(&self, mime_type: &str, bytes: Vec<u8>) -> i64 {
        self.write(Place::Private, Content::Voice { mime_type, bytes }, None)
    }

    /// A still (WEBP) sticker of the set `set_name` in the private chat.
    /// The same bytes are the same sticker: the same `file_unique_id`.
    pub fn dm_sticker(&self, bytes: Vec<u8>, emoji: &str, set_name: &str) -> i64 {
        let content = Content::Sticker {
            bytes,
            emoji,
            set_name,
        };
        self.write(Place::Private, content, None)
    }

    /// A message in the supergroup `chat_id` (negative).
    pub fn in_group(&self, chat_id: i64, text: &str) -> i64 {
        self.write(Place::Group(chat_id), Content::Text(text), None)
    }

    /// A message in forum topic `thread_id` of the supergroup `chat_id`.
    pub fn in_topic(&self, chat_id: i64, thread_id: i64, text: &str) -> i64 {
        self.write(Place::Topic(chat_id, thread_id), Content::Text(text), None)
    }

    /// A reply to the bot's message `bot_message_id` in `chat_id` (the
    /// user's id for the private chat).
    pub fn reply_to_bot(&self, chat_id: i64, bot_message_id: i64, text: &str) -> i64 {
        self.reply(chat_id, bot_message_id, text)
    }

    /// A reply to any message of `chat_id`.
    ///
    /// # Panics
    /// When the chat has no such message.
    pub fn reply(&self, chat_id: i64, message_id: i64, text: &str) -> i64 {
        let place = if chat_id == self.id {
            Place::Private
        } else {
            Place::Group(chat_id)
        };
        self.write(place, Content::Text(text), Some(message_id))
    }

    /// Edits this user's message; queues an `edited_message` update.
    /// Returns the message id.
    ///
    /// # Panics
    /// When `chat_id` has no message `message_id` from this user.
    pub fn edit(&self, chat_id: i64, message_id: i64, new_text: &str) -> i64 {
        let date = self.shared.date();
        self.shared.update(|s| {
            let message = s
                .chats
                .get_mut(&chat_id)
                .and_then(|chat| chat.messages.get_mut(&message_id))
                .filter(|m| m["from"]["id"].as_i64() == Some(self.id))
                .unwrap_or_else(|| {
                    panic!(
                        "chat {chat_id} has no message {message_id} from user {}",
                        self.id
                    )
                });
            message["text"] = json!(new_text);
            match detect_entities(new_text) {
                entities if entities.is_empty() => {
                    if let Some(o) = message.as_object_mut() {
                        o.remove("entities");
                    }
                }
                entities => message["entities"] = json!(entities),
            }
            message["edit_date"] = json!(date);
            let edited = message.clone();
            s.push_update(json!({ "edited_message": edited }), false);
        });
        message_id
    }

    fn chat_json(&self, place: Place) -> Value {
        match place {
            Place::Private => json!({
                "id": self.id,
                "first_name": self.first_name,
                "username": self.username,
                "type": "private",
            }),
            Place::Group(id) => {
                json!({"id": id, "title": format!("Group {id}"), "type": "supergroup"})
            }
            Place::Topic(id, _) => json!({
                "id": id,
                "title": format!("Forum {id}"),
                "type": "supergroup",
                "is_forum": true,
            }),
        }
    }

    fn write(&self, place: Place, content: Content<'_>, reply_to: Option<i64>) -> i64 {
        let date = self.shared.date();
        self.shared.update(|s| {
            let fields = content_fields(s, content);
            let chat_id = match place {
                Place::Private => self.id,
                Place::Group(id) | Place::Topic(id, _) => id,
            };
            let chat = s
                .chats
                .entry(chat_id)
                .or_insert_with(|| Chat::new(self.chat_json(place)));
            if matches!(place, Place::Topic(..)) && !chat.is_forum() {
                chat.json["is_forum"] = json!(true);
            }
            let mut message = object(json!({
                "message_id": 0,
                "from": self.user_json(),
                "chat": chat.json,
                "date": date,
            }));
            let mut replied =
                match reply_to {
                    Some(id) => Some(chat.messages.get(&id).cloned().unwrap_or_else(|| {
                        panic!("chat {chat_id} has no message {id} to reply to")
                    })),
                    None => None,
                };
            if let Place::Topic(_, thread) = place {
                let created = topic(chat, thread, &self.user_json(), date);
                message.insert("message_thread_id".into(), json!(thread));
                message.insert("is_topic_message".into(), json!(true));
                replied = replied.or(Some(created));
            }
            let id = chat.next_message_id();
            message.insert("message_id".into(), json!(id));
            if let Some(mut replied) = replied {
                if let Some(o) = replied.as_object_mut() {
                    o.remove("reply_to_message");
                }
                message.insert("reply_to_message".into(), replied);
            }
            message.extend(fields);
            let message = Value::Object(message);
            chat.messages.insert(id, message.clone());
            s.push_update(json!({ "message": message }), false);
            id
        })
    }
}

/// The creation message of forum topic `thread` (whose id is the
/// thread's), made on first use.
fn topic(chat: &mut Chat, thread: i64, creator: &Value, date: u64) -> Value {
    if let Some(created) = chat.topics.get(&thread) {
        return created.clone();
    }
    chat.last_message_id = chat.last_message_id.max(thread);
    let created = json!({
        "message_id": thread,
        "from": creator,
        "chat": chat.json,
        "date": date,
        "message_thread_id": thread,
        "is_topic_message": true,
        "forum_topic_created": {"name": format!("Topic {thread}"), "icon_color": 7_322_096},
    });
    chat.topics.insert(thread, created.clone());
    created
}

/// The content fields of a message (`text` and `entities`, `photo`, ...).
fn content_fields(s: &mut State, content: Content<'_>) -> Map<String, Value> {
    let mut fields = Map::new();
    let caption = match content {
        Content::Text(text) => {
            fields.insert("text".into(), json!(text));
            let entities = detect_entities(text);
            if !entities.is_empty() {
                fields.insert("entities".into(), json!(entities));
            }
            None
        }
        Content::Photo(caption, bytes) => {
            fields.insert("photo".into(), json!(files::photo_sizes(s, &bytes)));
            caption
        }
        Content::Document {
            file_name,
            mime_type,
            bytes,
            caption,
        } => {
            let document = files::document(s, file_name, mime_type, bytes);
            fields.insert("document".into(), document);
            caption
        }
        Content::Voice { mime_type, bytes } => {
            fields.insert("voice".into(), files::voice(s, mime_type, bytes));
            None
        }
        Content::Sticker {
            bytes,
            emoji,
            set_name,
        } => {
            fields.insert("sticker".into(), files::sticker(s, bytes, emoji, set_name));
            None
        }
    };
    if let Some(caption) = caption {
        fields.insert("caption".into(), json!(caption));
        let entities = detect_entities(caption);
        if !entities.is_empty() {
            fields.insert("caption_entities".into(), json!(entities));
        }
    }
    fields
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `bot_command` (`/cmd`, `/cmd@bot`) and `mention` (`@username`)
/// entities Telegram finds in `text`, with UTF-16 offsets.
pub(crate) fn detect_entities(text: &str) -> Vec<Value> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map_or(text.len(), |(byte, _)| *byte);
    let utf16 = |byte: usize| text[..byte].encode_utf16().count();
    let run = |from: usize| {
        (from..chars.len())
            .find(|j| !is_word(chars[*j].1))
            .unwrap_or(chars.len())
    };
    let mut entities = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let starts_word =
            i == 0 || !(is_word(chars[i - 1].1) || matches!(chars[i - 1].1, '/' | '@'));
        let end = match c {
            '/' if starts_word => {
                let mut end = run(i + 1);
                if end > i + 1 && chars.get(end).is_some_and(|(_, c)| *c == '@') {
                    let bot_end = run(end + 1);
                    if bot_end > end + 1 {
                        end = bot_end;
                    }
                }
                (end > i + 1 && end - i - 1 <= 64).then_some((end, "bot_command"))
            }
            '@' if starts_word => {
                let end = run(i + 1);
                (5..=32)
                    .contains(&(end - i - 1))
                    .then_some((end, "mention"))
            }
            _ => None,
        };
        match end {
            Some((end, kind)) => {
                let offset = utf16(at(i));
                let length = utf16(at(end)) - offset;
                entities.push(json!({"type": kind, "offset": offset, "length": length}));
                i = end;
            }
            None => i += 1,
        }
    }
    entities
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_mentions_get_entities() {
        assert_eq!(
            detect_entities("/start"),
            [json!({"type": "bot_command", "offset": 0, "length": 6})]
        );
        assert_eq!(
            detect_entities("😀 hi @hermod_test_bot, try /help@hermod_test_bot now"),
            [
                json!({"type": "mention", "offset": 6, "length": 16}),
                json!({"type": "bot_command", "offset": 28, "length": 21}),
            ]
        );
        assert!(detect_entities("a/b mail@host.com @abc 1/2").is_empty());
    }
}
