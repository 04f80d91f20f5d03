//! [`FakeSlack`]: a stateful fake of Slack on one local port — the Web API,
//! Socket Mode and the Events API — built from Slack's API documentation,
//! for testing a Slack adapter over real HTTP and websockets.
//!
//! - **Web API** at [`FakeSlack::api_base_url`] (Slack's is
//!   `https://slack.com/api`): `auth.test`, `apps.connections.open`,
//!   `chat.postMessage`, `chat.update`, `chat.delete`, `reactions.add`,
//!   `reactions.remove`, `conversations.info`, `conversations.open`,
//!   `users.info`, `files.getUploadURLExternal` (and its upload URL),
//!   `files.completeUploadExternal`, `files.info` (with `shares`: where a
//!   file is shared, by channel, with each message's `ts`). Arguments come from the query, a form
//!   (with `token` allowed) or a JSON body with an `Authorization: Bearer`
//!   token, JSON only where the method's reference page allows it. Answers
//!   are Slack's: `{"ok":true,...}` or HTTP 200 `{"ok":false,"error":...}`
//!   (`not_authed`, `invalid_auth`, `not_allowed_token_type`,
//!   `channel_not_found`, `msg_too_long`, ...), warnings such as
//!   `missing_charset` and `message_truncated`, and HTTP 429 with
//!   `Retry-After` for rate limits.
//! - **Socket Mode**: `apps.connections.open` (app-level `xapp-` token)
//!   answers a `ws://` URL with a one-use ticket; the socket opens with
//!   `hello`, carries `events_api`, `slash_commands` and `interactive`
//!   envelopes, takes `{"envelope_id"}` acknowledgements, and sends
//!   unacknowledged events again with `retry_attempt` counting up.
//!   `disconnect` messages, dropped sockets and malformed frames come on
//!   demand.
//! - **Events API**: with a request URL set ([`FakeSlack::set_request_url`])
//!   events go there instead, signed with the v0 scheme and retried as
//!   Slack retries; [`FakeSlack::verify_request_url`] runs the
//!   `url_verification` handshake and [`FakeSlack::post_to`] sends
//!   mis-signed requests for negative tests.
//!
//! Users ([`FakeSlack::user`]) write DMs, channel messages, mentions,
//! thread replies, edits and deletions, and share files ([`NewFile`]);
//! each becomes the events Slack sends. A shared file's private URL
//! serves it only with the bot token in `Authorization: Bearer`, and
//! answers with Slack's HTML sign-in page (HTTP 200) without it or when
//! the token lacks `files:read` ([`FakeSlack::set_files_read_scope`]);
//! every request is recorded ([`FakeSlack::file_downloads`]). What the
//! bot posts, edits, deletes and reacts with is recorded per channel and
//! thread ([`FakeSlack::bot_messages`]), with every call
//! ([`FakeSlack::calls`]); `wait_for*` methods are woken by changes and
//! never poll. Failures are scripted per method ([`FakeSlack::fail_next`]),
//! including a call that takes effect and is never answered
//! ([`Fault::Unanswered`]), and rate-limit budgets ([`Budget`]) count overruns, answered 429 when
//! enforced. Timers (ack deadlines, retries, rate-limit windows) run on the
//! tokio clock.
//!
//! Not modelled: OAuth and token rotation, Block Kit validation beyond the
//! 50-block limit, `response_url` posts, ephemeral messages, history and
//! other read methods, multi-person DMs, Enterprise Grid, Slack's app-wide
//! limit on events (30,000 an hour), connections refreshed on their own
//! after `approximate_connection_time` (disconnects come on demand),
//! the time after which Slack discards an upload never completed (it
//! documents none; [`FakeSlack::discard_unfinished_uploads`] does it on
//! demand), thumbnails, and files shared after the message that
//! uploaded them (`file_shared`).
//!
//! The server is listening when [`FakeSlack::start`] returns and stops
//! when the handle is dropped.

mod config;
mod events;
mod files;
mod http_events;
mod limits;
mod server;
mod socket;
mod state;
mod user_files;
mod users;
mod web_api;

pub use config::SlackConfig;
pub use http_events::{DeliveryOutcome, HttpDelivery, PostKind, Signing, UrlVerification};
pub use limits::{Budget, Fault};
pub use socket::{Ack, DisconnectReason, EnvelopeKind, SentEnvelope, SocketConnection};
pub use state::{BotMessage, MessageEdit, SlackCall, UploadedFile};
pub use user_files::{FileDownload, NewFile};
pub use users::{Posted, SlackUser};

