//! The Bot API methods: dispatch by (case-insensitive) name, and the
//! message, command and webhook methods. Updates and files have their own
//! modules.

use super::faults::ApiError;
use super::html::{self, Formatted};
use super::server::Params;
use super::state::{Chat, FakeMessage, Shared, State, Webhook, object};
use super::{files, sends, updates};
use serde_json::{Value, json};

/// The longest message text, in UTF-16 code units.
pub(crate) const MAX_TEXT: usize = 4096;
/// The longest caption, in UTF-16 code units.
pub(crate) const MAX_CAPTION: usize = 1024;

const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
     markup are exactly the same as a current content and reply markup of the message";

/// Handles a call of `method` (lowercase); the value is the `result`.
pub(crate) async fn call(shared: &Shared, method: &str, p: &Params) -> Result<Value, ApiError> {
    match method {
        "getupdates" => updates::get_updates(shared, p).await,
        "getme" => Ok(get_me(shared)),
        _ => shared.update(|s| sync_call(shared, s, method, p)),
    }
}

fn sync_call(shared: &Shared, s: &mut State, method: &str, p: &Params) -> Result<Value, ApiError> {
    match method {
        "sendmessage" => send_message(shared, s, p),
        "editmessagetext" => edit(shared, s, p, "text"),
        "editmessagecaption" => edit(shared, s, p, "caption"),
        "deletemessage" => delete_message(s, p),
        "deletemessages" => delete_messages(s, p),
        "sendchataction" => send_chat_action(s, p),
        "createforumtopic" => super::topics::create_forum_topic(shared, s, p),
        "sendphoto" => files::send_media(shared, s, p, files::Media::Photo),
        "senddocument" => files::send_media(shared, s, p, files::Media::Document),
        "sendvoice" => sends::send(shared, s, p, sends::Kind::Voice),
        "sendaudio" => sends::send(shared, s, p, sends::Kind::Audio),
        "sendvideo" => sends::send(shared, s, p, sends::Kind::Video),
        "sendsticker" => sends::send(shared, s, p, sends::Kind::Sticker),
        "getfile" => files::get_file(s, p),
        "setmycommands" => set_my_commands(s, p),
        "getmycommands" => get_my_commands(s, p),
        "deletemycommands" => {
            let key = commands_key(p)?;
            s.commands.remove(&key);
            Ok(json!(true))
        }
        "setwebhook" => set_webhook(s, p),
        "deletewebhook" => {
            s.webhook = None;
            if p.bool("drop_pending_updates") {
                s.updates.clear();
            }
            Ok(json!(true))
        }
        "getwebhookinfo" => Ok(json!({
            "url": s.webhook.as_ref().map_or("", |w| w.url.as_str()),
            "has_custom_certificate": false,
            "pending_update_count": s.updates.len(),
        })),
        "getchat" => {
            let chat = chat(s, p.chat_id()?)?;
            let mut info = chat.json.clone();
            info["accent_color_id"] = json!(0);
            info["max_reaction_count"] = json!(11);
            Ok(info)
        }
        "setmessagereaction" => {
            let message_id = p.message_id()?;
            if !chat(s, p.chat_id()?)?.messages.contains_key(&message_id) {
                return Err(ApiError::bad_request("message to react not found"));
            }
            Ok(json!(true))
        }
        "answercallbackquery" | "logout" | "close" => Ok(json!(true)),
        _ => Err(ApiError::not_found()),
    }
}

fn get_me(shared: &Shared) -> Value {
    let mut me = shared.bot.user_json();
    for (field, value) in [
        ("can_join_groups", true),
        ("can_read_all_group_messages", false),
        ("supports_inline_queries", false),
        ("can_connect_to_business", false),
        ("has_main_web_app", false),
    ] {
        me[field] = json!(value);
    }
    me
}

pub(crate) fn chat(s: &mut State, chat_id: i64) -> Result<&mut Chat, ApiError> {
    s.chats
        .get_mut(&chat_id)
        .ok_or_else(|| ApiError::bad_request("chat not found"))
}

