//! Discord's JSON objects, as far as the adapter reads them (Gateway
//! Events; Message, User, Guild Member, Attachment, Interaction). Ids
//! (snowflakes) are strings. Unknown fields are ignored and everything
//! not always present is optional, so new fields never break reading.

use serde::Deserialize;
use serde_json::Value;

/// A gateway payload (Gateway Events, "Payload Structure").
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Payload {
    pub op: u8,
    #[serde(default)]
    pub d: Value,
    #[serde(default)]
    pub s: Option<u64>,
    #[serde(default)]
    pub t: Option<String>,
}

/// Gateway opcodes (Opcodes and Status Codes).
pub(crate) mod op {
    pub const DISPATCH: u8 = 0;
    pub const HEARTBEAT: u8 = 1;
    pub const IDENTIFY: u8 = 2;
    pub const RESUME: u8 = 6;
    pub const RECONNECT: u8 = 7;
    pub const INVALID_SESSION: u8 = 9;
    pub const HELLO: u8 = 10;
    pub const HEARTBEAT_ACK: u8 = 11;
}

/// The intents the adapter identifies with: guilds (channel and thread
/// lists), guild messages, direct messages, and message content — the
/// privileged intent without which guild messages arrive empty.
pub(crate) mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    pub const WANTED: u64 = GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT;
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Hello {
    pub heartbeat_interval: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Ready {
    pub session_id: String,
    pub resume_gateway_url: String,
    pub user: User,
    pub application: PartialApplication,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PartialApplication {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub global_name: Option<String>,
    #[serde(default)]
    pub bot: bool,
}

impl User {
    /// The name people see: the display name, else the username.
    pub(crate) fn display(&self) -> String {
        self.global_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.username.clone())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Member {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub nick: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Attachment {
    pub id: String,
    pub filename: String,
    #[serde(default)]
    pub size: Option<u64>,
    pub url: String,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Set on a voice message's recording (with its waveform).
    #[serde(default)]
    pub duration_secs: Option<serde_json::Value>,
}

/// A message (MESSAGE_CREATE's data: a message plus `guild_id` and
/// `member`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    pub id: String,
    pub channel_id: String,
    #[serde(default)]
    pub guild_id: Option<String>,
    pub author: User,
    #[serde(default)]
    pub member: Option<Member>,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub mentions: Vec<User>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub referenced_message: Option<Box<Message>>,
    /// 0 default, 19 reply; others are system messages.
    #[serde(default, rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub webhook_id: Option<String>,
}

/// An interaction (INTERACTION_CREATE's data).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Interaction {
    pub id: String,
    pub token: String,
    /// 1 ping, 2 application command, 3 component, 4 autocomplete, 5 modal.
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub data: Option<CommandData>,
    #[serde(default)]
    pub guild_id: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    /// In guilds.
    #[serde(default)]
    pub member: Option<Member>,
    /// In DMs.
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CommandData {
    pub name: String,
    #[serde(default)]
    pub options: Vec<CommandOption>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CommandOption {
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
}

/// A channel, from GUILD_CREATE's `channels`/`threads` and THREAD_CREATE.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Channel {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub parent_id: Option<String>,
}

impl Channel {
    /// Announcement, public and private threads.
    pub(crate) fn is_thread(&self) -> bool {
        matches!(self.kind, 10..=12)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GuildCreate {
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub threads: Vec<Channel>,
}

/// `GET /gateway/bot`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GatewayBot {
    pub url: String,
}

/// A message as REST answers with it (only the id is read).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Created {
    pub id: String,
}

/// An application command as `GET .../commands` lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RegisteredCommand {
    pub name: String,
    #[serde(default)]
    pub description: String,
}
