//! The Web API methods: dispatch by name, and the message, reaction,
//! conversation and user methods, with the answers and error codes their
//! reference pages list. Files have their own module.

use super::events;
use super::files;
use super::limits::{self, ApiError};
use super::server::Params;
use super::state::{
    Author, BotMessage, Channel, ChannelKind, MessageEdit, Shared, State, StoredMessage,
};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tokio::time::Instant;

/// `chat.postMessage` truncates longer text, with the warning
/// `message_truncated`.
pub(crate) const MAX_POST_TEXT: usize = 40_000;
/// `chat.update` refuses longer text with `msg_too_long` ("The `text`
/// field cannot exceed 4,000 characters"). Slack also recommends keeping
/// any message's text under 4,000 characters.
pub(crate) const MAX_UPDATE_TEXT: usize = 4_000;
/// Block Kit allows up to 50 blocks in a message.
const MAX_BLOCKS: usize = 50;

type Answer = Result<(Map<String, Value>, Vec<&'static str>), ApiError>;

/// Handles a call of `method`; `warnings` come from how it was sent.
pub(crate) fn call(
    shared: &Arc<Shared>,
    method: &str,
    p: &Params,
    warnings: &[&'static str],
) -> Response {
    let answer = shared.update(|s| match method {
        "auth.test" => Ok((auth_test(shared), Vec::new())),
        "apps.connections.open" => Ok((connections_open(shared, s, p), Vec::new())),
        "chat.postMessage" => post_message(shared, s, p),
        "chat.update" => update(shared, s, p),
        "chat.delete" => delete(shared, s, p),
        "reactions.add" => react(shared, s, p, true),
        "reactions.remove" => react(shared, s, p, false),
        "conversations.info" => conversations_info(shared, s, p),
        "conversations.open" => conversations_open(shared, s, p),
        "users.info" => users_info(shared, s, p),
        "files.getUploadURLExternal" => files::get_upload_url(shared, s, p),
        "files.completeUploadExternal" => files::complete_upload(shared, s, p),
        "files.info" => files::info(shared, s, p),
        _ => Err(ApiError::slack("unknown_method")),
    });
    match answer {
        Ok((fields, mut more)) => {
            let mut all: Vec<&str> = warnings.to_vec();
            all.append(&mut more);
            limits::ok(fields, &all)
        }
        Err(error) => error.into_response(),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn auth_test(shared: &Shared) -> Map<String, Value> {
    let config = &shared.config;
    object(json!({
        "url": format!("https://{}.slack.com/", config.team_domain),
        "team": config.team_name,
        "user": config.bot_name,
        "team_id": config.team_id,
        "user_id": config.bot_user_id,
        "bot_id": config.bot_id,
        "is_enterprise_install": false,
    }))
}

fn connections_open(shared: &Shared, s: &mut State, _p: &Params) -> Map<String, Value> {
    let n = s.next();
    let ticket = s.socket.ticket(n);
    let url = format!(
        "{}/link/?ticket={ticket}&app_id={}",
        shared.base_url().replacen("http://", "ws://", 1),
        shared.config.app_id
    );
    object(json!({ "url": url }))
}

/// The channel named by `channel` (an id, a user id or a name), with the
/// errors the message methods give.
fn channel_for_post(s: &State, p: &Params) -> Result<Channel, ApiError> {
    let given = p
        .str("channel")
        .ok_or_else(|| ApiError::slack("channel_not_found"))?;
    let channel = s
        .resolve_channel(&given)
        .cloned()
        .ok_or_else(|| ApiError::slack("channel_not_found"))?;
    if !events::delivers(&channel) {
        return Err(ApiError::slack("not_in_channel"));
    }
    Ok(channel)
}

/// `channel` as an id: `chat.update` and `chat.delete` take no names, and
/// a DM by its `D…` id only.
fn channel_by_id(s: &State, p: &Params, name: &str) -> Result<Channel, ApiError> {
    let id = p
        .str(name)
        .ok_or_else(|| ApiError::slack("channel_not_found"))?;
    s.channels
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::slack("channel_not_found"))
}

/// `blocks`, checked: a JSON array (or a string of one) of at most 50.
fn blocks(p: &Params) -> Result<Option<Value>, ApiError> {
    let blocks = p
        .json("blocks")
        .map_err(|()| ApiError::slack("invalid_blocks_format"))?;
    match &blocks {
        None => Ok(None),
        Some(Value::Array(list)) if list.len() > MAX_BLOCKS => {
            Err(ApiError::slack("invalid_blocks"))
        }
        Some(Value::Array(list)) if list.iter().all(|b| b["type"].is_string()) => Ok(blocks),
        Some(_) => Err(ApiError::slack("invalid_blocks_format")),
    }
}

fn post_message(shared: &Arc<Shared>, s: &mut State, p: &Params) -> Answer {
    let channel = channel_for_post(s, p)?;
    let blocks = blocks(p)?;
    let text = p.str("text");
    if text.is_none() && blocks.is_none() && p.str("attachments").is_none() {
        return Err(ApiError::slack("no_text"));
    }
    let mut text = text.unwrap_or_default();
    let mut warnings = Vec::new();
    if text.chars().count() > MAX_POST_TEXT {
        text = text.chars().take(MAX_POST_TEXT).collect();
        warnings.push("message_truncated");
    }
    let thread_ts = p.str("thread_ts");
    let ts = s.next_ts();
    let message = events::bot_message(shared, &text, &ts, thread_ts.as_deref(), blocks.as_ref());
    let record = BotMessage {
        channel: channel.id.clone(),
        ts: ts.clone(),
        thread_ts,
        text,
        blocks,
        mrkdwn: p.bool("mrkdwn", true),
        edits: Vec::new(),
        deleted: false,
        reactions: Vec::new(),
        files: Vec::new(),
    };
    let stored = StoredMessage {
        author: Author::Bot,
        record,
        json: message.clone(),
    };
    events::post(shared, s, &channel, stored);
    let fields = object(json!({"channel": channel.id, "ts": ts, "message": message}));
    Ok((fields, warnings))
}

fn update(shared: &Arc<Shared>, s: &mut State, p: &Params) -> Answer {
    let channel = channel_by_id(s, p, "channel")?;
    let ts = p.str("ts").ok_or_else(|| ApiError::missing("ts"))?;
    let blocks = blocks(p)?;
    let text = p.str("text");
    let stored = s
        .message(&channel.id, &ts)
        .ok_or_else(|| ApiError::slack("message_not_found"))?;
    if stored.author != Author::Bot {
        return Err(ApiError::slack("cant_update_message"));
    }
    if text.is_none() && blocks.is_none() {
        return Err(ApiError::slack("no_text"));
    }
    let text = text.unwrap_or_default();
    if text.chars().count() > MAX_UPDATE_TEXT {
        return Err(ApiError::slack("msg_too_long"));
    }
    let edit_ts = s.next_ts();
    let bot_user = shared.config.bot_user_id.clone();
    let Some(stored) = s.message_mut(&channel.id, &ts) else {
        return Err(ApiError::slack("message_not_found"));
    };
    let previous = stored.json.clone();
    stored.record.edits.push(MessageEdit {
        text: text.clone(),
        blocks: blocks.clone(),
        at: Instant::now(),
    });
    stored.json["text"] = json!(text);
    match &blocks {
        Some(blocks) => stored.json["blocks"] = blocks.clone(),
        None => {
            if let Some(object) = stored.json.as_object_mut() {
                object.remove("blocks");
            }
        }
    }
    stored.json["edited"] = json!({"user": bot_user, "ts": edit_ts});
    let message = stored.json.clone();
    if shared.config.echo_bot_messages {
        events::changed(shared, s, &channel, &message, &previous);
    }
    let fields = object(json!({
        "channel": channel.id,
        "ts": ts,
        "text": text,
        "message": message,
    }));
    Ok((fields, Vec::new()))
}

fn delete(shared: &Arc<Shared>, s: &mut State, p: &Params) -> Answer {
    let channel = channel_by_id(s, p, "channel")?;
    let ts = p.str("ts").ok_or_else(|| ApiError::missing("ts"))?;
    let stored = s
        .message_mut(&channel.id, &ts)
        .ok_or_else(|| ApiError::slack("message_not_found"))?;
    if stored.author != Author::Bot {
        return Err(ApiError::slack("cant_delete_message"));
    }
    stored.record.deleted = true;
    let previous = stored.json.clone();
    if shared.config.echo_bot_messages {
        events::deleted(shared, s, &channel, &previous);
    }
    Ok((object(json!({"channel": channel.id, "ts": ts})), Vec::new()))
}

fn react(shared: &Shared, s: &mut State, p: &Params, add: bool) -> Answer {
    let name = p
        .str("name")
        .ok_or_else(|| ApiError::slack("invalid_name"))?;
    let (Some(channel), Some(ts)) = (p.str("channel"), p.str("timestamp")) else {
        return Err(ApiError::slack("no_item_specified"));
    };
    if !s.channels.contains_key(&channel) {
        return Err(ApiError::slack("channel_not_found"));
    }
    let me = shared.config.bot_user_id.clone();
    let stored = s
        .message_mut(&channel, &ts)
        .ok_or_else(|| ApiError::slack("message_not_found"))?;
    let reactions = &mut stored.record.reactions;
    let position = reactions.iter().position(|(n, u)| *n == name && *u == me);
    match (add, position) {
        (true, Some(_)) => return Err(ApiError::slack("already_reacted")),
        (true, None) => reactions.push((name, me)),
        (false, None) => return Err(ApiError::slack("no_reaction")),
        (false, Some(index)) => {
            reactions.remove(index);
        }
    }
    Ok((Map::new(), Vec::new()))
}

/// A conversation object, shaped per kind as `conversations.info` shows.
pub(crate) fn channel_json(shared: &Shared, channel: &Channel) -> Value {
    let team = &shared.config.team_id;
    match channel.kind {
        ChannelKind::Im => json!({
            "id": channel.id,
            "created": channel.created,
            "is_im": true,
            "is_org_shared": false,
            "user": channel.user,
            "is_user_deleted": false,
            "is_open": true,
            "priority": 0,
        }),
        kind => {
            let private = kind == ChannelKind::Private;
            json!({
                "id": channel.id,
                "name": channel.name,
                "is_channel": !private,
                "is_group": private,
                "is_im": false,
                "is_mpim": false,
                "is_private": private,
                "created": channel.created,
                "is_archived": false,
                "is_general": channel.name == "general",
                "unlinked": 0,
                "name_normalized": channel.name,
                "is_shared": false,
                "is_ext_shared": false,
                "is_org_shared": false,
                "is_pending_ext_shared": false,
                "pending_shared": [],
                "context_team_id": team,
                "is_member": channel.bot_is_member,
                "creator": "",
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
            })
        }
    }
}

fn conversations_info(shared: &Shared, s: &mut State, p: &Params) -> Answer {
    let channel = channel_by_id(s, p, "channel")?;
    let mut json = channel_json(shared, &channel);
    if p.bool("include_num_members", false) {
        let members = match channel.kind {
            ChannelKind::Im => 2,
            _ => s.users.len() + usize::from(channel.bot_is_member),
        };
        json["num_members"] = json!(members);
    }
    Ok((object(json!({ "channel": json })), Vec::new()))
}

fn conversations_open(shared: &Shared, s: &mut State, p: &Params) -> Answer {
    let users = p
        .str("users")
        .ok_or_else(|| ApiError::slack("users_list_not_supplied"))?;
    let user = users.split(',').next().unwrap_or_default().trim();
    let dm = s
        .users
        .get(user)
        .map(|u| u.dm.clone())
        .ok_or_else(|| ApiError::slack("user_not_found"))?;
    // `return_im` asks for the whole conversation object.
    let channel = match s.channels.get(&dm) {
        Some(channel) if p.bool("return_im", false) => channel_json(shared, channel),
        _ => json!({ "id": dm }),
    };
    Ok((object(json!({ "channel": channel })), Vec::new()))
}

fn users_info(shared: &Shared, s: &mut State, p: &Params) -> Answer {
    let id = p
        .str("user")
        .ok_or_else(|| ApiError::slack("user_not_found"))?;
    let config = &shared.config;
    let (name, real_name, bot_id) = if id == config.bot_user_id {
        (
            config.bot_name.clone(),
            "Hermod".to_owned(),
            Some(config.bot_id.clone()),
        )
    } else {
        let user = s
            .users
            .get(&id)
            .ok_or_else(|| ApiError::slack("user_not_found"))?;
        (
            user.name.clone(),
            user.real_name.clone(),
            user.bot_id.clone(),
        )
    };
    let mut profile = json!({
        "avatar_hash": "g0000hermod",
        "real_name": real_name,
        "display_name": name,
        "real_name_normalized": real_name,
        "display_name_normalized": name,
        "team": config.team_id,
        "image_48": "https://a.slack-edge.com/avatar-48.png",
    });
    if let Some(bot_id) = &bot_id {
        profile["bot_id"] = json!(bot_id);
    }
    let user = json!({
        "id": id,
        "team_id": config.team_id,
        "name": name,
        "deleted": false,
        "color": "9f69e7",
        "real_name": real_name,
        "tz": "Europe/Oslo",
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "profile": profile,
        "is_admin": false,
        "is_owner": false,
        "is_primary_owner": false,
        "is_restricted": false,
        "is_ultra_restricted": false,
        "is_bot": bot_id.is_some(),
        "is_app_user": false,
        "updated": 1_700_000_000,
    });
    Ok((object(json!({ "user": user })), Vec::new()))
}
