//! [`MatrixAdapter`]: Matrix as an [`Adapter`] — receiving through
//! `/sync` (`receive`) and sending, editing and redacting messages.
//!
//! Replies are rendered once by `hermod-render` (plain `body`, Matrix
//! HTML `formatted_body`), split at `MATRIX_MAX_MESSAGE_LENGTH`
//! characters, sent as `m.notice` (or `m.text`) with a transaction id per
//! part, in the thread they answer. Calls are paced (one per room per
//! second, 60 a minute in all, bursts of 10, near Synapse's default
//! `rc_message`); after a 429 nothing is sent to that room before its
//! `retry_after_ms` has passed.

use crate::ConnectionState;
use crate::api::{MatrixApi, MatrixError};
use crate::config::MatrixConfig;
use crate::event::Bot;
use crate::outbound::{
    MAX_PIECE_BYTES, edit_content, msgtype, nonce, relate, text_content, txn_id,
};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, MediaDir, Pacer, PacerLimits, Wait};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger, Reactions, Typing};
use hermod_http::HttpClient;
use hermod_model::text::split_message;
use hermod_model::{
    Capabilities, ChatTarget, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId,
    Sent,
};
use hermod_store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::warn;

/// The minimum interval between edits of one message.
pub const MIN_EDIT_INTERVAL: Duration = Duration::from_secs(1);

/// How long a repeated transaction id is surely answered with the first
/// event: the spec scopes transaction ids to the device (v1.7) without a
/// time; Synapse keeps them for a day. Half an hour is well within that.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(30 * 60);

/// How long a typing notice lasts unless renewed.
const TYPING_FOR: Duration = Duration::from_secs(30);

/// Thread roots remembered as ones the bot is in, before the oldest are
/// forgotten.
const THREAD_MEMORY: usize = 4096;

fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(1, Duration::from_secs(1)),
        per_group: None,
        global: Limit::per(60, Duration::from_secs(60)).with_burst(10),
        send_reserve: 20,
        max_wait: Duration::from_secs(10),
    }
}

/// The Matrix adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MatrixAdapter {
    pub(crate) inner: Arc<Inner>,
}

/// What the adapter remembers about rooms.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    /// Rooms listed in the bot's `m.direct` account data.
    pub direct: HashSet<String>,
    /// Joined member counts, dropped when membership changes.
    pub members: HashMap<String, usize>,
    /// Encrypted rooms whose users were told the bot cannot read them.
    pub told_encrypted: HashSet<String>,
    /// Thread roots the bot answers in, oldest first.
    pub threads: Vec<String>,
}

pub(crate) struct Inner {
    config: MatrixConfig,
    api: MatrixApi,
    store: Arc<dyn Store>,
    pacer: Pacer,
    connection: Connection,
    pub(crate) media: MediaDir,
    pub(crate) session: tokio::sync::Mutex<Option<Bot>>,
    pub(crate) rooms: Mutex<Rooms>,
    /// The 👀 reaction on each message whose turn runs: (room, message)
    /// → the reaction's event id.
    working: Mutex<HashMap<(String, String), String>>,
}

