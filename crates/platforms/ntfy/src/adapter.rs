//! [`NtfyAdapter`]: ntfy as an [`Adapter`] — receiving a topic's JSON
//! stream (`receive`) and publishing replies.
//!
//! ntfy messages cannot be edited or deleted, so the capabilities say so
//! and core sends each reply once, finished, instead of streaming edits.
//! Replies longer than ntfy's 4096-byte message limit (longer ones would
//! become attachments) are split at 4096 bytes. Publishes are paced below
//! ntfy's default request limit (a burst of 60, then one every 5 s); after
//! a 429 nothing is published to the topic before its wait has passed.
//! Every publish is tagged [`BOT_TAG`](crate::BOT_TAG) and its id kept, so
//! the stream's echo of it is known as ours either way.

use crate::BOT_TAG;
use crate::ConnectionState;
use crate::api::{NtfyApi, NtfyError};
use crate::config::NtfyConfig;
use crate::types::{Event, publish_headers};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, Pacer, PacerLimits, Wait};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger};
use hermod_http::HttpClient;
use hermod_model::text::split_message;
use hermod_model::{
    Attachment, Capabilities, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId,
    Sent,
};
use hermod_store::Store;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::warn;

/// ntfy's message size limit, in bytes (`message-size-limit`).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Ids of our own publishes remembered to recognise their echo.
const OWN_MEMORY: usize = 1024;

/// ntfy's default visitor request limit: a burst of 60, then one request
/// every 5 s — at most 60 in any 5 minutes.
fn limits() -> PacerLimits {
    let limit = Limit::per(60, Duration::from_secs(300));
    PacerLimits {
        per_chat: limit,
        per_group: None,
        global: limit,
        send_reserve: 0,
        max_wait: Duration::from_secs(10),
    }
}

/// The ntfy adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct NtfyAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: NtfyConfig,
    api: NtfyApi,
    store: Arc<dyn Store>,
    pacer: Pacer,
    /// Ids of messages we published, newest last, and as a set.
    own: Mutex<(VecDeque<String>, HashSet<String>)>,
    connection: Connection,
}

