//! [`TelegramAdapter`]: Telegram as an [`Adapter`] — receiving (long
//! polling or webhook) and sending, editing and deleting messages.
//!
//! Sends and edits are paced within Telegram's limits by the kit's
//! [`Pacer`] (see [`limits`]) and honour flood control: after a 429 for a chat, calls for that chat
//! fail fast with `RateLimited` and the time that remains, and core's
//! stream consumer and outbox decide how to wait. Idempotent calls (edits,
//! deletions) are retried on transient failures; sends are not, since a
//! send that timed out may have arrived — the outbox owns that retry. The
//! typing indicator is [`Typing`], which core renews while a turn runs.

use crate::ConnectionState;
use crate::api::BotApi;
use crate::config::{ReplyToMode, TelegramConfig};
use crate::error::TelegramError;
use crate::outbound::{self, FileSend, Target};
use crate::render::{MAX_MESSAGE, Part};
use crate::types::{DeleteMessage, Done, IfGiven, SendChatAction, SentMessage};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, Pacer, PacerLimits, Wait, WebhookListener};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger, Typing};
use hermod_http::HttpClient;
use hermod_model::{
    Capabilities, ChatTarget, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId,
    Sent,
};
use hermod_store::Store;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

mod threads;

/// Messages remembered as already replied to (`TELEGRAM_REPLY_TO_MODE=first`).
const REPLIED_MEMORY: usize = 512;

/// Longest a typing indicator call may take (core waits for it).
const TYPING_TIMEOUT: Duration = Duration::from_secs(3);

/// Attempts of an idempotent call on transient failures.
const IDEMPOTENT_ATTEMPTS: u32 = 3;

/// Telegram's upload limits: photos, and any file.
const MAX_PHOTO_BYTES: u64 = 10 * 1024 * 1024;
const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// Telegram's published limits, kept strictly: about one message a
/// second in a chat, twenty a minute in a group, thirty a second overall
/// — here 28, since our spacing can shrink on the way to Telegram — with
/// four of those kept for new messages so a chat's first answer never
/// queues behind other chats' edits.
pub(crate) fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(1, Duration::from_secs(1)),
        per_group: Some(Limit::per(20, Duration::from_secs(60))),
        global: Limit::per(28, Duration::from_secs(1)),
        send_reserve: 4,
        max_wait: Duration::from_secs(3),
    }
}

/// The Telegram adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct TelegramAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: TelegramConfig,
    api: BotApi,
    store: Arc<dyn Store>,
    pacer: Pacer,
    /// `(chat, message)` pairs a reply already threaded to, newest last.
    replied: Mutex<VecDeque<(String, i64)>>,
    connection: Connection,
    /// Where the webhook route is served (webhook mode only).
    webhooks: WebhookListener,
}

