//! The channel and message routes: get a channel or message, open a DM,
//! create, edit and delete messages, typing and reactions, with the
//! checks and errors of the Message, Channel and User resources. Each
//! handler runs under the state lock and fires the gateway events its
//! docs name.

use super::body::Body;
use super::errors::{ApiError, FormErrors, max_length};
use super::messages::{self, DEFAULT, Draft};
use super::session::intents;
use super::state::{BotReaction, ChannelRec, DM, FakeFile, SentMessage, Shared, State};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// "The default limit is 10 MiB" per uploaded file.
const FILE_LIMIT: usize = 10 << 20;
/// Message `content` limit, in characters.
pub(crate) const CONTENT_LIMIT: usize = 2000;

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
}

impl Reply {
    pub(crate) fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
        }
    }

    pub(crate) fn created(body: Value) -> Self {
        Self {
            status: 201,
            body: Some(body),
        }
    }

    pub(crate) fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
        }
    }
}

pub(crate) type Answer = Result<Reply, ApiError>;

/// The message fields of a create or edit body, checked.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// `Some` when the body set `content` (null counts as empty).
    pub(crate) content: Option<String>,
    pub(crate) embeds: Option<Vec<Value>>,
    pub(crate) components: Option<Vec<Value>>,
    pub(crate) flags: Option<u64>,
    /// `attachments` metadata, when given.
    pub(crate) attachments: Option<Vec<Value>>,
    pub(crate) files: Vec<(Option<u64>, FakeFile)>,
    /// Stickers or a poll: content that is not modelled but not empty.
    pub(crate) other_content: bool,
}

impl Parts {
    pub(crate) fn is_empty(&self) -> bool {
        self.content.as_deref().unwrap_or("").is_empty()
            && self.embeds.as_ref().is_none_or(Vec::is_empty)
            && self.components.as_ref().is_none_or(Vec::is_empty)
            && self.files.is_empty()
            && !self.other_content
    }
}

/// Reads and checks the message fields of `body`: content up to 2,000
/// characters, up to 10 embeds, files up to 10 MiB.
pub(crate) fn parts(body: &Body) -> Result<Parts, ApiError> {
    let object = body.object();
    let mut errors = FormErrors::new();
    let mut parts = Parts::default();
    match object.get("content") {
        None => {}
        Some(Value::Null) => parts.content = Some(String::new()),
        Some(Value::String(text)) => {
            if text.chars().count() > CONTENT_LIMIT {
                errors.add(
                    "content",
                    "BASE_TYPE_MAX_LENGTH",
                    &max_length(CONTENT_LIMIT),
                );
            }
            parts.content = Some(text.clone());
        }
        Some(other) => errors.add(
            "content",
            "BASE_TYPE_STRING",
            &format!("Could not interpret \"{other}\" as string."),
        ),
    }
    let list = |name: &str, errors: &mut FormErrors| match object.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => {
            errors.add(name, "BASE_TYPE_ARRAY", "Must be an array.");
            None
        }
    };
    parts.embeds = list("embeds", &mut errors);
    if parts.embeds.as_ref().is_some_and(|e| e.len() > 10) {
        errors.add("embeds", "BASE_TYPE_MAX_LENGTH", &max_length(10));
    }
    parts.components = list("components", &mut errors);
    parts.attachments = list("attachments", &mut errors);
    parts.flags = object.get("flags").and_then(Value::as_u64);
    parts.other_content = ["sticker_ids", "poll", "shared_client_theme"]
        .iter()
        .any(|k| object.get(*k).is_some_and(|v| !v.is_null()));
    if !errors.is_empty() {
        return Err(errors.into_error());
    }
    for upload in &body.uploads {
        if upload.file.bytes.len() > FILE_LIMIT {
            return Err(ApiError::new(413, 40005, "Request entity too large"));
        }
        parts.files.push((upload.index(), upload.file.clone()));
    }
    Ok(parts)
}

/// Attachment objects for new files, with the filename and description
/// of their `attachments` entry (matched by `files[n]` index) if any.
pub(crate) fn attach(shared: &Shared, s: &mut State, channel_id: u64, parts: &Parts) -> Vec<Value> {
    let mut attached = Vec::new();
    for (index, file) in &parts.files {
        let meta = parts.attachments.iter().flatten().find(|a| {
            index.is_some() && a["id"].as_u64().or_else(|| a["id"].as_str()?.parse().ok()) == *index
        });
        let mut file = file.clone();
        if let Some(name) = meta.and_then(|m| m["filename"].as_str()) {
            file.filename = name.to_owned();
        }
        let mut attachment = s.store_attachment(&shared.http_base, channel_id, file);
        if let Some(description) = meta.and_then(|m| m["description"].as_str()) {
            attachment["description"] = json!(description);
        }
        attached.push(attachment);
    }
    attached
}