impl std::fmt::Debug for NtfyAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is in the API client: show neither.
        f.debug_struct("NtfyAdapter")
            .field("server_url", &self.inner.config.server_url)
            .field("topic", &self.inner.config.topic())
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl NtfyAdapter {
    /// Validates `config` and builds the adapter; the stream's cursor is
    /// kept in `store`'s settings. Nothing is contacted until `run`.
    pub fn new(config: NtfyConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        Self::with_http(config, store, &hermod_adapter_kit::http_client()?)
    }

    /// [`NtfyAdapter::new`] on the gateway's shared HTTP client.
    pub fn with_http(
        config: NtfyConfig,
        store: Arc<dyn Store>,
        http: &HttpClient,
    ) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let api = NtfyApi::new(
            http.reqwest().clone(),
            &config.server_url,
            config.token.clone(),
            config.request_timeout(),
        );
        let mut connection = Connection::new(crate::PLATFORM, config.max_reconnect_delay());
        if let Some(token) = &config.token {
            connection = connection.redacting(token.clone());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                store,
                pacer: Pacer::new(limits()),
                own: Mutex::new((VecDeque::new(), HashSet::new())),
                connection,
            }),
        })
    }

    /// The state of the connection to ntfy, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &NtfyConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &NtfyApi {
        &self.inner.api
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Whether `id` is one of our own publishes.
    pub(crate) fn is_own(&self, id: &str) -> bool {
        self.lock_own().1.contains(id)
    }

    fn lock_own(&self) -> std::sync::MutexGuard<'_, (VecDeque<String>, HashSet<String>)> {
        // Every update leaves the two consistent.
        self.inner
            .own
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn remember_own(&self, id: &str) {
        let mut own = self.lock_own();
        own.0.push_back(id.to_owned());
        own.1.insert(id.to_owned());
        while own.0.len() > OWN_MEMORY {
            if let Some(old) = own.0.pop_front() {
                own.1.remove(&old);
            }
        }
    }

    /// Publishes one piece to `topic`, paced, starting flood control on a 429.
    async fn publish(&self, topic: &str, text: &str) -> Result<String, AdapterError> {
        self.inner
            .pacer
            .acquire(topic, Call::Send { group: false })
            .await
            .map_err(rate_limited)?;
        let headers = publish_headers(text, self.config().markdown);
        let published = self.api().publish(topic, text, &headers).await;
        self.published(topic, published)
    }

    /// Publishes the file at `attachment.location` to `topic`.
    async fn publish_file(
        &self,
        topic: &str,
        attachment: &Attachment,
    ) -> Result<String, AdapterError> {
        let path = std::path::Path::new(&attachment.location);
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| AdapterError::Rejected(format!("cannot read the file to send: {e}")))?;
        let name = attachment
            .file_name
            .clone()
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "file".to_owned());
        self.inner
            .pacer
            .acquire(topic, Call::Send { group: false })
            .await
            .map_err(rate_limited)?;
        let published = self
            .api()
            .publish_file(topic, &name, bytes, &[("Tags", BOT_TAG)])
            .await;
        self.published(topic, published)
    }

    /// The id of a message just published, remembered as ours; or the
    /// refusal, with its rate limit kept by the pacer.
    fn published(
        &self,
        topic: &str,
        result: Result<Event, NtfyError>,
    ) -> Result<String, AdapterError> {
        match result {
            Ok(event) => {
                self.remember_own(&event.id);
                Ok(event.id)
            }
            Err(e) => {
                if let NtfyError::RateLimited(wait) = &e {
                    self.inner.pacer.block(topic, *wait);
                }
                if matches!(e, NtfyError::Refused { .. }) {
                    self.connection().set_state(ConnectionState::Failed);
                }
                Err(e.into())
            }
        }
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

#[async_trait]
impl Adapter for NtfyAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE_BYTES,
            length_unit: LengthUnit::Bytes,
            can_edit: false,
            can_delete: false,
            markdown: if self.config().markdown {
                MarkdownDialect::Markdown
            } else {
                MarkdownDialect::Plain
            },
            command_prefix: '/',
            multi_message: true,
            files: true,
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
impl Messenger for NtfyAdapter {
    /// Publishes the text (Markdown, or plain text with `NTFY_MARKDOWN`
    /// off) to the reply topic, split at 4096 bytes; replies
    /// go to `NTFY_PUBLISH_TOPIC` when set, else to the chat's topic.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let topic = self.config().reply_topic(&message.target.chat_id);
        self.inner.pacer.check(topic).map_err(rate_limited)?;
        // Markdown for the web app when asked for, else plain text (the
        // phone apps would show the marks).
        let text = if self.config().markdown {
            hermod_render::render(&message.text, MarkdownDialect::Markdown).text
        } else {
            hermod_render::to_plain(&message.text)
        };
        let pieces: Vec<String> = split_message(&text, MAX_MESSAGE_BYTES, LengthUnit::Bytes)
            .into_iter()
            .filter(|piece| !piece.trim().is_empty())
            .collect();
        let mut message_ids = Vec::new();
        for piece in &pieces {
            let published = self.publish(topic, piece).await.inspect_err(|e| {
                if !message_ids.is_empty() {
                    // The outbox sends the whole reply again: the pieces
                    // already published will show twice.
                    warn!(
                        published = message_ids.len(),
                        total = pieces.len(),
                        error = %e,
                        "a reply was published in part"
                    );
                }
            })?;
            message_ids.push(published);
        }
        // Files after the text, one message each (ntfy takes one file per
        // message, its text in a header that cannot carry UTF-8).
        for attachment in &message.attachments {
            message_ids.push(self.publish_file(topic, attachment).await?);
        }
        Ok(Sent { message_ids })
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("ntfy messages cannot be edited"))
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("ntfy messages cannot be deleted"))
    }
}
