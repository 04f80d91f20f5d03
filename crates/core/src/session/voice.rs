//! Voice replies: whether a chat's reply is also spoken, and speaking it.
//!
//! Each chat has a mode, set with `/voice` and kept in the store under
//! [`setting_key`] (per chat and thread, not per session, so `/new` keeps
//! it): `off` (text only, the default), `on` (a voice message is answered
//! with a voice note too) or `tts` (every reply gets one). A reply to be
//! spoken goes through [`hermod_agent::speakable`] to the gateway's
//! [`Speaker`] as OGG/Opus, is written to the media directory, and goes
//! out as a [`AttachmentKind::Voice`] attachment beside the text. When
//! speaking fails, the text goes alone with a short note saying why.

use crate::session::WorkerDeps;
use hermod_agent::{AgentError, Speaker, SpeechFormat, speakable};
use hermod_model::{Attachment, AttachmentKind, InboundEvent, Source};
use hermod_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// A chat's voice mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum VoiceMode {
    /// Replies are text only.
    #[default]
    Off,
    /// A voice message is answered with a voice note too (voice in, voice out).
    Voice,
    /// Every reply gets a voice note.
    All,
}

impl VoiceMode {
    /// Hermes' words: `off`, `on`, `tts`.
    pub(crate) fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "off" => Some(VoiceMode::Off),
            "on" => Some(VoiceMode::Voice),
            "tts" => Some(VoiceMode::All),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VoiceMode::Off => "off",
            VoiceMode::Voice => "on",
            VoiceMode::All => "tts",
        }
    }
}

/// The setting that holds a chat's mode: `voice:<platform>:<chat>` with
/// `:<thread>` for a thread; `None` for a source without a chat.
pub(crate) fn setting_key(source: &Source) -> Option<String> {
    let chat = source.chat_id.as_deref()?;
    let mut key = format!("voice:{}:{chat}", source.platform);
    if let Some(thread) = &source.thread_id {
        key.push(':');
        key.push_str(thread);
    }
    Some(key)
}

/// The chat's mode (`Off` when unset or unreadable as a mode).
pub(crate) async fn mode(store: &dyn Store, source: &Source) -> Result<VoiceMode, StoreError> {
    let Some(key) = setting_key(source) else {
        return Ok(VoiceMode::Off);
    };
    Ok(store
        .setting(&key)
        .await?
        .as_deref()
        .and_then(VoiceMode::parse)
        .unwrap_or_default())
}

/// Sets the chat's mode; `Off` removes the setting.
pub(crate) async fn set_mode(
    store: &dyn Store,
    source: &Source,
    mode: VoiceMode,
    at_ms: i64,
) -> Result<(), StoreError> {
    let Some(key) = setting_key(source) else {
        return Ok(());
    };
    match mode {
        VoiceMode::Off => store.delete_setting(&key).await.map(drop),
        _ => store.set_setting(&key, mode.as_str(), at_ms).await,
    }
}

/// Whether the reply to `event` is spoken in `mode`.
pub(crate) fn should_speak(mode: VoiceMode, event: &InboundEvent) -> bool {
    match mode {
        VoiceMode::Off => false,
        VoiceMode::All => true,
        VoiceMode::Voice => event
            .attachments
            .iter()
            .any(|a| a.kind == AttachmentKind::Voice),
    }
}

/// The gateway's speech endpoint and where its audio is written.
#[derive(Debug, Clone)]
pub(crate) struct VoiceOut {
    pub(crate) speaker: Speaker,
    /// The media directory (`HERMOD_HOME/media`).
    pub(crate) dir: PathBuf,
}

/// What speaking a reply gave: a voice note, or a note for the text.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Spoken {
    pub(crate) attachment: Option<Attachment>,
    /// "🔇 I couldn't speak this reply: <reason>", to append to the text.
    pub(crate) note: Option<String>,
}

