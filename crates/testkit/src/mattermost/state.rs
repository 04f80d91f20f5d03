//! The fake's state: users, channels, posts and files, and the websocket
//! connections with their sequence numbers and dead queues.
//!
//! Events follow the server's rules: every connection numbers the events
//! it is sent from 0 (`hello` is 0), keeps the last [`DEAD_QUEUE`] of them,
//! and stays resumable for [`REUSE_WINDOW`] after its socket ended, so a
//! client that reconnects with `connection_id` and `sequence_number` is
//! sent what it missed (no `hello`); one that cannot be resumed gets a
//! new connection and a `hello`.

use super::{Call, Channel, FileInfo, Post, Typing, User};
use crate::peer::socket::{Outgoing, SocketHandle};
use crate::peer::{FaultQueue, Watched};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Events a connection keeps for a client that reconnects (the server's
/// `deadQueueSize`).
pub(super) const DEAD_QUEUE: usize = 128;

/// How long a connection whose socket ended can be resumed.
pub(super) const REUSE_WINDOW: Duration = Duration::from_secs(300);

/// How long a `pending_post_id` is remembered (`pendingPostIDsCacheTTL`).
pub(super) const PENDING_POST_TTL: Duration = Duration::from_secs(30);

/// The server's `MaxPostSize`: a post's message, in runes.
pub const MAX_POST_RUNES: usize = 16_383;

/// A websocket connection (a `connection_id`), open or resumable.
#[derive(Debug)]
pub(super) struct Conn {
    pub user_id: String,
    /// The socket serving it now, if any.
    pub socket: Option<(u64, SocketHandle)>,
    pub next_seq: i64,
    /// The last events sent, `(seq, frame)`.
    pub queue: VecDeque<(i64, String)>,
    pub closed_at: Option<Instant>,
}

/// One authenticated socket, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketRecord {
    /// The connection it serves.
    pub connection_id: String,
    pub user_id: String,
    /// Resumed an earlier connection (missed events replayed, no hello).
    pub resumed: bool,
    /// The `connection_id` and `sequence_number` query parameters, as given.
    pub asked_connection_id: Option<String>,
    pub asked_sequence: Option<i64>,
}

/// What the fake is told to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 from the rate limiter, with `X-Ratelimit-Reset` (and
    /// `Retry-After`) of this many seconds.
    RateLimited { reset_secs: u64 },
    /// A 5xx with Mattermost's error JSON.
    Server(u16),
    /// 401: the session (token) is invalid or expired.
    Unauthorized,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub users: BTreeMap<String, User>,
    pub tokens: HashMap<String, String>,
    pub channels: BTreeMap<String, Channel>,
    pub posts: Vec<Post>,
    pub files: BTreeMap<String, FileInfo>,
    pub pending: HashMap<String, (String, Instant)>,
    pub conns: BTreeMap<String, Conn>,
    pub sockets: Vec<SocketRecord>,
    pub next_socket: u64,
    pub next_id: u64,
    /// The fake's clock, in Unix milliseconds.
    pub now_ms: i64,
    pub faults: FaultQueue<&'static str, Fault>,
    pub calls: Vec<Call>,
    pub typing: Vec<Typing>,
    /// When each edit arrived (tokio clock), by post id.
    pub edits: Vec<(String, Instant)>,
    /// `ping` actions go unanswered (a half-dead connection).
    pub ignore_pings: bool,
    /// `ping` actions received.
    pub pings: usize,
}

/// What the fake shares with its handlers.
#[derive(Debug)]
pub(super) struct Shared {
    pub state: Watched<State>,
    pub bot_id: String,
    pub shutdown: CancellationToken,
}

/// A Mattermost id: 26 lowercase letters and digits.
fn make_id(prefix: char, n: u64) -> String {
    format!("{prefix}{n:0>25}")
}

impl State {
    pub fn new_id(&mut self, prefix: char) -> String {
        self.next_id += 1;
        make_id(prefix, self.next_id)
    }

