//! [`FakeDiscord`]: a stateful fake of Discord's API on one local port —
//! the REST API under [`FakeDiscord::api_base_url`] (`/api/v10`) and the
//! gateway websocket at [`FakeDiscord::gateway_url`] — built from
//! Discord's developer documentation, for testing a Discord adapter over
//! real HTTP and websockets.
//!
//! REST: `GET /gateway[/bot]`, `GET /users/@me`, opening a DM
//! (`POST /users/@me/channels`), channels and messages
//! (get, create with JSON or multipart `payload_json` + `files[n]`, edit,
//! delete), typing, the bot's reactions, threads from a message or
//! without one, bulk overwrite of global and guild application
//! commands, interaction callbacks and their webhook routes. Answers and
//! errors have Discord's shapes: `401: Unauthorized` for a wrong
//! `Authorization: Bot <token>`, JSON error codes (10003 Unknown Channel,
//! 10008 Unknown Message, 50006 empty message, ...), and 50035 Invalid
//! Form Body with nested `errors` (content over 2,000 characters, command
//! names, ...). Every answer carries `X-RateLimit-*` headers of a bucket
//! per route and channel (or webhook); exceeding a bucket's budget or the
//! global 50/s is answered 429 with float `retry_after`, `Retry-After`
//! and `X-RateLimit-Scope`, and counted ([`FakeDiscord::would_be_429s`]).
//!
//! Gateway: HELLO with a configurable `heartbeat_interval`, IDENTIFY
//! (token, intents, privileged intents, shard) → READY and GUILD_CREATE,
//! heartbeats and ACKs, RESUME replaying missed dispatches then RESUMED,
//! op 9 for an unknown session, and the close codes of the docs (see
//! `gateway.rs`). Dispatches carry increasing `s` and follow the intent
//! rules, message content intent included. The bot's own REST actions
//! come back as events, as at Discord (its messages as MESSAGE_CREATE).
//!
//! Scripting: users ([`FakeUser`]) write DMs and guild messages with
//! mentions, replies, attachments and voice messages ([`Post`]; files
//! downloadable from the fake's CDN path with signed URLs, and held back
//! while a test keeps them in flight: [`FakeDiscord::hold_downloads`]),
//! edit and delete them, and use slash commands; guilds ([`FakeGuild`]) have channels, threads, roles
//! and members.
//! Faults: scripted REST failures ([`Fault`]), session answers
//! ([`SessionFault`]), and gateway controls — reconnect, invalid session,
//! dropped socket, a chosen close code, malformed frames, no heartbeat
//! ACKs. Everything the bot sends is recorded ([`SentMessage`],
//! [`FakeCall`], [`ClientFrame`]) and the `wait_for*` methods are woken
//! by changes, never polling. Timers (heartbeat deadlines, rate-limit
//! windows, interaction deadlines, ids and dates) follow the tokio clock.
//!
//! Not modelled: ETF encoding and transport compression, sharding beyond
//! validating `shard`, permissions (the bot may do anything), voice,
//! presences, member chunking, forums, archived threads, embeds beyond
//! their count, message components' interactions, autocomplete, and
//! Discord's CDN for anything but attachments.
//!
//! The server is listening when [`FakeDiscord::start`] returns and stops
//! when the handle is dropped.

mod body;
mod cdn;
mod commands;
mod controls;
mod errors;
mod faults;
mod gateway;
mod guild;
mod ids;
mod interactions;
mod messages;
mod ratelimit;
mod rest;
mod routes;
mod server;
mod session;
mod state;
mod threads;
mod users;

pub use cdn::DownloadHold;
pub use faults::{Fault, SessionFault};
pub use guild::FakeGuild;
pub use ratelimit::{Budget, RateLimitMode, Scope};
pub use routes::Route;
pub use session::{ClientFrame, GatewayConnection, intents};
pub use state::{BotReaction, FakeCall, FakeFile, InteractionReply, SentMessage};
pub use users::{FakeInteraction, FakeUser, Post};

