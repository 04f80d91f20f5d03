//! [`FakeMattermost`]: a stateful fake of a Mattermost server (REST v4 and
//! the WebSocket event stream), built from the Mattermost API reference
//! (api.mattermost.com) and the server's documented behaviour:
//!
//! - `GET /api/v4/users/me` (and `/users/{id}`) answer the user of the
//!   `Authorization: Bearer <token>`; a missing or unknown token is 401
//!   with the error JSON every failure carries,
//!   `{id, message, detailed_error, request_id, status_code}`;
//! - `POST /api/v4/posts` (`channel_id`, `message`, `root_id`,
//!   `file_ids`, `props`, `pending_post_id`) answers 201 with the post;
//!   a `pending_post_id` seen within 30 s answers the post it created
//!   instead of a second one (the server's `seenPendingPostIdsCache`); a
//!   `root_id` must be a root post of the same channel, a message at most
//!   16,383 runes (`MaxPostSize`), the author a member of the channel;
//! - `PUT /api/v4/posts/{id}/patch` edits (author only; `edit_at` set),
//!   `DELETE /api/v4/posts/{id}` deletes, `GET /api/v4/posts/{id}` reads;
//! - `GET /api/v4/users/{id}/channels` (every channel of the user, with
//!   `last_post_at`), `GET /api/v4/channels/{id}` and `GET /api/v4/channels/{id}/posts`
//!   (with `since=<ms>`: the posts changed after it; a `PostList`
//!   `{order, posts, next_post_id, prev_post_id}`, newest first);
//! - `POST /api/v4/users/{id}/typing`, and the websocket `user_typing`
//!   action;
//! - `POST /api/v4/files` (multipart `channel_id` + `files`) answers
//!   `{file_infos, client_ids}`; `GET /api/v4/files/{id}` the bytes,
//!   `/files/{id}/info` the `FileInfo`;
//! - `GET /api/v4/websocket`: the client authenticates with
//!   `{"seq":1,"action":"authentication_challenge","data":{"token":…}}`
//!   (or the `Authorization` header), is answered
//!   `{"status":"OK","seq_reply":1}` and then `hello` (seq 0, its
//!   `connection_id`); events (`posted` — its `data.post` a JSON string,
//!   `mentions` a JSON string of an array —, `post_edited`,
//!   `post_deleted`, `typing`) are numbered per connection; a reconnect
//!   with `connection_id` and `sequence_number` within the last 128
//!   events replays the missed ones; the `ping` action is answered `pong`;
//! - faults: the next call of a route answers 429 (with
//!   `X-Ratelimit-Limit/Remaining/Reset` and `Retry-After`), a 5xx or
//!   401; sockets dropped; a malformed frame; an event of an unknown kind.
//!
//! Users are scripted ([`FakeMattermost::add_user`], [`FakeMattermost::post`]);
//! what the bot posts, edits and deletes is read back through the helpers.

mod rest;
mod socket;
mod state;
#[cfg(test)]
mod tests;
mod types;

pub use state::{Fault, MAX_POST_RUNES, SocketRecord};
pub use types::{Call, Channel, FileInfo, Post, Typing, User};

use crate::peer::socket::Outgoing;
use crate::peer::{PeerListener, Watched};
use serde_json::Value;
use state::{Shared, State};
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A fake Mattermost server on `127.0.0.1`. Stops when dropped.
#[derive(Debug, Clone)]
pub struct FakeMattermost {
    shared: Arc<Shared>,
    base_url: String,
    token: String,
    _guard: Arc<Guard>,
}

#[derive(Debug)]
struct Guard(CancellationToken);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The bot account's token in every fake.
pub const BOT_TOKEN: &str = "mmbot0token0abcdefghijklmn";

/// How a fake is started.
#[derive(Debug)]
pub struct Builder {
    bot_username: String,
    token: String,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            bot_username: "hermod".into(),
            token: BOT_TOKEN.into(),
        }
    }
}

impl Builder {
    /// The bot account's username (default `hermod`).
    pub fn bot_username(mut self, name: &str) -> Self {
        self.bot_username = name.to_owned();
        self
    }

    /// The bot's access token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = token.to_owned();
        self
    }

    pub async fn start(self) -> FakeMattermost {
        let shutdown = CancellationToken::new();
        let mut state = State {
            now_ms: 1_700_000_000_000,
            ..State::default()
        };
        let bot_id = state.new_id('b');
        state.users.insert(
            bot_id.clone(),
            User {
                id: bot_id.clone(),
                username: self.bot_username,
                is_bot: true,
            },
        );
        state.tokens.insert(self.token.clone(), bot_id.clone());
        let shared = Arc::new(Shared {
            state: Watched::new(state),
            bot_id,
            shutdown: shutdown.clone(),
        });
        let listener = PeerListener::bind().await;
        let base_url = format!("http://{}", listener.addr());
        tokio::spawn(listener.serve(rest::router(Arc::clone(&shared)), shutdown.clone()));
        FakeMattermost {
            shared,
            base_url,
            token: self.token,
            _guard: Arc::new(Guard(shutdown)),
        }
    }
}