/// Speaks `reply` (the model's text: hidden reasoning and `MEDIA:` lines
/// are left out), the reply to `event`, when the chat's mode asks for it.
/// Never fails: a failure is logged and becomes [`Spoken::note`].
pub(crate) async fn speak_reply(deps: &WorkerDeps, event: &InboundEvent, reply: &str) -> Spoken {
    let Some(out) = &deps.voice else {
        return Spoken::default();
    };
    let chat_mode = match mode(deps.store.as_ref(), &event.source).await {
        Ok(chat_mode) => chat_mode,
        Err(e) => {
            warn!(error = %e, "could not read the chat's voice mode; the reply goes as text");
            return Spoken::default();
        }
    };
    if !should_speak(chat_mode, event) {
        return Spoken::default();
    }
    let text = crate::delivery::strip_directives(&hermod_model::text::strip_think(reply));
    match speak(out, &text, &deps.turns).await {
        Ok(attachment) => Spoken {
            attachment,
            note: None,
        },
        Err(AgentError::Cancelled) => Spoken::default(),
        Err(e) => {
            warn!(platform = %event.source.platform, kind = e.kind(), error = %e, "speaking a reply failed; it goes as text");
            Spoken {
                attachment: None,
                note: Some(format!("🔇 I couldn't speak this reply: {}", reason(&e))),
            }
        }
    }
}

/// `text` spoken as an OGG/Opus voice note in `out.dir`; `None` when
/// nothing of it is speakable (a reply that is all code).
pub(crate) async fn speak(
    out: &VoiceOut,
    text: &str,
    cancel: &CancellationToken,
) -> Result<Option<Attachment>, AgentError> {
    let words = speakable(text);
    if words.is_empty() || words == "(code omitted)" {
        debug!("nothing in the reply to speak");
        return Ok(None);
    }
    let speech = out
        .speaker
        .speak(&words, SpeechFormat::Opus, cancel)
        .await?;
    let path = write_audio(&out.dir, speech.format.extension(), speech.bytes)
        .await
        .map_err(|e| AgentError::Transient(format!("cannot write the voice note: {e}")))?;
    let mut attachment = Attachment::new(AttachmentKind::Voice, path.display().to_string())
        .with_mime(speech.format.mime());
    attachment.file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    Ok(Some(attachment))
}

/// Writes `bytes` to a new file `voice-<time>-<random>.<extension>` in `dir`.
async fn write_audio(dir: &Path, extension: &str, bytes: Vec<u8>) -> std::io::Result<PathBuf> {
    let mut random = [0_u8; 6];
    // Without an entropy source the time alone names it; `create_new`
    // still refuses to overwrite.
    let _ = getrandom::fill(&mut random);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let hex: String = hermod_model::to_hex(&random);
    let path = dir.join(format!("voice-{millis}-{hex}.{extension}"));
    let dir = dir.to_owned();
    let written = path.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        std::fs::create_dir_all(&dir)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&written)?;
        file.write_all(&bytes)?;
        file.sync_all()
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(path)
}

