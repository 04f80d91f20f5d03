//! A fake signal-cli HTTP daemon (JSON-RPC 2.0 and the SSE event
//! stream), built from signal-cli's documentation (`signal-cli(1)`,
//! `signal-cli-jsonrpc(5)`) and the JSON its daemon writes:
//!
//! - `POST /api/v1/rpc`: one JSON-RPC 2.0 request (`Content-Type:
//!   application/json`, else 415); methods `send` (`recipient` or
//!   `groupId`, `message`, `textStyle`/`textStyles` as `start:length:STYLE`,
//!   `attachment`/`attachments` as file paths or data URIs, `mention`,
//!   `quoteTimestamp`/`quoteAuthor`), `sendTyping` (`stop`),
//!   `sendReaction` (`emoji`, `targetAuthor`, `targetTimestamp`,
//!   `remove`), `remoteDelete` (`targetTimestamp`), `getAttachment`
//!   (`id` → `{"data": base64}`), `listAccounts`, `version`; a single
//!   value or an array wherever the CLI takes several, as signal-cli's
//!   `JsonRpcNamespace` accepts; error objects with signal-cli's codes
//!   (`-1` user error, `-3` I/O, `-4` untrusted key, `-5` rate limit with
//!   the send results in `data.response`, `-32601` unknown method,
//!   `-32602`/`-32600` bad params); a notification (no `id`) is answered
//!   201 without a body;
//! - `GET /api/v1/events`: `text/event-stream`, one `event:receive` per
//!   envelope whose `data:` is the `receive` notification's params
//!   (`{"envelope": {...}, "account": "+..."}`), `:` keepalives. Events
//!   carry `id:` and are kept (the last 1000), so a client reconnecting
//!   with `Last-Event-ID` first gets the ones after it (all kept ones when
//!   the id is unknown), as the newest signal-cli documents; with
//!   [`Builder::without_event_ids`], as signal-cli 0.14 and older, they
//!   carry none. Envelopes arriving while no stream is open wait for the
//!   next one, as with `--receive-mode on-connection` (signal-cli then
//!   only receives from the Signal server while a client listens);
//! - `GET /api/v1/check`: 200.
//!
//! Users act through [`FakeSignal::user_says`], [`FakeSignal::group_says`],
//! [`FakeSignal::user_sends_file`], [`FakeSignal::push_envelope`];
//! everything the adapter did is recorded ([`FakeSignal::sent`],
//! [`FakeSignal::reactions`], [`FakeSignal::typing`], ...). Faults:
//! [`FakeSignal::fail_next`] (rate limit, an error object, an HTTP
//! status), [`FakeSignal::drop_streams`], [`FakeSignal::push_raw`] for
//! malformed or unknown events.

mod base64;
mod records;
mod rpc;
mod server;

use crate::peer::{FaultQueue, PeerListener, Watched};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use base64::{decode as base64_decode, encode as base64_encode};
pub use records::{Connection, Fault, Mention, Reaction, Sent, SentFile, Typing, User};

/// The account the fake daemon serves unless told otherwise.
pub const ACCOUNT: &str = "+15550000001";
/// That account's ACI (its uuid).
pub const ACCOUNT_UUID: &str = "00000000-0000-4000-8000-000000000001";

/// How many events signal-cli keeps for `Last-Event-ID`.
pub const KEPT_EVENTS: usize = 1000;

#[derive(Debug, Clone)]
enum Frame {
    /// Bytes written as they are.
    Raw(String),
    Drop,
}

#[derive(Debug)]
struct Event {
    id: u64,
    params: Value,
    /// Written to a stream at least once.
    delivered: bool,
}

