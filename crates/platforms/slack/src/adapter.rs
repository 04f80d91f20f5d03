//! [`SlackAdapter`]: Slack as an [`Adapter`] — receiving (Socket Mode or
//! the Events API, see [`crate::receive`]) and sending, editing and
//! deleting messages, files and reactions.
//!
//! Sends and edits are paced by the kit's [`Pacer`] (see [`limits`]):
//! about one call a second per channel, as Slack documents for
//! `chat.postMessage` and as a stream of `chat.update`s should keep, new
//! messages before edits. A 429 is honoured per method and channel: calls
//! of that method there fail fast with `RateLimited` and the time that
//! remains until `Retry-After` has passed, and core's stream consumer and
//! outbox decide how to wait. Idempotent calls (edits, deletions) are
//! retried on transient failures; sends are not, since a send that timed
//! out may have arrived — the outbox owns that retry.
//!
//! Slack has no typing indicator for bots (its `user_typing` event only
//! goes *to* apps), so [`Messenger::typing`] is `None`; with
//! `SLACK_REACTIONS` a 👀 on the user's message shows the work instead
//! ([`Reactions`]): on when core starts a turn on it, off when the turn
//! has ended, however it ended. Slack counts each method apart, so the
//! reactions have a pacer of their own ([`reaction_limits`]), within
//! [`REMOVE_TIER`] for each method, and never take a reply's slot:
//! the mark goes on only when a spare slot is free now (else it is
//! skipped, and then not removed), and one that went on waits for its
//! turn to come off ([`Call::Undo`]).

use crate::ConnectionState;
use crate::api::{Args, Done, Posted, WebApi};
use crate::config::SlackConfig;
use crate::error::SlackError;
use crate::memory::Recent;
use crate::outbound::{self, Target};
use crate::render::{MAX_MESSAGE, measure, mrkdwn, render_parts};
use crate::uploads::{UPLOAD_WINDOW, UploadLog};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, Pacer, PacerLimits, Wait, WebhookListener};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger, Reactions, TurnEnded};
use hermod_http::HttpClient;
use hermod_model::{
    Capabilities, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId, Sent,
};
use hermod_store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, warn};

mod threads;

/// Attempts of an idempotent call on transient failures.
const IDEMPOTENT_ATTEMPTS: u32 = 3;

/// The wait after a 429 that came without `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Threads remembered as ones the bot is in.
const THREAD_MEMORY: usize = 4096;

/// Messages remembered as marked with the working reaction: each is
/// forgotten when its turn ends, so this bounds only the turns running at
/// once.
const MARKED_MEMORY: usize = 65_536;

/// Event ids remembered as handled.
const EVENT_MEMORY: usize = 8192;

/// The reaction shown while a turn on a message runs (Hermes' 👀).
pub(crate) const WORKING_REACTION: &str = "eyes";

/// `reactions.remove` is Web API Tier 2: 20 calls a minute for the app
/// (`reactions.add` is Tier 3, 50). Marks go on no faster than they can
/// come off, so both keep this one.
pub(crate) const REMOVE_TIER: Limit = Limit::per(20, Duration::from_secs(60));

/// The reactions' own pacer: both methods together at most twice
/// [`REMOVE_TIER`], each within it (set on the pacer). Not counted
/// per channel: Slack's one message a second is `chat.postMessage`'s.
pub(crate) fn reaction_limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(u32::MAX, Duration::from_secs(1)),
        per_group: None,
        global: Limit::per(2 * REMOVE_TIER.count, REMOVE_TIER.window),
        send_reserve: 0,
        max_wait: Duration::from_secs(3),
    }
}

/// Slack's published limits, kept strictly: one message a second per
/// channel (`chat.postMessage`; edits share that pace), and `chat.update`
/// at Tier 3 — 50 a minute for the app — within 100 calls a minute
/// overall, half of them kept for new messages so a channel's first
/// answer never queues behind other channels' edits.
pub(crate) fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(1, Duration::from_secs(1)),
        per_group: None,
        global: Limit::per(100, Duration::from_secs(60)),
        send_reserve: 50,
        max_wait: Duration::from_secs(3),
    }
}