impl FakeMattermost {
    /// A server with a bot `hermod` whose token is [`BOT_TOKEN`].
    pub async fn start() -> Self {
        Builder::default().start().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `MATTERMOST_URL` for this fake.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `MATTERMOST_TOKEN` for this fake.
    pub fn token(&self) -> String {
        self.token.clone()
    }

    /// The bot account.
    pub fn bot(&self) -> User {
        let state = self.shared.state.lock();
        state.users[&self.shared.bot_id].clone()
    }

    /// A new user account.
    pub fn add_user(&self, username: &str) -> User {
        self.shared.state.update(|s| {
            let user = User {
                id: s.new_id('u'),
                username: username.to_owned(),
                is_bot: false,
            };
            s.users.insert(user.id.clone(), user.clone());
            user
        })
    }

    /// The direct channel (`D`) between the bot and `user_id`, created
    /// when needed; its name is the two ids, sorted, joined by `__`.
    pub fn direct_channel(&self, user_id: &str) -> String {
        let bot = self.shared.bot_id.clone();
        self.shared.state.update(|s| {
            let mut ids = [bot, user_id.to_owned()];
            ids.sort();
            let name = ids.join("__");
            if let Some(existing) = s.channels.values().find(|c| c.name == name) {
                return existing.id.clone();
            }
            let id = s.new_id('d');
            s.channels.insert(
                id.clone(),
                Channel {
                    id: id.clone(),
                    kind: "D".into(),
                    name,
                    display_name: String::new(),
                    team_id: String::new(),
                    members: ids.to_vec(),
                },
            );
            id
        })
    }

    /// A channel of `kind` (`O`, `P` or `G`) named `name` with the bot and
    /// `members` in it.
    pub fn channel(&self, kind: &str, name: &str, members: &[&str]) -> String {
        let bot = self.shared.bot_id.clone();
        self.shared.state.update(|s| {
            let id = s.new_id('h');
            let mut all = vec![bot];
            all.extend(members.iter().map(|m| (*m).to_owned()));
            s.channels.insert(
                id.clone(),
                Channel {
                    id: id.clone(),
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    display_name: name.to_owned(),
                    team_id: "team0000000000000000000001".into(),
                    members: all,
                },
            );
            id
        })
    }

    /// `user_id` posts `message` in `channel_id`.
    pub fn post(&self, user_id: &str, channel_id: &str, message: &str) -> Post {
        self.post_with(Post::new(user_id, channel_id, message))
    }

    /// `user_id` replies in the thread of `root_id`.
    pub fn reply(&self, user_id: &str, channel_id: &str, root_id: &str, message: &str) -> Post {
        let mut post = Post::new(user_id, channel_id, message);
        post.root_id = root_id.to_owned();
        self.post_with(post)
    }

    /// A post as given (files, props, type); the server sets id and times.
    pub fn post_with(&self, post: Post) -> Post {
        self.shared.state.update(|s| s.add_post(post))
    }

    /// `user_id` uploads a file to `channel_id`; returns its id.
    pub fn upload(
        &self,
        user_id: &str,
        channel_id: &str,
        name: &str,
        mime: &str,
        bytes: &[u8],
    ) -> String {
        self.shared.state.update(|s| {
            let id = s.new_id('f');
            s.files.insert(
                id.clone(),
                FileInfo {
                    id: id.clone(),
                    user_id: user_id.to_owned(),
                    channel_id: channel_id.to_owned(),
                    post_id: String::new(),
                    name: name.to_owned(),
                    mime_type: mime.to_owned(),
                    bytes: bytes.to_vec(),
                },
            );
            id
        })
    }

    /// A file uploaded to the fake.
    pub fn file(&self, id: &str) -> Option<FileInfo> {
        self.shared.state.lock().files.get(id).cloned()
    }

    /// Every post in `channel_id` not deleted, oldest first.
    pub fn posts_in(&self, channel_id: &str) -> Vec<Post> {
        let state = self.shared.state.lock();
        state
            .posts
            .iter()
            .filter(|p| p.channel_id == channel_id && p.delete_at == 0)
            .cloned()
            .collect()
    }

    /// Every post of `user_id` not deleted, oldest first.
    pub fn user_posts(&self, user_id: &str) -> Vec<Post> {
        let state = self.shared.state.lock();
        state
            .posts
            .iter()
            .filter(|p| p.user_id == user_id && p.delete_at == 0)
            .cloned()
            .collect()
    }

    /// The bot's posts in `channel_id` not deleted, oldest first.
    pub fn bot_posts(&self, channel_id: &str) -> Vec<Post> {
        self.posts_in(channel_id)
            .into_iter()
            .filter(|p| p.user_id == self.shared.bot_id)
            .collect()
    }

    /// Waits until the bot has at least `n` posts in `channel_id`.
    pub async fn wait_for_posts(&self, channel_id: &str, n: usize) -> Vec<Post> {
        let (bot, channel) = (self.shared.bot_id.clone(), channel_id.to_owned());
        self.shared
            .state
            .wait_for(n, |s| {
                s.posts
                    .iter()
                    .filter(|p| p.channel_id == channel && p.user_id == bot && p.delete_at == 0)
                    .cloned()
                    .collect()
            })
            .await
    }

    /// Waits until the bot's posts in `channel_id` (not deleted, current
    /// text) satisfy `check`; returns them.
    pub async fn wait_for(&self, channel_id: &str, check: impl Fn(&[Post]) -> bool) -> Vec<Post> {
        let (bot, channel) = (self.shared.bot_id.clone(), channel_id.to_owned());
        self.shared
            .state
            .wait_until(|s| {
                let posts: Vec<Post> = s
                    .posts
                    .iter()
                    .filter(|p| p.channel_id == channel && p.user_id == bot && p.delete_at == 0)
                    .cloned()
                    .collect();
                check(&posts).then_some(posts)
            })
            .await
    }

    /// Waits until at least `n` sockets authenticated (resumed ones too).
    pub async fn wait_for_connections(&self, n: usize) -> Vec<SocketRecord> {
        self.shared.state.wait_for(n, |s| s.sockets.clone()).await
    }

    /// Every socket that authenticated, in order.
    pub fn connections(&self) -> Vec<SocketRecord> {
        self.shared.state.lock().sockets.clone()
    }

    /// Waits until at least `n` edits arrived; returns when each did.
    pub async fn wait_for_edits(&self, n: usize) -> Vec<(String, Instant)> {
        self.shared.state.wait_for(n, |s| s.edits.clone()).await
    }

    /// When each edit arrived (tokio clock), by post id.
    pub fn edits(&self) -> Vec<(String, Instant)> {
        self.shared.state.lock().edits.clone()
    }

    /// Waits until at least `n` typing indicators arrived.
    pub async fn wait_for_typing(&self, n: usize) -> Vec<Typing> {
        self.shared.state.wait_for(n, |s| s.typing.clone()).await
    }

    /// Typing indicators received.
    pub fn typing(&self) -> Vec<Typing> {
        self.shared.state.lock().typing.clone()
    }

    /// REST calls received, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.state.lock().calls.clone()
    }