#[derive(Debug, Default)]
struct State {
    /// The daemon's clock, in ms: every message one later.
    now: u64,
    next_event: u64,
    events: Vec<Event>,
    streams: Vec<mpsc::UnboundedSender<Frame>>,
    connections: Vec<Connection>,
    sent: Vec<Sent>,
    reactions: Vec<Reaction>,
    typing: Vec<Typing>,
    /// Every JSON-RPC call: method and params.
    calls: Vec<(String, Value)>,
    faults: FaultQueue<String, Fault>,
    /// Received attachments by id: content type, file name, bytes.
    files: HashMap<String, (String, Option<String>, Vec<u8>)>,
    keepalives: usize,
}

impl State {
    fn tick(&mut self) -> u64 {
        self.now += 1;
        self.now
    }

    /// Writes `frame` to every open stream, forgetting closed ones;
    /// whether one took it.
    fn broadcast(&mut self, frame: &Frame) -> bool {
        self.streams.retain(|tx| tx.send(frame.clone()).is_ok());
        !self.streams.is_empty()
    }
}

#[derive(Debug)]
struct Shared {
    state: Watched<State>,
    account: String,
    event_ids: bool,
    keepalive: Option<Duration>,
    shutdown: CancellationToken,
}

impl Shared {
    /// The SSE text of one event.
    fn event_text(&self, event: &Event) -> String {
        let id = if self.event_ids {
            format!("id:{}\n", event.id)
        } else {
            String::new()
        };
        format!("{id}event:receive\ndata:{}\n\n", event.params)
    }
}

/// A fake signal-cli daemon on `127.0.0.1`. Stops when dropped.
#[derive(Debug, Clone)]
pub struct FakeSignal {
    shared: Arc<Shared>,
    base_url: String,
    _guard: Arc<Guard>,
}

#[derive(Debug)]
struct Guard(CancellationToken);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// How a fake is started.
#[derive(Debug)]
pub struct Builder {
    account: String,
    event_ids: bool,
    keepalive: Option<Duration>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            account: ACCOUNT.into(),
            event_ids: true,
            keepalive: None,
        }
    }
}

impl Builder {
    /// Events without `id:` and no replay, as signal-cli 0.14 writes them.
    pub fn without_event_ids(mut self) -> Self {
        self.event_ids = false;
        self
    }

    /// A `:` keepalive on every stream this often (signal-cli: 15 s).
    pub fn with_keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Some(every);
        self
    }

    pub async fn start(self) -> FakeSignal {
        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            state: Watched::new(State {
                now: 1_700_000_000_000,
                ..State::default()
            }),
            account: self.account,
            event_ids: self.event_ids,
            keepalive: self.keepalive,
            shutdown: shutdown.clone(),
        });
        let listener = PeerListener::bind().await;
        let base_url = format!("http://{}", listener.addr());
        tokio::spawn(listener.serve(server::router(Arc::clone(&shared)), shutdown.clone()));
        FakeSignal {
            shared,
            base_url,
            _guard: Arc::new(Guard(shutdown)),
        }
    }
}