/// The Slack adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct SlackAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: SlackConfig,
    api: WebApi,
    pacer: Pacer,
    /// Paces `reactions.add` and `reactions.remove`, apart from the rest.
    reactions: Pacer,
    /// `(method, channel)` → no call before this (a 429's `Retry-After`).
    blocked: Mutex<HashMap<(String, String), Instant>>,
    /// `(channel, ts)` of messages the working reaction went on, to be
    /// taken off when their turn ends.
    marked: Mutex<HashSet<(String, String)>>,
    /// `(channel, thread_ts)` of threads the bot posted in or was asked in.
    threads: Recent<(String, String)>,
    /// Event ids handled, so a redelivery or retry is dropped at once.
    events: Recent<String>,
    /// How far each keyed file send got, so a repeat sends it once.
    uploads: UploadLog,
    connection: Connection,
    /// Where the Events API route is served (Events API mode only).
    webhooks: WebhookListener,
}

impl std::fmt::Debug for SlackAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackAdapter")
            .field("api_base_url", &self.inner.config.api_base_url)
            .field("mode", &self.inner.config.mode())
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl SlackAdapter {
    /// Validates `config` and builds the adapter. Nothing is contacted
    /// until `run`. In Events API mode its route goes on a listener of its
    /// own at `WEBHOOK_HOST:WEBHOOK_PORT`; to share one with other webhook
    /// platforms, use [`SlackAdapter::with_webhooks`]. `store` keeps how
    /// far each file send got, so a repeated one is sent once.
    pub fn new(config: SlackConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        let webhooks = WebhookListener::new(config.webhooks.clone());
        Self::with_webhooks(config, store, webhooks)
    }

    /// [`SlackAdapter::new`], serving the Events API route on `webhooks`,
    /// the listener every webhook platform shares.
    pub fn with_webhooks(
        config: SlackConfig,
        store: Arc<dyn Store>,
        webhooks: WebhookListener,
    ) -> Result<Self, AdapterError> {
        Self::with_parts(config, store, webhooks, &hermod_adapter_kit::http_client()?)
    }

    /// [`SlackAdapter::with_webhooks`] on the gateway's shared HTTP client.
    pub fn with_parts(
        config: SlackConfig,
        store: Arc<dyn Store>,
        webhooks: WebhookListener,
        http: &HttpClient,
    ) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let bot_token = config
            .bot_token
            .clone()
            .ok_or_else(|| AdapterError::Startup("SLACK_BOT_TOKEN is not set".into()))?;
        let mut connection = Connection::new(crate::PLATFORM, config.max_reconnect_delay())
            .redacting(bot_token.clone());
        for secret in [&config.app_token, &config.signing_secret]
            .into_iter()
            .flatten()
        {
            connection = connection.redacting(secret.clone());
        }
        let api = WebApi::new(
            http.reqwest().clone(),
            &config.api_base_url,
            bot_token,
            config.app_token.clone(),
            config.request_timeout(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                pacer: Pacer::new(limits()),
                reactions: Pacer::new(reaction_limits())
                    .with_own_limit(Call::Spare, REMOVE_TIER)
                    .with_own_limit(Call::Undo, REMOVE_TIER),
                marked: Mutex::new(HashSet::new()),
                blocked: Mutex::new(HashMap::new()),
                threads: Recent::new(THREAD_MEMORY),
                events: Recent::new(EVENT_MEMORY),
                uploads: UploadLog::new(store),
                connection,
                webhooks,
            }),
        })
    }

    /// The state of the connection to Slack, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    /// Where the Events API route is served, for tests and logs.
    pub fn webhooks(&self) -> &WebhookListener {
        &self.inner.webhooks
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &SlackConfig {
        &self.inner.config
    }

    pub(crate) fn api(&self) -> &WebApi {
        &self.inner.api
    }

    pub(crate) fn uploads(&self) -> &UploadLog {
        &self.inner.uploads
    }

    /// Whether the bot is in the thread `thread_ts` of `channel`.
    pub(crate) fn in_thread(&self, channel: &str, thread_ts: &str) -> bool {
        self.inner
            .threads
            .contains(&(channel.to_owned(), thread_ts.to_owned()))
    }

    /// Whether the event `event_id` was handled already.
    pub(crate) fn seen(&self, event_id: &str) -> bool {
        self.inner.events.contains(&event_id.to_owned())
    }

    pub(crate) fn remember_event(&self, event_id: &str) {
        self.inner.events.insert(event_id.to_owned());
    }

    pub(crate) fn remember_thread(&self, channel: &str, thread_ts: &str) {
        self.inner
            .threads
            .insert((channel.to_owned(), thread_ts.to_owned()));
    }

    /// Adds (`reactions.add`) or removes (`reactions.remove`) the working
    /// reaction on a message. Slack's answer that it is there already, or
    /// not there, is what was wanted. The mark is skipped when no spare
    /// slot is free, and then not removed either.
    async fn set_working(&self, message: &MessageRef, add: bool) -> Result<(), AdapterError> {
        let target = Target::parse(&message.target)?;
        let ts = outbound::message_ts(&message.message_id)?;
        let key = (target.channel.clone(), ts.clone());
        if add {
            if !self.inner.reactions.try_spare(&target.channel) {
                debug!(channel = %target.channel, "no spare slot; the working reaction is skipped");
                return Ok(());
            }
            let mut marked = self.marked();
            if marked.len() >= MARKED_MEMORY {
                marked.clear();
            }
            marked.insert(key);
        } else {
            if !self.marked().remove(&key) {
                return Ok(());
            }
            self.inner
                .reactions
                .acquire(&target.channel, Call::Undo)
                .await
                .map_err(|Wait(wait)| AdapterError::RateLimited {
                    retry_after: Some(wait),
                })?;
        }
        let args = outbound::reaction(&target.channel, &ts, WORKING_REACTION);
        let (method, done) = if add {
            ("reactions.add", "already_reacted")
        } else {
            ("reactions.remove", "no_reaction")
        };
        match self.call::<Done>(method, &target.channel, &args).await {
            Err(e) if e.code() == Some(done) => Ok(()),
            other => other.map(drop).map_err(AdapterError::from),
        }
    }

    fn marked(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        // Every update leaves the set consistent.
        self.inner
            .marked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails fast while `method` is rate-limited in `channel`.
    pub(crate) fn check_blocked(&self, method: &str, channel: &str) -> Result<(), AdapterError> {
        let now = Instant::now();
        let mut blocked = self
            .inner
            .blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        blocked.retain(|_, until| *until > now);
        match blocked.get(&(method.to_owned(), channel.to_owned())) {
            Some(until) => Err(AdapterError::RateLimited {
                retry_after: Some(*until - now),
            }),
            None => Ok(()),
        }
    }

    /// One Web API call for `channel`, honouring and recording 429s.
    pub(crate) async fn call<R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        channel: &str,
        args: &Args,
    ) -> Result<R, SlackError> {
        if let Err(AdapterError::RateLimited { retry_after }) = self.check_blocked(method, channel)
        {
            return Err(SlackError::RateLimited { retry_after });
        }
        let result = self.api().call(method, args).await;
        if let Err(SlackError::RateLimited { retry_after }) = &result {
            let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
            warn!(
                method,
                channel,
                ?wait,
                "Slack rate-limited a call; pausing it there"
            );
            self.inner
                .blocked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    (method.to_owned(), channel.to_owned()),
                    Instant::now() + wait,
                );
        }
        if let Err(SlackError::Auth { .. }) = &result {
            self.connection().set_state(ConnectionState::Failed);
        }
        result
    }

    /// Waits for a slot for `call` in `channel`, or fails fast.
    pub(crate) async fn pace(&self, channel: &str, call: Call) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .acquire(channel, call)
            .await
            .map_err(|Wait(wait)| AdapterError::RateLimited {
                retry_after: Some(wait),
            })
    }

    /// Runs an idempotent call, retrying transient failures with a short
    /// backoff; a 429 goes back at once.
    async fn idempotent<F, Fut>(&self, call: F) -> Result<(), AdapterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), SlackError>>,
    {
        let mut delay = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(()) => return Ok(()),
                Err(SlackError::Transient(reason)) if attempt < IDEMPOTENT_ATTEMPTS => {
                    debug!(%reason, attempt, "retrying a Slack call");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Posts one mrkdwn part; `None`: posted, but Slack did not say its ts.
    pub(crate) async fn post(
        &self,
        target: &Target,
        text: &str,
    ) -> Result<Option<String>, AdapterError> {
        self.check_blocked("chat.postMessage", &target.channel)?;
        self.pace(&target.channel, Call::Send { group: false })
            .await?;
        let args = outbound::post_message(target, text);
        let posted: Posted = self
            .call("chat.postMessage", &target.channel, &args)
            .await?;
        if posted.ts.is_none() {
            warn!("Slack answered a post without its ts; it cannot be edited later");
        }
        Ok(posted.ts)
    }
}

#[async_trait]
impl Adapter for SlackAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    /// The Events API posts to whichever gateway a load balancer picks;
    /// Socket Mode connections are kept to one gateway.
    fn receiving(&self) -> hermod_core::Receiving {
        match self.inner.config.mode() {
            Some(crate::config::ReceiveMode::EventsApi) => hermod_core::Receiving::Everywhere,
            _ => hermod_core::Receiving::Single,
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE,
            length_unit: LengthUnit::Chars,
            can_edit: true,
            can_delete: true,
            // About one message a second per channel.
            min_edit_interval: Duration::from_secs(1),
            threads: true,
            reactions: self.config().reactions,
            // Slack has no typing indicator for bots.
            typing: false,
            markdown: MarkdownDialect::SlackMrkdwn,
            // Slack answers unknown `/` commands itself ("not a valid
            // command"), so typed commands use `!`, as in Hermes.
            command_prefix: '!',
            files: true,
            authenticates_callers: false,
            multi_message: true,
            // A shared file's `initial_comment`.
            caption_len: MAX_MESSAGE,
            // Slack's Web API has no idempotency key, but a file is two
            // calls apart and the adapter records its progress between
            // them (`uploads`).
            idempotency_window: Some(UPLOAD_WINDOW),
            user_ids_are_addresses: false,
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.receive(ctx).await
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for SlackAdapter {
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let target = Target::parse(&message.target)?;
        let mut parts = render_parts(&message.text, MAX_MESSAGE);
        if parts.is_empty() && message.attachments.is_empty() {
            return Err(AdapterError::Rejected(
                "Slack cannot show an empty message".into(),
            ));
        }
        // The text goes with the first file when it fits one message.
        let mut comment = None;
        if !message.attachments.is_empty() && parts.len() == 1 {
            comment = parts.pop();
        }
        let total = parts.len() + message.attachments.len();
        let mut ids = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let ts = self
                .post(&target, part)
                .await
                .inspect_err(|e| partial(ids.len(), total, e))?;
            ids.extend(ts);
            if i == 0 {
                self.answered(&target);
            }
        }
        // The key covers the files: each has its own record. Core sends
        // a keyed file alone, its caption its only text.
        for (index, attachment) in message.attachments.iter().enumerate() {
            let key = message
                .idempotency_key
                .as_deref()
                .map(|key| format!("{key}:{index}"));
            let ts = self
                .send_file(
                    &target,
                    attachment,
                    comment.take().as_deref(),
                    key.as_deref(),
                )
                .await
                .inspect_err(|e| partial(ids.len(), total, e))?;
            ids.extend(ts);
        }
        if parts.is_empty() {
            self.answered(&target);
        }
        Ok(Sent { message_ids: ids })
    }

    async fn edit(&self, edit: Edit) -> Result<(), AdapterError> {
        let target = Target::parse(&edit.message.target)?;
        let ts = outbound::message_ts(&edit.message.message_id)?;
        let text = mrkdwn(&edit.text);
        if text.trim().is_empty() {
            return Err(AdapterError::Rejected(
                "Slack cannot show an empty message".into(),
            ));
        }
        if measure(&text) > MAX_MESSAGE {
            return Err(AdapterError::TooLong);
        }
        self.check_blocked("chat.update", &target.channel)?;
        self.pace(&target.channel, Call::Edit).await?;
        let args = outbound::update(&target.channel, &ts, &text);
        let channel = target.channel.as_str();
        self.idempotent(|| async {
            self.call::<Done>("chat.update", channel, &args)
                .await
                .map(|_| ())
        })
        .await
    }

    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let target = Target::parse(&message.target)?;
        let ts = outbound::message_ts(&message.message_id)?;
        self.check_blocked("chat.delete", &target.channel)?;
        let args = outbound::delete(&target.channel, &ts);
        let channel = target.channel.as_str();
        self.idempotent(|| async {
            match self.call::<Done>("chat.delete", channel, &args).await {
                // Already gone: what the deletion wanted.
                Err(e) if e.code() == Some("message_not_found") => Ok(()),
                other => other.map(|_| ()),
            }
        })
        .await
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
impl Reactions for SlackAdapter {
    /// The working reaction on the message while its turn runs.
    async fn turn_started(&self, message: &MessageRef) -> Result<(), AdapterError> {
        self.set_working(message, true).await
    }

    /// Takes the working reaction off, as Hermes does, whatever the end.
    async fn turn_ended(
        &self,
        message: &MessageRef,
        _ended: TurnEnded,
    ) -> Result<(), AdapterError> {
        self.set_working(message, false).await
    }
}

impl SlackAdapter {
    /// The first part of an answer is out: the bot is in its thread.
    fn answered(&self, target: &Target) {
        if let Some(thread) = &target.thread_ts {
            self.remember_thread(&target.channel, thread);
        }
    }
}

fn partial(delivered: usize, total: usize, error: &AdapterError) {
    if delivered > 0 {
        warn!(delivered, total, error = %error, "a multi-part message was sent only in part");
    }
}
