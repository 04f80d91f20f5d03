//! [`Transcriber`]: speech to text through an OpenAI-compatible
//! `POST {base_url}/audio/transcriptions` endpoint.
//!
//! The request is `multipart/form-data` with a `file` part (the audio,
//! with its file name and type), `model` and `response_format=json`, plus
//! `language` and `prompt` when set. OpenAI, Groq
//! (`https://api.groq.com/openai/v1`), faster-whisper-server / speaches
//! and whisper.cpp's server (started with
//! `--inference-path /v1/audio/transcriptions`) all take this form and
//! answer `{"text": ...}`; `language` and `duration`, which some of them
//! add (and every `verbose_json` answer has), are kept when present.
//!
//! Audio over [`TranscriberConfig::max_bytes`] is refused before anything
//! is sent. Rate limits, 5xx and network errors are retried per
//! [`TranscriberConfig::retry`]; the whole exchange of one attempt is
//! bounded by [`TranscriberConfig::request_timeout`].

use crate::turn::AgentError;
use hermod_http::{HttpClient, HttpError, RetryPolicy, classify_status};
use hermod_model::Secret;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// OpenAI's upload limit for transcriptions: "File uploads are currently
/// limited to 25 MB".
pub const OPENAI_MAX_AUDIO_BYTES: u64 = 25 * 1024 * 1024;

/// The model asked for unless configured otherwise.
pub const DEFAULT_TRANSCRIPTION_MODEL: &str = "whisper-1";

/// How [`Transcriber`] reaches its endpoint. `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriberConfig {
    /// The API root, e.g. `https://api.openai.com/v1` (a trailing slash is
    /// fine); requests go to `{base_url}/audio/transcriptions`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when set; local servers
    /// usually need none.
    pub api_key: Option<Secret>,
    /// `whisper-1`, `gpt-4o-transcribe`, `whisper-large-v3` (Groq), or
    /// whatever the local server loaded.
    pub model: String,
    /// The spoken language as ISO-639-1 (`en`), when known; the endpoint
    /// detects it otherwise.
    pub language: Option<String>,
    /// Words or style to guide the transcription.
    pub prompt: Option<String>,
    /// The largest audio sent; larger audio is refused before sending.
    pub max_bytes: u64,
    /// Bound on one attempt: upload, transcription and answer.
    pub request_timeout: Duration,
    /// Retries on 429, 5xx, timeouts and network errors.
    pub retry: RetryPolicy,
}

impl TranscriberConfig {
    /// A configuration with defaults for everything but the endpoint.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }

    /// The transcription endpoint under [`TranscriberConfig::base_url`].
    pub fn endpoint(&self) -> String {
        format!(
            "{}/audio/transcriptions",
            self.base_url.trim_end_matches('/')
        )
    }
}

impl Default for TranscriberConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/v1".to_owned(),
            api_key: None,
            model: DEFAULT_TRANSCRIPTION_MODEL.to_owned(),
            language: None,
            prompt: None,
            max_bytes: OPENAI_MAX_AUDIO_BYTES,
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// The audio to transcribe.
#[derive(Clone, PartialEq, Eq)]
pub struct Audio {
    /// The encoded audio (OGG/Opus, MP3, WAV, M4A, ...).
    pub bytes: Vec<u8>,
    /// Sent as the part's file name; OpenAI tells the format by its
    /// extension (`voice.ogg`), so it must have the right one.
    pub file_name: String,
    /// The part's `Content-Type` (`audio/ogg`).
    pub mime: String,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audio")
            .field("bytes", &self.bytes.len())
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .finish()
    }
}

impl Audio {
    pub fn new(bytes: Vec<u8>, file_name: impl Into<String>, mime: impl Into<String>) -> Self {
        Self {
            bytes,
            file_name: file_name.into(),
            mime: mime.into(),
        }
    }