pub(crate) fn channel(s: &State, id: u64) -> Result<&ChannelRec, ApiError> {
    s.channels.get(&id).ok_or_else(ApiError::unknown_channel)
}

/// A live message of `channel_id`.
pub(crate) fn message(s: &State, channel_id: u64, id: u64) -> Result<(), ApiError> {
    channel(s, channel_id)?;
    match s.messages.get(&id) {
        Some(m) if m.channel_id == channel_id && !m.deleted => Ok(()),
        _ => Err(ApiError::unknown_message()),
    }
}

pub(crate) fn get_channel(shared: &Shared, s: &State, channel_id: u64) -> Answer {
    let record = channel(s, channel_id)?;
    let mut json = record.json(&s.users);
    if record.is_thread() && record.bot_joined {
        json["member"] = json!({
            "id": channel_id.to_string(),
            "user_id": shared.bot_id.to_string(),
            "join_timestamp": record.created,
            "flags": 1,
        });
    }
    Ok(Reply::ok(json))
}

/// `POST /users/@me/channels`: the DM channel with `recipient_id`
/// (made on first use, as Discord returns the existing one).
pub(crate) fn create_dm(s: &mut State, body: &Body) -> Answer {
    let recipient = &body.json["recipient_id"];
    let Some(user_id) = recipient
        .as_u64()
        .or_else(|| recipient.as_str()?.parse().ok())
    else {
        return Err(ApiError::form(
            "recipient_id",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    };
    if !s.users.contains_key(&user_id) {
        return Err(ApiError::new(404, 10013, "Unknown User"));
    }
    let id = s.dm_channel(user_id);
    Ok(Reply::ok(s.channels[&id].json(&s.users)))
}

pub(crate) fn get_message(s: &State, channel_id: u64, id: u64) -> Answer {
    message(s, channel_id, id)?;
    Ok(Reply::ok(s.messages[&id].json.clone()))
}

pub(crate) fn create_message(
    shared: &Shared,
    s: &mut State,
    channel_id: u64,
    body: &Body,
) -> Answer {
    let target = channel(s, channel_id)?;
    if !target.is_textual() {
        return Err(ApiError::new(
            400,
            50008,
            "Cannot send messages in a non-text channel",
        ));
    }
    let parts = parts(body)?;
    let object = body.object();
    let nonce = object.get("nonce").filter(|n| !n.is_null()).cloned();
    if let Some(Value::String(text)) = &nonce
        && text.chars().count() > 25
    {
        return Err(ApiError::form(
            "nonce",
            "BASE_TYPE_MAX_LENGTH",
            &max_length(25),
        ));
    }
    let reply_to = reference(s, channel_id, &object)?;
    if parts.is_empty() {
        return Err(ApiError::empty_message());
    }
    if object.get("enforce_nonce") == Some(&Value::Bool(true))
        && let Some(key) = nonce.as_ref().map(Value::to_string)
    {
        let now = Instant::now();
        s.nonces
            .retain(|_, (_, at)| now - *at < Duration::from_secs(120));
        if let Some((existing, _)) = s.nonces.get(&key) {
            return Ok(Reply::ok(s.messages[existing].json.clone()));
        }
    }
    let attachments = attach(shared, s, channel_id, &parts);
    // For the API "replied_user" defaults to false: a reply pings only if asked.
    let reply_ping = object
        .get("allowed_mentions")
        .is_some_and(|a| a["replied_user"] == Value::Bool(true));
    let draft = Draft {
        channel_id,
        author_id: shared.bot_id,
        content: parts.content.clone().unwrap_or_default(),
        kind: DEFAULT,
        reply_to,
        reply_ping,
        attachments,
        embeds: parts.embeds.clone().unwrap_or_default(),
        components: parts.components.clone().unwrap_or_default(),
        flags: parts.flags.unwrap_or(0),
        nonce: nonce.clone(),
        tts: object.get("tts") == Some(&Value::Bool(true)),
        extra: Map::new(),
    };
    let id = messages::store(s, draft);
    if let Some(key) = nonce.as_ref().map(Value::to_string) {
        s.nonces.insert(key, (id, Instant::now()));
    }
    if let Some(record) = s.channels.get_mut(&channel_id)
        && record.is_thread()
    {
        // "The API will helpfully automatically add users to a thread when
        // sending a message in that thread."
        record.bot_joined = true;
    }
    s.bot_messages.push(SentMessage {
        id,
        channel_id,
        content: parts.content.clone().unwrap_or_default(),
        edits: Vec::new(),
        deleted: false,
        reply_to,
        files: parts.files.iter().map(|(_, f)| f.clone()).collect(),
        embeds: parts.embeds.unwrap_or_default(),
        components: parts.components.unwrap_or_default(),
        flags: parts.flags.unwrap_or(0),
        interaction_id: None,
        body: body.json.clone(),
    });
    messages::dispatch_create(shared, s, id);
    Ok(Reply::ok(s.messages[&id].json.clone()))
}

/// The message a create request replies to: `message_reference` must
/// name an existing message unless `fail_if_not_exists` is false.
fn reference(
    s: &State,
    channel_id: u64,
    object: &Map<String, Value>,
) -> Result<Option<u64>, ApiError> {
    let Some(reference) = object.get("message_reference").filter(|r| !r.is_null()) else {
        return Ok(None);
    };
    let id_of = |v: &Value| v.as_u64().or_else(|| v.as_str()?.parse().ok());
    let target = id_of(&reference["message_id"]);
    let in_channel = id_of(&reference["channel_id"]).unwrap_or(channel_id);
    let found = target.filter(|id| {
        s.messages
            .get(id)
            .is_some_and(|m| m.channel_id == in_channel && !m.deleted)
    });
    let fail = reference["fail_if_not_exists"].as_bool().unwrap_or(true);
    match found {
        Some(id) => Ok(Some(id)),
        None if fail => Err(ApiError::form(
            "message_reference",
            "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
            "Unknown message",
        )),
        None => Ok(None),
    }
}

pub(crate) fn edit_message(
    shared: &Shared,
    s: &mut State,
    channel_id: u64,
    id: u64,
    body: &Body,
) -> Answer {
    message(s, channel_id, id)?;
    if s.messages[&id].author_id != shared.bot_id {
        return Err(ApiError::new(
            403,
            50005,
            "Cannot edit a message authored by another user",
        ));
    }
    apply_edit(shared, s, id, body, 0)
}

/// Edits the bot's live message `id` with `body`, clearing the flags in
/// `clear` (a deferred response's `LOADING` once it is edited); fires
/// MESSAGE_UPDATE unless the message is ephemeral.
pub(crate) fn apply_edit(
    shared: &Shared,
    s: &mut State,
    id: u64,
    body: &Body,
    clear: u64,
) -> Answer {
    let parts = parts(body)?;
    let channel_id = s.messages[&id].channel_id;
    let attachments = attach(shared, s, channel_id, &parts);
    let edited = s.clock.iso_now();
    let record = s.messages.get_mut(&id).expect("checked by the caller");
    let json = &mut record.json;
    let flags = json["flags"].as_u64().unwrap_or(0) & !clear;
    json["flags"] = json!(flags);
    if let Some(content) = &parts.content {
        json["content"] = json!(content);
    }
    if let Some(embeds) = &parts.embeds {
        json["embeds"] = json!(embeds);
    }
    if let Some(components) = &parts.components {
        json["components"] = json!(components);
    }
    if let Some(flags) = parts.flags {
        json["flags"] = json!(flags);
    }
    // "The attachments array must contain all attachments that should be
    // present after edit": without it existing files stay.
    let mut kept: Vec<Value> = match &parts.attachments {
        Some(keep) => json["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| keep.iter().any(|k| k["id"] == a["id"]))
            .cloned()
            .collect(),
        None => json["attachments"].as_array().cloned().unwrap_or_default(),
    };
    kept.extend(attachments);
    json["attachments"] = json!(kept);
    json["edited_timestamp"] = json!(edited);
    let now_empty = json["content"].as_str().unwrap_or("").is_empty()
        && json["embeds"].as_array().is_none_or(Vec::is_empty)
        && json["attachments"].as_array().is_none_or(Vec::is_empty)
        && json["components"].as_array().is_none_or(Vec::is_empty);
    if now_empty {
        return Err(ApiError::empty_message());
    }
    let result = json.clone();
    if let Some(sent) = s.bot_message_mut(id) {
        if let Some(content) = parts.content {
            sent.edits.push(content);
        }
        if let Some(embeds) = parts.embeds {
            sent.embeds = embeds;
        }
        if let Some(components) = parts.components {
            sent.components = components;
        }
        sent.flags = result["flags"].as_u64().unwrap_or(0);
        sent.files.extend(parts.files.into_iter().map(|(_, f)| f));
    }
    if result["flags"].as_u64().unwrap_or(0) & super::EPHEMERAL == 0 {
        messages::dispatch_update(shared, s, id);
    }
    Ok(Reply::ok(result))
}

pub(crate) fn delete_message(shared: &Shared, s: &mut State, channel_id: u64, id: u64) -> Answer {
    message(s, channel_id, id)?;
    let in_dm = s.channels[&channel_id].kind == DM;
    if in_dm && s.messages[&id].author_id != shared.bot_id {
        return Err(ApiError::new(
            403,
            50003,
            "Cannot execute action on a DM channel",
        ));
    }
    if let Some(record) = s.messages.get_mut(&id) {
        record.deleted = true;
    }
    if let Some(sent) = s.bot_message_mut(id) {
        sent.deleted = true;
    }
    messages::dispatch_delete(s, channel_id, id);
    Ok(Reply::no_content())
}

pub(crate) fn trigger_typing(shared: &Shared, s: &mut State, channel_id: u64) -> Answer {
    let target = channel(s, channel_id)?;
    if !target.is_textual() {
        return Err(ApiError::new(
            400,
            50008,
            "Cannot send messages in a non-text channel",
        ));
    }
    let guild_id = target.guild_id;
    s.typing.push(channel_id);
    let mut data = json!({
        "channel_id": channel_id.to_string(),
        "user_id": shared.bot_id.to_string(),
        "timestamp": s.clock.now_ms() / 1000,
    });
    let needs = match guild_id {
        Some(guild) => {
            data["guild_id"] = json!(guild.to_string());
            if let Some(member) = s
                .guilds
                .get(&guild)
                .and_then(|g| g.member_json(shared.bot_id))
            {
                data["member"] = member;
                data["member"]["user"] = s.user_json(shared.bot_id);
            }
            intents::GUILD_MESSAGE_TYPING
        }
        None => intents::DIRECT_MESSAGE_TYPING,
    };
    s.gateway.dispatch("TYPING_START", data, needs);
    Ok(Reply::no_content())
}

/// A reaction emoji as the path gave it: a Unicode emoji, or `name:id`
/// for a custom one; anything else (`thumbsup`, `:smile:`) is unknown.
fn emoji(text: &str) -> Result<Value, ApiError> {
    if let Some((name, id)) = text.split_once(':')
        && !name.is_empty()
        && id.parse::<u64>().is_ok()
    {
        return Ok(json!({"id": id, "name": name}));
    }
    if text.is_empty() || text.is_ascii() {
        return Err(ApiError::unknown_emoji());
    }
    Ok(json!({"id": null, "name": text}))
}

pub(crate) fn reaction(
    shared: &Shared,
    s: &mut State,
    channel_id: u64,
    id: u64,
    raw: &str,
    add: bool,
) -> Answer {
    message(s, channel_id, id)?;
    let emoji_json = emoji(raw)?;
    let active = s.reactions.iter().position(|r| {
        r.channel_id == channel_id && r.message_id == id && r.emoji == raw && !r.removed
    });
    match (add, active) {
        (true, None) => s.reactions.push(BotReaction {
            channel_id,
            message_id: id,
            emoji: raw.to_owned(),
            removed: false,
        }),
        (false, Some(index)) => s.reactions[index].removed = true,
        // Adding twice or removing what is not there changes nothing.
        _ => return Ok(Reply::no_content()),
    }
    let guild_id = s.channels[&channel_id].guild_id;
    let mut data = json!({
        "user_id": shared.bot_id.to_string(),
        "channel_id": channel_id.to_string(),
        "message_id": id.to_string(),
        "emoji": emoji_json,
        "burst": false,
        "type": 0,
    });
    if add {
        data["message_author_id"] = json!(s.messages[&id].author_id.to_string());
        data["burst_colors"] = json!([]);
    }
    let needs = match guild_id {
        Some(guild) => {
            data["guild_id"] = json!(guild.to_string());
            if add
                && let Some(member) = s
                    .guilds
                    .get(&guild)
                    .and_then(|g| g.member_json(shared.bot_id))
            {
                data["member"] = member;
                data["member"]["user"] = s.user_json(shared.bot_id);
            }
            intents::GUILD_MESSAGE_REACTIONS
        }
        None => intents::DIRECT_MESSAGE_REACTIONS,
    };
    let event = if add {
        "MESSAGE_REACTION_ADD"
    } else {
        "MESSAGE_REACTION_REMOVE"
    };
    s.gateway.dispatch(event, data, needs);
    Ok(Reply::no_content())
}
