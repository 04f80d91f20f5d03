//! The fake's state behind one mutex — users, conversations and their
//! messages, recorded calls, files — and the public records tests read
//! ([`BotMessage`], [`SlackCall`]). Socket Mode, the Events API sender and
//! the rate limits keep their parts in their own modules' types.

use super::config::SlackConfig;
use super::http_events::HttpState;
use super::limits::LimitState;
use super::socket::SocketState;
use super::user_files::FileState;
use crate::peer::{Recorder, Watched};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One message the bot posted, as the fake recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct BotMessage {
    /// The conversation id (`C…`, `G…` or `D…`).
    pub channel: String,
    pub ts: String,
    /// The thread it was posted in, as the bot gave it.
    pub thread_ts: Option<String>,
    /// The text as first posted (after Slack's truncation at 40,000
    /// characters).
    pub text: String,
    /// The blocks as first posted.
    pub blocks: Option<Value>,
    /// `mrkdwn` as posted (Slack's default is true).
    pub mrkdwn: bool,
    /// Every `chat.update`, in order.
    pub edits: Vec<MessageEdit>,
    pub deleted: bool,
    /// The reactions on it now, as `(name, user id)`.
    pub reactions: Vec<(String, String)>,
    /// The ids of the files shared with it.
    pub files: Vec<String>,
}

impl BotMessage {
    /// The text shown now: the last edit's, else as posted.
    pub fn current_text(&self) -> &str {
        self.edits.last().map_or(&self.text, |e| &e.text)
    }

    /// The blocks shown now.
    pub fn current_blocks(&self) -> Option<&Value> {
        match self.edits.last() {
            Some(edit) => edit.blocks.as_ref(),
            None => self.blocks.as_ref(),
        }
    }
}

/// One `chat.update` of a bot message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEdit {
    pub text: String,
    pub blocks: Option<Value>,
    /// When it arrived (tokio clock).
    pub at: Instant,
}

/// One Web API request the fake received with a valid token, in order of
/// arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackCall {
    /// The method, as in the URL (`chat.postMessage`).
    pub method: String,
    /// Its arguments from the query, a form or a JSON body; form values are
    /// strings, as sent. Never holds the token.
    pub params: Value,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The `Content-Type` header, as sent.
    pub content_type: Option<String>,
    /// When it arrived (tokio clock).
    pub at: Instant,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Author {
    /// A user (a person or another app's bot user).
    User(String),
    /// The fake's own bot.
    Bot,
    /// A legacy integration (`subtype: bot_message`).
    Integration,
}

/// A message in a conversation.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub(crate) author: Author,
    pub(crate) record: BotMessage,
    /// The message object as events and API answers show it now.
    pub(crate) json: Value,
}

/// What kind of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelKind {
    Public,
    Private,
    Im,
}

impl ChannelKind {
    /// `channel_type` on message events.
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            Self::Public => "channel",
            Self::Private => "group",
            Self::Im => "im",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: ChannelKind,
    /// The other member of a DM.
    pub(crate) user: Option<String>,
    /// Slack sends a channel's messages only to apps in it, and refuses
    /// their posts with `not_in_channel` otherwise.
    pub(crate) bot_is_member: bool,
    pub(crate) created: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) real_name: String,
    /// Another app's bot user: its messages carry a `bot_id`.
    pub(crate) bot_id: Option<String>,
    /// The id of its DM with the fake's bot.
    pub(crate) dm: String,
}

/// A file uploaded through `files.getUploadURLExternal`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    pub id: String,
    pub filename: String,
    /// `length` as declared to `files.getUploadURLExternal`.
    pub declared_length: u64,
    /// The bytes POSTed to the upload URL (`None` before).
    pub bytes: Option<Vec<u8>>,
    /// The title given to `files.completeUploadExternal`.
    pub title: Option<String>,
    /// Where it was shared (`None` until completed, or when completed
    /// without a channel, which keeps it private).
    pub channel: Option<String>,
    pub thread_ts: Option<String>,
    pub initial_comment: Option<String>,
    pub completed: bool,
    /// The ts of the message that shared it (`files.info`'s `shares`).
    pub share_ts: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) channels: BTreeMap<String, Channel>,
    /// Every message, in order of posting.
    pub(crate) messages: Vec<StoredMessage>,
    pub(crate) files: BTreeMap<String, UploadedFile>,
    /// Files users shared, their downloads and the `files:read` switch.
    pub(crate) shared_files: FileState,
    pub(crate) calls: Recorder<SlackCall>,
    /// Requests refused as `not_authed`, `invalid_auth` or
    /// `not_allowed_token_type`.
    pub(crate) refused_calls: usize,
    pub(crate) limits: LimitState,
    pub(crate) socket: SocketState,
    pub(crate) http: HttpState,
    /// For ids: users, channels, files, events.
    counter: u64,
    /// The last message `ts`, in microseconds.
    last_ts: u64,
}

impl State {
    /// A fresh number for ids.
    pub(crate) fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A message `ts`: the wall clock's Unix time with six decimals,
    /// strictly increasing, as Slack's are within a channel.
    pub(crate) fn next_ts(&mut self) -> String {
        let now = unix_micros();
        self.last_ts = now.max(self.last_ts + 1);
        format!(
            "{}.{:06}",
            self.last_ts / 1_000_000,
            self.last_ts % 1_000_000
        )
    }

    pub(crate) fn message(&self, channel: &str, ts: &str) -> Option<&StoredMessage> {
        self.messages
            .iter()
            .find(|m| m.record.channel == channel && m.record.ts == ts && !m.record.deleted)
    }

    pub(crate) fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut StoredMessage> {
        self.messages
            .iter_mut()
            .find(|m| m.record.channel == channel && m.record.ts == ts && !m.record.deleted)
    }

    /// The channel a message argument names: an id, a user id (its DM, as
    /// `chat.postMessage` allows) or a `#name`/name.
    pub(crate) fn resolve_channel(&self, given: &str) -> Option<&Channel> {
        if let Some(channel) = self.channels.get(given) {
            return Some(channel);
        }
        if let Some(user) = self.users.get(given) {
            return self.channels.get(&user.dm);
        }
        let name = given.strip_prefix('#').unwrap_or(given);
        self.channels
            .values()
            .find(|c| c.kind != ChannelKind::Im && c.name == name)
    }
}

/// Everything the server, the handle, the users and the delivery tasks
/// share: the watched state (reached through `Deref`) and the rest.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SlackConfig,
    state: Watched<State>,
    pub(crate) shutdown: CancellationToken,
    /// Ack timers, socket closers and Events API deliveries.
    pub(crate) tasks: TaskTracker,
    /// For Events API deliveries.
    pub(crate) http: reqwest::Client,
    /// The server's address, set once it listens.
    pub(crate) addr: OnceLock<SocketAddr>,
}

impl Shared {
    pub(crate) fn new(config: SlackConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            state: Watched::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            http,
            addr: OnceLock::new(),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> String {
        match self.addr.get() {
            Some(addr) => format!("http://{addr}"),
            None => "http://127.0.0.1:0".to_owned(),
        }
    }
}

impl Deref for Shared {
    type Target = Watched<State>;

    fn deref(&self) -> &Watched<State> {
        &self.state
    }
}

/// Microseconds since the Unix epoch, by the wall clock: Slack's `ts`
/// values and request timestamps are wall-clock times, and adapters check
/// signatures against their own wall clock.
pub(crate) fn unix_micros() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// Seconds since the Unix epoch, by the wall clock.
pub(crate) fn unix_secs() -> u64 {
    unix_micros() / 1_000_000
}