impl FakeSignal {
    /// A daemon for [`ACCOUNT`], events with ids.
    pub async fn start() -> Self {
        Builder::default().start().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `SIGNAL_HTTP_URL` for this fake.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The account it serves (`SIGNAL_ACCOUNT`).
    pub fn account(&self) -> String {
        self.shared.account.clone()
    }

    /// An envelope arrives: `envelope` is completed with the daemon's
    /// timestamps where it has none, and pushed to the open streams (kept
    /// for the next one when none is open). Returns its `timestamp`.
    pub fn push_envelope(&self, mut envelope: Value) -> u64 {
        let shared = &self.shared;
        shared.state.update(|s| {
            let now = s.tick();
            if envelope.get("timestamp").and_then(Value::as_u64).is_none() {
                envelope["timestamp"] = json!(now);
            }
            envelope["serverReceivedTimestamp"] = json!(now);
            envelope["serverDeliveredTimestamp"] = json!(now);
            let timestamp = envelope["timestamp"].as_u64().unwrap_or(now);
            s.next_event += 1;
            let mut event = Event {
                id: s.next_event,
                params: json!({"envelope": envelope, "account": shared.account}),
                delivered: false,
            };
            event.delivered = s.broadcast(&Frame::Raw(shared.event_text(&event)));
            s.events.push(event);
            let excess = s.events.len().saturating_sub(KEPT_EVENTS);
            s.events.drain(..excess);
            timestamp
        })
    }

    fn data_message(&self, from: &User, data: Value) -> u64 {
        let timestamp = self.shared.state.update(State::tick);
        let mut data = data;
        data["timestamp"] = json!(timestamp);
        data["expiresInSeconds"] = json!(0);
        data["viewOnce"] = json!(false);
        let mut envelope = from.source();
        envelope["timestamp"] = json!(timestamp);
        envelope["dataMessage"] = data;
        self.push_envelope(envelope)
    }

    /// `number` writes `text` to the account; returns the message's
    /// timestamp.
    pub fn user_says(&self, number: &str, text: &str) -> u64 {
        self.user_says_as(&User::number(number), text)
    }

    /// `user` writes `text` to the account.
    pub fn user_says_as(&self, user: &User, text: &str) -> u64 {
        self.data_message(
            user,
            json!({"message": text, "mentions": [], "attachments": [], "contacts": []}),
        )
    }

    /// `number` writes `text` in group `group_id` (base64), mentioning
    /// `mentions` (their places in `text` should hold U+FFFC).
    pub fn group_says(
        &self,
        group_id: &str,
        number: &str,
        text: &str,
        mentions: &[Mention],
    ) -> u64 {
        let mentions: Vec<Value> = mentions.iter().map(Mention::to_json).collect();
        self.data_message(
            &User::number(number),
            json!({
                "message": text,
                "mentions": mentions,
                "attachments": [],
                "groupInfo": {"groupId": group_id, "groupName": "Test group", "revision": 1, "type": "DELIVER"},
            }),
        )
    }

    /// `number` sends a file (with `text` as its caption, may be empty);
    /// the daemon keeps it for `getAttachment`. Returns the timestamp.
    pub fn user_sends_file(
        &self,
        number: &str,
        text: &str,
        content_type: &str,
        filename: Option<&str>,
        bytes: &[u8],
    ) -> u64 {
        let id = self.shared.state.update(|s| {
            let id = format!("att{}.bin", s.tick());
            s.files.insert(
                id.clone(),
                (
                    content_type.to_owned(),
                    filename.map(str::to_owned),
                    bytes.to_vec(),
                ),
            );
            id
        });
        self.data_message(
            &User::number(number),
            json!({
                "message": if text.is_empty() { Value::Null } else { json!(text) },
                "mentions": [],
                "attachments": [{
                    "contentType": content_type,
                    "filename": filename,
                    "id": id,
                    "size": bytes.len(),
                    "width": null,
                    "height": null,
                    "caption": null,
                    "uploadTimestamp": null,
                }],
            }),
        )
    }

    /// `number` reacts with `emoji` to the message sent at `target`.
    pub fn user_reacts(&self, number: &str, emoji: &str, target: u64) -> u64 {
        let account = self.account();
        self.data_message(
            &User::number(number),
            json!({"reaction": {
                "emoji": emoji,
                "targetAuthor": account,
                "targetAuthorNumber": account,
                "targetAuthorUuid": ACCOUNT_UUID,
                "targetSentTimestamp": target,
                "isRemove": false,
            }}),
        )
    }

    /// `number`'s typing indicator, a read receipt and a story: envelopes
    /// without a message to answer.
    pub fn user_types_and_posts_a_story(&self, number: &str) {
        let user = User::number(number);
        let now = self.shared.state.update(State::tick);
        let mut typing = user.source();
        typing["typingMessage"] = json!({"action": "STARTED", "timestamp": now});
        self.push_envelope(typing);
        let mut receipt = user.source();
        receipt["receiptMessage"] = json!({"when": now, "isDelivery": false, "isRead": true, "isViewed": false, "timestamps": [now]});
        self.push_envelope(receipt);
        let mut story = user.source();
        story["storyMessage"] =
            json!({"allowsReplies": true, "textAttachment": {"text": "my story"}});
        self.push_envelope(story);
    }

    /// A message the account itself sent from another device (the phone
    /// it is linked to), as the sync message signal-cli receives.
    pub fn account_sent_elsewhere(&self, to: &str, text: &str) -> u64 {
        let now = self.shared.state.update(State::tick);
        let account = self.account();
        self.push_envelope(json!({
            "source": account,
            "sourceNumber": account,
            "sourceUuid": ACCOUNT_UUID,
            "sourceName": "Bot",
            "sourceDevice": 2,
            "timestamp": now,
            "syncMessage": {"sentMessage": {
                "destination": to,
                "destinationNumber": to,
                "timestamp": now,
                "message": text,
                "expiresInSeconds": 0,
                "viewOnce": false,
            }},
        }))
    }

    /// The account's owner writes `text` to the account itself from the
    /// phone ("Note to Self"); returns its timestamp.
    pub fn note_to_self(&self, text: &str) -> u64 {
        self.account_sent_elsewhere(&self.account(), text)
    }

    /// Writes `text` as it is to the open streams (a malformed or unknown
    /// event; end it with a blank line).
    pub fn push_raw(&self, text: &str) {
        self.shared
            .state
            .update(|s| s.broadcast(&Frame::Raw(text.to_owned())));
    }

    /// A `:` keepalive on every open stream.
    pub fn keepalive(&self) {
        self.shared.state.update(|s| {
            s.broadcast(&Frame::Raw(":\n".into()));
            s.keepalives += 1;
        });
    }

    /// Drops every open stream mid-stream.
    pub fn drop_streams(&self) {
        self.shared.state.update(|s| {
            s.broadcast(&Frame::Drop);
            s.streams.clear();
        });
    }

    /// The next call of `method` fails with `fault`; `"events"` is the
    /// event stream, which takes [`Fault::Http`] only.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.shared
            .state
            .update(|s| s.faults.push(method.to_owned(), fault));
    }

