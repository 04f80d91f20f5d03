//! What Slack sends an app, shaped as its documentation shows: the
//! `event_callback` wrapper, `message` events (plain, in threads, from
//! bots, `message_changed`, `message_deleted`), `app_mention`, slash
//! command and interactive payloads; and where they go — over Socket
//! Mode, or to the Events API request URL when one is set.

use super::http_events::{self, PostKind};
use super::socket::{self, EnvelopeKind};
use super::state::{Author, Channel, ChannelKind, Shared, State, StoredMessage, unix_secs};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A UUID-shaped id (`client_msg_id`, `envelope_id`), unique per fake.
pub(crate) fn uuid(s: &mut State) -> String {
    let n = s.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        0x5ac0_0000_u32 | (n as u32 & 0xffff),
        n & 0xffff,
        (n >> 4) & 0xfff,
        (n >> 8) & 0xfff,
        n
    )
}

/// Wraps an event as the Events API delivers it.
pub(crate) fn event_callback(shared: &Shared, s: &mut State, event: Value) -> Value {
    let config = &shared.config;
    let n = s.next();
    let event_type = event["type"].as_str().unwrap_or("event").to_owned();
    let channel = event["channel"].as_str().unwrap_or("").to_owned();
    let mut callback = json!({
        "token": config.verification_token,
        "team_id": config.team_id,
        "context_team_id": config.team_id,
        "context_enterprise_id": null,
        "api_app_id": config.app_id,
        "event": null,
        "type": "event_callback",
        "event_id": format!("Ev0{n:09}"),
        "event_time": unix_secs(),
        "authorizations": [{
            "enterprise_id": null,
            "team_id": config.team_id,
            "user_id": config.bot_user_id,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
        "event_context": format!("4-{event_type}-{}-{channel}", config.team_id),
    });
    callback["event"] = event;
    callback
}

/// The `rich_text` block Slack adds to a message a person typed: the text
/// split into text and user-mention elements.
fn rich_text(s: &mut State, text: &str) -> Value {
    let mut elements = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        if start > 0 {
            elements.push(json!({"type": "text", "text": &rest[..start]}));
        }
        let id = &rest[start + 2..start + len];
        let id = id.split('|').next().unwrap_or(id);
        elements.push(json!({"type": "user", "user_id": id}));
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        elements.push(json!({"type": "text", "text": rest}));
    }
    let n = s.next();
    json!([{
        "type": "rich_text",
        "block_id": format!("b{n:04}"),
        "elements": [{"type": "rich_text_section", "elements": elements}],
    }])
}

/// The message object of a message a user (or another app's bot user)
/// writes.
pub(crate) fn user_message(
    shared: &Shared,
    s: &mut State,
    user: &str,
    text: &str,
    ts: &str,
    thread: Option<(&str, &str)>,
) -> Value {
    let bot_id = s.users.get(user).and_then(|u| u.bot_id.clone());
    let mut message = json!({
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": shared.config.team_id,
    });
    match bot_id {
        Some(bot_id) => {
            message["bot_id"] = json!(bot_id);
            message["bot_profile"] = json!({
                "id": bot_id,
                "deleted": false,
                "name": s.users.get(user).map_or("", |u| u.name.as_str()),
                "team_id": shared.config.team_id,
            });
        }
        None => {
            message["client_msg_id"] = json!(uuid(s));
            message["blocks"] = rich_text(s, text);
        }
    }
    if let Some((thread_ts, parent_user)) = thread {
        message["thread_ts"] = json!(thread_ts);
        message["parent_user_id"] = json!(parent_user);
    }
    message
}

/// The message object of something the fake's bot posted.
pub(crate) fn bot_message(
    shared: &Shared,
    text: &str,
    ts: &str,
    thread_ts: Option<&str>,
    blocks: Option<&Value>,
) -> Value {
    let config = &shared.config;
    let mut message = json!({
        "type": "message",
        "text": text,
        "user": config.bot_user_id,
        "bot_id": config.bot_id,
        "app_id": config.app_id,
        "ts": ts,
        "team": config.team_id,
        "bot_profile": {
            "id": config.bot_id,
            "app_id": config.app_id,
            "name": config.bot_name,
            "deleted": false,
            "team_id": config.team_id,
        },
    });
    if let Some(blocks) = blocks {
        message["blocks"] = blocks.clone();
    }
    if let Some(thread_ts) = thread_ts {
        message["thread_ts"] = json!(thread_ts);
    }
    message
}

/// A `message` event for `message` in `channel`.
pub(crate) fn message_event(channel: &Channel, message: &Value) -> Value {
    let mut event = message.clone();
    event["channel"] = json!(channel.id);
    event["event_ts"] = message["ts"].clone();
    event["channel_type"] = json!(channel.kind.event_type());
    event
}

/// Whether Slack sends `channel`'s messages to the app: DMs always,
/// channels only when the bot is a member.
pub(crate) fn delivers(channel: &Channel) -> bool {
    channel.kind == ChannelKind::Im || channel.bot_is_member
}

/// Stores a new message and sends its events: the `message` event, and an
/// `app_mention` when it mentions the bot outside a DM (Slack sends both).
pub(crate) fn post(shared: &Arc<Shared>, s: &mut State, channel: &Channel, stored: StoredMessage) {
    let message = stored.json.clone();
    let from_bot = stored.author == Author::Bot;
    s.messages.push(stored);
    if !delivers(channel) || (from_bot && !shared.config.echo_bot_messages) {
        return;
    }
    send_event(shared, s, message_event(channel, &message));
    let mention = format!("<@{}>", shared.config.bot_user_id);
    let text = message["text"].as_str().unwrap_or("");
    if channel.kind != ChannelKind::Im && !from_bot && text.contains(&mention) {
        let mut event = Map::new();
        event.insert("type".into(), json!("app_mention"));
        for field in [
            "user",
            "text",
            "ts",
            "team",
            "client_msg_id",
            "blocks",
            "thread_ts",
            "bot_id",
        ] {
            if let Some(value) = message.get(field) {
                event.insert(field.into(), value.clone());
            }
        }
        event.insert("channel".into(), json!(channel.id));
        event.insert("event_ts".into(), message["ts"].clone());
        send_event(shared, s, Value::Object(event));
    }
}

/// A `message_changed` event: `message` is the new version, `previous` the
/// old one.
pub(crate) fn changed(
    shared: &Arc<Shared>,
    s: &mut State,
    channel: &Channel,
    message: &Value,
    previous: &Value,
) {
    if !delivers(channel) {
        return;
    }
    let ts = s.next_ts();
    let event = json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "message": message,
        "previous_message": previous,
        "channel": channel.id,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel.kind.event_type(),
    });
    send_event(shared, s, event);
}

