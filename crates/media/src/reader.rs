//! [`Reader`]: the gateway's [`MediaReader`].

use crate::describe::{Describer, Subject};
use crate::document::{self, DocumentError};
use crate::image::{self, ScaledImage};
use crate::worker::PdfWorker;
use async_trait::async_trait;
use hermod_agent::{AgentError, Audio, Transcriber};
use hermod_core::{MediaRead, MediaReader, attachment_note};
use hermod_model::{Attachment, AttachmentKind, Content, ContentPart, ImageUrl, InboundEvent};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The longest edge of an image sent to a model unless configured: what
/// the large vision models work at without scaling again.
pub const DEFAULT_MAX_IMAGE_EDGE: u32 = 1568;

/// The most characters of one document's text given to the model unless
/// configured (about 8,000 tokens).
pub const DEFAULT_DOCUMENT_MAX_CHARS: usize = 30_000;

/// The longest one file's decoding or parsing may take.
const DECODE_LIMIT: Duration = Duration::from_secs(60);

/// The largest image file read at all; a bigger one is named, not decoded.
const MAX_IMAGE_FILE: u64 = 50 * 1024 * 1024;

/// How images reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageInput {
    /// As image parts of the user message: the model can see.
    Native,
    /// As descriptions written by the vision model (or, without one, a
    /// note that an image was sent): the model cannot see.
    Text,
}

/// What [`Reader`] does with files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderConfig {
    pub images: ImageInput,
    /// Images are scaled down so their longest edge is at most this.
    pub max_image_edge: u32,
    /// The most characters of a document's text inlined.
    pub document_max_chars: usize,
    /// Send each transcript back to the chat before the reply.
    pub echo_transcripts: bool,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            images: ImageInput::Native,
            max_image_edge: DEFAULT_MAX_IMAGE_EDGE,
            document_max_chars: DEFAULT_DOCUMENT_MAX_CHARS,
            echo_transcripts: false,
        }
    }
}

/// Reads a message's files for the model: see the crate's documentation.
#[derive(Debug, Clone)]
pub struct Reader {
    config: ReaderConfig,
    transcriber: Option<Transcriber>,
    describer: Option<Describer>,
    pdf_worker: Option<PdfWorker>,
}

impl Reader {
    /// A reader with neither speech to text nor a vision model.
    pub fn new(config: ReaderConfig) -> Self {
        Self {
            config,
            transcriber: None,
            describer: None,
            pdf_worker: None,
        }
    }

    /// PDFs are read by `worker`, in a child process, rather than in this
    /// one (see [`crate::worker`]).
    pub fn with_pdf_worker(mut self, worker: PdfWorker) -> Self {
        self.pdf_worker = Some(worker);
        self
    }

    /// Voice and audio are transcribed by `transcriber`.
    pub fn with_transcriber(mut self, transcriber: Transcriber) -> Self {
        self.transcriber = Some(transcriber);
        self
    }

    /// Images the model cannot see, and stickers, are described by
    /// `describer`.
    pub fn with_describer(mut self, describer: Describer) -> Self {
        self.describer = Some(describer);
        self
    }
}

/// What one attachment became.
#[derive(Debug, Default)]
struct Read {
    /// Lines for the text of the user message.
    text: Vec<String>,
    /// An image part.
    image: Option<ScaledImage>,
    /// A line for the chat.
    notice: Option<String>,
    /// Something the model can answer came of it.
    answerable: bool,
}

impl Read {
    fn note(line: String) -> Self {
        Self {
            text: vec![line],
            answerable: true,
            ..Self::default()
        }
    }

    /// A file that could not be read: a note for the model, the reason for
    /// the chat.
    fn failed(line: String, notice: String) -> Self {
        Self {
            text: vec![line],
            notice: Some(notice),
            ..Self::default()
        }
    }
}

#[async_trait]
impl MediaReader for Reader {
    async fn read(&self, event: &InboundEvent, cancel: &CancellationToken) -> MediaRead {
        let typed = event.content.text();
        let mut answerable = !typed.trim().is_empty();
        let mut lines = Vec::new();
        let mut images = Vec::new();
        let mut notices = Vec::new();
        for attachment in &event.attachments {
            let read = self.read_one(attachment, cancel).await;
            answerable |= read.answerable;
            lines.extend(read.text);
            images.extend(read.image);
            notices.extend(read.notice);
        }
        let mut text = typed.trim().to_owned();
        for line in lines {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
        }
        // Parts the source sent itself (the HTTP API's image parts) stay.
        let mut parts: Vec<ContentPart> = match &event.content {
            Content::Parts(parts) => parts
                .iter()
                .filter(|p| !matches!(p, ContentPart::Text { .. }))
                .cloned()
                .collect(),
            Content::Text(_) => Vec::new(),
        };
        parts.extend(images.into_iter().map(|image| ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: image.data_url,
                detail: None,
            },
        }));
        let content = if parts.is_empty() {
            Content::Text(text)
        } else {
            let mut all = vec![ContentPart::Text { text }];
            all.extend(parts);
            Content::Parts(all)
        };
        MediaRead {
            content,
            notices,
            unanswerable: !answerable,
        }
    }
}