/// Parses `raw` per `parse_mode` (HTML validated; Markdown taken as text
/// without its backslash escapes), then trims it as Telegram does.
pub(crate) fn format(
    raw: &str,
    parse_mode: Option<&str>,
    entities: Option<Value>,
) -> Result<Formatted, ApiError> {
    let formatted = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Formatted {
            text: raw.to_owned(),
            entities: entities
                .and_then(|e| e.as_array().cloned())
                .unwrap_or_default(),
        },
        Some("html") => html::parse(raw)
            .map_err(|e| ApiError::bad_request(format!("can't parse entities: {e}")))?,
        Some("markdownv2" | "markdown") => Formatted {
            text: unescape_markdown(raw),
            entities: Vec::new(),
        },
        Some(_) => return Err(ApiError::bad_request("unsupported parse_mode")),
    };
    Ok(html::trim(formatted))
}

fn unescape_markdown(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The message to reply to: `reply_parameters.message_id` or the older
/// `reply_to_message_id`, with whether a missing one may be ignored.
pub(crate) fn reply_target(p: &Params) -> Result<Option<(i64, bool)>, ApiError> {
    if let Some(parameters) = p.json("reply_parameters")? {
        let Some(id) = parameters["message_id"].as_i64() else {
            return Err(ApiError::bad_request("message to be replied not found"));
        };
        let allow = parameters["allow_sending_without_reply"]
            .as_bool()
            .unwrap_or(false);
        return Ok(Some((id, allow)));
    }
    Ok(p.i64("reply_to_message_id")?
        .map(|id| (id, p.bool("allow_sending_without_reply"))))
}

/// Everything a new bot message shares, whatever its content.
pub(crate) struct Envelope {
    pub(crate) message: serde_json::Map<String, Value>,
    pub(crate) record: FakeMessage,
}

/// Checks where a bot message goes and starts building it: id, sender,
/// chat, date, topic and reply.
pub(crate) fn envelope(shared: &Shared, s: &mut State, p: &Params) -> Result<Envelope, ApiError> {
    let chat_id = p.chat_id()?;
    let thread = p.i64("message_thread_id")?;
    let reply = reply_target(p)?;
    let reply_markup = p.json("reply_markup")?;
    let chat = chat(s, chat_id)?;
    let topic = match thread {
        Some(thread) if chat.is_forum() => match chat.topics.get(&thread) {
            Some(created) => Some((thread, created.clone())),
            None => return Err(ApiError::bad_request("message thread not found")),
        },
        _ => None,
    };
    let replied = match reply {
        Some((id, allow)) => match chat.messages.get(&id) {
            Some(m) => Some(m.clone()),
            None if allow => None,
            None => return Err(ApiError::bad_request("message to be replied not found")),
        },
        None => None,
    };
    let message_id = chat.next_message_id();
    let mut message = object(json!({
        "message_id": message_id,
        "from": shared.bot.user_json(),
        "chat": chat.json,
        "date": shared.date(),
    }));
    if let Some((thread, _)) = &topic {
        message.insert("message_thread_id".into(), json!(thread));
        message.insert("is_topic_message".into(), json!(true));
    }
    let reply_to = replied.as_ref().and_then(|m| m["message_id"].as_i64());
    // In a topic, a message that replies to nothing replies to the topic's
    // creation message.
    if let Some(replied) = replied.or(topic.map(|(_, created)| created)) {
        let mut replied = replied;
        if let Some(o) = replied.as_object_mut() {
            o.remove("reply_to_message");
        }
        message.insert("reply_to_message".into(), replied);
    }
    if let Some(markup) = &reply_markup {
        message.insert("reply_markup".into(), markup.clone());
    }
    Ok(Envelope {
        message,
        record: FakeMessage {
            message_id,
            chat_id,
            thread_id: thread,
            text: String::new(),
            raw_text: String::new(),
            parse_mode: None,
            reply_to,
            edits: Vec::new(),
            raw_edits: Vec::new(),
            deleted: false,
            photo: false,
            document: None,
            caption: None,
            file_id: None,
            sent_with: None,
            entities: Vec::new(),
            reply_markup,
        },
    })
}

/// Stores a finished bot message; returns it as the `result`.
pub(crate) fn store(s: &mut State, envelope: Envelope) -> Value {
    let message = Value::Object(envelope.message);
    let record = envelope.record;
    if let Some(chat) = s.chats.get_mut(&record.chat_id) {
        chat.messages.insert(record.message_id, message.clone());
    }
    s.bot_messages.push(record);
    message
}

fn send_message(shared: &Shared, s: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.chat_id()?;
    let raw = p.str("text").unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    chat(s, p.chat_id()?)?;
    let formatted = format(&raw, parse_mode.as_deref(), p.json("entities")?)?;
    if formatted.text.is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if utf16_len(&formatted.text) > MAX_TEXT {
        return Err(ApiError::bad_request("message is too long"));
    }
    let mut envelope = envelope(shared, s, p)?;
    envelope
        .message
        .insert("text".into(), json!(formatted.text));
    if !formatted.entities.is_empty() {
        envelope
            .message
            .insert("entities".into(), json!(formatted.entities));
    }
    envelope.record.text = formatted.text;
    envelope.record.raw_text = raw;
    envelope.record.parse_mode = parse_mode;
    envelope.record.entities = formatted.entities;
    Ok(store(s, envelope))
}

/// `editMessageText` (`field` = `text`) and `editMessageCaption`.
fn edit(shared: &Shared, s: &mut State, p: &Params, field: &str) -> Result<Value, ApiError> {
    if p.str("inline_message_id").is_some() {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = p.chat_id()?;
    let message_id = p.message_id()?;
    let raw = p.str(field).unwrap_or_default();
    let is_text = field == "text";
    if is_text && raw.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let parse_mode = p.str("parse_mode").filter(|m| !m.is_empty());
    let reply_markup = p.json("reply_markup")?;
    let entities_field = if is_text {
        "entities"
    } else {
        "caption_entities"
    };
    let formatted = format(&raw, parse_mode.as_deref(), p.json(entities_field)?)?;
    let (limit, too_long) = if is_text {
        (MAX_TEXT, "message is too long")
    } else {
        (MAX_CAPTION, "message caption is too long")
    };
    if utf16_len(&formatted.text) > limit {
        return Err(ApiError::bad_request(too_long));
    }
    let bot_id = shared.bot.id;
    let message = chat(s, chat_id)?
        .messages
        .get_mut(&message_id)
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if message["from"]["id"].as_i64() != Some(bot_id) {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    if is_text && message.get("text").is_none() {
        return Err(ApiError::bad_request(
            "there is no text in the message to edit",
        ));
    }
    if !is_text && message.get("text").is_some() {
        return Err(ApiError::bad_request(
            "there is no caption in the message to edit",
        ));
    }
    let old_entities = message
        .get(if is_text {
            "entities"
        } else {
            "caption_entities"
        })
        .cloned()
        .unwrap_or(json!([]));
    if message[field].as_str().unwrap_or("") == formatted.text
        && old_entities == json!(formatted.entities)
        && message.get("reply_markup") == reply_markup.as_ref()
    {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    let o = message
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    o.insert(field.into(), json!(formatted.text));
    let entities_key = if is_text {
        "entities"
    } else {
        "caption_entities"
    };
    if formatted.entities.is_empty() {
        o.remove(entities_key);
    } else {
        o.insert(entities_key.into(), json!(formatted.entities));
    }
    match &reply_markup {
        Some(markup) => o.insert("reply_markup".into(), markup.clone()),
        None => o.remove("reply_markup"),
    };
    o.insert("edit_date".into(), json!(shared.date()));
    let result = message.clone();
    if let Some(record) = s.bot_message_mut(chat_id, message_id) {
        record.edits.push(formatted.text);
        record.raw_edits.push((raw, parse_mode));
        record.entities = formatted.entities;
        record.reply_markup = reply_markup;
    }
    Ok(result)
}

fn delete_message(s: &mut State, p: &Params) -> Result<Value, ApiError> {
    let chat_id = p.chat_id()?;
    let message_id = p.message_id()?;
    if chat(s, chat_id)?.messages.remove(&message_id).is_none() {
        return Err(ApiError::bad_request("message to delete not found"));
    }
    if let Some(record) = s.bot_message_mut(chat_id, message_id) {
        record.deleted = true;
    }
    Ok(json!(true))
}

fn delete_messages(s: &mut State, p: &Params) -> Result<Value, ApiError> {
    let chat_id = p.chat_id()?;
    let ids: Vec<i64> = p
        .json("message_ids")?
        .and_then(|ids| ids.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request("message identifiers are invalid"));
    }
    let chat = chat(s, chat_id)?;
    let deleted: Vec<i64> = ids
        .into_iter()
        .filter(|id| chat.messages.remove(id).is_some())
        .collect();
    for id in deleted {
        if let Some(record) = s.bot_message_mut(chat_id, id) {
            record.deleted = true;
        }
    }
    Ok(json!(true))
}

fn send_chat_action(s: &mut State, p: &Params) -> Result<Value, ApiError> {
    let chat_id = p.chat_id()?;
    let action = p.str("action").unwrap_or_default();
    if !CHAT_ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request("wrong parameter action in request"));
    }
    chat(s, chat_id)?;
    s.chat_actions.push((chat_id, action));
    Ok(json!(true))
}

/// `(scope type, language_code)` of a commands call.
fn commands_key(p: &Params) -> Result<(String, String), ApiError> {
    let scope = p
        .json("scope")?
        .and_then(|scope| scope["type"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "default".to_owned());
    Ok((scope, p.str("language_code").unwrap_or_default()))
}

fn set_my_commands(s: &mut State, p: &Params) -> Result<Value, ApiError> {
    let Some(Value::Array(list)) = p.json("commands")? else {
        return Err(ApiError::bad_request("parameter \"commands\" is required"));
    };
    if list.len() > 100 {
        return Err(ApiError::bad_request("too many commands specified"));
    }
    let mut commands = Vec::new();
    for entry in &list {
        let command = entry["command"].as_str().unwrap_or("");
        let description = entry["description"].as_str().unwrap_or("");
        let valid = (1..=32).contains(&command.len())
            && command
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&description.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        commands.push((command.to_owned(), description.to_owned()));
    }
    s.commands.insert(commands_key(p)?, commands);
    s.set_my_commands_calls += 1;
    Ok(json!(true))
}

fn get_my_commands(s: &mut State, p: &Params) -> Result<Value, ApiError> {
    let commands = s
        .commands
        .get(&commands_key(p)?)
        .cloned()
        .unwrap_or_default();
    Ok(commands
        .into_iter()
        .map(|(command, description)| json!({"command": command, "description": description}))
        .collect())
}

fn set_webhook(s: &mut State, p: &Params) -> Result<Value, ApiError> {
    let url = p.str("url").unwrap_or_default();
    let secret_token = p.str("secret_token").filter(|t| !t.is_empty());
    if let Some(token) = &secret_token {
        let allowed = token.len() <= 256
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !allowed {
            return Err(ApiError::bad_request(
                "secret token contains unallowed characters",
            ));
        }
    }
    if p.bool("drop_pending_updates") {
        s.updates.clear();
    }
    if let Some(Value::Array(kinds)) = p.json("allowed_updates")? {
        s.allowed_updates = Some(
            kinds
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
        );
    }
    if url.is_empty() {
        s.webhook = None;
        return Ok(json!(true));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    s.webhook = Some(Webhook { url, secret_token });
    Ok(json!(true))
}
