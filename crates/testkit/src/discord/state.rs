//! The fake's world behind one mutex: users, guilds, channels, messages,
//! commands, interactions, recorded calls and faults; the JSON objects
//! Discord would show for them (User, Guild Member, Role, Channel); and
//! the records tests read ([`SentMessage`], [`FakeCall`], ...).

use super::faults::Fault;
use super::ids::{Clock, hex_token};
use super::ratelimit::RateLimiter;
use super::routes::Route;
use super::session::GatewayState;
use crate::peer::{FaultQueue, Recorder, Watched};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Channel types (Channel, "Channel Types").
pub(crate) const GUILD_TEXT: u64 = 0;
pub(crate) const DM: u64 = 1;
pub(crate) const GUILD_ANNOUNCEMENT: u64 = 5;
pub(crate) const ANNOUNCEMENT_THREAD: u64 = 10;
pub(crate) const PUBLIC_THREAD: u64 = 11;
pub(crate) const PRIVATE_THREAD: u64 = 12;

/// A file as the bot uploaded it, or as a user attached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFile {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl FakeFile {
    pub fn new(filename: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            filename: filename.to_owned(),
            content_type: Some(content_type.to_owned()),
            bytes,
        }
    }
}

/// One message the bot created (REST, an interaction response or a
/// followup), as the fake recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub id: u64,
    pub channel_id: u64,
    /// `content` as first sent (empty for a deferred interaction response).
    pub content: String,
    /// The `content` of every edit that set it, in order.
    pub edits: Vec<String>,
    pub deleted: bool,
    /// The message it replies to (`message_reference.message_id`).
    pub reply_to: Option<u64>,
    /// Files uploaded with it, first send and edits.
    pub files: Vec<FakeFile>,
    /// `embeds` as last sent.
    pub embeds: Vec<Value>,
    /// `components` as last sent.
    pub components: Vec<Value>,
    /// Message flags now (`EPHEMERAL` 64, `LOADING` 128, ...).
    pub flags: u64,
    /// The interaction it answers, for responses and followups.
    pub interaction_id: Option<u64>,
    /// The JSON (or `payload_json`) body of the create request.
    pub body: Value,
}

impl SentMessage {
    /// The content shown now: the last edit, else as sent.
    pub fn current_content(&self) -> &str {
        self.edits.last().map_or(&self.content, String::as_str)
    }

    pub fn is_ephemeral(&self) -> bool {
        self.flags & super::EPHEMERAL != 0
    }
}

/// One REST request the fake received, in order of arrival (answered or
/// not, faults and 429s included; wrong tokens excluded).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCall {
    pub route: Route,
    pub method: String,
    /// The path after the API base, as sent (`/channels/1/messages`).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The JSON body, or `payload_json` and form fields of a multipart
    /// body (`Null` when there was none).
    pub body: Value,
    /// Files of a multipart body.
    pub files: Vec<FakeFile>,
    /// The `User-Agent` header (Discord asks for `DiscordBot ($url, $versionNumber)`).
    pub user_agent: Option<String>,
    /// The `X-Audit-Log-Reason` header.
    pub audit_log_reason: Option<String>,
    pub at: Instant,
}

/// A reaction the bot added (and maybe removed again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotReaction {
    pub channel_id: u64,
    pub message_id: u64,
    /// The emoji as the path gave it, percent-decoded (`👍`, `name:id`).
    pub emoji: String,
    pub removed: bool,
}

/// How the bot answered an interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionReply {
    /// The callback `type` (4 message, 5 deferred, ...).
    pub kind: u64,
    /// The callback `data`.
    pub data: Value,
    /// The response message, for types 4 and 5.
    pub original: Option<u64>,
    /// Followup messages, in order.
    pub followups: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) id: u64,
    pub(crate) username: String,
    pub(crate) global_name: Option<String>,
    pub(crate) bot: bool,
}

impl UserRec {
    /// The User object.
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "username": self.username,
            // Bots keep four-digit tags; users moved to unique names ("0").
            "discriminator": if self.bot { "4821" } else { "0" },
            "global_name": self.global_name,
            "avatar": null,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RoleRec {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) position: u64,
}

