//! [`FakeTelegram`]: a stateful fake of the Telegram Bot API on a local
//! port, for testing a Telegram adapter over real HTTP.
//!
//! Clients call `{base_url}/bot{token}/{method}` (GET with a query, or POST
//! with JSON, a form or a multipart body) and download files from
//! `{base_url}/file/bot{token}/{file_path}`. Answers have the Bot API's
//! shape (`{"ok":true,"result":..}` or `{"ok":false,"error_code":..,
//! "description":..}`) and its wording: wrong token 401, unknown method
//! 404, bad parameters 400 (`chat not found`, `message is too long` over
//! 4096 UTF-16 code units, `can't parse entities` for bad HTML, `message is
//! not modified`, ...), a webhook in the way of `getUpdates` 409.
//!
//! Users ([`FakeTelegram::user`]) write DMs, group and topic messages,
//! replies, photos and documents; each becomes an update in a queue that
//! `getUpdates` serves with offsets, `limit`, `allowed_updates` and long
//! polling on the tokio clock. Everything the bot sends, edits and deletes
//! is recorded per chat ([`FakeTelegram::bot_messages`]), with every call
//! ([`FakeTelegram::calls`]); the `wait_for*` methods are woken by changes
//! and never poll. Failures are scripted per method
//! ([`FakeTelegram::fail_next`], [`FakeTelegram::rate_limit`]), and so are
//! successes answered without a `result`
//! ([`FakeTelegram::answer_without_result`]).
//!
//! The server is listening when [`FakeTelegram::start`] returns and stops
//! when the handle is dropped.

mod faults;
mod files;
mod html;
mod methods;
mod sends;
mod server;
mod state;
mod topics;
mod updates;
mod users;

pub use faults::Fault;
pub use state::{FakeCall, FakeMessage};
pub use users::FakeUser;