    /// Waits until at least `n` calls of `route` arrived.
    pub async fn wait_for_calls(&self, route: &'static str, n: usize) -> Vec<Call> {
        self.shared
            .state
            .wait_for(n, |s| {
                s.calls
                    .iter()
                    .filter(|c| c.route == route)
                    .cloned()
                    .collect()
            })
            .await
    }

    /// The next call of `route` fails with `fault`. Routes: `users_me`,
    /// `create_post`, `patch_post`, `delete_post`, `get_post`,
    /// `get_channel`, `channel_posts`, `user_channels`, `typing`, `upload_file`,
    /// `get_file`, `file_info`, `websocket`.
    pub fn fail_next(&self, route: &'static str, fault: Fault) {
        self.shared.state.update(|s| s.faults.push(route, fault));
    }

    /// Drops every open websocket without a close frame.
    pub fn drop_sockets(&self) {
        self.shared.state.update(State::drop_sockets);
    }

    /// Drops every socket and forgets every connection, as a restarted
    /// server would: a client's next connection is a new one (`hello`).
    pub fn forget_connections(&self) {
        self.shared.state.update(State::forget_connections);
    }

    /// `ping` actions go unanswered from now on (`true`), as on a
    /// half-dead connection.
    pub fn ignore_pings(&self, ignore: bool) {
        self.shared.state.update(|s| s.ignore_pings = ignore);
    }

    /// `ping` actions received.
    pub fn pings(&self) -> usize {
        self.shared.state.lock().pings
    }

    /// Sends `text` as it is (not numbered) to every open websocket: a
    /// malformed frame.
    pub fn send_raw(&self, text: &str) {
        self.shared
            .state
            .update(|s| s.send_to_sockets(&Outgoing::Text(text.to_owned())));
    }

    /// Sends a numbered event of any kind to every connection.
    pub fn push_event(&self, event: &str, data: &Value) {
        self.shared
            .state
            .update(|s| s.emit(event, data, None, None));
    }

    /// A user edits their post.
    pub fn edit(&self, post_id: &str, message: &str) {
        self.shared
            .state
            .update(|s| rest::apply_edit(s, post_id, message));
    }
}
