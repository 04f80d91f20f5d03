//! [`DiscordAdapter`]: Discord as an [`Adapter`] — the gateway for
//! receiving, REST for sending, editing and deleting messages, typing,
//! reactions and threads.
//!
//! Sends and edits are paced within Discord's published limits by the
//! kit's [`Pacer`] (see [`limits`]), and each request waits for its
//! rate-limit bucket as Discord's headers describe it ([`crate::api`]).
//! After a 429 for a channel, calls there fail fast with `RateLimited`
//! and the time that remains. Edits and deletions are retried on
//! transient failures; sends are not (the outbox owns that retry).
//!
//! Replies to a slash command go to the interaction (its webhook routes),
//! which was answered "deferred" when it arrived: the first message
//! replaces Discord's "thinking…", the others follow it.
//!
//! With `DISCORD_REACTIONS`, [`Reactions`] puts [`WORKING`] on a user's
//! message when core starts a turn on it and takes it off when the turn
//! has ended, however it ended.
//!
//! Typing indicators and reactions count against Discord's global limit
//! too, so they take the pacer's spare slots: a typing indicator or a
//! reaction added goes only when a slot is free and no reply waits for
//! one, and is skipped otherwise; a reaction that went on waits for its
//! turn to come off ([`Call::Undo`]), and one that was skipped is not
//! removed.

use crate::ConnectionState;
use crate::api::{Body, Request, RestApi, Upload};
use crate::config::{DiscordConfig, ReplyToMode};
use crate::error::DiscordError;
use crate::outbound::{self, MAX_MESSAGE};
use crate::types::{Created, Ready};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, Pacer, PacerLimits, Wait};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger, Reactions, TurnEnded, Typing};
use hermod_http::HttpClient;
use hermod_model::{
    Capabilities, ChatTarget, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId,
    Secret, Sent,
};
use reqwest::Method;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, warn};

/// Messages remembered as already replied to (`DISCORD_REPLY_TO_MODE=first`).
const REPLIED_MEMORY: usize = 512;

/// Entries kept in each of the adapter's small memories.
const MEMORY: usize = 4096;

/// Messages remembered as marked with [`WORKING`]: each is forgotten when
/// its turn ends, so this bounds only the turns running at once.
const MARKED_MEMORY: usize = 65_536;

/// How long an interaction token may be used (Receiving and Responding).
const INTERACTION_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Dispatches waiting for the event handler.
const EVENT_QUEUE: usize = 256;

/// Attempts of an idempotent call on transient failures.
const IDEMPOTENT_ATTEMPTS: u32 = 3;

/// The largest upload without boosts (Uploading Files).
const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;

/// The reaction shown while a turn on a message runs.
pub(crate) const WORKING: &str = "👀";

/// Discord's published limits: 5 messages per 5 seconds in a channel,
/// 50 requests per second overall — here 45, since our spacing can shrink
/// on the way — with 5 of those kept for new messages so a channel's
/// first answer never queues behind other channels' edits.
pub(crate) fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(5, Duration::from_secs(5)),
        per_group: None,
        global: Limit::per(45, Duration::from_secs(1)),
        send_reserve: 5,
        max_wait: Duration::from_secs(3),
    }
}

/// The bot's identity, from READY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Me {
    pub bot_id: String,
    pub application_id: String,
}

/// A slash command being answered.
#[derive(Debug, Clone)]
struct Pending {
    token: Secret,
    created: Instant,
}

/// What the adapter remembers between calls.
#[derive(Debug, Default)]
struct Memory {
    /// Message ids a reply already threaded to, newest last.
    replied: VecDeque<String>,
    /// Interaction id → its token.
    interactions: HashMap<String, Pending>,
    /// Message id → the interaction whose webhook created it.
    interaction_messages: HashMap<String, String>,
    /// Thread id → parent channel.
    threads: HashMap<String, String>,
    /// Threads the bot started.
    our_threads: HashSet<String>,
    /// Messages [`WORKING`] went on, to be taken off when their turn ends.
    marked: HashSet<String>,
    commands_synced: bool,
}