use serde_json::Value;
use state::{Bot, Chat, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The token [`FakeTelegram::start`] accepts.
pub const DEFAULT_TOKEN: &str = "123456:TEST-TOKEN";
/// The bot's username.
pub const BOT_USERNAME: &str = "hermod_test_bot";

/// A running fake Bot API server. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl FakeTelegram {
    /// A server for the bot `123456:TEST-TOKEN` (id 123456,
    /// `@hermod_test_bot`, "Hermod"), accepting connections when this
    /// returns.
    pub async fn start() -> Self {
        Self::with_token(DEFAULT_TOKEN).await
    }

    /// A server for another token; the bot id is the part before the `:`.
    pub async fn with_token(token: &str) -> Self {
        let id = token
            .split_once(':')
            .and_then(|(id, _)| id.parse().ok())
            .unwrap_or(123_456);
        let bot = Bot {
            id,
            username: BOT_USERNAME.to_owned(),
            first_name: "Hermod".to_owned(),
        };
        let http = hermod_http::HttpClient::new()
            .expect("an HTTP client for webhook deliveries")
            .reqwest()
            .clone();
        let shared = Arc::new(Shared::new(token.to_owned(), bot, http));
        let addr = server::start(shared.clone()).await;
        Self { shared, addr }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> String {
        self.shared.token.clone()
    }

    pub fn bot_id(&self) -> i64 {
        self.shared.bot.id
    }

    pub fn bot_username(&self) -> String {
        self.shared.bot.username.clone()
    }

    /// A user; their username is `first_name` in lowercase.
    pub fn user(&self, id: i64, first_name: &str) -> FakeUser {
        FakeUser::new(self.shared.clone(), id, first_name, false)
    }

    /// Another bot writing (`from.is_bot` is true; its username ends in `bot`).
    pub fn other_bot(&self, id: i64, first_name: &str) -> FakeUser {
        FakeUser::new(self.shared.clone(), id, first_name, true)
    }

    /// A message from another bot (id 424242, `@relay_bot`) in the
    /// group `chat_id`; returns its id.
    pub fn from_bot(&self, chat_id: i64, text: &str) -> i64 {
        self.other_bot(424_242, "Relay").in_group(chat_id, text)
    }

    /// Makes a chat known, so the bot can write to it before anyone wrote:
    /// private for a positive id, a supergroup for a negative one.
    pub fn open_chat(&self, chat_id: i64) {
        let json = if chat_id > 0 {
            serde_json::json!({"id": chat_id, "first_name": format!("User {chat_id}"), "type": "private"})
        } else {
            serde_json::json!({"id": chat_id, "title": format!("Group {chat_id}"), "type": "supergroup"})
        };
        self.shared.update(|s| {
            s.chats.entry(chat_id).or_insert_with(|| Chat::new(json));
        });
    }

    /// Queues an update as given (its `update_id` is replaced by the next
    /// one, which is returned). It is delivered whatever `allowed_updates`
    /// says, so adapters meet kinds they do not know.
    pub fn push_raw_update(&self, update: Value) -> i64 {
        self.shared.update(|s| s.push_update(update, true))
    }

    /// Queues `update` exactly as given, without the `update_id` Telegram
    /// always adds (or with whatever it already holds), as a malformed
    /// update would arrive. It takes the next id's place in the queue, so
    /// it is confirmed by an `offset` past that id (returned), and until
    /// then served again like any other update.
    pub fn push_malformed_update(&self, update: Value) -> i64 {
        self.shared.update(|s| s.push_malformed_update(update))
    }

    /// Updates queued and not yet confirmed.
    pub fn pending_updates(&self) -> Vec<Value> {
        let s = self.shared.lock();
        s.updates.iter().map(|u| u.update.clone()).collect()
    }

    /// The highest `offset` a `getUpdates` confirmed with (0 before any).
    pub fn confirmed_offset(&self) -> i64 {
        self.shared.lock().confirmed_offset
    }

    /// Waits until `getUpdates` confirmed every update up to `update_id`.
    pub async fn wait_for_confirmed(&self, update_id: i64) {
        self.shared
            .wait_until(|s| (s.confirmed_offset > update_id).then_some(()))
            .await;
    }

    /// The last `allowed_updates` a `getUpdates` or `setWebhook` gave.
    pub fn allowed_updates(&self) -> Option<Vec<String>> {
        self.shared.lock().allowed_updates.clone()
    }

    /// Every message the bot sent to `chat_id` (all topics), deleted ones
    /// included, in order.
    pub fn bot_messages(&self, chat_id: i64) -> Vec<FakeMessage> {
        chat_messages(&self.shared.lock(), chat_id)
    }

    /// Every message the bot sent anywhere, in order.
    pub fn all_bot_messages(&self) -> Vec<FakeMessage> {
        self.shared.lock().bot_messages.clone()
    }

    /// Waits until the bot sent at least `n` messages to `chat_id`.
    pub async fn wait_for_bot_messages(&self, chat_id: i64, n: usize) -> Vec<FakeMessage> {
        self.wait_for(chat_id, |messages| messages.len() >= n).await
    }

    /// Waits until the bot's messages in `chat_id` satisfy `done`.
    pub async fn wait_for(
        &self,
        chat_id: i64,
        done: impl Fn(&[FakeMessage]) -> bool,
    ) -> Vec<FakeMessage> {
        self.shared
            .wait_until(|s| {
                let messages = chat_messages(s, chat_id);
                done(&messages).then_some(messages)
            })
            .await
    }

    /// Every call, in order of arrival.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.lock().calls.all()
    }

    /// The calls of `method` (case-insensitive), in order.
    pub fn calls_of(&self, method: &str) -> Vec<FakeCall> {
        calls_of(&self.shared.lock(), method)
    }

    /// Waits until `method` (case-insensitive) was called `n` times.
    pub async fn wait_for_calls(&self, method: &str, n: usize) -> Vec<FakeCall> {
        self.shared.wait_for(n, |s| calls_of(s, method)).await
    }

    /// Waits until the bot receives updates: a `getUpdates` call arrived
    /// or a webhook is set.
    pub async fn wait_for_receiver(&self) {
        self.shared
            .wait_until(|s| {
                let polled = s.calls.any(|c| c.method.eq_ignore_ascii_case("getUpdates"));
                (polled || s.webhook.is_some()).then_some(())
            })
            .await;
    }

    /// Requests refused for a wrong token.
    pub fn unauthorized_calls(&self) -> usize {
        self.shared.lock().unauthorized_calls
    }

    /// File downloads (`/file/bot<token>/<path>`) asked for, answered or not.
    pub fn file_downloads(&self) -> usize {
        self.shared.lock().file_downloads
    }

    /// The actions of every `sendChatAction` to `chat_id`, in order.
    pub fn chat_actions(&self, chat_id: i64) -> Vec<String> {
        let s = self.shared.lock();
        s.chat_actions
            .iter()
            .filter(|(chat, _)| *chat == chat_id)
            .map(|(_, action)| action.clone())
            .collect()
    }

    /// `(message_thread_id, name)` of every forum topic the bot created in
    /// `chat_id` (`createForumTopic`), in order.
    pub fn topics_created(&self, chat_id: i64) -> Vec<(i64, String)> {
        let s = self.shared.lock();
        s.topics_created
            .iter()
            .filter(|(chat, _, _)| *chat == chat_id)
            .map(|(_, thread, name)| (*thread, name.clone()))
            .collect()
    }

    /// The commands set for the default scope and no language.
    pub fn my_commands(&self) -> Vec<(String, String)> {
        let s = self.shared.lock();
        let key = ("default".to_owned(), String::new());
        s.commands.get(&key).cloned().unwrap_or_default()
    }

    /// How many `setMyCommands` calls succeeded.
    pub fn set_my_commands_calls(&self) -> usize {
        self.shared.lock().set_my_commands_calls
    }

    /// The registered webhook: its URL and secret token.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        let s = self.shared.lock();
        s.webhook
            .as_ref()
            .map(|w| (w.url.clone(), w.secret_token.clone()))
    }

    /// The bytes of a stored file (uploads the bot sent included).
    pub fn file_bytes(&self, file_id: &str) -> Option<Vec<u8>> {
        let s = self.shared.lock();
        s.files.get(file_id).map(|f| f.bytes.clone())
    }

    /// Answers a coming call of `method` (case-insensitive; `*` for any
    /// method, used after the method's own queue) with `fault`. Queued
    /// faults are used one per call, in order. `download` names file
    /// downloads, which `*` does not cover.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        let key = method.to_ascii_lowercase();
        self.shared.update(|s| s.faults.push(key, fault));
    }

    /// Answers every call of `method` (`*`: any) within `window` from now
    /// (tokio clock) with 429 and the whole seconds left as `retry_after`.
    pub fn rate_limit(&self, method: &str, window: Duration) {
        let key = method.to_ascii_lowercase();
        let until = Instant::now() + window;
        self.shared.update(|s| s.rate_limits.insert(key, until));
    }

    /// Answers every successful call of `method` (case-insensitive; `*`
    /// for any) with `{"ok":true,"result":null}`, as some Bot API proxies
    /// and emulators do: the call takes effect (a message is sent or
    /// edited) but its `result` is not given back. Telegram documents a
    /// `Message` (or `True`) for these methods; a client must take `ok`
    /// as the success it is. Failures are answered as usual.
    pub fn answer_without_result(&self, method: &str) {
        let key = method.to_ascii_lowercase();
        self.shared.update(|s| s.null_results.insert(key));
    }

    /// Ends [`FakeTelegram::answer_without_result`] for every method.
    pub fn answer_with_results(&self) {
        self.shared.update(|s| s.null_results.clear());
    }

    /// Ends the rate limits set with [`FakeTelegram::rate_limit`].
    pub fn clear_rate_limits(&self) {
        self.shared.update(|s| s.rate_limits.clear());
    }

    /// How many 429 answers were served (rate limits and faults).
    pub fn rate_limit_hits(&self) -> usize {
        self.shared.lock().rate_limit_hits
    }

    /// POSTs `update` to the registered webhook with the secret token
    /// header; an update without `update_id` gets the next one.
    ///
    /// # Panics
    /// When no webhook is set or the request fails (see
    /// [`FakeTelegram::try_deliver_webhook`]).
    pub async fn deliver_webhook(&self, update: Value) -> reqwest::StatusCode {
        self.try_deliver_webhook(update)
            .await
            .unwrap_or_else(|e| panic!("delivering to the webhook failed: {e}"))
    }

    /// Like [`FakeTelegram::deliver_webhook`], with failures as errors.
    pub async fn try_deliver_webhook(
        &self,
        mut update: Value,
    ) -> Result<reqwest::StatusCode, String> {
        let (webhook, id) = self.shared.update(|s| {
            let id = match update["update_id"].as_i64() {
                Some(id) => id,
                None => {
                    s.last_update_id += 1;
                    s.last_update_id
                }
            };
            (s.webhook.clone(), id)
        });
        let webhook = webhook.ok_or("no webhook is set")?;
        update["update_id"] = serde_json::json!(id);
        let mut request = self.shared.http.post(&webhook.url).json(&update);
        if let Some(secret) = &webhook.secret_token {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        Ok(response.status())
    }

    /// Delivers every queued update to the webhook, in order, dropping the
    /// ones answered with a 2xx status; returns the statuses.
    pub async fn deliver_pending_webhook(&self) -> Vec<reqwest::StatusCode> {
        let pending: Vec<(i64, Value)> = {
            let s = self.shared.lock();
            s.updates.iter().map(|u| (u.id, u.update.clone())).collect()
        };
        let mut statuses = Vec::new();
        for (id, update) in pending {
            let status = self.deliver_webhook(update).await;
            if status.is_success() {
                self.shared.update(|s| s.updates.retain(|u| u.id != id));
            }
            statuses.push(status);
        }
        statuses
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

fn chat_messages(s: &state::State, chat_id: i64) -> Vec<FakeMessage> {
    s.bot_messages
        .iter()
        .filter(|m| m.chat_id == chat_id)
        .cloned()
        .collect()
}

fn calls_of(s: &state::State, method: &str) -> Vec<FakeCall> {
    s.calls.matching(|c| c.method.eq_ignore_ascii_case(method))
}