impl Reader {
    async fn read_one(&self, attachment: &Attachment, cancel: &CancellationToken) -> Read {
        let Some(path) = local_path(attachment) else {
            // A URL the source passed on: the model fetches it or not.
            return Read::note(attachment_note(attachment));
        };
        match attachment.kind {
            AttachmentKind::Voice | AttachmentKind::Audio => {
                self.transcribe(attachment, &path, cancel).await
            }
            AttachmentKind::Photo => self.image(attachment, &path, cancel).await,
            AttachmentKind::Sticker => self.sticker(attachment, &path, cancel).await,
            AttachmentKind::Document if is_image(attachment) => {
                self.image(attachment, &path, cancel).await
            }
            AttachmentKind::Document => self.document(attachment, &path).await,
            AttachmentKind::Video => Read::note(described_file(attachment, &path).await),
        }
    }

    async fn transcribe(
        &self,
        attachment: &Attachment,
        path: &Path,
        cancel: &CancellationToken,
    ) -> Read {
        let what = attachment.kind.noun();
        let Some(transcriber) = &self.transcriber else {
            return Read::failed(
                format!("[{what} not transcribed: speech to text is off]"),
                format!(
                    "I can't listen to {}: speech to text is switched off on this gateway \
                     (stt.enabled). Please type your message.",
                    article(what)
                ),
            );
        };
        let mime = attachment.mime_type.as_deref().unwrap_or("audio/ogg");
        let max = transcriber.config().max_bytes;
        let heard = match Audio::from_file(path, mime, max).await {
            Ok(audio) => transcriber.transcribe(&audio, cancel).await,
            Err(e) => Err(e),
        };
        match heard {
            Ok(transcript) if transcript.text.trim().is_empty() => Read::failed(
                format!("[{what} with no words in it]"),
                format!("I couldn't hear any words in your {what}."),
            ),
            Ok(transcript) => {
                info!(
                    chars = transcript.text.chars().count(),
                    "{what} transcribed"
                );
                let notice = self
                    .config
                    .echo_transcripts
                    .then(|| format!("🎙️ \u{201c}{}\u{201d}", transcript.text));
                Read {
                    text: vec![format!("[{what}, transcribed] {}", transcript.text)],
                    notice,
                    answerable: true,
                    ..Read::default()
                }
            }
            Err(e) => {
                warn!(error = %e, path = %path.display(), "a {what} could not be transcribed");
                Read::failed(
                    format!("[{what} that could not be transcribed]"),
                    format!(
                        "I couldn't transcribe your {what}: {}. The recording is kept; \
                         send it again later or type your message.",
                        speech_failure(&e)
                    ),
                )
            }
        }
    }

    async fn image(
        &self,
        attachment: &Attachment,
        path: &Path,
        cancel: &CancellationToken,
    ) -> Read {
        let name = display_name(attachment, path);
        let what = attachment.kind.noun();
        let scaled = match self.scaled(path).await {
            Ok(scaled) => scaled,
            Err(reason) => {
                warn!(path = %path.display(), %reason, "an image could not be read");
                return Read::failed(
                    format!("[attached {what} {name} that could not be read: {reason}]"),
                    format!("I couldn't look at {name}: {reason}."),
                );
            }
        };
        match self.config.images {
            ImageInput::Native => Read {
                text: vec![format!(
                    "[attached {what}: {name}, {}×{}]",
                    scaled.width, scaled.height
                )],
                image: Some(scaled),
                answerable: true,
                ..Read::default()
            },
            ImageInput::Text => {
                let Some(describer) = &self.describer else {
                    return Read::note(format!(
                        "[attached {what}: {name}; this model cannot see images and no vision \
                         model is configured to describe it]"
                    ));
                };
                let key = format!("sha256:{}", sha256_hex(scaled.data_url.as_bytes()));
                match describer
                    .describe(&key, &scaled.data_url, Subject::Image, cancel)
                    .await
                {
                    Ok(description) => Read::note(format!(
                        "[attached {what}: {name}; described by a vision model: {description}]"
                    )),
                    Err(e) => {
                        warn!(error = %e, "an image could not be described");
                        Read::failed(
                            format!("[attached {what}: {name}; it could not be described]"),
                            format!("I couldn't look at {name}: {}.", vision_failure(&e)),
                        )
                    }
                }
            }
        }
    }