/// The Discord adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct DiscordAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: DiscordConfig,
    api: RestApi,
    token: Secret,
    pacer: Pacer,
    connection: Connection,
    me: Mutex<Option<Me>>,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for DiscordAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordAdapter")
            .field("api_base_url", &self.inner.config.api_base_url)
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl DiscordAdapter {
    /// Validates `config` and builds the adapter. Nothing is contacted
    /// until `run`.
    pub fn new(config: DiscordConfig) -> Result<Self, AdapterError> {
        Self::with_http(config, &hermod_adapter_kit::http_client()?)
    }

    /// [`DiscordAdapter::new`] on the gateway's shared HTTP client.
    pub fn with_http(config: DiscordConfig, http: &HttpClient) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let token = config
            .bot_token
            .clone()
            .ok_or_else(|| AdapterError::Startup("DISCORD_BOT_TOKEN is not set".into()))?;
        let api = RestApi::new(
            http.reqwest().clone(),
            &config.api_base_url,
            token.clone(),
            config.request_timeout(),
        );
        let connection =
            Connection::new(crate::PLATFORM, config.max_reconnect_delay()).redacting(token.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                token,
                pacer: Pacer::new(limits()),
                connection,
                me: Mutex::new(None),
                memory: Mutex::new(Memory::default()),
            }),
        })
    }

    /// The state of the gateway connection, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &DiscordConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &RestApi {
        &self.inner.api
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.inner.token
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        // Every update leaves the memory consistent.
        self.inner
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn me(&self) -> Option<Me> {
        self.inner
            .me
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_me(&self, ready: &Ready) {
        *self.inner.me.lock().unwrap_or_else(PoisonError::into_inner) = Some(Me {
            bot_id: ready.user.id.clone(),
            application_id: ready.application.id.clone(),
        });
    }

    pub(crate) async fn fetch_gateway_url(&self) -> Result<String, DiscordError> {
        let request = Request::new(Method::GET, "/gateway/bot", "/gateway/bot");
        let answer: crate::types::GatewayBot = self.api().call(&request, Body::None).await?;
        Ok(answer.url)
    }

    /// Starts a public thread in `channel` (not from a message) and
    /// returns its id, for handing a conversation over to a thread.
    pub async fn create_thread(&self, channel: &str, name: &str) -> Result<String, AdapterError> {
        let channel = snowflake(channel, "channel")?;
        self.check_flood(channel)?;
        let path = format!("/channels/{channel}/threads");
        let request = Request::new(Method::POST, &path, &path);
        let body = serde_json::json!({
            "name": outbound::thread_name(name),
            "type": 11,
            "auto_archive_duration": 1440,
        });
        let created: Created = self
            .api()
            .call(&request, Body::Json(body))
            .await
            .map_err(|e| self.failed(channel, e))?;
        self.remember_thread(&created.id, channel, true);
        Ok(created.id)
    }

    /// Starts a public thread from `message` in `channel` (auto-thread).
    pub(crate) async fn thread_from_message(
        &self,
        channel: &str,
        message: &str,
        name: &str,
    ) -> Result<String, AdapterError> {
        let path = format!("/channels/{channel}/messages/{message}/threads");
        let route = format!("/channels/{channel}/messages/:id/threads");
        let request = Request::new(Method::POST, path, route);
        let body =
            serde_json::json!({"name": outbound::thread_name(name), "auto_archive_duration": 1440});
        let created: Created = self
            .api()
            .call(&request, Body::Json(body))
            .await
            .map_err(|e| self.failed(channel, e))?;
        self.remember_thread(&created.id, channel, true);
        Ok(created.id)
    }

    pub(crate) fn remember_thread(&self, thread: &str, parent: &str, ours: bool) {
        let mut memory = self.memory();
        if memory.threads.len() >= MEMORY {
            memory.threads.clear();
        }
        memory.threads.insert(thread.to_owned(), parent.to_owned());
        if ours {
            if memory.our_threads.len() >= MEMORY {
                memory.our_threads.clear();
            }
            memory.our_threads.insert(thread.to_owned());
        }
    }

    /// A thread's parent channel and whether the bot started it.
    pub(crate) fn thread_of(&self, channel: &str) -> (Option<String>, bool) {
        let memory = self.memory();
        (
            memory.threads.get(channel).cloned(),
            memory.our_threads.contains(channel),
        )
    }

    /// Whether the commands were registered in this process (and marks
    /// them so).
    pub(crate) fn take_commands_sync(&self) -> bool {
        let mut memory = self.memory();
        !std::mem::replace(&mut memory.commands_synced, true)
    }

    pub(crate) fn remember_interaction(&self, id: &str, token: &str) {
        let now = Instant::now();
        let mut memory = self.memory();
        memory
            .interactions
            .retain(|_, p| now - p.created < INTERACTION_LIFETIME);
        memory.interactions.insert(
            id.to_owned(),
            Pending {
                token: Secret::new(token),
                created: now,
            },
        );
    }

    /// The token of interaction `id`, while it can be used.
    fn interaction_token(&self, id: &str) -> Option<Secret> {
        let memory = self.memory();
        memory
            .interactions
            .get(id)
            .filter(|p| p.created.elapsed() < INTERACTION_LIFETIME)
            .map(|p| p.token.clone())
    }

    /// The channel and id of the message a turn answers; `None` when it
    /// is no message (a slash command's interaction). A thread started
    /// from a message (auto-threads) takes the message's id, and the
    /// message itself stays in the parent channel.
    fn reacted_message(
        &self,
        message: &MessageRef,
    ) -> Result<Option<(String, String)>, AdapterError> {
        let id = message.message_id.trim();
        if !crate::config::is_snowflake(id) {
            return Ok(None);
        }
        let channel = channel_of(&message.target)?;
        let channel = match self.thread_of(channel) {
            (Some(parent), _) if channel == id => parent,
            _ => channel.to_owned(),
        };
        Ok(Some((channel, id.to_owned())))
    }

    /// Adds (`PUT`) or removes (`DELETE`) the bot's [`WORKING`] on a
    /// message. The mark is skipped when no global slot is free, and then
    /// not removed either.
    async fn set_working(&self, message: &MessageRef, method: Method) -> Result<(), AdapterError> {
        let Some((channel, id)) = self.reacted_message(message)? else {
            return Ok(());
        };
        if method == Method::PUT {
            if !self.inner.pacer.try_spare(&channel) {
                debug!(channel, "no spare slot; the working reaction is skipped");
                return Ok(());
            }
            let mut memory = self.memory();
            if memory.marked.len() >= MARKED_MEMORY {
                memory.marked.clear();
            }
            memory.marked.insert(id.clone());
        } else {
            if !self.memory().marked.remove(&id) {
                return Ok(());
            }
            self.pace(&channel, Call::Undo).await?;
        }
        let path = reaction_path(&channel, &id);
        let request = Request::new(method, &path, reaction_route(&channel));
        // Not `failed`: a 429 on the reaction route does not hold up the
        // channel's messages.
        self.api()
            .call_ok(&request, Body::None)
            .await
            .map_err(AdapterError::from)
    }

    /// Waits for a slot for `call` in `channel`, or fails fast.
    async fn pace(&self, channel: &str, call: Call) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .acquire(channel, call)
            .await
            .map_err(rate_limited)
    }

    fn check_flood(&self, channel: &str) -> Result<(), AdapterError> {
        self.inner.pacer.check(channel).map_err(rate_limited)
    }

    /// Turns a failed call into core's error, starting flood control for
    /// the channel on a 429.
    fn failed(&self, channel: &str, error: DiscordError) -> AdapterError {
        if let DiscordError::RateLimited { retry_after, .. } = &error {
            warn!(channel, wait = ?retry_after, "Discord rate limit; pausing this channel");
            self.inner.pacer.block(channel, *retry_after);
        }
        if matches!(error, DiscordError::Unauthorized) {
            self.connection().set_state(ConnectionState::Failed);
        }
        error.into()
    }

    /// Runs an idempotent call, retrying transient failures with a short
    /// backoff (a 429 goes to flood control at once).
    async fn idempotent<T, F, Fut>(&self, channel: &str, call: F) -> Result<T, AdapterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DiscordError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await {
                Ok(value) => return Ok(value),
                Err(DiscordError::Transient(reason)) if attempt < IDEMPOTENT_ATTEMPTS => {
                    debug!(%reason, attempt, "retrying an idempotent Discord call");
                    tokio::time::sleep(Duration::from_millis(250) * 2u32.pow(attempt - 1)).await;
                }
                Err(e) => return Err(self.failed(channel, e)),
            }
        }
    }

    /// Whether a reply to `reply_to` is the first one (`first` mode).
    fn first_reply(&self, reply_to: &str) -> bool {
        !self.memory().replied.iter().any(|m| m == reply_to)
    }

    fn remember_reply(&self, reply_to: &str) {
        let mut memory = self.memory();
        if memory.replied.iter().any(|m| m == reply_to) {
            return;
        }
        if memory.replied.len() >= REPLIED_MEMORY {
            memory.replied.pop_front();
        }
        memory.replied.push_back(reply_to.to_owned());
    }

    /// Sends one text message.
    async fn send_text(
        &self,
        channel: &str,
        content: &str,
        reply_to: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, AdapterError> {
        self.pace(channel, Call::Send { group: false }).await?;
        let path = format!("/channels/{channel}/messages");
        let request = Request::new(Method::POST, &path, &path);
        let body = outbound::with_nonce(outbound::create_message(content, reply_to), nonce);
        let created: Created = self
            .api()
            .call(&request, Body::Json(body))
            .await
            .map_err(|e| self.failed(channel, e))?;
        Ok(created.id)
    }

    /// Uploads the files of a message in one request.
    async fn send_files(
        &self,
        channel: &str,
        message: &Outbound,
        content: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<String, AdapterError> {
        let mut uploads = Vec::new();
        for attachment in &message.attachments {
            let location = attachment.location.as_str();
            let bytes = tokio::fs::read(location).await.map_err(|e| {
                AdapterError::Rejected(format!("cannot read the attachment {location}: {e}"))
            })?;
            if bytes.len() as u64 > MAX_UPLOAD_BYTES {
                return Err(AdapterError::Rejected(format!(
                    "the attachment {location} is larger than Discord's 10 MB upload limit"
                )));
            }
            let name = std::path::Path::new(location)
                .file_name()
                .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
            uploads.push(Upload {
                name,
                bytes,
                mime: attachment.mime_type.clone(),
            });
        }
        let names: Vec<String> = uploads.iter().map(|u| u.name.clone()).collect();
        self.pace(channel, Call::Send { group: false }).await?;
        let path = format!("/channels/{channel}/messages");
        let request = Request::new(Method::POST, &path, &path);
        let payload = outbound::with_nonce(
            outbound::upload_payload(content, &names, reply_to),
            message.idempotency_key.as_deref(),
        );
        let created: Created = self
            .api()
            .call(
                &request,
                Body::Multipart {
                    payload,
                    files: uploads,
                },
            )
            .await
            .map_err(|e| self.failed(channel, e))?;
        Ok(created.id)
    }

    /// Sends a reply to a slash command as followups of its interaction
    /// (the first replaces the deferred "thinking…" message).
    async fn send_to_interaction(
        &self,
        channel: &str,
        interaction: &str,
        token: &Secret,
        parts: &[String],
    ) -> Result<Vec<String>, AdapterError> {
        let me = self
            .me()
            .ok_or_else(|| AdapterError::Transient("not connected to Discord yet".into()))?;
        let mut ids = Vec::new();
        for content in parts {
            self.pace(channel, Call::Send { group: false }).await?;
            let path = format!("/webhooks/{}/{}", me.application_id, token.expose());
            let route = format!("/webhooks/{}/{interaction}", me.application_id);
            let request = Request::webhook(Method::POST, path, route);
            let body = outbound::create_message(content, None);
            let created: Created = self
                .api()
                .call(&request, Body::Json(body))
                .await
                .map_err(|e| self.failed(channel, e))?;
            let mut memory = self.memory();
            if memory.interaction_messages.len() >= MEMORY {
                memory.interaction_messages.clear();
            }
            memory
                .interaction_messages
                .insert(created.id.clone(), interaction.to_owned());
            ids.push(created.id);
        }
        Ok(ids)
    }
}

fn reaction_path(channel: &str, message: &str) -> String {
    format!(
        "/channels/{channel}/messages/{message}/reactions/{}/@me",
        percent_encode(WORKING)
    )
}

fn reaction_route(channel: &str) -> String {
    format!("/channels/{channel}/messages/:id/reactions")
}

/// Percent-encodes every byte outside the unreserved set (an emoji in a
/// path).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A Discord id from core's string form.
fn snowflake<'a>(raw: &'a str, what: &str) -> Result<&'a str, AdapterError> {
    let raw = raw.trim();
    if crate::config::is_snowflake(raw) {
        Ok(raw)
    } else {
        Err(AdapterError::Rejected(format!(
            "{raw:?} is not a Discord {what} id"
        )))
    }
}

