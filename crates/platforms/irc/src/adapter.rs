//! [`IrcAdapter`]: IRC as an [`Adapter`] — one connection to the server
//! (`session`), and replies sent on it as PRIVMSG lines.
//!
//! IRC messages cannot be edited or deleted and carry no ids, so the
//! capabilities say so (core sends each reply once, finished) and the
//! ids a send returns are made here, unique per line. Replies are plain
//! text (Markdown taken out by the shared renderer), one PRIVMSG per
//! line, each cut to fit 512 bytes as the server relays it to others,
//! and paced by [`Flood`] so the server's flood protection never
//! disconnects us. In a channel a reply addresses the user it answers
//! (`nick: `).

use crate::ConnectionState;
use crate::config::IrcConfig;
use crate::flood::Flood;
use crate::proto::Line;
use crate::text::{self, CaseMapping, is_channel};
use crate::transport::BoxIo;
use async_trait::async_trait;
use hermod_adapter_kit::Connection;
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger};
use hermod_model::{
    Capabilities, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId, Sent,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncWriteExt, WriteHalf};
use tracing::warn;

/// The longest `user@host` we assume before the server has shown ours:
/// a user name of 10 and a host name of 63 (RFC 2812's limits).
const GUESSED_USER_HOST: usize = 10 + 1 + 63;

/// The longest a line may take to write before the connection is taken
/// for broken.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What we know of the current connection; reset on every connect.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    /// Registered (`001` seen): lines may be sent.
    pub registered: bool,
    /// Our nick now (maybe not the configured one).
    pub nick: String,
    pub mapping: CaseMapping,
    /// Channels we are in: folded name → name as written.
    pub joined: HashMap<String, String>,
    /// The length of `user@host` as the server shows it to others, once
    /// seen (our own JOIN echoes it).
    pub user_host: Option<usize>,
}

impl Live {
    fn new(nick: &str) -> Self {
        Self {
            registered: false,
            nick: nick.to_owned(),
            mapping: CaseMapping::default(),
            joined: HashMap::new(),
            user_host: None,
        }
    }

    /// The length of our `nick!user@host`, or a pessimistic guess.
    fn source_len(&self) -> usize {
        self.nick.len() + 1 + self.user_host.unwrap_or(GUESSED_USER_HOST)
    }
}

/// The IRC adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct IrcAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: IrcConfig,
    connection: Connection,
    flood: Flood,
    live: Mutex<Live>,
    /// The writing half of the connection while there is one.
    writer: tokio::sync::Mutex<Option<WriteHalf<BoxIo>>>,
    /// Unique ids: a per-process prefix and a counter.
    id_prefix: String,
    next_id: AtomicU64,
    /// Where connections come from: the network, or in tests, pipes.
    connector: Connector,
    /// Certificate checks, with TLS.
    tls: Option<hermod_adapter_kit::tls::Tls>,
}

/// Where [`IrcAdapter::open`] gets a connection.
enum Connector {
    Network,
    /// In-memory pipes handed over by a test, one per connection, so
    /// sessions run on paused time.
    #[cfg(test)]
    Pipes(tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<BoxIo>>),
}

