//! The gateway websocket (Gateway; Gateway Events): HELLO on connect,
//! IDENTIFY → READY and GUILD_CREATE, heartbeats and their ACKs, RESUME
//! with replay and RESUMED, and the close codes of Opcodes and Status
//! Codes for what a client gets wrong:
//!
//! | close | when |
//! |---|---|
//! | 4001 | an opcode a client may not send, or a payload without `op` |
//! | 4002 | not JSON, a binary frame, or a payload over 4096 bytes |
//! | 4003 | anything but a heartbeat before IDENTIFY or RESUME |
//! | 4004 | a wrong token in IDENTIFY or RESUME |
//! | 4005 | a second IDENTIFY (or RESUME) on one connection |
//! | 4007 | RESUME with a `seq` the session never reached |
//! | 4008 | more than 120 payloads in 60 seconds |
//! | 4010 | a `shard` that is not `[id, count]` with `id < count` |
//! | 4012 | a `v` other than 10 |
//! | 4013 | `intents` missing or with undefined bits |
//! | 4014 | a privileged intent the app has not enabled |
//!
//! A connection whose heartbeats stop for 1.5 heartbeat intervals is
//! closed with 4000 and its session kept, so the client must resume: the
//! docs say only that "your connection will be closed and you will be
//! forced to Resume", not which code is used.
//!
//! Only `encoding=json` without transport compression is served; a
//! connection asking for `etf` is closed with 4002.

use super::faults::SessionFault;
use super::session::{MessageView, Outgoing, intents};
use super::state::{ChannelRec, Shared, State};
use crate::peer::{self, socket::SocketPeer};
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Gateway payloads a client may send, larger ones close with 4002.
const MAX_PAYLOAD: usize = 4096;
/// "Apps can send 120 gateway events per connection every 60 seconds."
const SEND_LIMIT: usize = 120;
const SEND_WINDOW: Duration = Duration::from_secs(60);

/// Upgrades `GET /` (the connect URL) or `GET /resume` (READY's
/// `resume_gateway_url`) to a gateway connection.
pub(crate) fn upgrade(
    shared: Arc<Shared>,
    ws: WebSocketUpgrade,
    query: Option<String>,
    via_resume_url: bool,
) -> Response {
    ws.on_upgrade(move |socket| run(shared, socket, query, via_resume_url))
}

/// Per-connection bookkeeping.
#[derive(Debug)]
struct Conn {
    id: u64,
    /// IDENTIFY or RESUME succeeded on it.
    authenticated: bool,
    deadline: Instant,
    sent: VecDeque<Instant>,
}

/// The gateway's side of one connection: the client's payloads and the
/// heartbeat deadline.
struct Gateway {
    shared: Arc<Shared>,
    conn: Conn,
    interval: Duration,
    enforce: bool,
}

impl SocketPeer for Gateway {
    fn on_text(&mut self, text: &str) {
        let conn = &mut self.conn;
        self.shared
            .update(|s| on_payload(&self.shared, s, conn, text));
    }

    fn on_binary(&mut self, _bytes: &[u8]) {
        self.shared.lock().gateway.send(self.conn.id, close(4002));
    }

    fn deadline(&self) -> Option<Instant> {
        self.enforce.then_some(self.conn.deadline)
    }

    fn on_deadline(&mut self) {
        let out = close_with(4000, "Heartbeat timed out.");
        self.shared.lock().gateway.send(self.conn.id, out);
        // Written on the next turn; no further deadline until then.
        self.conn.deadline = Instant::now() + self.interval * 1000;
    }
}