/// The channel a target names: its thread (a channel of its own) when
/// it has one.
fn channel_of(target: &ChatTarget) -> Result<&str, AdapterError> {
    match target.thread_id.as_deref().map(str::trim) {
        Some(thread) if !thread.is_empty() => snowflake(thread, "thread"),
        _ => snowflake(&target.chat_id, "channel"),
    }
}

#[async_trait]
impl Adapter for DiscordAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE,
            length_unit: LengthUnit::Chars,
            can_edit: true,
            can_delete: true,
            // Five messages per five seconds in a channel.
            min_edit_interval: Duration::from_secs(1),
            threads: true,
            reactions: self.config().reactions,
            typing: true,
            markdown: MarkdownDialect::DiscordMarkdown,
            command_prefix: '/',
            files: true,
            authenticates_callers: false,
            multi_message: true,
            // Files carry the message's content as their text.
            caption_len: MAX_MESSAGE,
            // `enforce_nonce`: Discord returns the message it already made
            // for a nonce it saw "in the past few minutes"; two is safe.
            idempotency_window: Some(Duration::from_secs(120)),
            user_ids_are_addresses: false,
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.connection().set_state(ConnectionState::Connecting);
        let (events, queue) = mpsc::channel(EVENT_QUEUE);
        // Both halves run in this task: the gateway keeps heartbeating
        // while the handler downloads or records.
        let result = tokio::select! {
            result = self.gateway(&ctx, events) => result,
            () = self.handle_events(&ctx, queue) => Ok(()),
        };
        if result.is_err() {
            self.connection().set_state(ConnectionState::Failed);
        }
        result
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