impl std::fmt::Debug for TelegramAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is part of the API client's URLs: show neither.
        f.debug_struct("TelegramAdapter")
            .field("api_base_url", &self.inner.config.api_base_url)
            .field("webhook", &self.inner.config.webhook_url.is_some())
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl TelegramAdapter {
    /// Validates `config` and builds the adapter. The update offset is
    /// kept in `store`'s settings. Nothing is contacted until `run`. In
    /// webhook mode its route goes on a listener of its own at
    /// `WEBHOOK_HOST:WEBHOOK_PORT`; to share one with other webhook
    /// platforms, use [`TelegramAdapter::with_webhooks`].
    pub fn new(config: TelegramConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        let webhooks = WebhookListener::new(config.listener().0);
        Self::with_webhooks(config, store, webhooks)
    }

    /// [`TelegramAdapter::new`], serving the webhook route (webhook mode)
    /// on `webhooks`, the listener every webhook platform shares.
    pub fn with_webhooks(
        config: TelegramConfig,
        store: Arc<dyn Store>,
        webhooks: WebhookListener,
    ) -> Result<Self, AdapterError> {
        Self::with_parts(config, store, webhooks, &hermod_adapter_kit::http_client()?)
    }

    /// [`TelegramAdapter::with_webhooks`] on the gateway's shared HTTP
    /// client.
    pub fn with_parts(
        config: TelegramConfig,
        store: Arc<dyn Store>,
        webhooks: WebhookListener,
        http: &HttpClient,
    ) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        if config.webhook_url.is_some()
            && let Some(ignored) = config.listener().1
        {
            warn!(
                %ignored,
                "TELEGRAM_WEBHOOK_HOST/PORT are deprecated aliases of WEBHOOK_HOST/PORT; remove them"
            );
        }
        let token = config
            .bot_token
            .clone()
            .ok_or_else(|| AdapterError::Startup("TELEGRAM_BOT_TOKEN is not set".into()))?;
        let token_secret = token.clone();
        let api = BotApi::new(
            http.reqwest().clone(),
            &config.api_base_url,
            token,
            config.request_timeout(),
        );
        let connection =
            Connection::new(crate::PLATFORM, config.max_reconnect_delay()).redacting(token_secret);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                store,
                pacer: Pacer::new(limits()),
                replied: Mutex::new(VecDeque::new()),
                connection,
                webhooks,
            }),
        })
    }

    /// The state of the connection to Telegram, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    /// Receiving's state, backoff and health reports.
    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn webhooks(&self) -> &WebhookListener {
        &self.inner.webhooks
    }

    pub(crate) fn config(&self) -> &TelegramConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &BotApi {
        &self.inner.api
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Waits for a slot for `call` in `target`'s chat, or fails fast.
    async fn pace(&self, target: &Target, call: Call) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .acquire(&target.chat_key(), call)
            .await
            .map_err(rate_limited)
    }

    fn check_flood(&self, target: &Target) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .check(&target.chat_key())
            .map_err(rate_limited)
    }

    /// Turns a failed call into core's error, starting flood control for
    /// the chat on a 429.
    fn failed(&self, target: &Target, error: TelegramError) -> AdapterError {
        if let TelegramError::RateLimited { retry_after } = &error {
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            warn!(chat = %target.chat_key(), ?wait, "Telegram flood control; pausing this chat");
            self.inner.pacer.block(&target.chat_key(), wait);
        }
        if matches!(error, TelegramError::Unauthorized) {
            self.connection().set_state(ConnectionState::Failed);
        }
        error.into()
    }

    /// Runs an idempotent call, retrying transient failures with a short
    /// backoff (`hermod_http::retry`; only `Transient` is retried, so a
    /// 429 goes to flood control at once).
    async fn idempotent<T, F, Fut>(&self, target: &Target, call: F) -> Result<T, AdapterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, TelegramError>>,
    {
        let policy = hermod_http::RetryPolicy {
            max_attempts: IDEMPOTENT_ATTEMPTS,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::ZERO,
        };
        // The last failure as Telegram gave it; retry sees only its class.
        let last = Mutex::new(None);
        let result = hermod_http::retry(&policy, &CancellationToken::new(), || async {
            call().await.map_err(|e| {
                let class = match &e {
                    TelegramError::Transient(reason) => {
                        hermod_http::HttpError::Transient(reason.clone())
                    }
                    _ => hermod_http::HttpError::Cancelled,
                };
                *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                class
            })
        })
        .await;
        result.map_err(|_| {
            let error = last
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .unwrap_or_else(|| TelegramError::Transient("the call was not made".into()));
            self.failed(target, error)
        })
    }

    /// Whether a reply to `reply_to` in `chat` is the first one, per
    /// `TELEGRAM_REPLY_TO_MODE=first` across separate sends of one reply.
    fn first_reply(&self, chat: &str, reply_to: Option<i64>) -> bool {
        let Some(id) = reply_to else {
            return false;
        };
        let replied = self
            .inner
            .replied
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        !replied.iter().any(|(c, m)| c == chat && *m == id)
    }

    fn remember_reply(&self, chat: &str, reply_to: Option<i64>) {
        let Some(id) = reply_to else {
            return;
        };
        let mut replied = self
            .inner
            .replied
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if replied.iter().any(|(c, m)| c == chat && *m == id) {
            return;
        }
        if replied.len() >= REPLIED_MEMORY {
            replied.pop_front();
        }
        replied.push_back((chat.to_owned(), id));
    }

    /// Sends one text part; on "can't parse entities", the plain variant.
    /// `None`: sent, but the server did not say under which id.
    async fn send_part(
        &self,
        target: &Target,
        part: &Part,
        reply: Option<crate::types::ReplyParameters>,
    ) -> Result<Option<i64>, AdapterError> {
        self.pace(
            target,
            Call::Send {
                group: target.is_group(),
            },
        )
        .await?;
        let request = outbound::send_message(target, part, reply);
        let sent = match self
            .api()
            .call::<_, IfGiven<SentMessage>>("sendMessage", &request)
            .await
        {
            Err(e) if e.is_parse_error() => {
                debug!(error = %e, "Telegram refused the HTML; sending plain text");
                let plain = outbound::as_plain(&request, part);
                self.api()
                    .call::<_, IfGiven<SentMessage>>("sendMessage", &plain)
                    .await
            }
            other => other,
        };
        sent.map(|m| m.0.map(|m| m.message_id))
            .map_err(|e| self.failed(target, e))
    }

    /// Uploads one file (or sends it by URL); `None` as for [`Self::send_part`].
    async fn send_file(
        &self,
        target: &Target,
        file: &FileSend,
        reply: Option<crate::types::ReplyParameters>,
    ) -> Result<Option<i64>, AdapterError> {
        let location = file.attachment.location.as_str();
        let remote = location.starts_with("http://") || location.starts_with("https://");
        let mut method = file.method;
        let data = if remote {
            None
        } else {
            let bytes = tokio::fs::read(location).await.map_err(|e| {
                AdapterError::Rejected(format!("cannot read the attachment {location}: {e}"))
            })?;
            let size = bytes.len() as u64;
            if size > MAX_UPLOAD_BYTES {
                return Err(AdapterError::Rejected(format!(
                    "the attachment {location} is larger than Telegram's 50 MB upload limit"
                )));
            }
            if method == outbound::FileMethod::Photo && size > MAX_PHOTO_BYTES {
                method = outbound::FileMethod::Document;
            }
            Some(bytes)
        };
        let form = |html: bool| -> Result<reqwest::multipart::Form, AdapterError> {
            let fields = outbound::file_fields(target, file.caption.as_ref(), html, reply.as_ref());
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in fields {
                form = form.text(name, value);
            }
            Ok(match &data {
                None => form.text(method.field(), location.to_owned()),
                Some(bytes) => {
                    let name = std::path::Path::new(location)
                        .file_name()
                        .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
                    let mut part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(name);
                    if let Some(mime) = &file.attachment.mime_type {
                        part = part.mime_str(mime).map_err(|_| {
                            AdapterError::Rejected(format!("{mime:?} is not a MIME type"))
                        })?;
                    }
                    form.part(method.field(), part)
                }
            })
        };
        self.pace(
            target,
            Call::Send {
                group: target.is_group(),
            },
        )
        .await?;
        let sent = match self
            .api()
            .call_multipart::<IfGiven<SentMessage>>(method.method(), form(true)?)
            .await
        {
            Err(e) if e.is_parse_error() && file.caption.is_some() => {
                self.api()
                    .call_multipart::<IfGiven<SentMessage>>(method.method(), form(false)?)
                    .await
            }
            other => other,
        };
        sent.map(|m| m.0.map(|m| m.message_id))
            .map_err(|e| self.failed(target, e))
    }
}

