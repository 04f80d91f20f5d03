//! [`SignalAdapter`]: Signal through a signal-cli HTTP daemon as an
//! [`Adapter`] — its event stream in (`receive`), JSON-RPC out.
//!
//! Signal messages are not edited here (Hermes streams no previews to
//! Signal either): the capabilities say so and core sends each reply once,
//! finished, in parts of at most [`MAX_MESSAGE_LEN`] UTF-16 units, each
//! with its styles as `textStyle` ranges. A message's id is the timestamp signal-cli answers
//! `send` with; `delete` is `remoteDelete` of that timestamp. After a rate
//! limit nothing is sent to that chat before its wait has passed.
//!
//! Sends carry no idempotency key (Signal has none), so a reply whose
//! send was cut off by a crash is not sent again: core's outbox marks it
//! in doubt and tells the chat, as on every such platform.

use crate::api::{SignalApi, SignalError, send_outcome};
use crate::config::{SignalConfig, redact_phone};
use crate::envelope::parse_message_id;
use crate::format::{MAX_MESSAGE_LEN, to_messages};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, ConnectionState, Limit, Pacer, PacerLimits, Wait};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger, Reactions, TurnEnded, Typing};
use hermod_http::HttpClient;
use hermod_model::{
    Capabilities, ChatTarget, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId,
    Sent,
};
use hermod_store::Store;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::{debug, warn};

/// Pace below what Signal's servers tolerate from one account: a burst
/// of 20 messages to a chat, then one every 3 s; 60 a minute in all.
fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(20, Duration::from_secs(60)),
        per_group: None,
        global: Limit::per(60, Duration::from_secs(60)),
        send_reserve: 0,
        max_wait: Duration::from_secs(10),
    }
}

/// The Signal adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct SignalAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: SignalConfig,
    api: SignalApi,
    store: Arc<dyn Store>,
    pacer: Pacer,
    connection: Connection,
    /// The account's uuid, learned from its own sync messages or
    /// `listAccounts`, for mentions by uuid.
    account_uuid: Mutex<Option<String>>,
    /// Timestamps of our latest sends, newest last, so their echo (a sync
    /// message in a Note to Self conversation) is not answered.
    sent: Mutex<VecDeque<u64>>,
}

/// Own sends remembered to recognise their echo.
const SENT_MEMORY: usize = 512;

impl std::fmt::Debug for SignalAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalAdapter")
            .field("http_url", &self.config().http_url())
            .field("account", &redact_phone(self.config().account()))
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

/// Where a send goes: `group:<id>` chats by `groupId`, others by
/// `recipient`.
pub(crate) fn target_params(chat_id: &str) -> Value {
    match chat_id.strip_prefix("group:") {
        Some(group) => json!({"groupId": group}),
        None => json!({"recipient": [chat_id]}),
    }
}

impl SignalAdapter {
    /// Validates `config` and builds the adapter. Nothing is contacted
    /// until `run`.
    pub fn new(config: SignalConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        Self::with_http(config, store, &hermod_adapter_kit::http_client()?)
    }