/// A handed-off conversation gets a public thread in the home channel
/// ("Start Thread without Message"); messages there come from the thread's
/// own channel id, as Discord sends them.
#[async_trait]
impl hermod_core::Threads for DiscordAdapter {
    async fn create_thread(
        &self,
        home: &ChatTarget,
        title: &str,
    ) -> Result<hermod_model::Source, AdapterError> {
        let thread = DiscordAdapter::create_thread(self, &home.chat_id, title).await?;
        // As its messages will say (`inbound::convert`: a known thread).
        Ok(hermod_model::Source {
            chat_type: hermod_model::ChatType::Thread,
            ..hermod_model::Source::dm(crate::PLATFORM, thread)
        })
    }
}

#[async_trait]
impl Messenger for DiscordAdapter {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let channel = channel_of(&message.target)?.to_owned();
        let reply_to = message.reply_to.as_deref().map(str::trim);
        if let Some(interaction) = reply_to.and_then(|r| r.strip_prefix("interaction:"))
            && let Some(token) = self.interaction_token(interaction)
            && message.attachments.is_empty()
        {
            let parts = outbound::render_parts(&message.text, MAX_MESSAGE);
            let ids = self
                .send_to_interaction(&channel, interaction, &token, &parts)
                .await?;
            return Ok(Sent { message_ids: ids });
        }
        let reply_to = reply_to.filter(|r| crate::config::is_snowflake(r));
        // In a thread the bot started from the message, the thread is
        // the reply; a reference across channels would be refused.
        let (_, our_thread) = self.thread_of(&channel);
        let reply_to = reply_to.filter(|_| !our_thread);
        let mode = self.config().reply_to_mode;
        let mut first = mode != ReplyToMode::First || reply_to.is_some_and(|r| self.first_reply(r));
        let plan = outbound::plan(&message);
        // The key makes one message idempotent: the upload, or a text that
        // is the whole send.
        let text_nonce = message
            .idempotency_key
            .as_deref()
            .filter(|_| plan.texts.len() == 1 && message.attachments.is_empty());
        let mut ids = Vec::new();
        for content in &plan.texts {
            let reference = reply_to.filter(|_| outbound::threads_reply(mode, first));
            let id = self
                .send_text(&channel, content, reference, text_nonce)
                .await?;
            ids.push(id);
            first = false;
            if let Some(r) = reply_to {
                self.remember_reply(r);
            }
        }
        if !message.attachments.is_empty() {
            let reference = reply_to.filter(|_| outbound::threads_reply(mode, first));
            let id = self
                .send_files(&channel, &message, plan.caption.as_deref(), reference)
                .await?;
            ids.push(id);
        }
        Ok(Sent { message_ids: ids })
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        let channel = channel_of(&edit.message.target)?.to_owned();
        let id = snowflake(&edit.message.message_id, "message")
            .map_err(|e| AdapterError::NotFound(e.to_string()))?
            .to_owned();
        let content = outbound::render(&edit.text);
        if content.trim().is_empty() {
            return Err(AdapterError::Rejected(
                "Discord cannot show an empty message".into(),
            ));
        }
        if content.chars().count() > MAX_MESSAGE {
            return Err(AdapterError::TooLong);
        }
        self.pace(&channel, Call::Edit).await?;
        let interaction = self.memory().interaction_messages.get(&id).cloned();
        let webhook = interaction.and_then(|i| Some((self.interaction_token(&i)?, i, self.me()?)));
        let body = outbound::edit_message(&content);
        let (channel, id, body) = (&channel, &id, &body);
        match &webhook {
            Some((token, interaction, me)) => {
                self.idempotent(channel, move || async move {
                    let path = format!(
                        "/webhooks/{}/{}/messages/{id}",
                        me.application_id,
                        token.expose()
                    );
                    let route = format!("/webhooks/{}/{interaction}/messages", me.application_id);
                    let request = Request::webhook(Method::PATCH, path, route);
                    self.api().call_ok(&request, Body::Json(body.clone())).await
                })
                .await
            }
            None => {
                self.idempotent(channel, move || async move {
                    let path = format!("/channels/{channel}/messages/{id}");
                    let route = format!("/channels/{channel}/messages/:id");
                    let request = Request::new(Method::PATCH, path, route);
                    self.api().call_ok(&request, Body::Json(body.clone())).await
                })
                .await
            }
        }
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let channel = channel_of(&message.target)?.to_owned();
        let id = snowflake(&message.message_id, "message")
            .map_err(|e| AdapterError::NotFound(e.to_string()))?
            .to_owned();
        self.check_flood(&channel)?;
        let (channel, id) = (&channel, &id);
        self.idempotent(channel, move || async move {
            let path = format!("/channels/{channel}/messages/{id}");
            let route = format!("/channels/{channel}/messages/:id DELETE");
            let request = Request::new(Method::DELETE, path, route);
            self.api().call_ok(&request, Body::None).await
        })
        .await
    }

    fn typing(&self) -> Option<&dyn Typing> {
        Some(self)
    }

    fn reactions(&self) -> Option<&dyn Reactions> {
        if self.config().reactions {
            Some(self)
        } else {
            None
        }
    }

    fn threads(&self) -> Option<&dyn hermod_core::Threads> {
        Some(self)
    }
}