    /// Reads `path`, refusing a file over `max_bytes` before reading it;
    /// the file name sent is the path's last component.
    pub async fn from_file(
        path: &Path,
        mime: impl Into<String>,
        max_bytes: u64,
    ) -> Result<Self, AgentError> {
        let owned = path.to_owned();
        let read = tokio::task::spawn_blocking(move || {
            let size = std::fs::metadata(&owned)?.len();
            if size > max_bytes {
                return Ok(Err(size));
            }
            std::fs::read(&owned).map(Ok)
        })
        .await
        .map_err(|e| AgentError::Transient(format!("reading the audio file failed: {e}")))?;
        let bytes = match read {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(size)) => return Err(too_large(size, max_bytes)),
            Err(err) => {
                return Err(AgentError::Rejected {
                    status: 0,
                    message: format!("cannot read the audio file {}: {err}", path.display()),
                });
            }
        };
        let file_name = path
            .file_name()
            .map_or_else(|| "audio".to_owned(), |n| n.to_string_lossy().into_owned());
        Ok(Self::new(bytes, file_name, mime))
    }
}

/// What the endpoint heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    /// The detected or given language, when the endpoint reports it
    /// (`english` from OpenAI's `verbose_json`, `en` from others).
    pub language: Option<String>,
    /// The audio's length, when the endpoint reports it.
    pub duration: Option<Duration>,
}

/// A client of one transcription endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Transcriber {
    http: reqwest::Client,
    endpoint: String,
    config: TranscriberConfig,
}

impl Transcriber {
    pub fn new(config: TranscriberConfig) -> Result<Self, AgentError> {
        let http = crate::llm::own_http(config.request_timeout)?;
        Ok(Self::with_http(config, &http))
    }

    /// A transcriber on `http`'s connection pool, shared with the
    /// gateway's other clients.
    pub fn with_http(config: TranscriberConfig, http: &HttpClient) -> Self {
        Self {
            http: http.reqwest().clone(),
            endpoint: config.endpoint(),
            config,
        }
    }

    pub fn config(&self) -> &TranscriberConfig {
        &self.config
    }

    /// Transcribes `audio`. Audio over [`TranscriberConfig::max_bytes`] is
    /// refused without a request, as [`AgentError::Rejected`] with status
    /// 413 (what the endpoint would answer). `cancel` aborts the request
    /// and any wait between attempts.
    pub async fn transcribe(
        &self,
        audio: &Audio,
        cancel: &CancellationToken,
    ) -> Result<Transcript, AgentError> {
        let size = audio.bytes.len() as u64;
        if size > self.config.max_bytes {
            return Err(too_large(size, self.config.max_bytes));
        }
        if audio.bytes.is_empty() {
            return Err(AgentError::Rejected {
                status: 400,
                message: "the audio is empty; there is nothing to transcribe".to_owned(),
            });
        }
        hermod_http::retry(&self.config.retry, cancel, || self.attempt(audio))
            .await
            .map_err(to_agent_error)
    }

    /// The multipart form of one attempt (built anew for each, since a
    /// form is consumed by sending it).
    fn form(&self, audio: &Audio) -> reqwest::multipart::Form {
        let file =
            reqwest::multipart::Part::bytes(audio.bytes.clone()).file_name(audio.file_name.clone());
        // An unparsable type is left out rather than failing the request:
        // the endpoints go by the file name.
        let file = match file.mime_str(&audio.mime) {
            Ok(part) => part,
            Err(_) => reqwest::multipart::Part::bytes(audio.bytes.clone())
                .file_name(audio.file_name.clone()),
        };
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.config.model.clone())
            .text("response_format", "json");
        if let Some(language) = &self.config.language {
            form = form.text("language", language.clone());
        }
        if let Some(prompt) = &self.config.prompt {
            form = form.text("prompt", prompt.clone());
        }
        form
    }

    async fn attempt(&self, audio: &Audio) -> Result<Transcript, HttpError> {
        let limit = self.config.request_timeout;
        match tokio::time::timeout(limit, self.exchange(audio)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Transient(format!(
                "no transcription within {}",
                crate::human::describe(limit)
            ))),
        }
    }

    async fn exchange(&self, audio: &Audio) -> Result<Transcript, HttpError> {
        let mut request = self.http.post(&self.endpoint).multipart(self.form(audio));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(classify_status(status, &headers, &text));
        }
        parse_transcript(&text)
    }
}

