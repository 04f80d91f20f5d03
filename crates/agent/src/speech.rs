//! [`Speaker`]: text to speech through an OpenAI-compatible
//! `POST {base_url}/audio/speech` endpoint.
//!
//! The request is JSON: `model`, `input` (the text), `voice`,
//! `response_format` (`opus`, `mp3`, `aac`, `flac`, `wav` or `pcm`), and
//! `speed` and `instructions` when set; the answer's body is the audio.
//! OpenAI, and the local servers that copy its API (Kokoro-FastAPI,
//! openedai-speech, speaches), take this form. `opus` comes in an OGG
//! container: what chat apps play as a voice note.
//!
//! OpenAI takes at most 4,096 characters of `input`. Longer text is cut
//! before sending ([`SpeakerConfig::max_chars`]) at the last sentence end
//! that fits (else the last space, else anywhere), and [`Speech::cut`] says
//! so: the voice note then speaks the beginning of the reply, whose text
//! goes out whole beside it. Text meant to be heard should first go through
//! [`speakable`], which drops what reads badly aloud (Markdown markers, code).
//!
//! Rate limits, 5xx and network errors are retried per
//! [`SpeakerConfig::retry`]; one attempt is bounded by
//! [`SpeakerConfig::request_timeout`].

mod speakable;

pub use speakable::speakable;

use crate::transcribe::error_message;
use crate::turn::AgentError;
use hermod_http::{HttpClient, HttpError, RetryPolicy, classify_status};
use hermod_model::Secret;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// OpenAI's limit on `input`: "The maximum length is 4096 characters".
pub const OPENAI_MAX_SPEECH_CHARS: usize = 4096;

/// The model asked for unless configured otherwise.
pub const DEFAULT_SPEECH_MODEL: &str = "gpt-4o-mini-tts";

/// The voice asked for unless configured otherwise.
pub const DEFAULT_VOICE: &str = "alloy";

/// The audio formats of `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechFormat {
    /// Opus in an OGG container: a chat app's voice note.
    Opus,
    Mp3,
    Aac,
    Flac,
    Wav,
    /// Raw 16-bit little-endian samples at 24 kHz, no header.
    Pcm,
}

impl SpeechFormat {
    /// Every format, as OpenAI lists them.
    pub const ALL: [SpeechFormat; 6] = [
        SpeechFormat::Mp3,
        SpeechFormat::Opus,
        SpeechFormat::Aac,
        SpeechFormat::Flac,
        SpeechFormat::Wav,
        SpeechFormat::Pcm,
    ];

    /// The `response_format` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SpeechFormat::Opus => "opus",
            SpeechFormat::Mp3 => "mp3",
            SpeechFormat::Aac => "aac",
            SpeechFormat::Flac => "flac",
            SpeechFormat::Wav => "wav",
            SpeechFormat::Pcm => "pcm",
        }
    }

    /// The MIME type of the audio. It follows from the format asked for,
    /// not from the answer's `Content-Type`, which servers spell
    /// differently (`audio/opus`, `audio/ogg`, `application/octet-stream`).
    pub fn mime(self) -> &'static str {
        match self {
            SpeechFormat::Opus => "audio/ogg",
            SpeechFormat::Mp3 => "audio/mpeg",
            SpeechFormat::Aac => "audio/aac",
            SpeechFormat::Flac => "audio/flac",
            SpeechFormat::Wav => "audio/wav",
            SpeechFormat::Pcm => "audio/pcm",
        }
    }

    /// The file extension for the audio, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            SpeechFormat::Opus => "ogg",
            SpeechFormat::Mp3 => "mp3",
            SpeechFormat::Aac => "aac",
            SpeechFormat::Flac => "flac",
            SpeechFormat::Wav => "wav",
            SpeechFormat::Pcm => "pcm",
        }
    }
}

/// How [`Speaker`] reaches its endpoint. `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerConfig {
    /// The API root, e.g. `https://api.openai.com/v1` (a trailing slash is
    /// fine); requests go to `{base_url}/audio/speech`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when set; local servers
    /// usually need none.
    pub api_key: Option<Secret>,
    /// `gpt-4o-mini-tts`, `tts-1`, `tts-1-hd`, or what the local server has.
    pub model: String,
    /// `alloy`, `nova`, `onyx`, ... or a local server's voice name.
    pub voice: String,
    /// 0.25 to 4.0; the endpoint's default (1.0) when unset.
    pub speed: Option<f32>,
    /// How to speak ("calm, friendly"); `gpt-4o-mini-tts` only.
    pub instructions: Option<String>,
    /// The most characters sent as `input`; longer text is cut at a
    /// sentence end under it.
    pub max_chars: usize,
    /// Bound on one attempt: request, synthesis and the audio's download.
    pub request_timeout: Duration,
    /// Retries on 429, 5xx, timeouts and network errors.
    pub retry: RetryPolicy,
}

