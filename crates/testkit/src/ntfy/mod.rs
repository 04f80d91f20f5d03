//! [`FakeNtfy`]: a stateful fake of an ntfy server, built from ntfy's
//! documentation ("Publishing", "Subscribe via API", "Access control",
//! "Limitations"):
//!
//! - `POST`/`PUT /<topic>` publishes the body as a message (headers
//!   `Title`/`X-Title`/`t`, `Tags`/`X-Tags`/`ta`, `Markdown`/`X-Markdown`/
//!   `md`) and answers the message's JSON (`id`, `time`, `expires`,
//!   `event: "message"`, `topic`, `message`...); a body over 4096 bytes
//!   becomes an attachment, as ntfy's `message-size-limit` makes it;
//! - `GET /<topic>/json` streams one JSON object per line: `open` first,
//!   then the cached messages selected by `since=` (`all`, `latest`, a
//!   message id — after it, none when unknown —, or a Unix timestamp),
//!   then every new message, and keepalives when asked
//!   ([`FakeNtfy::keepalive`]) or every [`Builder::with_keepalive`];
//!   with `poll=1`, only the cached messages (`since` defaulting to
//!   `all`), and the answer ends;
//! - access control: with [`Builder::with_token`], a request without
//!   `Authorization: Bearer <token>` is answered 401
//!   (`{"code":40101,"http":401,"error":"unauthorized",...}`), and topics
//!   [`FakeNtfy::deny`]ied answer 403 (`40301 forbidden`);
//! - scripted faults: 429 (`42901 limit reached: too many requests`, with
//!   a `Retry-After` a proxy would add, or none as ntfy itself), 5xx, and
//!   open streams dropped ([`FakeNtfy::drop_streams`]).
//!
//! Users publish with [`FakeNtfy::publish`]; everything the adapter
//! published and every subscription it opened are recorded.

mod server;

use crate::peer::{FaultQueue, PeerListener, Watched};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// ntfy's message size limit (`message-size-limit`), in bytes.
pub const MESSAGE_SIZE_LIMIT: usize = 4096;

/// A message on the server, as the JSON stream shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NtfyMessage {
    pub id: String,
    pub time: i64,
    pub topic: String,
    pub message: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    /// Published with `Markdown: yes`.
    pub markdown: bool,
    /// Too long for a message: ntfy kept the body as an attachment.
    pub attachment: bool,
    /// Published by the adapter (through HTTP), not by [`FakeNtfy::publish`].
    pub by_client: bool,
    /// A file published with the message (`PUT` with a `Filename`), served
    /// at `/file/<id>` as ntfy serves attachments.
    pub file: Option<NtfyFile>,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtfyFile {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
    /// Where the server serves it (set when the message is added); an
    /// external URL when the publisher attached one (`Attach:`).
    pub url: String,
}

impl NtfyMessage {
    /// The message's JSON, as ntfy streams and answers it.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "time": self.time,
            "expires": self.time + 43_200,
            "event": "message",
            "topic": self.topic,
        });
        if let Some(file) = &self.file {
            value["message"] = if self.message.is_empty() {
                json!(format!("You received a file: {}", file.name))
            } else {
                json!(self.message)
            };
            value["attachment"] = json!({
                "name": file.name,
                "type": file.mime,
                "size": file.bytes.len(),
                "expires": self.time + 10_800,
                "url": file.url,
            });
        } else if self.attachment {
            value["message"] = json!("You received a file: attachment.txt");
            value["attachment"] = json!({
                "name": "attachment.txt",
                "type": "text/plain; charset=utf-8",
                "size": self.message.len(),
                "expires": self.time + 10_800,
                "url": format!("http://ntfy.invalid/file/{}.txt", self.id),
            });
        } else {
            value["message"] = json!(self.message);
        }
        if let Some(title) = &self.title {
            value["title"] = json!(title);
        }
        if !self.tags.is_empty() {
            value["tags"] = json!(self.tags);
        }
        if self.markdown {
            value["content_type"] = json!("text/markdown");
        }
        value
    }
}

/// A subscription the adapter opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    /// The `since=` parameter, as given.
    pub since: Option<String>,
    /// The `Authorization` header, as given.
    pub authorization: Option<String>,
}