    /// The clock moves a second on every change that is timed.
    pub fn tick(&mut self) -> i64 {
        self.now_ms += 1000;
        self.now_ms
    }

    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.tokens.get(token).and_then(|id| self.users.get(id))
    }

    pub fn is_member(&self, channel: &str, user: &str) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|c| c.members.iter().any(|m| m == user))
    }

    pub fn post(&self, id: &str) -> Option<&Post> {
        self.posts.iter().find(|p| p.id == id)
    }

    pub fn post_mut(&mut self, id: &str) -> Option<&mut Post> {
        self.posts.iter_mut().find(|p| p.id == id)
    }

    /// A `pending_post_id` seen within the TTL: the post it created.
    pub fn pending_post(&mut self, pending: &str) -> Option<Post> {
        if pending.is_empty() {
            return None;
        }
        let now = Instant::now();
        self.pending
            .retain(|_, (_, at)| now.duration_since(*at) < PENDING_POST_TTL);
        let id = self.pending.get(pending)?.0.clone();
        self.post(&id).cloned()
    }

    /// Stores a new post and sends `posted` to the channel's members.
    pub fn add_post(&mut self, mut post: Post) -> Post {
        post.id = self.new_id('p');
        post.create_at = self.tick();
        post.update_at = post.create_at;
        for file in &post.file_ids {
            if let Some(info) = self.files.get_mut(file) {
                info.post_id = post.id.clone();
            }
        }
        if !post.pending_post_id.is_empty() {
            self.pending.insert(
                post.pending_post_id.clone(),
                (post.id.clone(), Instant::now()),
            );
        }
        self.posts.push(post.clone());
        self.send_posted(&post);
        post
    }

    fn send_posted(&mut self, post: &Post) {
        let Some(channel) = self.channels.get(&post.channel_id).cloned() else {
            return;
        };
        let sender = self
            .users
            .get(&post.user_id)
            .map(|u| format!("@{}", u.username))
            .unwrap_or_default();
        let mentions: Vec<String> = channel
            .members
            .iter()
            .filter(|m| **m != post.user_id)
            .filter(|m| {
                channel.kind == "D"
                    || self.users.get(*m).is_some_and(|u| {
                        post.message
                            .to_lowercase()
                            .contains(&format!("@{}", u.username.to_lowercase()))
                    })
            })
            .cloned()
            .collect();
        let mut data = json!({
            "channel_display_name": channel.display_name,
            "channel_name": channel.name,
            "channel_type": channel.kind,
            "post": post.to_json().to_string(),
            "sender_name": sender,
            "set_online": true,
            "team_id": channel.team_id,
        });
        if !mentions.is_empty() {
            // A JSON string holding an array, as the server sends it.
            data["mentions"] = json!(Value::from(mentions).to_string());
        }
        self.emit("posted", &data, Some(&post.channel_id), None);
    }

    /// Sends an event to every connection of the channel's members (all
    /// connections without a channel), but `omit`'s.
    pub fn emit(&mut self, event: &str, data: &Value, channel: Option<&str>, omit: Option<&str>) {
        let members: Option<Vec<String>> = channel.map(|c| {
            self.channels
                .get(c)
                .map(|c| c.members.clone())
                .unwrap_or_default()
        });
        let broadcast = json!({
            "omit_users": omit.map(|u| json!({u: true})),
            "user_id": "",
            "channel_id": channel.unwrap_or(""),
            "team_id": "",
        });
        self.expire_conns();
        for conn in self.conns.values_mut() {
            if members.as_ref().is_some_and(|m| !m.contains(&conn.user_id))
                || omit == Some(conn.user_id.as_str())
            {
                continue;
            }
            let frame = json!({
                "event": event,
                "data": data,
                "broadcast": broadcast,
                "seq": conn.next_seq,
            });
            push(conn, frame.to_string());
        }
    }

    /// Forgets connections past their reuse window.
    fn expire_conns(&mut self) {
        let now = Instant::now();
        self.conns.retain(|_, c| {
            c.closed_at
                .is_none_or(|at| now.duration_since(at) < REUSE_WINDOW)
        });
    }

    /// An authenticated socket joins: the connection it asks to resume,
    /// when it can be, else a new one opened with `hello`.
    pub fn attach(
        &mut self,
        user_id: &str,
        socket: (u64, SocketHandle),
        asked: &(Option<String>, Option<i64>),
    ) -> String {
        self.expire_conns();
        let (asked_id, asked_seq) = asked.clone();
        let resumable = asked_id.as_ref().and_then(|id| {
            let conn = self.conns.get(id)?;
            let seq = asked_seq?;
            let oldest = conn.queue.front().map_or(conn.next_seq, |(s, _)| *s);
            (conn.user_id == user_id && seq >= oldest && seq <= conn.next_seq).then(|| id.clone())
        });
        let (connection_id, resumed) = match resumable {
            Some(id) => {
                let seq = asked_seq.unwrap_or_default();
                let conn = self.conns.get_mut(&id).expect("checked above");
                if let Some((_, old)) = conn.socket.take() {
                    old.send(Outgoing::Drop);
                }
                for (_, frame) in conn.queue.iter().filter(|(s, _)| *s >= seq) {
                    socket.1.send(Outgoing::Text(frame.clone()));
                }
                conn.socket = Some(socket);
                conn.closed_at = None;
                (id, true)
            }
            None => {
                let id = self.new_id('c');
                let mut conn = Conn {
                    user_id: user_id.to_owned(),
                    socket: Some(socket),
                    next_seq: 0,
                    queue: VecDeque::new(),
                    closed_at: None,
                };
                let hello = json!({
                    "event": "hello",
                    "data": {"connection_id": id, "server_version": "10.5.0.0.fake"},
                    "broadcast": {"omit_users": null, "user_id": user_id, "channel_id": "", "team_id": ""},
                    "seq": 0,
                });
                push(&mut conn, hello.to_string());
                self.conns.insert(id.clone(), conn);
                (id, false)
            }
        };
        self.sockets.push(SocketRecord {
            connection_id: connection_id.clone(),
            user_id: user_id.to_owned(),
            resumed,
            asked_connection_id: asked_id,
            asked_sequence: asked_seq,
        });
        connection_id
    }

    /// A socket ended: its connection stays resumable for a while.
    pub fn detach(&mut self, socket: u64) {
        for conn in self.conns.values_mut() {
            if conn.socket.as_ref().is_some_and(|(id, _)| *id == socket) {
                conn.socket = None;
                conn.closed_at = Some(Instant::now());
            }
        }
    }

    /// Sends `out` to every open socket.
    pub fn send_to_sockets(&mut self, out: &Outgoing) {
        for conn in self.conns.values_mut() {
            if let Some((_, handle)) = &conn.socket {
                handle.send(out.clone());
            }
        }
    }

    /// Drops every socket and forgets every connection, as a restarted
    /// server would: the next one cannot be resumed.
    pub fn forget_connections(&mut self) {
        self.drop_sockets();
        self.conns.clear();
    }

    /// Drops every open socket, as a lost network would.
    pub fn drop_sockets(&mut self) {
        let now = Instant::now();
        for conn in self.conns.values_mut() {
            if let Some((_, handle)) = conn.socket.take() {
                handle.send(Outgoing::Drop);
                conn.closed_at = Some(now);
            }
        }
    }
}

/// Numbers `frame` (already carrying `conn.next_seq`), keeps it in the
/// dead queue and sends it when the connection has a socket.
fn push(conn: &mut Conn, frame: String) {
    conn.queue.push_back((conn.next_seq, frame.clone()));
    while conn.queue.len() > DEAD_QUEUE {
        conn.queue.pop_front();
    }
    conn.next_seq += 1;
    if let Some((_, handle)) = &conn.socket
        && !handle.send(Outgoing::Text(frame))
    {
        conn.socket = None;
        conn.closed_at = Some(Instant::now());
    }
}