impl SpeakerConfig {
    /// A configuration with defaults for everything but the endpoint.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }

    /// The speech endpoint under [`SpeakerConfig::base_url`].
    pub fn endpoint(&self) -> String {
        format!("{}/audio/speech", self.base_url.trim_end_matches('/'))
    }
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8880/v1".to_owned(),
            api_key: None,
            model: DEFAULT_SPEECH_MODEL.to_owned(),
            voice: DEFAULT_VOICE.to_owned(),
            speed: None,
            instructions: None,
            max_chars: OPENAI_MAX_SPEECH_CHARS,
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// The spoken audio.
#[derive(Clone, PartialEq, Eq)]
pub struct Speech {
    /// The encoded audio, as the endpoint sent it.
    pub bytes: Vec<u8>,
    pub format: SpeechFormat,
    /// The text was longer than [`SpeakerConfig::max_chars`]: only its
    /// beginning was spoken.
    pub cut: bool,
}

impl Speech {
    /// The audio's MIME type (`audio/ogg` for [`SpeechFormat::Opus`]).
    pub fn mime(&self) -> &'static str {
        self.format.mime()
    }
}

impl std::fmt::Debug for Speech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speech")
            .field("bytes", &self.bytes.len())
            .field("format", &self.format)
            .field("cut", &self.cut)
            .finish()
    }
}

/// A client of one speech endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Speaker {
    http: reqwest::Client,
    endpoint: String,
    config: SpeakerConfig,
}

impl Speaker {
    pub fn new(config: SpeakerConfig) -> Result<Self, AgentError> {
        let http = crate::llm::own_http(config.request_timeout)?;
        Ok(Self::with_http(config, &http))
    }

    /// A speaker on `http`'s connection pool, shared with the gateway's
    /// other clients.
    pub fn with_http(config: SpeakerConfig, http: &HttpClient) -> Self {
        Self {
            http: http.reqwest().clone(),
            endpoint: config.endpoint(),
            config,
        }
    }

    pub fn config(&self) -> &SpeakerConfig {
        &self.config
    }

    /// Speaks `text` (plain text: see [`speakable`]) as `format`. Text
    /// over [`SpeakerConfig::max_chars`] is cut at a sentence end first;
    /// blank text is refused without a request, as [`AgentError::Rejected`]
    /// with status 400. `cancel` aborts the request and any wait between
    /// attempts.
    pub async fn speak(
        &self,
        text: &str,
        format: SpeechFormat,
        cancel: &CancellationToken,
    ) -> Result<Speech, AgentError> {
        let (input, cut) = cut_at_sentence(text.trim(), self.config.max_chars);
        if input.is_empty() {
            return Err(AgentError::Rejected {
                status: 400,
                message: "the text is empty; there is nothing to speak".to_owned(),
            });
        }
        let body = self.body(input, format);
        let bytes = hermod_http::retry(&self.config.retry, cancel, || self.attempt(&body))
            .await
            .map_err(to_agent_error)?;
        Ok(Speech { bytes, format, cut })
    }

    /// The JSON body of a request.
    fn body(&self, input: &str, format: SpeechFormat) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.config.model));
        body.insert("input".into(), json!(input));
        body.insert("voice".into(), json!(self.config.voice));
        body.insert("response_format".into(), json!(format.as_str()));
        if let Some(speed) = self.config.speed {
            body.insert("speed".into(), json!(speed));
        }
        if let Some(instructions) = &self.config.instructions {
            body.insert("instructions".into(), json!(instructions));
        }
        Value::Object(body)
    }

    async fn attempt(&self, body: &Value) -> Result<Vec<u8>, HttpError> {
        let limit = self.config.request_timeout;
        match tokio::time::timeout(limit, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Transient(format!(
                "no speech within {}",
                crate::human::describe(limit)
            ))),
        }
    }

    async fn exchange(&self, body: &Value) -> Result<Vec<u8>, HttpError> {
        let mut request = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let text = response.text().await?;
            return Err(classify_status(status, &headers, &text));
        }
        let is_json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        let bytes = response.bytes().await?;
        // A server that answers 200 with a JSON error, or nothing, sent no audio.
        if is_json {
            return Err(HttpError::Protocol(format!(
                "the speech endpoint answered JSON instead of audio: {}",
                error_message(&String::from_utf8_lossy(&bytes))
            )));
        }
        if bytes.is_empty() {
            return Err(HttpError::Protocol(
                "the speech endpoint answered no audio".to_owned(),
            ));
        }
        Ok(bytes.to_vec())
    }
}