impl RoleRec {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
            "hoist": false,
            "icon": null,
            "unicode_emoji": null,
            "position": self.position,
            "permissions": if self.position == 0 { "2248473465835073" } else { "0" },
            "managed": false,
            "mentionable": false,
            "flags": 0,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MemberRec {
    pub(crate) roles: Vec<u64>,
    pub(crate) joined_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct GuildRec {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) owner_id: u64,
    /// `@everyone` (whose id is the guild's) first.
    pub(crate) roles: Vec<RoleRec>,
    pub(crate) members: BTreeMap<u64, MemberRec>,
    pub(crate) created: String,
}

impl GuildRec {
    /// A partial Guild Member object (no `user`), as MESSAGE_CREATE's
    /// `member` and `mentions[].member` carry it.
    pub(crate) fn member_json(&self, user_id: u64) -> Option<Value> {
        let member = self.members.get(&user_id)?;
        Some(json!({
            "roles": member.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": member.joined_at,
            "nick": null,
            "avatar": null,
            "banner": null,
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "pending": false,
            "flags": 0,
            "communication_disabled_until": null,
        }))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelRec {
    pub(crate) id: u64,
    pub(crate) kind: u64,
    pub(crate) guild_id: Option<u64>,
    pub(crate) name: Option<String>,
    pub(crate) parent_id: Option<u64>,
    /// DM recipients (not the bot).
    pub(crate) recipients: Vec<u64>,
    /// The thread's creator.
    pub(crate) owner_id: Option<u64>,
    pub(crate) last_message_id: Option<u64>,
    /// Threads: the bot joined (by creating it or writing in it).
    pub(crate) bot_joined: bool,
    pub(crate) created: String,
    pub(crate) position: u64,
    pub(crate) message_count: u64,
}

impl ChannelRec {
    pub(crate) fn is_thread(&self) -> bool {
        matches!(
            self.kind,
            ANNOUNCEMENT_THREAD | PUBLIC_THREAD | PRIVATE_THREAD
        )
    }

    /// Channels a message can be sent to.
    pub(crate) fn is_textual(&self) -> bool {
        matches!(self.kind, GUILD_TEXT | DM | GUILD_ANNOUNCEMENT) || self.is_thread()
    }

    /// The Channel object.
    pub(crate) fn json(&self, users: &BTreeMap<u64, UserRec>) -> Value {
        let last = self.last_message_id.map(|id| id.to_string());
        let mut channel = match self.kind {
            DM => json!({
                "id": self.id.to_string(),
                "type": DM,
                "last_message_id": last,
                "flags": 0,
                "recipients": self.recipients.iter().filter_map(|id| users.get(id)).map(UserRec::json).collect::<Vec<_>>(),
            }),
            _ if self.is_thread() => json!({
                "id": self.id.to_string(),
                "type": self.kind,
                "guild_id": self.guild_id.map(|id| id.to_string()),
                "parent_id": self.parent_id.map(|id| id.to_string()),
                "owner_id": self.owner_id.map(|id| id.to_string()),
                "name": self.name,
                "last_message_id": last,
                "message_count": self.message_count,
                "member_count": 1,
                "rate_limit_per_user": 0,
                "flags": 0,
                "total_message_sent": self.message_count,
                "thread_metadata": {
                    "archived": false,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": self.created,
                    "locked": false,
                    "create_timestamp": self.created,
                },
            }),
            _ => json!({
                "id": self.id.to_string(),
                "type": self.kind,
                "guild_id": self.guild_id.map(|id| id.to_string()),
                "name": self.name,
                "position": self.position,
                "permission_overwrites": [],
                "rate_limit_per_user": 0,
                "nsfw": false,
                "topic": null,
                "last_message_id": last,
                "parent_id": null,
                "default_auto_archive_duration": 1440,
                "flags": 0,
            }),
        };
        if self.kind == PRIVATE_THREAD {
            channel["thread_metadata"]["invitable"] = json!(true);
        }
        channel
    }
}

/// A message anyone sent, as Discord stores it.
#[derive(Debug, Clone)]
pub(crate) struct MessageRec {
    pub(crate) channel_id: u64,
    pub(crate) author_id: u64,
    /// The Message object with its content (before any intent filtering),
    /// without the gateway-only extra fields.
    pub(crate) json: Value,
    pub(crate) deleted: bool,
    /// The thread started from it.
    pub(crate) thread_id: Option<u64>,
}

/// An interaction a user started.
#[derive(Debug, Clone)]
pub(crate) struct InteractionRec {
    pub(crate) id: u64,
    pub(crate) token: String,
    pub(crate) channel_id: u64,
    pub(crate) guild_id: Option<u64>,
    pub(crate) user_id: u64,
    /// The command's name, for the response message's metadata.
    pub(crate) command_name: String,
    pub(crate) command_type: u64,
    pub(crate) created: Instant,
    pub(crate) reply: Option<InteractionReply>,
}

/// A stored attachment served from the fake's CDN path.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) file: FakeFile,
    /// The signature the URL's `hm` parameter must carry.
    pub(crate) signature: String,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) clock: Clock,
    pub(crate) users: BTreeMap<u64, UserRec>,
    pub(crate) guilds: BTreeMap<u64, GuildRec>,
    pub(crate) channels: BTreeMap<u64, ChannelRec>,
    pub(crate) messages: BTreeMap<u64, MessageRec>,
    /// Every message the bot created, in order.
    pub(crate) bot_messages: Vec<SentMessage>,
    pub(crate) reactions: Vec<BotReaction>,
    /// Channel ids of every typing indicator, in order.
    pub(crate) typing: Vec<u64>,
    /// Global commands, as application command objects.
    pub(crate) commands: Vec<Value>,
    pub(crate) guild_commands: BTreeMap<u64, Vec<Value>>,
    pub(crate) command_overwrites: usize,
    pub(crate) interactions: BTreeMap<u64, InteractionRec>,
    pub(crate) calls: Recorder<FakeCall>,
    pub(crate) unauthorized_calls: usize,
    /// Queued faults by route (`None`: any).
    pub(crate) faults: FaultQueue<Option<Route>, Fault>,
    pub(crate) limits: RateLimiter,
    /// 429 answers served (budgets and scripted faults).
    pub(crate) served_429s: usize,
    pub(crate) files: HashMap<u64, StoredFile>,
    /// Attachment downloads asked for, served or not.
    pub(crate) cdn_downloads: usize,
    /// Live [`DownloadHold`](super::DownloadHold)s; downloads wait while
    /// there is one.
    pub(crate) cdn_holds: usize,
    /// Downloads waiting on a hold now.
    pub(crate) held_downloads: usize,
    /// Recent `nonce`s of bot messages with `enforce_nonce`.
    pub(crate) nonces: HashMap<String, (u64, Instant)>,
    pub(crate) gateway: GatewayState,
}

impl State {
    pub(crate) fn new(gateway: GatewayState) -> Self {
        Self {
            clock: Clock::new(),
            users: BTreeMap::new(),
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            bot_messages: Vec::new(),
            reactions: Vec::new(),
            typing: Vec::new(),
            commands: Vec::new(),
            guild_commands: BTreeMap::new(),
            command_overwrites: 0,
            interactions: BTreeMap::new(),
            calls: Recorder::default(),
            unauthorized_calls: 0,
            faults: FaultQueue::default(),
            limits: RateLimiter::default(),
            served_429s: 0,
            files: HashMap::new(),
            cdn_downloads: 0,
            cdn_holds: 0,
            held_downloads: 0,
            nonces: HashMap::new(),
            gateway,
        }
    }