use serde_json::{Value, json};
use socket::Outgoing;
use state::{Author, Channel, ChannelKind, Shared, State, StoredMessage, User, unix_secs};
use std::net::SocketAddr;
use std::sync::Arc;

/// A running fake Slack. Dropping it stops the server and every delivery.
#[derive(Debug)]
pub struct FakeSlack {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl FakeSlack {
    /// A fake with [`SlackConfig::default`], accepting connections when
    /// this returns.
    pub async fn start() -> Self {
        Self::with_config(SlackConfig::default()).await
    }

    pub async fn with_config(config: SlackConfig) -> Self {
        let http = hermod_http::HttpClient::new()
            .expect("an HTTP client for Events API deliveries")
            .reqwest()
            .clone();
        let shared = Arc::new(Shared::new(config, http));
        let addr = server::start(shared.clone()).await;
        Self { shared, addr }
    }

    pub fn config(&self) -> &SlackConfig {
        &self.shared.config
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>/api`, in place of `https://slack.com/api`.
    pub fn api_base_url(&self) -> String {
        format!("{}/api", self.base_url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn bot_user_id(&self) -> &str {
        &self.shared.config.bot_user_id
    }

    // --- The workspace ---

    /// The user named `name`, made on first use (`U…` id, with a DM with
    /// the bot).
    pub fn user(&self, name: &str) -> SlackUser {
        self.member(name, false)
    }

    /// Another app's bot user: its messages carry `bot_id` and
    /// `bot_profile`.
    pub fn other_bot(&self, name: &str) -> SlackUser {
        self.member(name, true)
    }

    fn member(&self, name: &str, bot: bool) -> SlackUser {
        let id = self.shared.update(|s| {
            if let Some(user) = s.users.values().find(|u| u.name == name) {
                return user.id.clone();
            }
            let n = s.next();
            let id = format!("U0{n:08}");
            let dm = format!("D0{n:08}");
            s.channels.insert(
                dm.clone(),
                Channel {
                    id: dm.clone(),
                    name: dm.clone(),
                    kind: ChannelKind::Im,
                    user: Some(id.clone()),
                    bot_is_member: true,
                    created: unix_secs(),
                },
            );
            let mut real_name = name.to_owned();
            if let Some(first) = real_name.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            s.users.insert(
                id.clone(),
                User {
                    id: id.clone(),
                    name: name.to_owned(),
                    real_name,
                    bot_id: bot.then(|| format!("B0{n:08}")),
                    dm,
                },
            );
            id
        });
        SlackUser::new(self.shared.clone(), id, name.to_owned())
    }

    /// The public channel `name` (`C…` id), made on first use with the bot
    /// in it.
    pub fn public_channel(&self, name: &str) -> String {
        self.channel(name, ChannelKind::Public, 'C')
    }

    /// The private channel `name` (`G…` id), made on first use with the bot
    /// in it.
    pub fn private_channel(&self, name: &str) -> String {
        self.channel(name, ChannelKind::Private, 'G')
    }

    fn channel(&self, name: &str, kind: ChannelKind, prefix: char) -> String {
        self.shared.update(|s| {
            if let Some(channel) = s
                .channels
                .values()
                .find(|c| c.kind == kind && c.name == name)
            {
                return channel.id.clone();
            }
            let id = format!("{prefix}0{:08}", s.next());
            s.channels.insert(
                id.clone(),
                Channel {
                    id: id.clone(),
                    name: name.to_owned(),
                    kind,
                    user: None,
                    bot_is_member: true,
                    created: unix_secs(),
                },
            );
            id
        })
    }

    /// Puts the bot in `channel` or takes it out. Out of a channel, the
    /// app gets none of its messages and posting there fails with
    /// `not_in_channel`.
    ///
    /// # Panics
    /// When there is no such channel.
    pub fn set_bot_member(&self, channel: &str, member: bool) {
        self.shared.update(|s| {
            s.channels
                .get_mut(channel)
                .unwrap_or_else(|| panic!("no channel {channel}"))
                .bot_is_member = member;
        });
    }

    /// A message from a legacy integration (`subtype: bot_message`), which
    /// an adapter should not answer.
    ///
    /// # Panics
    /// When there is no such channel.
    pub fn integration_message(&self, channel: &str, username: &str, text: &str) -> Posted {
        let shared = self.shared.clone();
        shared.update(|s| {
            let channel = s
                .channels
                .get(channel)
                .cloned()
                .unwrap_or_else(|| panic!("no channel {channel}"));
            let ts = s.next_ts();
            let message = json!({
                "type": "message",
                "subtype": "bot_message",
                "text": text,
                "ts": ts,
                "username": username,
                "bot_id": "B0INTEGRATN",
            });
            let stored = StoredMessage {
                author: Author::Integration,
                record: BotMessage {
                    channel: channel.id.clone(),
                    ts: ts.clone(),
                    thread_ts: None,
                    text: text.to_owned(),
                    blocks: None,
                    mrkdwn: true,
                    edits: Vec::new(),
                    deleted: false,
                    reactions: Vec::new(),
                    files: Vec::new(),
                },
                json: message,
            };
            events::post(&shared, s, &channel, stored);
            Posted {
                channel: channel.id,
                ts,
                thread_ts: None,
            }
        })
    }

    /// Sends `event` (the inner event, such as a `reaction_added`) in an
    /// `event_callback`; returns the callback.
    pub fn push_event(&self, event: Value) -> Value {
        let shared = self.shared.clone();
        shared.update(|s| events::send_event(&shared, s, event))
    }

    // --- What the bot did ---

    /// Every message the bot posted to `channel` (threads included),
    /// deleted ones too, in order.
    pub fn bot_messages(&self, channel: &str) -> Vec<BotMessage> {
        bot_messages(&self.shared.lock(), |m| m.channel == channel)
    }

    /// The bot's messages in the thread `thread_ts` of `channel`.
    pub fn thread(&self, channel: &str, thread_ts: &str) -> Vec<BotMessage> {
        bot_messages(&self.shared.lock(), |m| {
            m.channel == channel && m.thread_ts.as_deref() == Some(thread_ts)
        })
    }

    /// Every message the bot posted anywhere, in order.
    pub fn all_bot_messages(&self) -> Vec<BotMessage> {
        bot_messages(&self.shared.lock(), |_| true)
    }

    /// Waits until the bot posted at least `n` messages to `channel`.
    pub async fn wait_for_bot_messages(&self, channel: &str, n: usize) -> Vec<BotMessage> {
        self.wait_for(channel, |messages| messages.len() >= n).await
    }

    /// Waits until the bot's messages in `channel` satisfy `done`.
    pub async fn wait_for(
        &self,
        channel: &str,
        done: impl Fn(&[BotMessage]) -> bool,
    ) -> Vec<BotMessage> {
        self.shared
            .wait_until(|s| {
                let messages = bot_messages(s, |m| m.channel == channel);
                done(&messages).then_some(messages)
            })
            .await
    }

    /// The reactions on message `ts` of `channel` now, as `(name, user)`.
    pub fn reactions(&self, channel: &str, ts: &str) -> Vec<(String, String)> {
        let s = self.shared.lock();
        s.message(channel, ts)
            .map(|m| m.record.reactions.clone())
            .unwrap_or_default()
    }

    /// Every file announced with `files.getUploadURLExternal`, by id.
    pub fn uploaded_files(&self) -> Vec<UploadedFile> {
        self.shared.lock().files.values().cloned().collect()
    }

    /// The uploads completed with `files.completeUploadExternal` and
    /// shared in `channel` (its threads included), in order of upload:
    /// their bytes, name, title, thread and initial comment.
    pub fn shared_uploads(&self, channel: &str) -> Vec<UploadedFile> {
        shared_uploads(&self.shared.lock(), channel)
    }

    /// Waits until at least `n` uploads were completed and shared in
    /// `channel`.
    pub async fn wait_for_shared_uploads(&self, channel: &str, n: usize) -> Vec<UploadedFile> {
        self.shared
            .wait_for(n, |s| shared_uploads(s, channel))
            .await
    }

    /// Discards every upload not completed with
    /// `files.completeUploadExternal`, as Slack does after a while: its
    /// id is then `file_not_found`. Returns how many went.
    pub fn discard_unfinished_uploads(&self) -> usize {
        self.shared.update(|s| {
            let before = s.files.len();
            s.files.retain(|_, file| file.completed);
            before - s.files.len()
        })
    }

    /// Grants the bot token the `files:read` scope (the default) or takes
    /// it away. Without it, a shared file's private URL answers with
    /// Slack's HTML sign-in page and HTTP 200, as Slack does.
    pub fn set_files_read_scope(&self, granted: bool) {
        self.shared
            .update(|s| s.shared_files.no_files_read = !granted);
    }

    /// Every request for a shared file's private URL, in order.
    pub fn file_downloads(&self) -> Vec<FileDownload> {
        self.shared.lock().shared_files.downloads.clone()
    }

    /// Every Web API call with a valid token, in order of arrival.
    pub fn calls(&self) -> Vec<SlackCall> {
        self.shared.lock().calls.all()
    }

    /// The calls of `method`, in order.
    pub fn calls_of(&self, method: &str) -> Vec<SlackCall> {
        calls_of(&self.shared.lock(), method)
    }

    /// Waits until `method` was called `n` times.
    pub async fn wait_for_calls(&self, method: &str, n: usize) -> Vec<SlackCall> {
        self.shared.wait_for(n, |s| calls_of(s, method)).await
    }

    /// Calls refused for their token (`not_authed`, `invalid_auth`,
    /// `not_allowed_token_type`).
    pub fn refused_calls(&self) -> usize {
        self.shared.lock().refused_calls
    }

    // --- Faults and rate limits ---

    /// Answers the next call of `method` (`*`: any method, after the
    /// method's own queue) with `fault`. Queued faults are used one per
    /// call, in order.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.fail_times(method, 1, fault);
    }

    /// Answers the next `n` calls of `method` with `fault`.
    pub fn fail_times(&self, method: &str, n: usize, fault: Fault) {
        self.shared
            .update(|s| s.limits.faults.push_times(method.to_owned(), n, fault));
    }

    /// Replaces `method`'s budgets (none: unlimited).
    pub fn set_budgets(&self, method: &str, budgets: Vec<Budget>) {
        self.shared.update(|s| {
            s.limits.budgets.insert(method.to_owned(), budgets);
        });
    }

    /// Answers calls over budget with 429 and `Retry-After` (true), or
    /// only counts them (false, the default).
    pub fn enforce_budgets(&self, enforce: bool) {
        self.shared.update(|s| s.limits.enforce = enforce);
    }

    /// Calls of `method` over its budgets so far: the 429s an adapter would
    /// have met at this pace.
    pub fn budget_overruns(&self, method: &str) -> usize {
        let s = self.shared.lock();
        s.limits.overruns.get(method).copied().unwrap_or(0)
    }

    /// 429 answers served, scripted and enforced.
    pub fn rate_limited_answers(&self) -> usize {
        self.shared.lock().limits.rate_limited_answers
    }

    // --- Socket Mode ---

    /// Every Socket Mode connection, open or closed, in order of opening.
    pub fn connections(&self) -> Vec<SocketConnection> {
        self.shared.lock().socket.log.clone()
    }

    /// How many Socket Mode connections were opened.
    pub fn connections_opened(&self) -> usize {
        self.shared.lock().socket.log.len()
    }

    /// How many are open now.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().socket.open_connections()
    }

    /// Waits until at least `n` connections are open.
    pub async fn wait_for_connections(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.socket.open_connections() >= n).then_some(()))
            .await;
    }