/// A failure scripted for the next call of a route (`publish` or
/// `subscribe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with ntfy's error JSON; `Retry-After` in seconds when given.
    RateLimited { retry_after: Option<u64> },
    /// A 5xx with ntfy's error JSON.
    Server(u16),
}

/// What a stream is sent.
#[derive(Debug, Clone)]
enum Frame {
    Line(String),
    Drop,
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<NtfyMessage>,
    next_id: u64,
    /// The clock of the fake, in Unix seconds: every message one later.
    now: i64,
    subscriptions: Vec<Subscription>,
    streams: Vec<(String, mpsc::UnboundedSender<Frame>)>,
    faults: FaultQueue<&'static str, Fault>,
    denied: Vec<String>,
    /// Requests answered 401 or 403.
    refused: usize,
    /// Keepalives written to streams.
    keepalives: usize,
    /// This server's URL, for the URLs of attachments.
    base_url: String,
    /// Attachment downloads answered.
    downloads: usize,
}

impl State {
    /// Sends `frame` to the open streams of `topic` (all topics: `None`),
    /// forgetting closed ones.
    fn broadcast(&mut self, topic: Option<&str>, frame: &Frame) {
        self.streams.retain(|(t, tx)| {
            if topic.is_some_and(|topic| topic != t) {
                return !tx.is_closed();
            }
            tx.send(frame.clone()).is_ok()
        });
    }

    fn add(&mut self, mut message: NtfyMessage) -> NtfyMessage {
        self.next_id += 1;
        self.now += 1;
        // ntfy's ids: 12 letters and digits.
        message.id = format!("msg{:09}", self.next_id);
        message.time = self.now;
        if let Some(file) = message.file.as_mut().filter(|f| f.url.is_empty()) {
            file.url = format!("{}/file/{}", self.base_url, message.id);
        }
        let line = message.to_json().to_string();
        let topic = message.topic.clone();
        self.broadcast(Some(&topic), &Frame::Line(line));
        self.messages.push(message.clone());
        message
    }
}

#[derive(Debug)]
struct Shared {
    state: Watched<State>,
    token: Option<String>,
    keepalive: Option<Duration>,
    shutdown: CancellationToken,
}

/// A fake ntfy server on `127.0.0.1`. Stops when dropped.
#[derive(Debug, Clone)]
pub struct FakeNtfy {
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
#[derive(Debug, Default)]
pub struct Builder {
    token: Option<String>,
    keepalive: Option<Duration>,
}

impl Builder {
    /// Access control: every request must carry `Bearer <token>`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Keepalives on every open stream this often.
    pub fn with_keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Some(every);
        self
    }

    pub async fn start(self) -> FakeNtfy {
        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            state: Watched::new(State {
                now: 1_700_000_000,
                ..State::default()
            }),
            token: self.token,
            keepalive: self.keepalive,
            shutdown: shutdown.clone(),
        });
        let listener = PeerListener::bind().await;
        let base_url = format!("http://{}", listener.addr());
        shared.state.update(|s| s.base_url.clone_from(&base_url));
        tokio::spawn(listener.serve(server::router(Arc::clone(&shared)), shutdown.clone()));
        FakeNtfy {
            shared,
            base_url,
            _guard: Arc::new(Guard(shutdown)),
        }
    }
}

impl FakeNtfy {
    /// A server without access control.
    pub async fn start() -> Self {
        Builder::default().start().await
    }

    /// A server to configure before it starts.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `NTFY_SERVER_URL` for this fake.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The token required, if any.
    pub fn token(&self) -> Option<String> {
        self.shared.token.clone()
    }

    /// A user publishes `text` to `topic`; returns the message's id.
    pub fn publish(&self, topic: &str, text: &str) -> String {
        self.publish_message(NtfyMessage {
            id: String::new(),
            time: 0,
            topic: topic.to_owned(),
            message: text.to_owned(),
            title: None,
            tags: Vec::new(),
            markdown: false,
            attachment: text.len() > MESSAGE_SIZE_LIMIT,
            by_client: false,
            file: None,
        })
        .id
    }

