//! The fake's state: chats and their messages, the update queue, recorded
//! calls, files, faults and webhook, behind one mutex; and the public
//! records tests read ([`FakeMessage`], [`FakeCall`]).

use super::faults::Fault;
use crate::peer::{FaultQueue, Recorder, Watched};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Deref;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// `date` of a message sent when the fake started (Unix seconds); later
/// messages add the tokio time elapsed since.
const EPOCH_DATE: u64 = 1_700_000_000;

/// The first `update_id` handed out (Telegram's are large numbers too).
pub(crate) const FIRST_UPDATE_ID: i64 = 100_001;

/// One message the bot sent, as the fake recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    pub message_id: i64,
    pub chat_id: i64,
    /// `message_thread_id` it was sent to (forum topic).
    pub thread_id: Option<i64>,
    /// The text as first sent, formatting tags removed (empty for media).
    pub text: String,
    /// The text as first sent, exactly as the bot passed it.
    pub raw_text: String,
    /// The `parse_mode` of the first send.
    pub parse_mode: Option<String>,
    /// The message it replies to.
    pub reply_to: Option<i64>,
    /// Every later text (or caption) it was edited to, tags removed, in order.
    pub edits: Vec<String>,
    /// The raw text and `parse_mode` of every edit, in order.
    pub raw_edits: Vec<(String, Option<String>)>,
    pub deleted: bool,
    /// Sent with `sendPhoto`.
    pub photo: bool,
    /// The file name of a document sent with `sendDocument`.
    pub document: Option<String>,
    /// The caption of a photo or document, tags removed.
    pub caption: Option<String>,
    /// The `file_id` of the photo (largest size) or document, for
    /// [`super::FakeTelegram::file_bytes`].
    pub file_id: Option<String>,
    /// The Bot API method of a voice, audio, video or sticker send
    /// (`sendVoice`, ...); photos and documents say so above.
    pub sent_with: Option<String>,
    /// The formatting entities of the current text (or caption).
    pub entities: Vec<Value>,
    /// The `reply_markup` it was last sent or edited with.
    pub reply_markup: Option<Value>,
}

impl FakeMessage {
    /// The text shown now: the last edit, else the text as sent (the
    /// caption for media).
    pub fn current_text(&self) -> &str {
        match self.edits.last() {
            Some(text) => text,
            None if self.text.is_empty() => self.caption.as_deref().unwrap_or(""),
            None => &self.text,
        }
    }

    /// The raw text of the last edit, else as sent.
    pub fn current_raw_text(&self) -> &str {
        self.raw_edits.last().map_or(&self.raw_text, |(raw, _)| raw)
    }

    /// The `parse_mode` of the last edit, else of the send.
    pub fn current_parse_mode(&self) -> Option<&str> {
        match self.raw_edits.last() {
            Some((_, mode)) => mode.as_deref(),
            None => self.parse_mode.as_deref(),
        }
    }
}

/// One Bot API request the fake received (with the right token), in order
/// of arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCall {
    /// The method as the client spelled it (`sendMessage`).
    pub method: String,
    /// Its parameters from the query, JSON, form or multipart body. Values
    /// from forms are strings, as sent; uploaded files appear as
    /// `{"file_name", "mime_type", "size"}`. Never contains the token.
    pub params: Value,
    /// When it arrived (tokio clock).
    pub at: Instant,
}

/// The bot the fake plays.
#[derive(Debug, Clone)]
pub(crate) struct Bot {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) first_name: String,
}

impl Bot {
    /// The bot as a `User` object.
    pub(crate) fn user_json(&self) -> Value {
        json!({
            "id": self.id,
            "is_bot": true,
            "first_name": self.first_name,
            "username": self.username,
        })
    }
}

/// A chat the fake knows.
#[derive(Debug, Clone)]
pub(crate) struct Chat {
    /// The `Chat` object.
    pub(crate) json: Value,
    /// Message ids count up per chat, shared by users and the bot.
    pub(crate) last_message_id: i64,
    /// Live messages by id, as `Message` objects.
    pub(crate) messages: BTreeMap<i64, Value>,
    /// Forum topics by `message_thread_id`: the topic's creation message.
    pub(crate) topics: BTreeMap<i64, Value>,
}

impl Chat {
    pub(crate) fn new(json: Value) -> Self {
        Self {
            json,
            last_message_id: 0,
            messages: BTreeMap::new(),
            topics: BTreeMap::new(),
        }
    }

    pub(crate) fn next_message_id(&mut self) -> i64 {
        self.last_message_id += 1;
        self.last_message_id
    }

    pub(crate) fn is_forum(&self) -> bool {
        self.json["is_forum"].as_bool().unwrap_or(false)
    }
}

/// One pending update.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The `update_id` the fake confirms it by. Normally the same as the
    /// JSON's; kept apart so a malformed update (served without its id)
    /// still has a place in the queue, as it would at Telegram.
    pub(crate) id: i64,
    pub(crate) update: Value,
    /// Pushed with `push_raw_update`: delivered whatever `allowed_updates` says.
    pub(crate) raw: bool,
}

