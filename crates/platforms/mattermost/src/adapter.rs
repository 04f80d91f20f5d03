//! [`MattermostAdapter`]: Mattermost as an [`Adapter`] — receiving over
//! the websocket (see [`crate::receive`]) and sending, editing and
//! deleting posts, files and the typing indicator over REST v4.
//!
//! Replies are Mattermost's Markdown (CommonMark with tables, rendered by
//! `hermod-render`), split at [`MAX_POST_CHARS`] characters as Hermes does
//! (the server's own limit is 16,383 runes). A reply in a thread goes
//! under the thread's root (`root_id`); a root the server refuses is
//! tried again flat, as Hermes does. Streaming edits the post
//! (`PUT /posts/{id}/patch`) at most once a second. A send keyed by the
//! outbox carries a `pending_post_id` made from the key, so a repeat
//! within 30 s after a crash creates no second post.
//!
//! Calls are paced below the server's default rate limit (10 requests a
//! second); after a 429 nothing goes to that channel before
//! `X-Ratelimit-Reset` has passed.

use crate::ConnectionState;
use crate::api::{ChannelInfo, MattermostApi, MmError, NewPost};
use crate::config::MattermostConfig;
use crate::types::Me;
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, MediaDir, Pacer, PacerLimits, Wait};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger, Threads, Typing};
use hermod_http::HttpClient;
use hermod_model::text::split_message;
use hermod_model::{
    Capabilities, ChatTarget, ChatType, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound,
    PlatformId, Sent, Source,
};
use hermod_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::warn;

/// The longest post hermod sends, in characters (Hermes' `MAX_POST_LENGTH`).
pub const MAX_POST_CHARS: usize = 4000;

/// Files Mattermost attaches to one post.
const FILES_PER_POST: usize = 5;

/// How long the server remembers a `pending_post_id`.
pub(crate) const PENDING_POST_WINDOW: Duration = Duration::from_secs(30);

/// The least time between two edits of one post.
const EDIT_INTERVAL: Duration = Duration::from_secs(1);

/// Channels whose type and name are remembered.
const CHANNEL_MEMORY: usize = 4096;

/// The server's default rate limit (10 a second, bursts of 100) kept
/// with room to spare: three calls a second per channel, ten overall,
/// four of them for new posts.
fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(3, Duration::from_secs(1)),
        per_group: None,
        global: Limit::per(10, Duration::from_secs(1)),
        send_reserve: 4,
        max_wait: Duration::from_secs(3),
    }
}