impl std::fmt::Debug for IrcAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config's Debug hides its passwords; show the essentials only.
        f.debug_struct("IrcAdapter")
            .field("server", &self.inner.config.server())
            .field("port", &self.inner.config.port())
            .field("nickname", &self.inner.config.nickname)
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl IrcAdapter {
    /// Validates `config` and builds the adapter. Nothing is contacted
    /// until `run`.
    pub fn new(config: IrcConfig) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let tls = crate::transport::tls(&config).map_err(AdapterError::Startup)?;
        let mut connection = Connection::new(crate::PLATFORM, config.max_reconnect_delay());
        for secret in config.secrets() {
            connection = connection.redacting(secret);
        }
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        Ok(Self {
            inner: Arc::new(Inner {
                flood: Flood::new(config.flood_burst, config.flood_interval()),
                live: Mutex::new(Live::new(&config.nickname)),
                config,
                connection,
                writer: tokio::sync::Mutex::new(None),
                id_prefix: format!("{started:x}"),
                next_id: AtomicU64::new(1),
                connector: Connector::Network,
                tls,
            }),
        })
    }

    /// An adapter whose connections are the pipes sent on the returned
    /// channel, one per connection attempt.
    #[cfg(test)]
    pub(crate) fn piped(config: IrcConfig) -> (Self, tokio::sync::mpsc::UnboundedSender<BoxIo>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let adapter = Self::new(config).unwrap_or_else(|e| panic!("{e}"));
        let mut inner = Arc::try_unwrap(adapter.inner).unwrap_or_else(|_| unreachable!());
        inner.connector = Connector::Pipes(tokio::sync::Mutex::new(rx));
        (
            Self {
                inner: Arc::new(inner),
            },
            tx,
        )
    }

    /// A new connection to the server.
    pub(crate) async fn open(&self) -> Result<BoxIo, String> {
        match &self.inner.connector {
            Connector::Network => {
                crate::transport::connect(self.config(), self.inner.tls.as_ref()).await
            }
            #[cfg(test)]
            Connector::Pipes(pipes) => pipes
                .lock()
                .await
                .recv()
                .await
                .ok_or_else(|| "no more pipes".to_owned()),
        }
    }

    /// The state of the connection to the server, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    /// Our nick on the server now (the configured one, or a variant when
    /// it was taken).
    pub fn nick(&self) -> String {
        self.live().nick.clone()
    }

    pub(crate) fn config(&self) -> &IrcConfig {
        &self.inner.config
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn flood(&self) -> &Flood {
        &self.inner.flood
    }

    pub(crate) fn live(&self) -> MutexGuard<'_, Live> {
        // Every update leaves the state consistent.
        self.inner
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh connection: its writer installed, what we knew forgotten.
    pub(crate) async fn attach(&self, writer: WriteHalf<BoxIo>) {
        *self.live() = Live::new(&self.config().nickname);
        *self.inner.writer.lock().await = Some(writer);
    }

    /// The connection ended: sends fail fast until the next one.
    pub(crate) async fn detach(&self) {
        self.live().registered = false;
        if let Some(mut writer) = self.inner.writer.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), writer.shutdown()).await;
        }
    }

    /// A unique id (IRC has none): per process and counter.
    pub(crate) fn fresh_id(&self) -> String {
        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.inner.id_prefix)
    }

    /// Writes one line now, unpaced (PONG, registration).
    pub(crate) async fn write_now(&self, line: &Line) -> Result<(), AdapterError> {
        let mut writer = self.inner.writer.lock().await;
        let Some(stream) = writer.as_mut() else {
            return Err(not_connected());
        };
        let mut bytes = Vec::with_capacity(line.as_str().len() + 2);
        bytes.extend_from_slice(line.as_str().as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let written = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                *writer = None;
                Err(AdapterError::Transient(format!(
                    "the connection to the IRC server broke: {e}"
                )))
            }
            Err(_) => {
                *writer = None;
                Err(AdapterError::Transient(
                    "writing to the IRC server took longer than 30 s".into(),
                ))
            }
        }
    }

    /// Writes one line in its flood slot.
    pub(crate) async fn write_paced(&self, line: &Line) -> Result<(), AdapterError> {
        self.flood().acquire().await;
        self.write_now(line).await
    }

    /// Where a send to `chat` may go, and how many bytes of text fit in
    /// each of its lines after `prefix`.
    fn route(&self, chat: &str, prefix: &str) -> Result<usize, AdapterError> {
        let live = self.live();
        if !live.registered {
            return Err(not_connected());
        }
        if is_channel(chat) && !live.joined.contains_key(&live.mapping.fold(chat)) {
            return Err(AdapterError::NotFound(format!(
                "{chat} is not a channel the bot is in; IRC_CHANNEL lists the channels it joins"
            )));
        }
        let room = text::room(live.source_len(), chat).min(self.config().max_message_length);
        Ok(room.saturating_sub(prefix.len()))
    }
}

fn not_connected() -> AdapterError {
    AdapterError::Transient("not connected to the IRC server; it is being reconnected".into())
}

#[async_trait]
impl Adapter for IrcAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: self.config().max_message_length,
            length_unit: LengthUnit::Bytes,
            can_edit: false,
            can_delete: false,
            markdown: MarkdownDialect::Plain,
            command_prefix: '/',
            multi_message: true,
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
impl Messenger for IrcAdapter {
    /// Sends the text as plain text, one PRIVMSG per line, each cut to
    /// fit; in a channel each line addresses the user answered.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let chat = message.target.chat_id.as_str();
        let prefix = match crate::inbound::asker(message.reply_to.as_deref()) {
            Some(nick) if is_channel(chat) => format!("{nick}: "),
            _ => String::new(),
        };
        let room = self.route(chat, &prefix)?;
        let plain = hermod_render::to_plain(&message.text);
        let mut lines = Vec::new();
        for piece in text::lines(&plain, room) {
            let text = format!("{prefix}{piece}");
            let line = Line::new("PRIVMSG", &[chat], Some(&text))
                .map_err(|e| AdapterError::Rejected(format!("cannot send to {chat:?}: {e}")))?;
            lines.push(line);
        }
        let mut message_ids = Vec::new();
        for line in &lines {
            if let Err(e) = self.write_paced(line).await {
                if message_ids.is_empty() {
                    return Err(e);
                }
                // Sent in part: sending all of it again would repeat what
                // went out, so the rest is dropped (at most once).
                warn!(
                    sent = message_ids.len(),
                    total = lines.len(),
                    error = %e,
                    "a reply was sent in part; the rest is dropped rather than repeated"
                );
                break;
            }
            message_ids.push(self.fresh_id());
        }
        Ok(Sent { message_ids })
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("IRC messages cannot be edited"))
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("IRC messages cannot be deleted"))
    }
}