async fn run(
    shared: Arc<Shared>,
    mut socket: WebSocket,
    query: Option<String>,
    via_resume_url: bool,
) {
    let (handle, mut outbox) = peer::socket::channel();
    let (id, interval, enforce) = shared.update(|s| {
        let id = s.gateway.open(handle, query.clone(), via_resume_url);
        (
            id,
            s.gateway.heartbeat_interval,
            s.gateway.enforce_heartbeats,
        )
    });
    let conn = Conn {
        id,
        authenticated: false,
        // The first heartbeat may come up to one interval after HELLO
        // (the jitter), later ones every interval; half an interval of
        // slack covers the rest.
        deadline: Instant::now() + interval + interval / 2,
        sent: VecDeque::new(),
    };
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let hello = json!({"op": 10, "d": {"heartbeat_interval": interval.as_millis() as u64}, "s": null, "t": null});
    let first = match (param("v"), param("encoding")) {
        (Some(v), _) if v != "10" => close(4012),
        (_, Some(encoding)) if encoding != "json" => close(4002),
        _ => Outgoing::Text(hello.to_string()),
    };
    shared.lock().gateway.send(id, first);
    let mut gateway = Gateway {
        shared: shared.clone(),
        conn,
        interval,
        enforce,
    };
    let ended = peer::socket::serve(&mut socket, &mut outbox, &shared.shutdown, &mut gateway).await;
    shared.update(|s| s.gateway.closed(id, ended.client_code, ended.server_code));
}

/// A close with Discord's reason for `code`.
fn close(code: u16) -> Outgoing {
    let reason = match code {
        4001 => "Unknown opcode.",
        4002 => "Error while decoding payload.",
        4003 => "Not authenticated.",
        4004 => "Authentication failed.",
        4005 => "Already authenticated.",
        4007 => "Invalid seq.",
        4008 => "Rate limited.",
        4009 => "Session timed out.",
        4010 => "Invalid shard.",
        4012 => "Invalid API version.",
        4013 => "Invalid intent(s).",
        4014 => "Disallowed intent(s).",
        _ => "Unknown error.",
    };
    close_with(code, reason)
}

fn close_with(code: u16, reason: &str) -> Outgoing {
    Outgoing::Close(Some((code, reason.to_owned())))
}

/// Handles one text payload from the client.
fn on_payload(shared: &Shared, s: &mut State, conn: &mut Conn, text: &str) {
    let now = Instant::now();
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let op = parsed.as_ref().and_then(|p| p["op"].as_u64());
    s.gateway.frames.push(super::session::ClientFrame {
        connection: conn.id,
        op,
        payload: parsed.clone().unwrap_or(Value::Null),
        at: now,
    });
    let id = conn.id;
    if text.len() > MAX_PAYLOAD {
        return s.gateway.send(id, close(4002));
    }
    conn.sent.push_back(now);
    while conn.sent.front().is_some_and(|t| now - *t >= SEND_WINDOW) {
        conn.sent.pop_front();
    }
    if conn.sent.len() > SEND_LIMIT {
        return s.gateway.send(id, close(4008));
    }
    let Some(payload) = parsed.filter(Value::is_object) else {
        return s.gateway.send(id, close(4002));
    };
    let Some(op) = op else {
        return s.gateway.send(id, close(4001));
    };
    let data = &payload["d"];
    match op {
        1 => {
            s.gateway.heartbeat_count += 1;
            let interval = s.gateway.heartbeat_interval;
            conn.deadline = now + interval + interval / 2;
            if s.gateway.acks {
                let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                s.gateway.send(id, Outgoing::Text(ack.to_string()));
            }
        }
        2 => identify(shared, s, conn, data),
        6 => resume(shared, s, conn, data),
        // Presence, voice state, guild members, soundboard sounds and
        // channel info requests: accepted once authenticated, not modelled.
        3 | 4 | 8 | 31 | 43 if conn.authenticated => {}
        3 | 4 | 8 | 31 | 43 => s.gateway.send(id, close(4003)),
        _ => s.gateway.send(id, close(4001)),
    }
}