    /// Every message the adapter sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.state.lock().sent.clone()
    }

    /// The messages sent to `chat` (a recipient or a group id), in order.
    pub fn sent_to(&self, chat: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|m| m.chat() == chat)
            .collect()
    }

    /// Waits until at least `n` messages were sent.
    pub async fn wait_for_sent(&self, n: usize) -> Vec<Sent> {
        self.shared.state.wait_for(n, |s| s.sent.clone()).await
    }

    /// Every reaction sent or removed, in order.
    pub fn reactions(&self) -> Vec<Reaction> {
        self.shared.state.lock().reactions.clone()
    }

    /// Waits until at least `n` reactions were sent or removed.
    pub async fn wait_for_reactions(&self, n: usize) -> Vec<Reaction> {
        self.shared.state.wait_for(n, |s| s.reactions.clone()).await
    }

    /// Every typing indicator sent, in order.
    pub fn typing(&self) -> Vec<Typing> {
        self.shared.state.lock().typing.clone()
    }

    /// Every JSON-RPC call (method, params), in order.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.shared.state.lock().calls.clone()
    }

    /// Every events stream opened, in order.
    pub fn connections(&self) -> Vec<Connection> {
        self.shared.state.lock().connections.clone()
    }

    /// Waits until at least `n` streams were opened.
    pub async fn wait_for_connections(&self, n: usize) -> Vec<Connection> {
        self.shared
            .state
            .wait_for(n, |s| s.connections.clone())
            .await
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        let mut state = self.shared.state.lock();
        state.streams.retain(|tx| !tx.is_closed());
        state.streams.len()
    }

    /// Keepalives written.
    pub fn keepalives(&self) -> usize {
        self.shared.state.lock().keepalives
    }

    /// Waits until at least `n` keepalives were written.
    pub async fn wait_for_keepalives(&self, n: usize) {
        self.shared
            .state
            .wait_until(|s| (s.keepalives >= n).then_some(()))
            .await;
    }
}

#[cfg(test)]
mod tests;