/// A `message_deleted` event for `previous`.
pub(crate) fn deleted(shared: &Arc<Shared>, s: &mut State, channel: &Channel, previous: &Value) {
    if !delivers(channel) {
        return;
    }
    let ts = s.next_ts();
    let event = json!({
        "type": "message",
        "subtype": "message_deleted",
        "hidden": true,
        "deleted_ts": previous["ts"],
        "previous_message": previous,
        "channel": channel.id,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel.kind.event_type(),
    });
    send_event(shared, s, event);
}

/// Wraps `event` in an `event_callback` and sends it; returns the
/// callback.
pub(crate) fn send_event(shared: &Arc<Shared>, s: &mut State, event: Value) -> Value {
    let callback = event_callback(shared, s, event);
    send_payload(shared, s, EnvelopeKind::EventsApi, callback.clone());
    callback
}

/// Sends a payload the app receives: over Socket Mode, or as an HTTP
/// request when a request URL is set (events as JSON, slash commands as a
/// form, interactive payloads as a form's `payload`).
pub(crate) fn send_payload(
    shared: &Arc<Shared>,
    s: &mut State,
    kind: EnvelopeKind,
    payload: Value,
) {
    if s.http.request_url.is_none() {
        // Only interactive and slash command envelopes accept a response
        // payload, as Slack's examples show.
        let accepts = kind != EnvelopeKind::EventsApi;
        socket::enqueue(shared, s, kind, payload, accepts);
        return;
    }
    let (kind, body) = match kind {
        EnvelopeKind::EventsApi => (PostKind::Event, payload.to_string()),
        EnvelopeKind::SlashCommands => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            if let Some(fields) = payload.as_object() {
                for (name, value) in fields {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    form.append_pair(name, &text);
                }
            }
            (PostKind::SlashCommand, form.finish())
        }
        EnvelopeKind::Interactive => {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &payload.to_string())
                .finish();
            (PostKind::Interactive, body)
        }
    };
    http_events::spawn_delivery(
        shared,
        kind,
        body,
        payload["event_id"].as_str().map(str::to_owned),
    );
}

/// A slash command's payload, as the docs show it.
pub(crate) fn slash_command(
    shared: &Shared,
    s: &mut State,
    user: &str,
    channel: &Channel,
    command: &str,
    text: &str,
) -> Value {
    let config = &shared.config;
    let n = s.next();
    let user_name = s.users.get(user).map_or("", |u| u.name.as_str()).to_owned();
    let channel_name = match channel.kind {
        ChannelKind::Im => "directmessage".to_owned(),
        _ => channel.name.clone(),
    };
    json!({
        "token": config.verification_token,
        "team_id": config.team_id,
        "team_domain": config.team_domain,
        "channel_id": channel.id,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": config.app_id,
        "is_enterprise_install": "false",
        "response_url": format!("{}/commands/{}/{n}/hermodResponseUrl", shared.base_url(), config.team_id),
        "trigger_id": format!("{n}.1000000001.hermodtrigger{n:08x}"),
    })
}

/// A `block_actions` payload for a click on a button of `message`.
pub(crate) fn block_action(
    shared: &Shared,
    s: &mut State,
    user: &str,
    channel: &Channel,
    message: &Value,
    action_id: &str,
    value: &str,
) -> Value {
    let config = &shared.config;
    let n = s.next();
    let user_name = s.users.get(user).map_or("", |u| u.name.as_str()).to_owned();
    json!({
        "type": "block_actions",
        "team": {"id": config.team_id, "domain": config.team_domain},
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": config.team_id},
        "api_app_id": config.app_id,
        "token": config.verification_token,
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel.id,
            "is_ephemeral": false,
        },
        "trigger_id": format!("{n}.1000000001.hermodtrigger{n:08x}"),
        "channel": {"id": channel.id, "name": channel.name},
        "message": message,
        "response_url": format!("{}/actions/{}/{n}/hermodResponseUrl", shared.base_url(), config.app_id),
        "actions": [{
            "action_id": action_id,
            "block_id": format!("b{n:04}"),
            "value": value,
            "type": "button",
            "action_ts": format!("{}.{:06}", unix_secs(), n % 1_000_000),
        }],
    })
}