#[async_trait]
impl Reactions for DiscordAdapter {
    /// [`WORKING`] on the message while its turn runs.
    async fn turn_started(&self, message: &MessageRef) -> Result<(), AdapterError> {
        self.set_working(message, Method::PUT).await
    }

    /// Takes [`WORKING`] off, as Hermes does, whatever the end.
    async fn turn_ended(
        &self,
        message: &MessageRef,
        _ended: TurnEnded,
    ) -> Result<(), AdapterError> {
        self.set_working(message, Method::DELETE).await
    }
}

#[async_trait]
impl Typing for DiscordAdapter {
    /// `POST /channels/{id}/typing`: shows "typing…" for about ten
    /// seconds; core renews it while a turn runs.
    async fn typing(&self, chat: &ChatTarget) -> Result<(), AdapterError> {
        let channel = channel_of(chat)?;
        if !self.inner.pacer.try_spare(channel) {
            // Cosmetic: core renews it while the turn runs.
            return Ok(());
        }
        let path = format!("/channels/{channel}/typing");
        let request = Request::new(Method::POST, &path, &path);
        self.api()
            .call_ok(&request, Body::None)
            .await
            .map_err(|e| self.failed(channel, e))
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_in_paths_are_percent_encoded() {
        assert_eq!(percent_encode(WORKING), "%F0%9F%91%80");
        assert_eq!(
            reaction_path("1", "2"),
            "/channels/1/messages/2/reactions/%F0%9F%91%80/@me"
        );
    }

    #[test]
    fn targets_name_a_channel_or_its_thread() {
        let target = ChatTarget {
            chat_id: "1".into(),
            thread_id: Some("2".into()),
        };
        assert_eq!(channel_of(&target).unwrap(), "2");
        let bad = ChatTarget {
            chat_id: "general".into(),
            thread_id: None,
        };
        assert!(matches!(channel_of(&bad), Err(AdapterError::Rejected(_))));
    }
}
