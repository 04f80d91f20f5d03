//! What the model is given of a message's files.
//!
//! Before a new user message is stored, core hands it to the gateway's
//! [`MediaReader`], which turns its attachments into what the model can
//! take: images as image parts (or descriptions), documents as text, voice
//! messages as their transcripts. What it returns is the stored user
//! message, so a turn resumed after a restart never reads a file twice,
//! and the conversation keeps what was read even after the media
//! directory's retention removed the files.
//!
//! Core's own reader, [`NotesOnly`], reads no file: each attachment
//! becomes a line naming it. The binary installs one that reads them.

use async_trait::async_trait;
use hermod_model::{Attachment, Content, ContentPart, ImageUrl, InboundEvent};
use tokio_util::sync::CancellationToken;

/// Turns a message and its files into the content the model sees.
#[async_trait]
pub trait MediaReader: Send + Sync + 'static {
    /// Reads `event`'s attachments. Never fails: what cannot be read
    /// becomes a note in the content and a line in
    /// [`MediaRead::notices`]. `cancel` is cancelled when the gateway stops
    /// running turns.
    async fn read(&self, event: &InboundEvent, cancel: &CancellationToken) -> MediaRead;
}

/// A message as the model is to see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRead {
    /// The user message's content.
    pub content: Content,
    /// Lines for the chat before the reply: transcripts echoed back, files
    /// that could not be read and why.
    pub notices: Vec<String>,
    /// Nothing is left for the model to answer (say, a voice message
    /// alone whose transcription failed): the notices are the whole reply,
    /// and no turn runs.
    pub unanswerable: bool,
}

impl MediaRead {
    /// Content to answer, with nothing to tell the chat.
    pub fn content(content: Content) -> Self {
        Self {
            content,
            notices: Vec::new(),
            unanswerable: false,
        }
    }
}

/// The reader that reads no file: each attachment becomes a line
/// `[attached photo: <where> (<type>)]`, and a photo given as a URL
/// (`http…` or `data:`) is also an image part.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotesOnly;

#[async_trait]
impl MediaReader for NotesOnly {
    async fn read(&self, event: &InboundEvent, _cancel: &CancellationToken) -> MediaRead {
        MediaRead::content(notes_only(event))
    }
}

/// The line that stands for an attachment nobody read.
pub fn attachment_note(attachment: &Attachment) -> String {
    let mime = attachment
        .mime_type
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    format!(
        "[attached {}: {}{mime}]",
        attachment.kind.noun(),
        attachment.location
    )
}

/// `event`'s content with a line for each attachment ([`NotesOnly`]).
pub(crate) fn notes_only(event: &InboundEvent) -> Content {
    if event.attachments.is_empty() {
        return event.content.clone();
    }
    let mut text = event.content.text();
    let mut images = Vec::new();
    for a in &event.attachments {
        text.push('\n');
        text.push_str(&attachment_note(a));
        if a.kind == hermod_model::AttachmentKind::Photo
            && (a.location.starts_with("http") || a.location.starts_with("data:"))
        {
            images.push(ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: a.location.clone(),
                    detail: None,
                },
            });
        }
    }
    let text = text.trim_start().to_owned();
    if images.is_empty() {
        return Content::Text(text);
    }
    let mut parts = vec![ContentPart::Text { text }];
    parts.extend(images);
    Content::Parts(parts)
}