/// The Mattermost adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MattermostAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: MattermostConfig,
    api: MattermostApi,
    store: Arc<dyn Store>,
    pacer: Pacer,
    connection: Connection,
    media: MediaDir,
    /// Who the bot is, once `users/me` answered.
    me: Mutex<Option<Me>>,
    /// Channels' types and names, by id.
    channels: Mutex<HashMap<String, ChannelInfo>>,
    /// Users' names, by id.
    users: Mutex<HashMap<String, String>>,
    /// When each post may next be edited, so edits of one post keep
    /// [`EDIT_INTERVAL`] apart.
    edits: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for MattermostAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is in the API client: show neither.
        f.debug_struct("MattermostAdapter")
            .field("url", &self.inner.config.base_url())
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update leaves the value consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MattermostAdapter {
    /// Validates `config` and builds the adapter; the cursors are kept in
    /// `store`'s settings. Nothing is contacted until `run`.
    pub fn new(config: MattermostConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        Self::with_http(config, store, &hermod_adapter_kit::http_client()?)
    }

    /// [`MattermostAdapter::new`] on the gateway's shared HTTP client.
    pub fn with_http(
        config: MattermostConfig,
        store: Arc<dyn Store>,
        http: &HttpClient,
    ) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let token = config
            .token
            .clone()
            .ok_or_else(|| AdapterError::Startup("MATTERMOST_TOKEN is not set".into()))?;
        let api = MattermostApi::new(
            http.reqwest().clone(),
            config.base_url(),
            token.clone(),
            config.request_timeout(),
        );
        let connection =
            Connection::new(crate::PLATFORM, config.max_reconnect_delay()).redacting(token);
        let media = MediaDir::new(config.media_dir(), config.media_max_bytes);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                store,
                pacer: Pacer::new(limits()),
                connection,
                media,
                me: Mutex::new(None),
                channels: Mutex::new(HashMap::new()),
                users: Mutex::new(HashMap::new()),
                edits: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The state of the connection to Mattermost, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &MattermostConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &MattermostApi {
        &self.inner.api
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn media(&self) -> &MediaDir {
        &self.inner.media
    }

    pub(crate) fn set_me(&self, me: Me) {
        *lock(&self.inner.me) = Some(me);
    }

    /// A channel's type and name, asked once.
    pub(crate) async fn channel_info(&self, id: &str) -> Result<ChannelInfo, MmError> {
        if let Some(info) = lock(&self.inner.channels).get(id) {
            return Ok(info.clone());
        }
        let info = self.api().channel(id).await?;
        let mut channels = lock(&self.inner.channels);
        if channels.len() >= CHANNEL_MEMORY {
            channels.clear();
        }
        channels.insert(id.to_owned(), info.clone());
        Ok(info)
    }

    /// Remembers channels listed by the server.
    pub(crate) fn remember_channels(&self, list: &[ChannelInfo]) {
        let mut channels = lock(&self.inner.channels);
        if channels.len() + list.len() >= CHANNEL_MEMORY {
            channels.clear();
        }
        for info in list {
            channels.insert(info.id.clone(), info.clone());
        }
    }

    /// Remembers a channel's type from an event, so catching up needs no call.
    pub(crate) fn remember_channel(&self, id: &str, kind: &str, name: Option<&str>) {
        let mut channels = lock(&self.inner.channels);
        if channels.len() >= CHANNEL_MEMORY {
            channels.clear();
        }
        channels
            .entry(id.to_owned())
            .or_insert_with(|| ChannelInfo {
                id: id.to_owned(),
                last_post_at: 0,
                kind: kind.to_owned(),
                display_name: name.unwrap_or_default().to_owned(),
                name: String::new(),
            });
    }

    /// A user's name, asked once; `None` when it cannot be had.
    pub(crate) async fn username(&self, id: &str) -> Option<String> {
        if let Some(name) = lock(&self.inner.users).get(id) {
            return Some(name.clone());
        }
        let name = self
            .api()
            .username(id)
            .await
            .inspect_err(|e| warn!(error = %e, "cannot read a user's name"))
            .ok()?;
        let mut users = lock(&self.inner.users);
        if users.len() >= CHANNEL_MEMORY {
            users.clear();
        }
        users.insert(id.to_owned(), name.clone());
        Some(name)
    }

    /// Waits for a slot for `call` in `channel`, or fails fast.
    async fn pace(&self, channel: &str, call: Call) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .acquire(channel, call)
            .await
            .map_err(rate_limited)
    }

    /// Waits until `post` may be edited again, keeping its slot.
    async fn edit_turn(&self, post: &str) {
        let turn = {
            let mut edits = lock(&self.inner.edits);
            let now = Instant::now();
            edits.retain(|_, at| *at + EDIT_INTERVAL > now);
            if edits.len() >= CHANNEL_MEMORY {
                edits.clear();
            }
            let turn = edits.get(post).map_or(now, |at| (*at).max(now));
            edits.insert(post.to_owned(), turn + EDIT_INTERVAL);
            turn
        };
        tokio::time::sleep_until(turn).await;
    }

    /// Notes what a failed call means for the channel and the connection.
    fn failed(&self, channel: &str, error: &MmError) {
        match error {
            MmError::RateLimited(wait) => {
                warn!(
                    channel,
                    ?wait,
                    "Mattermost rate-limited a call; pausing the channel"
                );
                self.inner.pacer.block(channel, *wait);
            }
            MmError::Auth(_) => self.connection().set_state(ConnectionState::Failed),
            _ => {}
        }
    }

    /// Creates one post, paced; a thread root the server refuses is
    /// dropped and the post made flat, as Hermes does.
    async fn create(&self, post: NewPost<'_>) -> Result<String, AdapterError> {
        let channel = post.channel_id;
        self.pace(channel, Call::Send { group: false }).await?;
        let result = match self.api().create_post(&post).await {
            Err(MmError::Rejected(reason))
                if post.root_id.is_some() && reason.contains("root_id") =>
            {
                warn!(
                    channel,
                    reason, "the thread's root was refused; posting in the channel"
                );
                let flat = NewPost {
                    root_id: None,
                    ..post
                };
                self.api().create_post(&flat).await
            }
            other => other,
        };
        match result {
            Ok(created) => Ok(created.id),
            Err(e) => {
                self.failed(channel, &e);
                Err(e.into())
            }
        }
    }

    /// Uploads a file to `channel` (`POST /files`): its id.
    async fn upload(
        &self,
        channel: &str,
        attachment: &hermod_model::Attachment,
    ) -> Result<String, AdapterError> {
        let path = std::path::Path::new(&attachment.location);
        let bytes = tokio::fs::read(path).await.map_err(|e| {
            AdapterError::Rejected(format!("cannot read the file {}: {e}", path.display()))
        })?;
        let name = attachment
            .file_name
            .clone()
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "file".into());
        let mime = attachment
            .mime_type
            .clone()
            .or_else(|| hermod_adapter_kit::guess_mime(path).map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".into());
        self.pace(channel, Call::Send { group: false }).await?;
        self.api()
            .upload(channel, &name, &mime, bytes)
            .await
            .map_err(|e| {
                self.failed(channel, &e);
                AdapterError::from(e)
            })
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

/// The reply as Mattermost shows it: Markdown, split within the limit.
pub(crate) fn render_parts(text: &str) -> Vec<String> {
    let rendered = hermod_render::render(text, MarkdownDialect::Markdown).text;
    split_message(&rendered, MAX_POST_CHARS, LengthUnit::Chars)
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .collect()
}

/// A `pending_post_id` for part `index` of a keyed send: stable, so a
/// repeat is recognised.
pub(crate) fn pending_id(key: Option<&str>, index: usize) -> Option<String> {
    key.map(|key| format!("hermod:{key}:{index}"))
}

#[async_trait]
impl Adapter for MattermostAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_POST_CHARS,
            length_unit: LengthUnit::Chars,
            can_edit: true,
            can_delete: true,
            min_edit_interval: EDIT_INTERVAL,
            threads: true,
            reactions: false,
            typing: true,
            markdown: MarkdownDialect::Markdown,
            command_prefix: '/',
            files: true,
            authenticates_callers: false,
            multi_message: true,
            caption_len: MAX_POST_CHARS,
            idempotency_window: Some(PENDING_POST_WINDOW),
            user_ids_are_addresses: false,
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
impl Messenger for MattermostAdapter {
    /// Posts the text, split at 4,000 characters, and the files (five to a
    /// post, the text with the first when it fits one post), in the
    /// target's thread when it has one.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let channel = message.target.chat_id.trim();
        if channel.is_empty() {
            return Err(AdapterError::Rejected(
                "a Mattermost channel id is needed".into(),
            ));
        }
        self.inner.pacer.check(channel).map_err(rate_limited)?;
        let mut parts = render_parts(&message.text);
        if parts.is_empty() && message.attachments.is_empty() {
            return Err(AdapterError::Rejected(
                "Mattermost cannot show an empty post".into(),
            ));
        }
        // The thread the message came from (its root, or the post itself
        // in reply mode `thread`); direct messages and channels otherwise
        // are answered flat, whatever `reply_to` says.
        let root = message.target.thread_id.clone().filter(|t| !t.is_empty());
        let key = message.idempotency_key.as_deref();
        let mut caption = None;
        if !message.attachments.is_empty() && parts.len() == 1 {
            caption = parts.pop();
        }
        let mut ids = Vec::new();
        let total = parts.len() + message.attachments.len().div_ceil(FILES_PER_POST);
        for part in &parts {
            let post = NewPost {
                channel_id: channel,
                message: part,
                root_id: root.as_deref(),
                file_ids: &[],
                pending_post_id: pending_id(key, ids.len()),
            };
            let id = self
                .create(post)
                .await
                .inspect_err(|e| partial(ids.len(), total, e))?;
            ids.push(id);
        }
        for files in message.attachments.chunks(FILES_PER_POST) {
            let mut file_ids = Vec::new();
            for attachment in files {
                let id = self
                    .upload(channel, attachment)
                    .await
                    .inspect_err(|e| partial(ids.len(), total, e))?;
                file_ids.push(id);
            }
            let text = caption.take().unwrap_or_default();
            let post = NewPost {
                channel_id: channel,
                message: &text,
                root_id: root.as_deref(),
                file_ids: &file_ids,
                pending_post_id: pending_id(key, ids.len()),
            };
            let id = self
                .create(post)
                .await
                .inspect_err(|e| partial(ids.len(), total, e))?;
            ids.push(id);
        }
        Ok(Sent { message_ids: ids })
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        let channel = edit.message.target.chat_id.as_str();
        let text = hermod_render::render(&edit.text, MarkdownDialect::Markdown).text;
        if text.trim().is_empty() {
            return Err(AdapterError::Rejected(
                "Mattermost cannot show an empty post".into(),
            ));
        }
        if text.chars().count() > MAX_POST_CHARS {
            return Err(AdapterError::TooLong);
        }
        self.inner.pacer.check(channel).map_err(rate_limited)?;
        self.edit_turn(&edit.message.message_id).await;
        self.pace(channel, Call::Edit).await?;
        match self.api().patch_post(&edit.message.message_id, &text).await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.failed(channel, &e);
                Err(e.into())
            }
        }
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let channel = message.target.chat_id.as_str();
        self.inner.pacer.check(channel).map_err(rate_limited)?;
        match self.api().delete_post(&message.message_id).await {
            // Already gone: what the deletion wanted.
            Ok(()) | Err(MmError::NotFound(_)) => Ok(()),
            Err(e) => {
                self.failed(channel, &e);
                Err(e.into())
            }
        }
    }

    fn typing(&self) -> Option<&dyn Typing> {
        Some(self)
    }

    fn threads(&self) -> Option<&dyn Threads> {
        Some(self)
    }
}