    pub(crate) fn snowflake(&mut self) -> u64 {
        self.clock.snowflake()
    }

    pub(crate) fn user_json(&self, id: u64) -> Value {
        self.users.get(&id).map_or(Value::Null, UserRec::json)
    }

    /// The DM channel between the bot and `user_id`, made on first use.
    pub(crate) fn dm_channel(&mut self, user_id: u64) -> u64 {
        if let Some(channel) = self
            .channels
            .values()
            .find(|c| c.kind == DM && c.recipients == [user_id])
        {
            return channel.id;
        }
        let id = self.snowflake();
        let created = self.clock.iso_now();
        self.channels.insert(
            id,
            ChannelRec {
                id,
                kind: DM,
                guild_id: None,
                name: None,
                parent_id: None,
                recipients: vec![user_id],
                owner_id: None,
                last_message_id: None,
                bot_joined: true,
                created,
                position: 0,
                message_count: 0,
            },
        );
        id
    }

    /// Stores an attachment; returns its Attachment object, served from
    /// `{cdn}/attachments/{channel}/{id}/{filename}` with a signed query
    /// like Discord's CDN URLs (`ex`, `is`, `hm`).
    pub(crate) fn store_attachment(&mut self, cdn: &str, channel_id: u64, file: FakeFile) -> Value {
        let id = self.snowflake();
        let issued = self.clock.now_ms() / 1000;
        let signature = hex_token(id, 64);
        let url = format!(
            "{cdn}/attachments/{channel_id}/{id}/{}?ex={:x}&is={issued:x}&hm={signature}&",
            file.filename,
            issued + 86_400,
        );
        let attachment = json!({
            "id": id.to_string(),
            "filename": file.filename,
            "size": file.bytes.len(),
            "url": url,
            "proxy_url": url,
            "content_type": file.content_type,
        });
        self.files.insert(id, StoredFile { file, signature });
        attachment
    }

    pub(crate) fn bot_message_mut(&mut self, id: u64) -> Option<&mut SentMessage> {
        self.bot_messages.iter_mut().find(|m| m.id == id)
    }
}

/// Everything the server, the handle and the scripted users share: the
/// watched state (reached through `Deref`) and what never changes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) token: String,
    pub(crate) bot_id: u64,
    pub(crate) application_id: u64,
    /// `http://127.0.0.1:<port>`.
    pub(crate) http_base: String,
    state: Watched<State>,
    pub(crate) shutdown: CancellationToken,
}

impl Shared {
    pub(crate) fn new(
        token: String,
        bot_id: u64,
        application_id: u64,
        http_base: String,
        state: State,
    ) -> Self {
        Self {
            token,
            bot_id,
            application_id,
            http_base,
            state: Watched::new(state),
            shutdown: CancellationToken::new(),
        }
    }

    /// `ws://127.0.0.1:<port>`, the URL `GET /gateway/bot` gives.
    pub(crate) fn gateway_url(&self) -> String {
        self.http_base.replacen("http://", "ws://", 1)
    }
}

impl Deref for Shared {
    type Target = Watched<State>;

    fn deref(&self) -> &Watched<State> {
        &self.state
    }
}