use crate::peer::PeerListener;
use serde_json::Value;
use session::GatewayState;
use state::{Shared, State, UserRec};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The token [`FakeDiscord::start`] accepts.
pub const DEFAULT_TOKEN: &str = "MTE0NTE0MTkxOTgxMDkzMTIzNA.GhFake.hermod-fake-discord-token";
/// The bot's username.
pub const BOT_USERNAME: &str = "hermod";
/// The `EPHEMERAL` message flag.
pub const EPHEMERAL: u64 = 1 << 6;
/// The `IS_VOICE_MESSAGE` message flag: the message is a voice message.
pub const IS_VOICE_MESSAGE: u64 = 1 << 13;
/// Discord's current heartbeat interval.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(41_250);

/// Options for a [`FakeDiscord`].
#[derive(Debug, Clone)]
pub struct FakeDiscordBuilder {
    token: String,
    heartbeat_interval: Duration,
    enforce_heartbeats: bool,
    privileged_intents: u64,
    rate_limit_mode: RateLimitMode,
}

impl FakeDiscordBuilder {
    /// The bot token (default [`DEFAULT_TOKEN`]).
    pub fn token(mut self, token: &str) -> Self {
        self.token = token.to_owned();
        self
    }

    /// HELLO's `heartbeat_interval` (default 41.25 s).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Whether a connection whose heartbeats stop is closed (default on;
    /// off for tests on paused time, where the clock can jump past a
    /// heartbeat still in the socket).
    pub fn enforce_heartbeats(mut self, enforce: bool) -> Self {
        self.enforce_heartbeats = enforce;
        self
    }

    /// The privileged intents enabled for the app (default all of
    /// [`intents::PRIVILEGED`]); asking for another closes with 4014.
    pub fn privileged_intents(mut self, enabled: u64) -> Self {
        self.privileged_intents = enabled & intents::PRIVILEGED;
        self
    }

    /// What exceeding a rate-limit budget does (default: 429).
    pub fn rate_limit_mode(mut self, mode: RateLimitMode) -> Self {
        self.rate_limit_mode = mode;
        self
    }

    /// Binds a local port and starts serving.
    pub async fn start(self) -> FakeDiscord {
        let listener = PeerListener::bind().await;
        let addr = listener.addr();
        let mut gateway = GatewayState::new(self.heartbeat_interval, self.enforce_heartbeats);
        gateway.privileged_enabled = self.privileged_intents;
        let mut state = State::new(gateway);
        state.limits.mode = self.rate_limit_mode;
        let bot_id = state.snowflake();
        let application_id = bot_id;
        state.users.insert(
            bot_id,
            UserRec {
                id: bot_id,
                username: BOT_USERNAME.to_owned(),
                global_name: None,
                bot: true,
            },
        );
        let shared = Arc::new(Shared::new(
            self.token,
            bot_id,
            application_id,
            format!("http://{addr}"),
            state,
        ));
        server::start(&shared, listener);
        FakeDiscord { shared, addr }
    }
}