/// The answer to `response_format=json` (or `verbose_json`).
fn parse_transcript(body: &str) -> Result<Transcript, HttpError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| HttpError::Protocol(format!("the transcription is not JSON ({e})")))?;
    let Some(text) = value["text"].as_str() else {
        return Err(HttpError::Protocol(
            "the transcription has no `text`".to_owned(),
        ));
    };
    let language = value["language"]
        .as_str()
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    let duration = value["duration"]
        .as_f64()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    Ok(Transcript {
        text: text.trim().to_owned(),
        language,
        duration,
    })
}

fn too_large(size: u64, max: u64) -> AgentError {
    AgentError::Rejected {
        status: 413,
        message: format!(
            "the audio is {}, over the {} the transcription endpoint is configured to take \
             (stt.max_bytes); send a shorter recording",
            megabytes(size),
            megabytes(max)
        ),
    }
}

fn megabytes(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a size shown to a person")]
    let mb = bytes as f64 / (1024.0 * 1024.0);
    format!("{mb:.1} MB")
}

/// The human-readable part of an error body: OpenAI's
/// `{"error": {"message": ...}}`, or the `detail` of FastAPI-based servers.
pub(crate) fn error_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return body.trim().to_owned();
    };
    [
        &value["error"]["message"],
        &value["error"],
        &value["message"],
        &value["detail"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
    .map_or_else(|| body.trim().to_owned(), str::to_owned)
}

fn to_agent_error(err: HttpError) -> AgentError {
    endpoint_error(err, "/audio/transcriptions")
}

/// An audio endpoint's failure as the agent's error; a 404 asks whether
/// the server serves `path` at all.
pub(crate) fn endpoint_error(err: HttpError, path: &str) -> AgentError {
    match err {
        HttpError::RateLimited { retry_after } => AgentError::RateLimited { retry_after },
        HttpError::Transient(message) => AgentError::Transient(message),
        HttpError::Auth { status } => AgentError::Auth { status },
        HttpError::NotFound { body } => AgentError::Rejected {
            status: 404,
            message: format!(
                "{} (is the base URL right, and does the server serve {path}?)",
                error_message(&body)
            ),
        },
        HttpError::Rejected { status, body } => AgentError::Rejected {
            status,
            message: error_message(&body),
        },
        HttpError::Protocol(message) => AgentError::Protocol(message),
        HttpError::Setup(message) => AgentError::Protocol(format!("invalid request: {message}")),
        HttpError::Cancelled => AgentError::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_accepts_a_trailing_slash() {
        assert_eq!(
            TranscriberConfig::new("http://h/v1/").endpoint(),
            "http://h/v1/audio/transcriptions"
        );
    }

    #[test]
    fn json_and_verbose_json_answers_parse() {
        let plain = parse_transcript(r#"{"text":" hello "}"#).expect("json");
        assert_eq!(plain.text, "hello");
        assert_eq!((plain.language, plain.duration), (None, None));
        let verbose =
            parse_transcript(r#"{"task":"transcribe","language":"english","duration":2.5,"text":"hi","segments":[]}"#)
                .expect("verbose_json");
        assert_eq!(verbose.language.as_deref(), Some("english"));
        assert_eq!(verbose.duration, Some(Duration::from_millis(2500)));
        assert!(matches!(
            parse_transcript("{}"),
            Err(HttpError::Protocol(_))
        ));
        assert!(matches!(
            parse_transcript("hello"),
            Err(HttpError::Protocol(_))
        ));
    }

    #[test]
    fn debug_hides_the_key_and_the_audio() {
        let config = TranscriberConfig {
            api_key: Some(Secret::new("sk-stt-123")),
            ..TranscriberConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-stt-123"), "{shown}");
        let audio = format!("{:?}", Audio::new(vec![7; 3], "a.ogg", "audio/ogg"));
        assert!(audio.contains("bytes: 3"), "{audio}");
    }

    #[test]
    fn too_large_says_what_to_do() {
        let err = too_large(30 * 1024 * 1024, OPENAI_MAX_AUDIO_BYTES);
        let text = err.to_string();
        assert!(
            text.contains("30.0 MB") && text.contains("25.0 MB"),
            "{text}"
        );
        assert_eq!(err.kind(), "rejected");
    }
}