fn identify(shared: &Shared, s: &mut State, conn: &mut Conn, data: &Value) {
    let id = conn.id;
    if conn.authenticated {
        return s.gateway.send(id, close(4005));
    }
    if data["token"].as_str() != Some(shared.token.as_str()) {
        return s.gateway.send(id, close(4004));
    }
    let Some(wanted) = data["intents"].as_u64() else {
        return s.gateway.send(id, close(4013));
    };
    if wanted & !intents::VALID != 0 {
        return s.gateway.send(id, close(4013));
    }
    if wanted & intents::PRIVILEGED & !s.gateway.privileged_enabled != 0 {
        return s.gateway.send(id, close(4014));
    }
    let shard = &data["shard"];
    if !shard.is_null() {
        let valid = match shard.as_array().map(Vec::as_slice) {
            Some([shard_id, count]) => shard_id
                .as_u64()
                .zip(count.as_u64())
                .is_some_and(|(i, n)| i < n),
            _ => false,
        };
        if !valid {
            return s.gateway.send(id, close(4010));
        }
    }
    s.gateway.identify_count += 1;
    if let Some(fault) = s.gateway.session_faults.pop_front() {
        return apply_fault(s, id, fault);
    }
    conn.authenticated = true;
    let session_id = s.gateway.start_session(id, wanted);
    let ready = ready(shared, s, &session_id, shard);
    s.gateway.dispatch("READY", ready, 0);
    s.gateway.ready_count += 1;
    let guild_ids: Vec<u64> = s.guilds.keys().copied().collect();
    for guild_id in guild_ids {
        let guild = guild_create(shared, s, guild_id, wanted);
        s.gateway.dispatch("GUILD_CREATE", guild, intents::GUILDS);
    }
}

fn resume(shared: &Shared, s: &mut State, conn: &mut Conn, data: &Value) {
    let id = conn.id;
    if conn.authenticated {
        return s.gateway.send(id, close(4005));
    }
    if data["token"].as_str() != Some(shared.token.as_str()) {
        return s.gateway.send(id, close(4004));
    }
    s.gateway.resume_count += 1;
    if let Some(fault) = s.gateway.session_faults.pop_front() {
        return apply_fault(s, id, fault);
    }
    let session_id = data["session_id"].as_str().unwrap_or_default();
    let seq = data["seq"].as_u64().unwrap_or(0);
    let replay = match &mut s.gateway.session {
        Some(session) if session.id == session_id => {
            if seq > session.seq {
                return s.gateway.send(id, close(4007));
            }
            // An older connection of the session no longer receives its events.
            session.conn = Some(id);
            session.seq += 1;
            let resumed = json!({"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["[\"hermod-fake-gateway\"]"]}});
            let mut frames: Vec<String> = session
                .log
                .iter()
                .filter(|(s, _)| *s > seq)
                .map(|(_, frame)| frame.clone())
                .collect();
            frames.push(resumed.to_string());
            frames
        }
        _ => {
            let invalid = json!({"op": 9, "d": false, "s": null, "t": null});
            return s.gateway.send(id, Outgoing::Text(invalid.to_string()));
        }
    };
    conn.authenticated = true;
    for frame in replay {
        s.gateway.send(id, Outgoing::Text(frame));
    }
}

fn apply_fault(s: &mut State, conn: u64, fault: SessionFault) {
    match fault {
        SessionFault::InvalidSession { resumable } => {
            if !resumable {
                s.gateway.session = None;
            }
            let invalid = json!({"op": 9, "d": resumable, "s": null, "t": null});
            s.gateway.send(conn, Outgoing::Text(invalid.to_string()));
        }
        SessionFault::Close(code) => s.gateway.send(conn, close(code)),
    }
}