    /// A sticker: its label, and a description cached by the platform's
    /// id of the sticker, so each sticker is described once.
    async fn sticker(
        &self,
        attachment: &Attachment,
        path: &Path,
        cancel: &CancellationToken,
    ) -> Read {
        let label = attachment
            .label
            .as_deref()
            .map(|l| format!(" {l}"))
            .unwrap_or_default();
        let still = attachment
            .mime_type
            .as_deref()
            .is_some_and(|m| matches!(m, "image/webp" | "image/png" | "image/jpeg"));
        let (Some(describer), true) = (&self.describer, still) else {
            return Read::note(format!("[sticker{label}]"));
        };
        let scaled = match self.scaled(path).await {
            Ok(scaled) => scaled,
            Err(_) => return Read::note(format!("[sticker{label}]")),
        };
        let key = match &attachment.unique_id {
            Some(id) => format!("sticker:{id}"),
            None => format!("sha256:{}", sha256_hex(scaled.data_url.as_bytes())),
        };
        match describer
            .describe(&key, &scaled.data_url, Subject::Sticker, cancel)
            .await
        {
            Ok(description) => Read::note(format!("[sticker{label}: {description}]")),
            Err(e) => {
                warn!(error = %e, "a sticker could not be described");
                Read::note(format!("[sticker{label}]"))
            }
        }
    }

    async fn document(&self, attachment: &Attachment, path: &Path) -> Read {
        let name = display_name(attachment, path);
        let owned = (
            path.to_owned(),
            attachment.mime_type.clone(),
            attachment.file_name.clone(),
            self.config.document_max_chars,
        );
        let mime = attachment.mime_type.as_deref();
        let isolated = match &self.pdf_worker {
            Some(worker) if document::is_pdf(path, mime) => {
                let max = self.config.document_max_chars;
                worker.read(path, mime, max, DECODE_LIMIT).await
            }
            _ => None,
        };
        let read = match isolated {
            Some(read) => read,
            None => off_runtime(DECODE_LIMIT, move || {
                let (path, mime, file_name, max) = owned;
                document::read_text(&path, mime.as_deref(), file_name.as_deref(), max)
            })
            .await
            .unwrap_or_else(|reason| Err(DocumentError::Unreadable(reason))),
        };
        match read {
            Ok(doc) => {
                let mut lines = vec![format!("[attached file: {name}; its text follows]")];
                lines.push(doc.text);
                if doc.truncated {
                    lines.push(format!(
                        "[{name} was cut: the text above is its first {} of {} characters]",
                        self.config.document_max_chars, doc.total_chars
                    ));
                }
                lines.push(format!("[end of {name}]"));
                Read {
                    text: lines,
                    answerable: true,
                    ..Read::default()
                }
            }
            Err(DocumentError::NotText) => Read::note(described_file(attachment, path).await),
            Err(DocumentError::Unreadable(reason)) => {
                warn!(path = %path.display(), %reason, "a document could not be read");
                Read::failed(
                    format!(
                        "{} (its text could not be read: {reason})",
                        described_file(attachment, path).await
                    ),
                    format!("I couldn't read {name}: {reason}."),
                )
            }
        }
    }

    /// The image at `path`, scaled for the model, off the runtime.
    async fn scaled(&self, path: &Path) -> Result<ScaledImage, String> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| format!("the file cannot be read ({e})"))?
            .len();
        if size > MAX_IMAGE_FILE {
            return Err(format!(
                "the image is {} MB, over the {} MB hermod decodes",
                size / (1024 * 1024),
                MAX_IMAGE_FILE / (1024 * 1024)
            ));
        }
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| format!("the file cannot be read ({e})"))?;
        let max_edge = self.config.max_image_edge;
        off_runtime(DECODE_LIMIT, move || {
            image::scale_for_model(&bytes, max_edge)
        })
        .await?
        .map_err(|e| e.to_string())
    }
}