#[async_trait]
impl Typing for MattermostAdapter {
    /// `POST /users/me/typing` in the channel (and thread).
    async fn typing(&self, target: &ChatTarget) -> Result<(), AdapterError> {
        let channel = target.chat_id.as_str();
        if !self.inner.pacer.try_spare(channel) {
            return Ok(());
        }
        self.api()
            .typing(channel, target.thread_id.as_deref())
            .await
            .map_err(|e| {
                self.failed(channel, &e);
                AdapterError::from(e)
            })
    }
}

#[async_trait]
impl Threads for MattermostAdapter {
    /// A thread under a new root post titled `title` in `home`.
    async fn create_thread(&self, home: &ChatTarget, title: &str) -> Result<Source, AdapterError> {
        let channel = home.chat_id.trim().to_owned();
        let text = format!("**{title}**");
        let root = self
            .create(NewPost {
                channel_id: &channel,
                message: &text,
                ..NewPost::default()
            })
            .await?;
        let kind = self
            .channel_info(&channel)
            .await
            .map(|c| c.kind)
            .unwrap_or_default();
        let chat_type = match kind.as_str() {
            "D" => ChatType::Dm,
            "G" => ChatType::Group,
            _ => ChatType::Channel,
        };
        Ok(Source {
            chat_type,
            thread_id: Some(root),
            ..Source::dm(crate::PLATFORM, channel)
        })
    }
}

fn partial(delivered: usize, total: usize, error: &AdapterError) {
    if delivered > 0 {
        warn!(delivered, total, error = %error, "a reply was posted only in part");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_split_at_4000_characters() {
        let text = "é".repeat(MAX_POST_CHARS + 10);
        let parts = render_parts(&text);
        assert!(parts.len() >= 2);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_POST_CHARS));
        assert_eq!(render_parts("   "), Vec::<String>::new());
        assert_eq!(render_parts("**bold** and `code`"), ["**bold** and `code`"]);
    }

    #[test]
    fn pending_post_ids_are_stable_per_part() {
        assert_eq!(pending_id(Some("k1"), 0).as_deref(), Some("hermod:k1:0"));
        assert_eq!(pending_id(Some("k1"), 0), pending_id(Some("k1"), 0));
        assert_ne!(pending_id(Some("k1"), 0), pending_id(Some("k1"), 1));
        assert_eq!(pending_id(None, 0), None);
    }
}