    /// [`SignalAdapter::new`] on the gateway's shared HTTP client.
    pub fn with_http(
        config: SignalConfig,
        store: Arc<dyn Store>,
        http: &HttpClient,
    ) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let api = SignalApi::new(
            http.reqwest().clone(),
            config.http_url(),
            config.account(),
            config.request_timeout(),
        );
        let connection = Connection::new(crate::PLATFORM, config.max_reconnect_delay());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                store,
                pacer: Pacer::new(limits()),
                connection,
                account_uuid: Mutex::new(None),
                sent: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The state of the connection to signal-cli, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &SignalConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &SignalApi {
        &self.inner.api
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn account_uuid(&self) -> Option<String> {
        self.inner
            .account_uuid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn learn_account_uuid(&self, uuid: &str) {
        let mut known = self
            .inner
            .account_uuid
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if known.as_deref() != Some(uuid) {
            debug!(uuid, "the account's uuid");
            *known = Some(uuid.to_owned());
        }
    }

    /// Whether `timestamp` is one of our latest sends.
    pub(crate) fn sent_by_us(&self, timestamp: u64) -> bool {
        self.inner
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&timestamp)
    }

    fn remember_sent(&self, timestamp: u64) {
        let mut sent = self
            .inner
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sent.push_back(timestamp);
        while sent.len() > SENT_MEMORY {
            sent.pop_front();
        }
    }

    /// Sends one message, paced, starting flood control on a rate limit.
    async fn send_one(
        &self,
        chat: &str,
        params: Value,
        timeout: Option<Duration>,
    ) -> Result<u64, AdapterError> {
        self.inner
            .pacer
            .acquire(chat, Call::Send { group: false })
            .await
            .map_err(rate_limited)?;
        let outcome = match self.api().call("send", params, timeout).await {
            Ok(result) => send_outcome(&result),
            Err(e) => Err(e),
        };
        if let Ok(timestamp) = &outcome {
            self.remember_sent(*timestamp);
        }
        outcome.map_err(|e| {
            if let SignalError::RateLimited(wait) = &e {
                self.inner.pacer.block(chat, *wait);
            }
            e.into()
        })
    }

    /// A cosmetic call (typing, a reaction): now or not at all.
    async fn spare(&self, chat: &str, method: &str, params: Value) -> Result<(), AdapterError> {
        if !self.inner.pacer.try_spare(chat) {
            return Ok(());
        }
        self.api().call(method, params, None).await?;
        Ok(())
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

#[async_trait]
impl Adapter for SignalAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE_LEN,
            length_unit: LengthUnit::Utf16,
            can_edit: false,
            can_delete: true,
            reactions: self.config().reactions,
            typing: true,
            // Rendered to text and style ranges by the adapter itself.
            markdown: MarkdownDialect::Markdown,
            command_prefix: '/',
            files: true,
            multi_message: true,
            caption_len: MAX_MESSAGE_LEN,
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
impl Messenger for SignalAdapter {
    /// Sends the text as Signal messages with their styles (split within
    /// the limit), the files with the first; in groups the first quotes
    /// `reply_to`.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let chat = message.target.chat_id.as_str();
        self.inner.pacer.check(chat).map_err(rate_limited)?;
        let files = crate::media::data_uris(&message.attachments).await?;
        let mut pieces = to_messages(&message.text);
        if pieces.is_empty() && !files.is_empty() {
            pieces.push(crate::format::Styled::default());
        }
        // In groups a reply quotes the message it answers, so members see
        // whom the bot answers; direct chats need no quote (Hermes quotes
        // none).
        let quote = message
            .reply_to
            .as_deref()
            .filter(|_| chat.starts_with("group:"))
            .and_then(|id| parse_message_id(id, self.config().account()));
        let mut message_ids = Vec::new();
        let total = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut params = target_params(chat);
            params["message"] = json!(piece.text);
            if !piece.ranges.is_empty() {
                let styles: Vec<String> = piece.ranges.iter().map(|r| r.to_param()).collect();
                params["textStyle"] = json!(styles);
            }
            let mut timeout = None;
            if i == 0 {
                if !files.is_empty() {
                    params["attachments"] = json!(files);
                    // signal-cli uploads them during the call (Hermes: 5 s
                    // a file, at least a minute).
                    let secs = (5 * files.len() as u64).max(60);
                    timeout = Some(Duration::from_secs(secs).max(self.config().request_timeout()));
                }
                if let Some((author, timestamp)) = quote {
                    params["quoteTimestamp"] = json!(timestamp);
                    params["quoteAuthor"] = json!(author);
                }
            }
            let sent = self.send_one(chat, params, timeout).await.inspect_err(|e| {
                if !message_ids.is_empty() {
                    // The outbox sends the whole reply again: the pieces
                    // already sent will show twice.
                    warn!(sent = message_ids.len(), total, error = %e, "a reply was sent in part");
                }
            })?;
            message_ids.push(sent.to_string());
        }
        Ok(Sent { message_ids })
    }

    /// Signal messages are not edited here (the capabilities say so, so
    /// core neither streams previews nor edits a part it already sent).
    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported(
            "hermod does not edit Signal messages",
        ))
    }

    /// `remoteDelete` of one of our messages (its timestamp).
    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let Ok(timestamp) = message.message_id.parse::<u64>() else {
            return Err(AdapterError::NotFound(format!(
                "{} is not a message hermod sent",
                message.message_id
            )));
        };
        let mut params = target_params(&message.target.chat_id);
        params["targetTimestamp"] = json!(timestamp);
        self.api().call("remoteDelete", params, None).await?;
        Ok(())
    }

    fn typing(&self) -> Option<&dyn Typing> {
        Some(self)
    }

    fn reactions(&self) -> Option<&dyn Reactions> {
        self.config().reactions.then_some(self as &dyn Reactions)
    }
}

#[async_trait]
impl Typing for SignalAdapter {
    /// `sendTyping`: shown for 15 s, repeated by core while a turn runs.
    async fn typing(&self, target: &ChatTarget) -> Result<(), AdapterError> {
        let params = target_params(&target.chat_id);
        self.spare(&target.chat_id, "sendTyping", params).await
    }
}

impl SignalAdapter {
    /// `sendReaction` on the user's message. A new reaction replaces the
    /// account's previous one on that message, so ✅ takes 👀's place.
    /// The first goes now or not at all (a cosmetic call); the last waits
    /// its turn behind new messages, so 👀 is not left behind.
    async fn react(
        &self,
        message: &MessageRef,
        emoji: &str,
        last: bool,
    ) -> Result<(), AdapterError> {
        let Some((author, timestamp)) =
            parse_message_id(&message.message_id, self.config().account())
        else {
            return Ok(());
        };
        let chat = message.target.chat_id.as_str();
        let mut params = target_params(chat);
        params["emoji"] = json!(emoji);
        params["targetAuthor"] = json!(author);
        params["targetTimestamp"] = json!(timestamp);
        if !last {
            return self.spare(chat, "sendReaction", params).await;
        }
        self.inner
            .pacer
            .acquire(chat, Call::Undo)
            .await
            .map_err(rate_limited)?;
        self.api().call("sendReaction", params, None).await?;
        Ok(())
    }
}

#[async_trait]
impl Reactions for SignalAdapter {
    /// 👀 while the turn runs (Hermes' `on_processing_start`).
    async fn turn_started(&self, message: &MessageRef) -> Result<(), AdapterError> {
        self.react(message, "👀", false).await
    }

    /// 👀 replaced by ✅ or ❌; left as it is when the turn was stopped.
    async fn turn_ended(&self, message: &MessageRef, ended: TurnEnded) -> Result<(), AdapterError> {
        let emoji = match ended {
            TurnEnded::Answered => "✅",
            TurnEnded::Failed => "❌",
            TurnEnded::Stopped => return Ok(()),
        };
        self.react(message, emoji, true).await
    }
}