    /// Waits until exactly `n` connections are open (0: all closed).
    pub async fn wait_for_open_connections(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.socket.open_connections() == n).then_some(()))
            .await;
    }

    /// Every envelope frame sent (deliveries and redeliveries), in order.
    pub fn envelopes(&self) -> Vec<SentEnvelope> {
        self.shared.lock().socket.sent.clone()
    }

    /// Waits until `n` envelope frames were sent.
    pub async fn wait_for_envelopes(&self, n: usize) -> Vec<SentEnvelope> {
        self.shared.wait_for(n, |s| s.socket.sent.clone()).await
    }

    /// Every acknowledgement received, in order.
    pub fn acks(&self) -> Vec<Ack> {
        self.shared.lock().socket.acks.clone()
    }

    /// Waits until envelope `envelope_id` is acknowledged (and the ack
    /// honoured); returns that ack.
    pub async fn wait_for_ack(&self, envelope_id: &str) -> Ack {
        self.shared
            .wait_until(|s| {
                s.socket
                    .acks
                    .iter()
                    .find(|a| a.envelope_id == envelope_id && a.honored)
                    .cloned()
            })
            .await
    }

    /// Whether envelope `envelope_id` is acknowledged.
    pub fn is_acked(&self, envelope_id: &str) -> bool {
        self.shared.lock().socket.is_acked(envelope_id)
    }

    /// Envelopes sent again after a missed ack (or by
    /// [`FakeSlack::redeliver`]).
    pub fn redeliveries(&self) -> usize {
        self.shared.lock().socket.redeliveries
    }

    /// Envelopes given up on: never acknowledged, after their last attempt.
    pub fn missed_envelopes(&self) -> Vec<String> {
        self.shared.lock().socket.missed.clone()
    }

    /// Waits until envelope `envelope_id` is given up on.
    pub async fn wait_for_missed(&self, envelope_id: &str) {
        self.shared
            .wait_until(|s| {
                s.socket
                    .missed
                    .iter()
                    .any(|m| m == envelope_id)
                    .then_some(())
            })
            .await;
    }

    /// Loses the next `n` acks the app sends (recorded, not honoured), so
    /// their envelopes come again as if the acks never arrived.
    pub fn lose_next_acks(&self, n: usize) {
        self.shared.update(|s| s.socket.lose_acks += n);
    }

    /// Sends envelope `envelope_id` again now, acknowledged or not, as
    /// at-least-once delivery may; false when there is no such envelope.
    pub fn redeliver(&self, envelope_id: &str) -> bool {
        let shared = self.shared.clone();
        shared.update(|s| socket::redeliver(&shared, s, envelope_id))
    }

    /// Sends a `disconnect` message on every open connection; each closes
    /// after [`SlackConfig::disconnect_grace`] (`link_disabled`: at once).
    /// Returns how many connections were told.
    pub fn disconnect(&self, reason: DisconnectReason) -> usize {
        let shared = self.shared.clone();
        shared.update(|s| socket::disconnect(&shared, s, reason))
    }

    /// Ends every open connection without a close frame, as a lost network
    /// would; returns how many.
    pub fn drop_connections(&self) -> usize {
        self.shared
            .update(|s| s.socket.write(None, || Outgoing::Drop))
    }

    /// Sends `text` as a text frame on every open connection (`not json`,
    /// an unknown `type`, an envelope without `envelope_id`...); returns
    /// how many.
    pub fn send_raw_frame(&self, text: &str) -> usize {
        self.shared
            .update(|s| s.socket.write(None, || Outgoing::Text(text.to_owned())))
    }

    /// Sends a binary frame, which Socket Mode never uses, on every open
    /// connection; returns how many.
    pub fn send_binary_frame(&self, bytes: &[u8]) -> usize {
        self.shared
            .update(|s| s.socket.write(None, || Outgoing::Binary(bytes.to_vec())))
    }

    // --- Events API ---

    /// Sends events (and slash commands and interactive payloads) to `url`
    /// over HTTP from now on; `None` sends them over Socket Mode again.
    /// Slack checks a URL with [`FakeSlack::verify_request_url`] first.
    pub fn set_request_url(&self, url: Option<&str>) {
        self.shared
            .update(|s| s.http.request_url = url.map(str::to_owned));
    }

    /// Runs the `url_verification` handshake against `url`.
    pub async fn verify_request_url(&self, url: &str) -> UrlVerification {
        let n = self.shared.update(State::next);
        http_events::verify(&self.shared, url, n).await
    }

    /// POSTs `body` to `url` once as Slack would, signed as `signing` says
    /// (for tests of signature checks); no retries.
    pub async fn post_to(&self, url: &str, body: &str, signing: Signing) -> DeliveryOutcome {
        http_events::post_raw(&self.shared, url, body.to_owned(), signing).await
    }

    /// Every request POSTed to the app, retries included, in order.
    pub fn http_deliveries(&self) -> Vec<HttpDelivery> {
        self.shared.lock().http.deliveries.clone()
    }

    /// Waits until `n` requests were POSTed to the app.
    pub async fn wait_for_deliveries(&self, n: usize) -> Vec<HttpDelivery> {
        self.shared.wait_for(n, |s| s.http.deliveries.clone()).await
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
    }
}

fn bot_messages(s: &State, keep: impl Fn(&BotMessage) -> bool) -> Vec<BotMessage> {
    s.messages
        .iter()
        .filter(|m| m.author == Author::Bot && keep(&m.record))
        .map(|m| m.record.clone())
        .collect()
}

fn shared_uploads(s: &State, channel: &str) -> Vec<UploadedFile> {
    s.files
        .values()
        .filter(|f| f.completed && f.channel.as_deref() == Some(channel))
        .cloned()
        .collect()
}

fn calls_of(s: &State, method: &str) -> Vec<SlackCall> {
    s.calls.matching(|c| c.method == method)
}