/// READY's data: the documented fields, plus undocumented ones Discord
/// sends and clients must tolerate (`_trace`, `session_type`, ...).
fn ready(shared: &Shared, s: &State, session_id: &str, shard: &Value) -> Value {
    let enabled = s.gateway.privileged_enabled;
    // GATEWAY_PRESENCE_LIMITED, GATEWAY_GUILD_MEMBERS_LIMITED and
    // GATEWAY_MESSAGE_CONTENT_LIMITED: the switches of an app in fewer
    // than 100 guilds.
    let mut flags = 0;
    if enabled & intents::GUILD_PRESENCES != 0 {
        flags |= 1 << 13;
    }
    if enabled & intents::GUILD_MEMBERS != 0 {
        flags |= 1 << 15;
    }
    if enabled & intents::MESSAGE_CONTENT != 0 {
        flags |= 1 << 19;
    }
    let mut user = s.user_json(shared.bot_id);
    user["verified"] = json!(true);
    user["mfa_enabled"] = json!(false);
    user["email"] = Value::Null;
    let mut ready = json!({
        "v": 10,
        "user": user,
        "guilds": s.guilds.keys().map(|id| json!({"id": id.to_string(), "unavailable": true})).collect::<Vec<_>>(),
        "session_id": session_id,
        "resume_gateway_url": format!("{}/resume", shared.gateway_url()),
        "session_type": "normal",
        "application": {"id": shared.application_id.to_string(), "flags": flags},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["us-east", "us-central"],
        "user_settings": {},
        "auth": {},
        "_trace": ["[\"hermod-fake-gateway\",{\"micros\":0}]"],
    });
    if !shard.is_null() {
        ready["shard"] = shard.clone();
    }
    ready
}

/// GUILD_CREATE's data. Without `GUILD_PRESENCES`, `members` holds only
/// the bot ("will only contain your bot and users in voice channels");
/// channels inside it lack `guild_id`.
pub(crate) fn guild_create(shared: &Shared, s: &State, guild_id: u64, wanted: u64) -> Value {
    let Some(guild) = s.guilds.get(&guild_id) else {
        return Value::Null;
    };
    let members: Vec<Value> = guild
        .members
        .keys()
        .filter(|id| wanted & intents::GUILD_PRESENCES != 0 || **id == shared.bot_id)
        .filter_map(|id| {
            let mut member = guild.member_json(*id)?;
            member["user"] = s.user_json(*id);
            Some(member)
        })
        .collect();
    let strip = |c: &ChannelRec| {
        let mut json = c.json(&s.users);
        if let Some(object) = json.as_object_mut() {
            object.remove("guild_id");
        }
        json
    };
    let in_guild = |c: &&ChannelRec| c.guild_id == Some(guild_id);
    let channels: Vec<Value> = s
        .channels
        .values()
        .filter(in_guild)
        .filter(|c| !c.is_thread())
        .map(strip)
        .collect();
    let threads: Vec<Value> = s
        .channels
        .values()
        .filter(in_guild)
        .filter(|c| c.is_thread())
        .map(strip)
        .collect();
    let joined_at = guild
        .members
        .get(&shared.bot_id)
        .map_or_else(|| guild.created.clone(), |m| m.joined_at.clone());
    json!({
        "id": guild.id.to_string(),
        "name": guild.name,
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "banner": null,
        "description": null,
        "owner_id": guild.owner_id.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "system_channel_id": null,
        "rules_channel_id": null,
        "public_updates_channel_id": null,
        "application_id": null,
        "vanity_url_code": null,
        "max_members": 500_000,
        "features": [],
        "roles": guild.roles.iter().map(super::state::RoleRec::json).collect::<Vec<_>>(),
        "emojis": [],
        "stickers": [],
        "joined_at": joined_at,
        "large": false,
        "unavailable": false,
        "lazy": true,
        "member_count": guild.members.len(),
        "members": members,
        "channels": channels,
        "threads": threads,
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    })
}

/// Dispatches a message event to the session with the intent rules.
pub(crate) fn dispatch_message(shared: &Shared, s: &mut State, event: &str, message: Value) {
    let bot = shared.bot_id.to_string();
    let mentions_bot = message["mentions"]
        .as_array()
        .is_some_and(|m| m.iter().any(|u| u["id"].as_str() == Some(bot.as_str())));
    let view = MessageView {
        in_guild: !message["guild_id"].is_null(),
        by_bot: message["author"]["id"].as_str() == Some(bot.as_str()),
        mentions_bot,
    };
    s.gateway.dispatch_message(event, message, view);
}