/// Runs `work` (decoding, parsing) on the blocking pool, giving up after
/// `limit`: a file made to send a parser round in circles costs the turn
/// `limit` and a thread until the parser gives up, never the turn itself.
async fn off_runtime<T: Send + 'static>(
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(format!("reading it failed ({e})")),
        Err(_) => Err(format!(
            "reading it took longer than {} seconds",
            limit.as_secs()
        )),
    }
}

/// The attachment's local file, when it is one (not a URL).
fn local_path(attachment: &Attachment) -> Option<PathBuf> {
    let location = attachment.location.as_str();
    if location.contains("://") || location.starts_with("data:") {
        return None;
    }
    Some(PathBuf::from(location))
}

fn is_image(attachment: &Attachment) -> bool {
    attachment
        .mime_type
        .as_deref()
        .is_some_and(|m| matches!(m, "image/jpeg" | "image/png" | "image/webp" | "image/gif"))
}

/// The sender's name for the file, or the local one.
fn display_name(attachment: &Attachment, path: &Path) -> String {
    attachment
        .file_name
        .clone()
        .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "the file".to_owned())
}

/// `[attached file: report.docx (application/…, 120 KB) at /path]`.
async fn described_file(attachment: &Attachment, path: &Path) -> String {
    let name = display_name(attachment, path);
    let mut facts = Vec::new();
    if let Some(mime) = &attachment.mime_type {
        facts.push(mime.clone());
    }
    if let Ok(meta) = tokio::fs::metadata(path).await {
        facts.push(hermod_model::text::human_size(meta.len()));
    }
    let facts = if facts.is_empty() {
        String::new()
    } else {
        format!(" ({})", facts.join(", "))
    };
    format!(
        "[attached {}: {name}{facts}, saved at {}]",
        attachment.kind.noun(),
        path.display()
    )
}

fn article(noun: &str) -> String {
    match noun.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {noun}"),
        _ => format!("a {noun}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hermod_model::to_hex(&Sha256::digest(bytes))
}

/// Why a transcription failed, in words for the chat.
fn speech_failure(e: &AgentError) -> String {
    match e {
        AgentError::RateLimited { .. } => {
            "the speech-to-text service is rate limiting requests".to_owned()
        }
        AgentError::Transient(_) => {
            "the speech-to-text service is unreachable or failing".to_owned()
        }
        AgentError::Auth { .. } => {
            "the speech-to-text service refused the gateway's key (stt.api_key)".to_owned()
        }
        // Too long, empty, unreadable: said in words already.
        AgentError::Rejected {
            status: 413 | 0,
            message,
        } => message.clone(),
        // Most often a model provider without a transcription endpoint.
        AgentError::Rejected { status: 404, .. } => "the gateway's speech-to-text endpoint \
             does not exist (HTTP 404); its operator should set stt.base_url to a service \
             that transcribes"
            .to_owned(),
        AgentError::Rejected { status, .. } => {
            format!("the speech-to-text service refused the recording (HTTP {status})")
        }
        AgentError::Protocol(_) => {
            "the speech-to-text service sent an answer the gateway could not read".to_owned()
        }
        AgentError::Cancelled => "the gateway is stopping".to_owned(),
        AgentError::Process(_) => "the speech-to-text service is not running".to_owned(),
    }
}

/// Why a description failed, in words for the chat.
fn vision_failure(e: &AgentError) -> String {
    match e {
        AgentError::RateLimited { .. } => "the vision model is rate limiting requests".to_owned(),
        AgentError::Transient(_) => "the vision model is unreachable or failing".to_owned(),
        AgentError::Auth { .. } => "the vision model refused the gateway's key".to_owned(),
        AgentError::Rejected { status, .. } => {
            format!("the vision model refused the image (HTTP {status})")
        }
        AgentError::Protocol(_) => "the vision model sent an unreadable answer".to_owned(),
        AgentError::Cancelled => "the gateway is stopping".to_owned(),
        AgentError::Process(_) => "the vision model is not running".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time: tokio's paused clock does not advance while a blocking
    // task runs. The work never ends, so the outcome cannot depend on the
    // machine's speed.
    #[tokio::test]
    async fn work_that_never_ends_is_given_up_after_the_limit() {
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let gave_up = off_runtime(Duration::from_millis(20), move || stuck.recv().is_ok()).await;
        assert!(
            gave_up
                .as_ref()
                .is_err_and(|e| e.starts_with("reading it took longer than")),
            "{gave_up:?}"
        );
        drop(release);
        assert_eq!(off_runtime(Duration::from_secs(60), || 7).await, Ok(7));
    }
}
