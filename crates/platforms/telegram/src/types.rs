//! The Bot API objects and method parameters this adapter uses, as serde
//! types (<https://core.telegram.org/bots/api>).
//!
//! Only the fields read or written are declared; unknown fields are
//! ignored, so new Bot API versions do not break parsing. Ids are `i64`
//! (chat ids of supergroups exceed 32 bits).

use serde::{Deserialize, Serialize};

/// Every Bot API answer: `{"ok": true, "result": ...}` or
/// `{"ok": false, "error_code": ..., "description": ..., "parameters": ...}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiResponse<T> {
    pub ok: bool,
    pub result: Option<T>,
    pub description: Option<String>,
    pub error_code: Option<u16>,
    pub parameters: Option<ResponseParameters>,
}

/// Why a request failed, in machine-readable form.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ResponseParameters {
    /// Seconds to wait before repeating the request (flood control).
    pub retry_after: Option<u64>,
    /// The group became a supergroup with this id.
    pub migrate_to_chat_id: Option<i64>,
}

/// One incoming update. At most one of the optional fields is set; kinds
/// not declared here are recognised by [`update_kind`] and skipped.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub edited_message: Option<Message>,
    pub channel_post: Option<Message>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Chat {
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    pub message_id: i64,
    /// The forum topic (or reply thread, in non-forum supergroups).
    pub message_thread_id: Option<i64>,
    pub from: Option<User>,
    /// Set for anonymous group admins and channel posts.
    pub sender_chat: Option<Chat>,
    pub chat: Chat,
    /// True for messages sent to a forum topic.
    #[serde(default)]
    pub is_topic_message: bool,
    pub reply_to_message: Option<Box<Message>>,
    /// The part of the replied-to message the user quoted.
    pub quote: Option<TextQuote>,
    pub edit_date: Option<i64>,
    pub text: Option<String>,
    #[serde(default)]
    pub entities: Vec<MessageEntity>,
    pub caption: Option<String>,
    #[serde(default)]
    pub caption_entities: Vec<MessageEntity>,
    /// Sizes of a photo, smallest first.
    #[serde(default)]
    pub photo: Vec<PhotoSize>,
    pub document: Option<FileInfo>,
    pub voice: Option<FileInfo>,
    pub audio: Option<FileInfo>,
    pub video: Option<FileInfo>,
    pub sticker: Option<Sticker>,
    /// Service message: a forum topic was created (replies in a topic point
    /// at it without being replies the user made).
    pub forum_topic_created: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TextQuote {
    pub text: String,
}

/// A special part of a text: a mention, a command, a link, ... Offsets and
/// lengths count UTF-16 code units.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MessageEntity {
    #[serde(rename = "type")]
    pub kind: String,
    pub offset: usize,
    pub length: usize,
    /// For `text_mention`: the user mentioned (who has no username).
    pub user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PhotoSize {
    pub file_id: String,
    #[serde(default)]
    pub file_unique_id: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    pub file_size: Option<u64>,
}

/// A sticker: a WEBP image, or an animation (TGS) or video (WEBM) with a
/// still `thumbnail`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sticker {
    pub file_id: String,
    #[serde(default)]
    pub file_unique_id: String,
    #[serde(default)]
    pub is_animated: bool,
    #[serde(default)]
    pub is_video: bool,
    pub thumbnail: Option<PhotoSize>,
    /// The emoji the sticker stands for.
    pub emoji: Option<String>,
    /// The sticker set it belongs to.
    pub set_name: Option<String>,
    pub file_size: Option<u64>,
}

/// The common fields of Document, Voice, Audio and Video.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileInfo {
    pub file_id: String,
    #[serde(default)]
    pub file_unique_id: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

/// The answer of `getFile`: where to download a file from.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct File {
    pub file_size: Option<u64>,
    pub file_path: Option<String>,
}

/// The part of a sent `Message` the adapter reads back.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SentMessage {
    pub message_id: i64,
}

/// The `result` of a method called for its effect: any value, `null` or
/// none. The Bot API documents `True` or the changed `Message` for these
/// methods, but some Bot API servers and proxies answer
/// `{"ok": true, "result": null}`; `ok` alone says the call took effect.
pub(crate) type Done = serde::de::IgnoredAny;

/// The `result` of a method whose effect matters more than its answer,
/// when the answer is still useful (the id of a sent message): `None` when
/// the server answered `ok` without a `result` of the documented shape.
#[derive(Debug, Clone)]
pub(crate) struct IfGiven<T>(pub Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for IfGiven<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Self(serde_json::from_value(value).ok()))
    }
}

/// An entry of the bot's `/` menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BotCommand {
    pub command: String,
    pub description: String,
}

/// A chat id as the Bot API takes it: a number, or `@channelusername`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum ChatId {
    Id(i64),
    Username(String),
}

impl ChatId {
    pub(crate) fn parse(raw: &str) -> Self {
        match raw.trim().parse() {
            Ok(id) => ChatId::Id(id),
            Err(_) => ChatId::Username(raw.trim().to_owned()),
        }
    }
}

/// Which message a new message replies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReplyParameters {
    pub message_id: i64,
    /// Send anyway if the message was deleted meanwhile.
    pub allow_sending_without_reply: bool,
}

/// Parameters of `sendMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SendMessage {
    pub chat_id: ChatId,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_parameters: Option<ReplyParameters>,
}

/// Parameters of `editMessageText`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EditMessageText {
    pub chat_id: ChatId,
    pub message_id: i64,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<&'static str>,
}

/// Parameters of `deleteMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DeleteMessage {
    pub chat_id: ChatId,
    pub message_id: i64,
}

/// Parameters of `sendChatAction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SendChatAction {
    pub chat_id: ChatId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    pub action: &'static str,
}

/// Parameters of `getUpdates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GetUpdates {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    pub timeout: u64,
    pub allowed_updates: &'static [&'static str],
}

/// Parameters of `setWebhook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SetWebhook {
    pub url: String,
    pub secret_token: String,
    pub allowed_updates: &'static [&'static str],
}

/// Parameters of `setMyCommands`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SetMyCommands {
    pub commands: Vec<BotCommand>,
}

/// Parameters of `getFile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GetFile {
    pub file_id: String,
}

/// Methods without parameters (`getMe`, `getMyCommands`, `deleteWebhook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct NoParams {}

/// The update kinds the adapter asks for.
pub(crate) const ALLOWED_UPDATES: &[&str] = &["message", "edited_message", "callback_query"];

/// The kind of an update, from its raw JSON: the name of the one field
/// besides `update_id` (for logs of skipped updates).
pub(crate) fn update_kind(raw: &serde_json::Value) -> &str {
    raw.as_object()
        .and_then(|fields| fields.keys().find(|k| *k != "update_id"))
        .map_or("unknown", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_serialize_as_numbers_or_names() {
        assert_eq!(
            serde_json::to_value(ChatId::parse("-1001234")).unwrap(),
            serde_json::json!(-1001234)
        );
        assert_eq!(
            serde_json::to_value(ChatId::parse("@news")).unwrap(),
            serde_json::json!("@news")
        );
    }

    #[test]
    fn update_kind_names_the_payload() {
        let raw = serde_json::json!({"update_id": 1, "poll_answer": {}});
        assert_eq!(update_kind(&raw), "poll_answer");
        assert_eq!(update_kind(&serde_json::json!(3)), "unknown");
    }
}