/// A running fake of Discord. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl FakeDiscord {
    /// A fake with the defaults, accepting connections when this returns.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn builder() -> FakeDiscordBuilder {
        FakeDiscordBuilder {
            token: DEFAULT_TOKEN.to_owned(),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            enforce_heartbeats: true,
            privileged_intents: intents::PRIVILEGED,
            rate_limit_mode: RateLimitMode::Enforce,
        }
    }

    /// `http://127.0.0.1:<port>/api/v10`, for `DISCORD_API_BASE_URL`.
    pub fn api_base_url(&self) -> String {
        format!("{}{}", self.shared.http_base, server::API_PREFIX)
    }

    /// `ws://127.0.0.1:<port>`, the URL `GET /gateway/bot` answers with.
    pub fn gateway_url(&self) -> String {
        self.shared.gateway_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> String {
        self.shared.token.clone()
    }

    pub fn bot_id(&self) -> u64 {
        self.shared.bot_id
    }

    /// The application's id (the bot user's, as for apps made today).
    pub fn application_id(&self) -> u64 {
        self.shared.application_id
    }

    /// A new user.
    pub fn user(&self, username: &str) -> FakeUser {
        self.add_user(username, false)
    }

    /// Another bot (its author objects carry `"bot": true`).
    pub fn other_bot(&self, username: &str) -> FakeUser {
        self.add_user(username, true)
    }

    /// A new user with a chosen id (for configurations written with
    /// literal ids).
    ///
    /// # Panics
    /// When the id is taken.
    pub fn user_with_id(&self, id: u64, username: &str) -> FakeUser {
        self.shared.update(|s| {
            assert!(!s.users.contains_key(&id), "user id {id} is taken");
            let record = UserRec {
                id,
                username: username.to_owned(),
                global_name: Some(capitalized(username)),
                bot: false,
            };
            s.users.insert(id, record);
        });
        FakeUser::new(self.shared.clone(), id, username)
    }

    fn add_user(&self, username: &str, bot: bool) -> FakeUser {
        let id = self.shared.update(|s| {
            let id = s.snowflake();
            let record = UserRec {
                id,
                username: username.to_owned(),
                global_name: (!bot).then(|| capitalized(username)),
                bot,
            };
            s.users.insert(id, record);
            id
        });
        FakeUser::new(self.shared.clone(), id, username)
    }

    /// A new guild owned by `owner`, with the bot in it.
    pub fn guild(&self, name: &str, owner: &FakeUser) -> FakeGuild {
        FakeGuild::create(self.shared.clone(), name, owner.id())
    }

    /// Every message the bot created in `channel_id` (deleted ones
    /// included), in order.
    pub fn bot_messages(&self, channel_id: u64) -> Vec<SentMessage> {
        let s = self.shared.lock();
        s.bot_messages
            .iter()
            .filter(|m| m.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// Every message the bot created anywhere, in order.
    pub fn all_bot_messages(&self) -> Vec<SentMessage> {
        self.shared.lock().bot_messages.clone()
    }

    /// Waits until the bot created at least `n` messages in `channel_id`.
    pub async fn wait_for_bot_messages(&self, channel_id: u64, n: usize) -> Vec<SentMessage> {
        self.wait_for(channel_id, |messages| messages.len() >= n)
            .await
    }

    /// Waits until the bot's messages in `channel_id` satisfy `done`.
    pub async fn wait_for(
        &self,
        channel_id: u64,
        done: impl Fn(&[SentMessage]) -> bool,
    ) -> Vec<SentMessage> {
        self.shared
            .wait_until(|s| {
                let messages: Vec<SentMessage> = s
                    .bot_messages
                    .iter()
                    .filter(|m| m.channel_id == channel_id)
                    .cloned()
                    .collect();
                done(&messages).then_some(messages)
            })
            .await
    }

    /// The message `id` as the REST API would return it (any author).
    pub fn message(&self, id: u64) -> Option<Value> {
        self.shared.lock().messages.get(&id).map(|m| m.json.clone())
    }

    /// The channel `id` as the REST API would return it.
    pub fn channel(&self, id: u64) -> Option<Value> {
        let s = self.shared.lock();
        s.channels.get(&id).map(|c| c.json(&s.users))
    }

    /// The threads of `parent_id`, oldest first.
    pub fn threads(&self, parent_id: u64) -> Vec<u64> {
        let s = self.shared.lock();
        s.channels
            .values()
            .filter(|c| c.parent_id == Some(parent_id))
            .map(|c| c.id)
            .collect()
    }

    /// Reactions the bot added (removed ones marked), in order.
    pub fn reactions(&self) -> Vec<BotReaction> {
        self.shared.lock().reactions.clone()
    }

    /// How many typing indicators the bot triggered in `channel_id`.
    pub fn typing_count(&self, channel_id: u64) -> usize {
        self.shared
            .lock()
            .typing
            .iter()
            .filter(|c| **c == channel_id)
            .count()
    }

    /// The global application commands, as Discord stores them.
    pub fn commands(&self) -> Vec<Value> {
        self.shared.lock().commands.clone()
    }

    /// The commands of guild `guild_id`.
    pub fn guild_commands(&self, guild_id: u64) -> Vec<Value> {
        self.shared
            .lock()
            .guild_commands
            .get(&guild_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until a bulk overwrite of commands (global or guild) succeeded.
    pub async fn wait_for_commands(&self) {
        self.shared
            .wait_until(|s| (s.command_overwrites > 0).then_some(()))
            .await;
    }

    /// How the bot answered interaction `id`, if it did.
    pub fn interaction_reply(&self, id: u64) -> Option<InteractionReply> {
        self.shared
            .lock()
            .interactions
            .get(&id)
            .and_then(|i| i.reply.clone())
    }

    /// Waits until the bot answered interaction `id`.
    pub async fn wait_for_interaction_reply(&self, id: u64) -> InteractionReply {
        self.shared
            .wait_until(|s| s.interactions.get(&id).and_then(|i| i.reply.clone()))
            .await
    }

    /// Every REST call with the right token, in order of arrival.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.lock().calls.all()
    }

    /// The calls of `route`, in order.
    pub fn calls_of(&self, route: Route) -> Vec<FakeCall> {
        self.shared.lock().calls.matching(|c| c.route == route)
    }

    /// How many times `route` was called.
    pub fn call_count(&self, route: Route) -> usize {
        self.shared.lock().calls.count(|c| c.route == route)
    }

    /// Waits until `route` was called `n` times.
    pub async fn wait_for_calls(&self, route: Route, n: usize) -> Vec<FakeCall> {
        self.shared
            .wait_for(n, |s| s.calls.matching(|c| c.route == route))
            .await
    }

    /// REST requests refused for a wrong or missing token.
    pub fn unauthorized_calls(&self) -> usize {
        self.shared.lock().unauthorized_calls
    }

    /// Attachment downloads asked for, served or not.
    pub fn cdn_downloads(&self) -> usize {
        self.shared.lock().cdn_downloads
    }

    /// Answers the next call of `route` with `fault`; queued faults are
    /// used one per call, in order.
    pub fn fail_next(&self, route: Route, fault: Fault) {
        self.fail_times(route, 1, fault);
    }

    /// Answers the next `n` calls of `route` with `fault`.
    pub fn fail_times(&self, route: Route, n: usize, fault: Fault) {
        self.shared
            .update(|s| s.faults.push_times(Some(route), n, fault));
    }

    /// Answers the next call of any route (after that route's own queue)
    /// with `fault`.
    pub fn fail_next_call(&self, fault: Fault) {
        self.shared.update(|s| s.faults.push(None, fault));
    }

    /// Sets the budget of `route`'s buckets (resetting them).
    pub fn set_budget(&self, route: Route, budget: Budget) {
        self.shared.update(|s| s.limits.set_budget(route, budget));
    }

    /// Sets the global budget (`None`: no global limit).
    pub fn set_global_budget(&self, budget: Option<Budget>) {
        self.shared.update(|s| s.limits.set_global(budget));
    }

    pub fn set_rate_limit_mode(&self, mode: RateLimitMode) {
        self.shared.update(|s| s.limits.mode = mode);
    }

    /// Requests that found their bucket or the global budget empty,
    /// whether answered with 429 or let through.
    pub fn would_be_429s(&self) -> usize {
        self.shared.lock().limits.would_be_429s
    }

    /// 429 answers served (budgets and scripted faults).
    pub fn served_429s(&self) -> usize {
        self.shared.lock().served_429s
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