#[async_trait]
impl Adapter for TelegramAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    /// A long poll is one per bot: one gateway polls. Updates pushed to a
    /// webhook come to whichever gateway a load balancer picks.
    fn receiving(&self) -> hermod_core::Receiving {
        if self.inner.config.webhook_url.is_some() {
            hermod_core::Receiving::Everywhere
        } else {
            hermod_core::Receiving::Single
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE,
            length_unit: LengthUnit::Utf16,
            can_edit: true,
            can_delete: true,
            // Telegram allows about one message per second in a chat.
            min_edit_interval: Duration::from_secs(1),
            threads: true,
            reactions: false,
            typing: true,
            markdown: MarkdownDialect::TelegramHtml,
            command_prefix: '/',
            files: true,
            authenticates_callers: false,
            multi_message: true,
            caption_len: crate::render::MAX_CAPTION,
            // The Bot API has no idempotency key.
            idempotency_window: None,
            user_ids_are_addresses: false,
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.connection().set_state(ConnectionState::Connecting);
        let me = match self.identify(&ctx).await {
            Ok(Some(me)) => me,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.connection().set_state(ConnectionState::Failed);
                return Err(e);
            }
        };
        info!(bot = %me.username, id = me.id, "connected to Telegram");
        tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Ok(()),
            () = self.sync_commands() => {}
        }
        let result = if self.config().webhook_url.is_some() {
            self.serve_webhook(me, &ctx).await
        } else {
            self.poll(&me, &ctx).await
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

#[async_trait]
impl Messenger for TelegramAdapter {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let target = Target::parse(&message.target)?;
        let chat = target.chat_key();
        let reply_to = message
            .reply_to
            .as_deref()
            .and_then(|r| r.trim().parse::<i64>().ok());
        let mode = self.config().reply_to_mode;
        let mut first = mode != ReplyToMode::First || self.first_reply(&chat, reply_to);
        let plan = outbound::plan(&message);
        let mut ids = Vec::new();
        let total = plan.texts.len() + plan.files.len();
        for part in &plan.texts {
            let reply = outbound::reply_parameters(reply_to, mode, first);
            let id = self
                .send_part(&target, part, reply)
                .await
                .inspect_err(|e| partial(ids.len(), total, e))?;
            ids.extend(known(id));
            first = false;
            self.remember_reply(&chat, reply_to);
        }
        for file in &plan.files {
            let reply = outbound::reply_parameters(reply_to, mode, first);
            let id = self
                .send_file(&target, file, reply)
                .await
                .inspect_err(|e| partial(ids.len(), total, e))?;
            ids.extend(known(id));
            first = false;
            self.remember_reply(&chat, reply_to);
        }
        Ok(Sent { message_ids: ids })
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        let target = Target::parse(&edit.message.target)?;
        let id = outbound::message_id(&edit.message.message_id)?;
        let part = Part::render(&edit.text);
        if part.is_blank() {
            return Err(AdapterError::Rejected(
                "Telegram cannot show an empty message".into(),
            ));
        }
        if !part.fits(MAX_MESSAGE) {
            return Err(AdapterError::TooLong);
        }
        self.pace(&target, Call::Edit).await?;
        let (target, part) = (&target, &part);
        self.idempotent(target, move || async move {
            let html = outbound::edit_message(target, id, part, true);
            let result = match self.api().call::<_, Done>("editMessageText", &html).await {
                Err(e) if e.is_parse_error() => {
                    let plain = outbound::edit_message(target, id, part, false);
                    self.api().call::<_, Done>("editMessageText", &plain).await
                }
                other => other,
            };
            match result {
                // The message already shows this text: what the edit
                // wanted, so never repeated.
                Ok(_) => Ok(()),
                Err(e) if e.is_not_modified() => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let target = Target::parse(&message.target)?;
        let id = outbound::message_id(&message.message_id)?;
        self.check_flood(&target)?;
        let params = DeleteMessage {
            chat_id: target.chat_id.clone(),
            message_id: id,
        };
        self.idempotent(&target, || {
            self.api().call::<_, Done>("deleteMessage", &params)
        })
        .await
        .map(|_| ())
    }

    fn typing(&self) -> Option<&dyn Typing> {
        Some(self)
    }

    fn threads(&self) -> Option<&dyn hermod_core::Threads> {
        Some(self)
    }
}

#[async_trait]
impl Typing for TelegramAdapter {
    /// `sendChatAction typing`: one attempt with a short timeout, since
    /// core renews the indicator every few seconds and waits for it.
    async fn typing(&self, chat: &ChatTarget) -> Result<(), AdapterError> {
        let target = Target::parse(chat)?;
        self.check_flood(&target)?;
        let params = SendChatAction {
            chat_id: target.chat_id.clone(),
            message_thread_id: target.thread_id,
            action: "typing",
        };
        self.api()
            .call_with_timeout::<_, Done>("sendChatAction", &params, TYPING_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|e| self.failed(&target, e))
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

/// The id of a sent message as core keeps it. A server that answers a
/// send `ok` without the message delivered it all the same: sending again
/// would show it twice, so it is reported without an id (core then cannot
/// edit or delete it, and shows later text in new messages).
fn known(id: Option<i64>) -> Option<String> {
    if id.is_none() {
        warn!("Telegram answered a send without the sent message; it cannot be edited later");
    }
    id.map(|id| id.to_string())
}

fn partial(delivered: usize, total: usize, error: &AdapterError) {
    if delivered > 0 {
        warn!(delivered, total, error = %error, "a multi-part message was sent only in part");
    }
}