impl std::fmt::Debug for MatrixAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and password are in the config and the API client:
        // show neither.
        f.debug_struct("MatrixAdapter")
            .field("homeserver", &self.inner.config.homeserver)
            .field("user_id", &self.inner.config.user_id)
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl MatrixAdapter {
    /// Validates `config` and builds the adapter; the sync token and a
    /// password login's session are kept in `store`. Nothing is contacted
    /// until `run` or the first send.
    pub fn new(config: MatrixConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        Self::with_http(config, store, &hermod_adapter_kit::http_client()?)
    }

    /// [`MatrixAdapter::new`] on the gateway's shared HTTP client.
    pub fn with_http(
        config: MatrixConfig,
        store: Arc<dyn Store>,
        http: &HttpClient,
    ) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let api = MatrixApi::new(
            http.reqwest().clone(),
            &config.homeserver,
            config.request_timeout(),
        )
        .map_err(AdapterError::Startup)?;
        let mut connection = Connection::new(crate::PLATFORM, config.max_reconnect_delay());
        for secret in [&config.access_token, &config.password]
            .into_iter()
            .flatten()
        {
            connection = connection.redacting(secret.clone());
        }
        let media = MediaDir::new(config.media_dir(), config.max_media_bytes);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                store,
                pacer: Pacer::new(limits()),
                connection,
                media,
                session: tokio::sync::Mutex::new(None),
                rooms: Mutex::new(Rooms::default()),
                working: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The state of the connection to the homeserver, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &MatrixConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &MatrixApi {
        &self.inner.api
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn rooms(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.inner
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn pacer(&self) -> &Pacer {
        &self.inner.pacer
    }

    pub(crate) fn working(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), String>> {
        self.inner
            .working
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers that the bot answers in the thread rooted at `root`, so
    /// follow-ups there need no mention.
    pub(crate) fn join_thread(&self, root: &str) {
        let mut rooms = self.rooms();
        if !rooms.threads.iter().any(|t| t == root) {
            rooms.threads.push(root.to_owned());
            if rooms.threads.len() > THREAD_MEMORY {
                rooms.threads.remove(0);
            }
        }
    }

    pub(crate) fn in_thread(&self, root: &str) -> bool {
        self.rooms().threads.iter().any(|t| t == root)
    }

    /// Waits for a slot to call into `room`.
    async fn pace(&self, room: &str, call: Call) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .acquire(room, call)
            .await
            .map_err(rate_limited)
    }

    /// Notes a failure: flood control after a 429, the connection failed
    /// after refused credentials.
    pub(crate) fn noted(&self, room: &str, e: MatrixError) -> AdapterError {
        match &e {
            MatrixError::RateLimited(wait) => self.inner.pacer.block(room, *wait),
            MatrixError::Unauthorized { .. } => {
                self.connection().set_state(ConnectionState::Failed);
            }
            _ => {}
        }
        e.into()
    }

    /// Sends one event to `room` with transaction id `txn`, paced.
    pub(crate) async fn send_event(
        &self,
        room: &str,
        txn: &str,
        content: &serde_json::Value,
    ) -> Result<String, AdapterError> {
        self.pace(room, Call::Send { group: false }).await?;
        self.api()
            .send(room, "m.room.message", txn, content)
            .await
            .map_err(|e| self.noted(room, e))
    }

    fn msgtype(&self) -> &'static str {
        msgtype(self.config().send_notices)
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

#[async_trait]
impl Adapter for MatrixAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: self.config().max_message_length,
            length_unit: LengthUnit::Chars,
            can_edit: true,
            can_delete: true,
            min_edit_interval: MIN_EDIT_INTERVAL,
            threads: true,
            reactions: self.config().reactions,
            typing: true,
            markdown: MarkdownDialect::MatrixHtml,
            // Matrix clients keep `/` for their own commands.
            command_prefix: '!',
            files: true,
            multi_message: true,
            idempotency_window: Some(IDEMPOTENCY_WINDOW),
            ..Capabilities::default()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.receive(&ctx).await
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for MatrixAdapter {
    /// Sends the text split at `MATRIX_MAX_MESSAGE_LENGTH` characters, in
    /// the target's thread, then its files.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let room = message.target.chat_id.as_str();
        self.inner.pacer.check(room).map_err(rate_limited)?;
        self.ready().await.map_err(|e| self.noted(room, e))?;
        let thread = message.target.thread_id.as_deref();
        if let Some(root) = thread {
            self.join_thread(root);
        }
        let key = message.idempotency_key.clone().unwrap_or_else(nonce);
        let limit = self.config().max_message_length;
        // Within the limit in characters, and within what one event holds
        // in bytes (16000 characters of CJK text would not fit).
        let pieces: Vec<String> = split_message(&message.text, limit, LengthUnit::Chars)
            .into_iter()
            .flat_map(|piece| split_message(&piece, MAX_PIECE_BYTES, LengthUnit::Bytes))
            .filter(|piece| !piece.trim().is_empty())
            .collect();
        let caption_taken = pieces.is_empty() && !message.attachments.is_empty();
        let mut message_ids = Vec::new();
        for (part, piece) in pieces.iter().enumerate() {
            let mut content = text_content(piece, self.msgtype());
            let reply_to = if part == 0 {
                message.reply_to.as_deref()
            } else {
                None
            };
            relate(&mut content, thread, reply_to);
            let sent = self
                .send_event(room, &txn_id(&key, part), &content)
                .await
                .inspect_err(|e| {
                    if !message_ids.is_empty() {
                        warn!(sent = message_ids.len(), total = pieces.len(), error = %e, "a reply was sent in part");
                    }
                })?;
            message_ids.push(sent);
        }
        for (index, file) in message.attachments.iter().enumerate() {
            let txn = txn_id(&key, pieces.len() + index);
            let id = self
                .send_file(room, thread, file, &txn, caption_taken.then_some(""))
                .await?;
            message_ids.push(id);
        }
        Ok(Sent { message_ids })
    }

    /// Replaces the message's text (`m.replace`), paced to one edit a
    /// second per room.
    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        let room = edit.message.target.chat_id.as_str();
        self.ready().await.map_err(|e| self.noted(room, e))?;
        let content = edit_content(&edit.text, self.msgtype(), &edit.message.message_id);
        self.pace(room, Call::Edit).await?;
        let txn = format!("hermod-edit-{}", nonce());
        self.api()
            .send(room, "m.room.message", &txn, &content)
            .await
            .map(drop)
            .map_err(|e| self.noted(room, e))
    }

    /// Redacts the message.
    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let room = message.target.chat_id.as_str();
        self.ready().await.map_err(|e| self.noted(room, e))?;
        self.pace(room, Call::Edit).await?;
        let txn = format!("hermod-redact-{}", nonce());
        self.api()
            .redact(room, &message.message_id, &txn)
            .await
            .map_err(|e| self.noted(room, e))
    }

    fn typing(&self) -> Option<&dyn Typing> {
        Some(self)
    }

    fn reactions(&self) -> Option<&dyn Reactions> {
        self.config().reactions.then_some(self as &dyn Reactions)
    }
}

#[async_trait]
impl Typing for MatrixAdapter {
    /// `PUT /rooms/{room}/typing/{bot}` for 30 s; skipped when the room's
    /// calls are all taken.
    async fn typing(&self, target: &ChatTarget) -> Result<(), AdapterError> {
        let room = target.chat_id.as_str();
        let bot = self.ready().await.map_err(|e| self.noted(room, e))?;
        if !self.inner.pacer.try_spare(room) {
            return Ok(());
        }
        self.api()
            .typing(room, &bot.user_id, TYPING_FOR)
            .await
            .map_err(|e| self.noted(room, e))
    }
}