/// Why speaking failed, in a few words for the chat.
fn reason(err: &AgentError) -> String {
    let short = |text: &str| -> String {
        let mut chars = text.trim().chars();
        let head: String = chars.by_ref().take(160).collect();
        if chars.next().is_some() {
            format!("{head}…")
        } else {
            head
        }
    };
    match err {
        AgentError::RateLimited { retry_after } => format!(
            "the speech endpoint is rate limiting requests{}",
            hermod_agent::retry_hint(*retry_after)
        ),
        AgentError::Transient(message) => {
            format!(
                "the speech endpoint is unreachable or failing ({})",
                short(message)
            )
        }
        AgentError::Rejected { status, message } => {
            format!(
                "the speech endpoint refused it ({status}: {})",
                short(message)
            )
        }
        AgentError::Auth { status } => {
            format!("the speech endpoint refused its key ({status}); check tts.api_key")
        }
        AgentError::Protocol(message) | AgentError::Process(message) => short(message),
        AgentError::Cancelled => "the gateway is stopping".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::PlatformId;

    fn event(attachments: Vec<Attachment>) -> InboundEvent {
        let source = Source::dm(PlatformId::from_static("test"), "42");
        let mut event = InboundEvent::text(source, "hi");
        event.attachments = attachments;
        event
    }

    fn voice_message() -> InboundEvent {
        event(vec![Attachment::new(AttachmentKind::Voice, "/m/v.ogg")])
    }

    #[test]
    fn voice_in_is_answered_with_voice_when_on() {
        assert!(should_speak(VoiceMode::Voice, &voice_message()));
        assert!(!should_speak(VoiceMode::Voice, &event(Vec::new())));
        let photo = event(vec![Attachment::new(AttachmentKind::Photo, "/m/p.jpg")]);
        assert!(!should_speak(VoiceMode::Voice, &photo));
        let audio_file = event(vec![Attachment::new(AttachmentKind::Audio, "/m/a.mp3")]);
        assert!(
            !should_speak(VoiceMode::Voice, &audio_file),
            "an audio file is not a voice message"
        );
    }

    #[test]
    fn tts_speaks_every_reply_and_off_none() {
        assert!(should_speak(VoiceMode::All, &event(Vec::new())));
        assert!(should_speak(VoiceMode::All, &voice_message()));
        assert!(!should_speak(VoiceMode::Off, &event(Vec::new())));
        assert!(!should_speak(VoiceMode::Off, &voice_message()));
    }

    #[test]
    fn modes_read_as_hermes_writes_them() {
        for mode in [VoiceMode::Off, VoiceMode::Voice, VoiceMode::All] {
            assert_eq!(VoiceMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(VoiceMode::parse("TTS"), Some(VoiceMode::All));
        assert_eq!(VoiceMode::parse("status"), None);
    }

    #[test]
    fn the_setting_is_per_chat_and_thread() {
        let mut source = Source::dm(PlatformId::from_static("test"), "42");
        assert_eq!(setting_key(&source).as_deref(), Some("voice:test:42"));
        source.thread_id = Some("7".into());
        assert_eq!(setting_key(&source).as_deref(), Some("voice:test:42:7"));
        source.chat_id = None;
        assert_eq!(setting_key(&source), None);
    }

    #[tokio::test]
    async fn a_reply_becomes_an_ogg_voice_note_in_the_media_directory() {
        let fake = hermod_testkit::FakeSpeech::start().await;
        let dir = tempfile::tempdir().expect("a directory");
        let out = VoiceOut {
            speaker: Speaker::new(hermod_agent::SpeakerConfig::new(fake.base_url()))
                .expect("a client"),
            dir: dir.path().join("media"),
        };
        let cancel = CancellationToken::new();
        let text =
            "## Done\n\nThe **build** passed:\n\n```\nok\n```\n\nSee [the log](http://x/log).";
        let attachment = speak(&out, text, &cancel)
            .await
            .expect("spoken")
            .expect("a voice note");
        assert_eq!(attachment.kind, AttachmentKind::Voice);
        assert_eq!(attachment.mime_type.as_deref(), Some("audio/ogg"));
        let path = PathBuf::from(&attachment.location);
        assert!(path.starts_with(dir.path().join("media")));
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("ogg"));
        let bytes = std::fs::read(&path).expect("written");
        assert!(bytes.starts_with(b"OggS"));
        let request = &fake.speech_requests()[0];
        assert_eq!(request.response_format(), "opus");
        assert_eq!(
            request.input(),
            Some("Done\n\nThe build passed:\n\n(code omitted)\n\nSee the log.")
        );

        // A second note gets its own file; code alone is not spoken.
        let again = speak(&out, "Hi.", &cancel)
            .await
            .expect("spoken")
            .expect("a note");
        assert_ne!(again.location, attachment.location);
        assert_eq!(speak(&out, "```\ncode\n```", &cancel).await, Ok(None));
        assert_eq!(fake.speech_requests().len(), 2);
    }

    #[test]
    fn reasons_are_short_and_name_the_speech_endpoint() {
        let long = AgentError::Rejected {
            status: 400,
            message: "x".repeat(500),
        };
        let text = reason(&long);
        assert!(text.starts_with("the speech endpoint refused it (400: "));
        assert!(text.chars().count() < 220, "{text}");
        assert!(reason(&AgentError::Auth { status: 401 }).contains("tts.api_key"));
    }
}
