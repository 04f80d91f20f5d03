//! [`InboundEvent`]: what every source (chat platform, API, cron, webhook)
//! turns its input into before handing it to the router.

use crate::ids::SessionId;
use crate::message::{ChatMessage, Content};
use crate::session_key::SessionKey;
use crate::source::Source;
use serde::{Deserialize, Serialize};

/// Per-turn model options a source may set (the API server passes the
/// client's request fields through).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnOptions {
    /// Upstream model to use instead of the configured default.
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
    /// How hard a reasoning model thinks (OpenAI's `reasoning_effort`:
    /// `none`, `minimal`, `low`, `medium`, `high`, `xhigh`); sent only when
    /// set, since models without reasoning refuse the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
}

/// What kind of file an attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Photo,
    Document,
    Audio,
    Voice,
    Video,
    /// A chat sticker: an image (or animation) sent as a reaction-like
    /// message, often the same one again and again.
    Sticker,
}

impl AttachmentKind {
    /// How the kind reads in a sentence: `photo`, `voice message`.
    pub fn noun(self) -> &'static str {
        match self {
            AttachmentKind::Photo => "photo",
            AttachmentKind::Document => "file",
            AttachmentKind::Audio => "audio file",
            AttachmentKind::Voice => "voice message",
            AttachmentKind::Video => "video",
            AttachmentKind::Sticker => "sticker",
        }
    }
}

/// A file that came with a message (already downloaded by the adapter), or
/// one to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// Local path (under `HERMOD_HOME/media/`) or URL.
    pub location: String,
    pub mime_type: Option<String>,
    /// The file's name as its sender gave it, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The platform's stable id of the file's content (the same file, the
    /// same id, whoever sends it): what caches of descriptions key on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Words the platform gives with the file: a sticker's emoji and set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Attachment {
    /// An attachment of `kind` at `location`, with nothing else known.
    pub fn new(kind: AttachmentKind, location: impl Into<String>) -> Self {
        Self {
            kind,
            location: location.into(),
            mime_type: None,
            file_name: None,
            unique_id: None,
            label: None,
        }
    }

    /// With its MIME type.
    pub fn with_mime(mut self, mime: impl Into<String>) -> Self {
        self.mime_type = Some(mime.into());
        self
    }
}

/// One message arriving at the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub source: Source,
    /// The new user input of this turn.
    pub content: Content,
    /// The platform's id for this message, when it has one.
    pub message_id: Option<String>,
    /// A session the source asks to continue or create under this id (the
    /// API server's session header). Without it the router picks the session
    /// from the routing table.
    pub session_id: Option<SessionId>,
    /// Conversation history supplied by the source itself (a stateless API
    /// request). When set, the router starts a fresh session seeded with it
    /// instead of loading history from the store.
    pub history: Option<Vec<ChatMessage>>,
    /// A system prompt for this turn only, layered on top of the configured one.
    pub system_prompt: Option<String>,
    pub options: TurnOptions,
    /// Files that came with the message; the text is their caption.
    pub attachments: Vec<Attachment>,
    /// Routes the event under this key instead of the one built from the
    /// source (internal events such as background tasks that must not
    /// queue behind the chat's own conversation).
    pub route: Option<SessionKey>,
    /// Answer without storing anything: no session is created or continued,
    /// neither the input nor the reply is recorded, and the turn's history
    /// is `history` alone. For one-off requests (a web UI asking for a
    /// chat title) that would otherwise fill the session list. Honoured for
    /// streamed submissions, whose answer needs no delivery record.
    #[serde(default)]
    pub ephemeral: bool,
    /// The platform vouches for the sender (a member of a role the operator
    /// allowed): allowed like an allowlisted user.
    #[serde(default)]
    pub vouched: bool,
}

impl InboundEvent {
    /// A plain text message from `source`.
    pub fn text(source: Source, text: impl Into<String>) -> Self {
        Self {
            source,
            content: Content::Text(text.into()),
            message_id: None,
            session_id: None,
            history: None,
            system_prompt: None,
            options: TurnOptions::default(),
            attachments: Vec::new(),
            route: None,
            ephemeral: false,
            vouched: false,
        }
    }
}