impl Pending {
    /// The update's kind: its field other than `update_id`.
    pub(crate) fn kind(&self) -> &str {
        self.update
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "update_id"))
            .map_or("", String::as_str)
    }
}

/// A stored file, downloadable once `getFile` gave its path.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) unique_id: String,
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

/// The registered webhook.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub(crate) url: String,
    pub(crate) secret_token: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) last_update_id: i64,
    pub(crate) updates: VecDeque<Pending>,
    /// The highest `offset` a `getUpdates` confirmed with.
    pub(crate) confirmed_offset: i64,
    /// The last `allowed_updates` given (`None`: the default set).
    pub(crate) allowed_updates: Option<Vec<String>>,
    /// Counts `getUpdates` calls; a long poll ends with a conflict when a
    /// newer one arrives.
    pub(crate) poll_generation: u64,
    pub(crate) chats: BTreeMap<i64, Chat>,
    /// Every message the bot sent, in order.
    pub(crate) bot_messages: Vec<FakeMessage>,
    pub(crate) calls: Recorder<FakeCall>,
    /// Requests refused for a wrong token.
    pub(crate) unauthorized_calls: usize,
    /// File downloads asked for (with the right token), answered or not.
    pub(crate) file_downloads: usize,
    /// `(chat_id, action)` of every `sendChatAction`, in order.
    pub(crate) chat_actions: Vec<(i64, String)>,
    /// `(chat_id, message_thread_id, name)` of every topic the bot created.
    pub(crate) topics_created: Vec<(i64, i64, String)>,
    /// Commands by `(scope type, language_code)`.
    pub(crate) commands: BTreeMap<(String, String), Vec<(String, String)>>,
    pub(crate) set_my_commands_calls: usize,
    pub(crate) webhook: Option<Webhook>,
    pub(crate) files: HashMap<String, StoredFile>,
    pub(crate) last_file: u64,
    /// Queued faults by lowercase method (`*`: any).
    pub(crate) faults: FaultQueue<String, Fault>,
    /// Sticky rate limits by lowercase method (`*`: any), until when.
    pub(crate) rate_limits: HashMap<String, Instant>,
    pub(crate) rate_limit_hits: usize,
    /// Lowercase methods (`*`: any) whose successful calls are answered
    /// `{"ok":true,"result":null}`.
    pub(crate) null_results: HashSet<String>,
}

impl State {
    pub(crate) fn new() -> Self {
        Self {
            last_update_id: FIRST_UPDATE_ID - 1,
            ..Self::default()
        }
    }

    /// Queues an update, giving it the next `update_id`; returns the id.
    pub(crate) fn push_update(&mut self, mut update: Value, raw: bool) -> i64 {
        self.last_update_id += 1;
        let id = self.last_update_id;
        if let Some(object) = update.as_object_mut() {
            object.insert("update_id".into(), json!(id));
        }
        self.updates.push_back(Pending { id, update, raw });
        id
    }

    /// Queues `update` to be served exactly as given, under the next
    /// `update_id` (which the JSON does not carry); returns that id.
    pub(crate) fn push_malformed_update(&mut self, update: Value) -> i64 {
        self.last_update_id += 1;
        let id = self.last_update_id;
        self.updates.push_back(Pending {
            id,
            update,
            raw: true,
        });
        id
    }

    pub(crate) fn bot_message_mut(&mut self, chat_id: i64, id: i64) -> Option<&mut FakeMessage> {
        self.bot_messages
            .iter_mut()
            .find(|m| m.chat_id == chat_id && m.message_id == id)
    }

    /// Stores `bytes` as a new file under `dir` (`photos`, `documents`);
    /// returns its `file_id`.
    pub(crate) fn store_file(&mut self, dir: &str, extension: &str, bytes: Vec<u8>) -> String {
        self.last_file += 1;
        let n = self.last_file;
        let file_id = format!("AgAC{n:04}-fake-file-id");
        self.files.insert(
            file_id.clone(),
            StoredFile {
                unique_id: format!("AQAD{n:04}"),
                path: format!("{dir}/file_{n}.{extension}"),
                bytes,
            },
        );
        file_id
    }
}

/// Everything the server, the handle and the users share: the watched
/// state (reached through `Deref`) and what never changes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) token: String,
    pub(crate) bot: Bot,
    state: Watched<State>,
    pub(crate) shutdown: CancellationToken,
    started: Instant,
    /// For webhook deliveries.
    pub(crate) http: reqwest::Client,
}

impl Deref for Shared {
    type Target = Watched<State>;

    fn deref(&self) -> &Watched<State> {
        &self.state
    }
}

impl Shared {
    pub(crate) fn new(token: String, bot: Bot, http: reqwest::Client) -> Self {
        Self {
            token,
            bot,
            state: Watched::new(State::new()),
            shutdown: CancellationToken::new(),
            started: Instant::now(),
            http,
        }
    }

    /// A message `date`: Unix seconds, following the tokio clock.
    pub(crate) fn date(&self) -> u64 {
        EPOCH_DATE + self.started.elapsed().as_secs()
    }
}

/// The value of a JSON object field, as a `Map` for building messages.
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