/// `text` cut to at most `max` characters: after the last sentence end
/// (`.`, `!`, `?`, `…` and their full-width forms, followed by a space or
/// the end, or a line break) that fits, else at the last space, else
/// anywhere. Returns the text and whether it was cut.
pub(crate) fn cut_at_sentence(text: &str, max: usize) -> (&str, bool) {
    let Some((limit, _)) = text.char_indices().nth(max) else {
        return (text, false);
    };
    let head = &text[..limit];
    let mut sentence = None;
    let mut space = None;
    let mut chars = head.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let end = at + c.len_utf8();
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        let at_text_end =
            end == limit && text[limit..].chars().next().is_none_or(char::is_whitespace);
        // Full-width stops end a sentence with no space after them.
        let ends = match c {
            '\n' | '。' | '！' | '？' => true,
            '.' | '!' | '?' | '…' => next_is_space && (end < limit || at_text_end),
            _ => false,
        };
        if ends {
            sentence = Some(end);
        }
        if c.is_whitespace() {
            space = Some(at);
        }
    }
    if text[limit..].starts_with(char::is_whitespace) {
        space = Some(limit);
    }
    let end = sentence.or(space).filter(|&e| e > 0).unwrap_or(limit);
    (head[..end].trim_end(), true)
}

fn to_agent_error(err: HttpError) -> AgentError {
    crate::transcribe::endpoint_error(err, "/audio/speech")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_accepts_a_trailing_slash() {
        assert_eq!(
            SpeakerConfig::new("http://h/v1/").endpoint(),
            "http://h/v1/audio/speech"
        );
    }

    #[test]
    fn short_text_is_not_cut() {
        assert_eq!(
            cut_at_sentence("Hello. World.", 100),
            ("Hello. World.", false)
        );
        assert_eq!(cut_at_sentence("Hello.", 6), ("Hello.", false));
        assert_eq!(cut_at_sentence("", 6), ("", false));
    }

    #[test]
    fn long_text_is_cut_after_the_last_sentence_that_fits() {
        let text = "One two. Three four! Five six seven eight nine.";
        assert_eq!(cut_at_sentence(text, 25), ("One two. Three four!", true));
        assert_eq!(cut_at_sentence(text, 20), ("One two. Three four!", true));
        assert_eq!(cut_at_sentence(text, 19), ("One two.", true));
        // A period inside a number or a name is no sentence end.
        assert_eq!(
            cut_at_sentence("Version 1.5 is out now and more", 14),
            ("Version 1.5 is", true)
        );
        // A line break ends a sentence too.
        assert_eq!(
            cut_at_sentence("A list\nsecond line here", 12),
            ("A list", true)
        );
        assert_eq!(
            cut_at_sentence("Wie geht's? Gut", 13),
            ("Wie geht's?", true)
        );
        assert_eq!(cut_at_sentence("你好。世界和平", 4), ("你好。", true));
    }

    #[test]
    fn text_without_sentences_or_spaces_is_cut_at_the_limit() {
        assert_eq!(cut_at_sentence("no sentence end here", 10), ("no", true));
        assert_eq!(cut_at_sentence("abcdefghij", 4), ("abcd", true));
        assert_eq!(cut_at_sentence("ééééé", 3), ("ééé", true));
    }

    #[test]
    fn the_cut_never_exceeds_the_limit() {
        let text = "Sentence one is here. ".repeat(400);
        let (cut, was_cut) = cut_at_sentence(&text, OPENAI_MAX_SPEECH_CHARS);
        assert!(was_cut);
        assert!(cut.chars().count() <= OPENAI_MAX_SPEECH_CHARS);
        assert!(cut.ends_with("here."), "{}", &cut[cut.len() - 20..]);
    }

    #[test]
    fn formats_have_their_types_and_extensions() {
        assert_eq!(SpeechFormat::Opus.as_str(), "opus");
        assert_eq!(SpeechFormat::Opus.mime(), "audio/ogg");
        assert_eq!(SpeechFormat::Opus.extension(), "ogg");
        assert_eq!(SpeechFormat::Mp3.mime(), "audio/mpeg");
        assert_eq!(SpeechFormat::ALL.len(), 6);
    }

    #[test]
    fn debug_hides_the_key_and_the_audio() {
        let config = SpeakerConfig {
            api_key: Some(Secret::new("sk-tts-123")),
            ..SpeakerConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-tts-123"), "{shown}");
        let speaker = Speaker::new(config).expect("a client");
        assert!(!format!("{speaker:?}").contains("sk-tts-123"));
        let speech = Speech {
            bytes: vec![1; 5],
            format: SpeechFormat::Opus,
            cut: false,
        };
        assert!(format!("{speech:?}").contains("bytes: 5"));
    }
}