    /// A user publishes a file with `text` to `topic` (as `curl -T file
    /// -H "Filename: name" -H "Message: text"` does); returns the id.
    pub fn publish_file(
        &self,
        topic: &str,
        text: &str,
        name: &str,
        mime: &str,
        bytes: &[u8],
    ) -> String {
        self.publish_message(NtfyMessage {
            id: String::new(),
            time: 0,
            topic: topic.to_owned(),
            message: text.to_owned(),
            title: None,
            tags: Vec::new(),
            markdown: false,
            attachment: false,
            by_client: false,
            file: Some(NtfyFile {
                name: name.to_owned(),
                mime: mime.to_owned(),
                bytes: bytes.to_vec(),
                url: String::new(),
            }),
        })
        .id
    }

    /// How many attachment downloads the server answered.
    pub fn downloads(&self) -> usize {
        self.shared.state.lock().downloads
    }

    /// A user publishes `message` (its id and time are the server's).
    pub fn publish_message(&self, message: NtfyMessage) -> NtfyMessage {
        self.shared.state.update(|s| s.add(message))
    }

    /// Sends a raw line (an event of another kind) to `topic`'s streams.
    pub fn push_line(&self, topic: &str, line: &Value) {
        self.shared
            .state
            .update(|s| s.broadcast(Some(topic), &Frame::Line(line.to_string())));
    }

    /// A keepalive on every open stream.
    pub fn keepalive(&self) {
        self.shared.state.update(|s| {
            let now = s.now;
            let frames: Vec<(String, Frame)> = s
                .streams
                .iter()
                .map(|(topic, _)| (topic.clone(), Frame::Line(keepalive_line(topic, now))))
                .collect();
            for (topic, frame) in frames {
                s.broadcast(Some(&topic), &frame);
            }
            s.keepalives += 1;
        });
    }

    /// Drops every open stream's connection mid-stream.
    pub fn drop_streams(&self) {
        self.shared.state.update(|s| {
            s.broadcast(None, &Frame::Drop);
            s.streams.clear();
        });
    }

    /// Answers 403 to requests for `topic`.
    pub fn deny(&self, topic: &str) {
        self.shared
            .state
            .update(|s| s.denied.push(topic.to_owned()));
    }

    /// The next call of `route` (`"publish"` or `"subscribe"`) fails.
    pub fn fail_next(&self, route: &'static str, fault: Fault) {
        self.shared.state.update(|s| s.faults.push(route, fault));
    }

    /// Every message on `topic`, in order.
    pub fn messages(&self, topic: &str) -> Vec<NtfyMessage> {
        let state = self.shared.state.lock();
        state
            .messages
            .iter()
            .filter(|m| m.topic == topic)
            .cloned()
            .collect()
    }

    /// The messages the adapter published to `topic`, in order.
    pub fn published(&self, topic: &str) -> Vec<NtfyMessage> {
        self.messages(topic)
            .into_iter()
            .filter(|m| m.by_client)
            .collect()
    }

    /// Waits until the adapter published at least `n` messages to `topic`.
    pub async fn wait_for_published(&self, topic: &str, n: usize) -> Vec<NtfyMessage> {
        let topic = topic.to_owned();
        self.shared
            .state
            .wait_for(n, |s| {
                s.messages
                    .iter()
                    .filter(|m| m.by_client && m.topic == topic)
                    .cloned()
                    .collect()
            })
            .await
    }

    /// Every subscription opened, in order.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.shared.state.lock().subscriptions.clone()
    }

    /// Waits until at least `n` subscriptions were opened.
    pub async fn wait_for_subscriptions(&self, n: usize) -> Vec<Subscription> {
        self.shared
            .state
            .wait_for(n, |s| s.subscriptions.clone())
            .await
    }

    /// Waits until at least `n` keepalives were written to streams.
    pub async fn wait_for_keepalives(&self, n: usize) {
        self.shared
            .state
            .wait_until(|s| (s.keepalives >= n).then_some(()))
            .await;
    }

    /// Requests answered 401 or 403.
    pub fn refused(&self) -> usize {
        self.shared.state.lock().refused
    }
}

fn keepalive_line(topic: &str, now: i64) -> String {
    json!({"id": format!("ka{now}"), "time": now, "event": "keepalive", "topic": topic}).to_string()
}
