//! [`EmailAdapter`]: email as an [`Adapter`] — receiving over IMAP
//! (`receive`) and replying over SMTP (`send`).
//!
//! Mail cannot be edited or deleted once sent, so the capabilities say so
//! and core sends each reply once, finished, instead of streaming edits.
//! A reply longer than 50,000 characters (Hermes' limit, safe for every
//! provider) is sent as several mails in the thread.

use crate::ConnectionState;
use crate::config::EmailConfig;
use crate::error::EmailError;
use crate::mail::outbound::ThreadContext;
use async_trait::async_trait;
use hermod_adapter_kit::tls::Tls;
use hermod_adapter_kit::{AdapterState, Connection, Limit, MediaDir, Pacer, PacerLimits, StateKey};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger};
use hermod_model::{
    Capabilities, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId, Sent,
};
use hermod_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The longest mail body sent, in characters (Hermes' limit).
pub const MAX_MESSAGE_CHARS: usize = 50_000;

/// What a reply in a thread needs, per thread root.
const THREAD: StateKey<ThreadContext> = StateKey::new("thread");

/// Mail providers limit submissions to a few hundred an hour; a chat's
/// replies stay well below.
fn limits() -> PacerLimits {
    PacerLimits {
        per_chat: Limit::per(30, Duration::from_secs(60)),
        per_group: None,
        global: Limit::per(120, Duration::from_secs(60)),
        send_reserve: 0,
        max_wait: Duration::from_secs(10),
    }
}

/// The email adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct EmailAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: EmailConfig,
    tls: Tls,
    store: Arc<dyn Store>,
    media: MediaDir,
    pacer: Pacer,
    connection: Connection,
}

impl std::fmt::Debug for EmailAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailAdapter")
            .field("address", &self.inner.config.address())
            .field("imap_host", &self.inner.config.imap_host())
            .field("smtp_host", &self.inner.config.smtp_host())
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl EmailAdapter {
    /// Validates `config` and builds the adapter; the IMAP cursor and
    /// threads are kept in `store`'s settings. Nothing is contacted until
    /// `run` or a send.
    pub fn new(config: EmailConfig, store: Arc<dyn Store>) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let tls = crate::net::tls(&config).map_err(|e| AdapterError::Startup(e.to_string()))?;
        let connection = Connection::new(crate::PLATFORM, config.max_reconnect_delay())
            .redacting(config.password());
        let media = MediaDir::new(config.media_dir(), config.media_max_bytes());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                tls,
                store,
                media,
                pacer: Pacer::new(limits()),
                connection,
            }),
        })
    }

    /// The state of the connection to the IMAP server, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &EmailConfig {
        &self.inner.config
    }

    pub(crate) fn tls(&self) -> &Tls {
        &self.inner.tls
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn media(&self) -> &MediaDir {
        &self.inner.media
    }

    pub(crate) fn pacer(&self) -> &Pacer {
        &self.inner.pacer
    }

    /// The stored context of the thread rooted at `root`.
    pub(crate) fn thread_state(&self, root: &str) -> AdapterState<ThreadContext> {
        AdapterState::new(
            Arc::clone(self.store()),
            &crate::PLATFORM,
            THREAD.scoped(root),
        )
    }

    /// An error for an operator, secrets masked.
    pub(crate) fn masked(&self, e: EmailError) -> AdapterError {
        let masked = |m: String| self.connection().redact(&m);
        match AdapterError::from(e) {
            AdapterError::Transient(m) => AdapterError::Transient(masked(m)),
            AdapterError::Rejected(m) => AdapterError::Rejected(masked(m)),
            AdapterError::Auth(m) => AdapterError::Auth(masked(m)),
            AdapterError::Startup(m) => AdapterError::Startup(masked(m)),
            other => other,
        }
    }
}

#[async_trait]
impl Adapter for EmailAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE_CHARS,
            length_unit: LengthUnit::Chars,
            can_edit: false,
            can_delete: false,
            markdown: MarkdownDialect::Plain,
            command_prefix: '/',
            files: true,
            // A reply's text and its first file go in one mail.
            caption_len: MAX_MESSAGE_CHARS,
            multi_message: true,
            // `jane` in EMAIL_ALLOWED_USERS must not admit jane@anywhere.
            user_ids_are_addresses: true,
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
impl Messenger for EmailAdapter {
    /// Mails the reply to the chat's address, threaded, with its files.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        self.send_mail(message).await
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("mail cannot be edited once sent"))
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("mail cannot be unsent"))
    }
}
