//! [`FakeSpeech`]: a fake OpenAI-compatible speech server on a local
//! port: speech to text, `POST /v1/audio/transcriptions` (here), and text
//! to speech, `POST /v1/audio/speech` ([`synthesis`]).
//!
//! It reads the request the way OpenAI does and refuses what OpenAI
//! refuses, with OpenAI's error shape: a body that is not
//! `multipart/form-data`, no `file` part or one without a file name, a
//! file name whose extension is not an audio format OpenAI takes, an
//! empty file, no `model`, an unknown `response_format`, a body over
//! 25 MB (413), and, when [`FakeSpeech::require_key`] was called, a
//! missing or wrong bearer key (401).
//!
//! A valid request is answered from, in order: the queue of scripted
//! [`SpeechReply`] values, the transcript set for those exact audio bytes
//! ([`FakeSpeech::answer_audio`], matched by SHA-256), and the default
//! transcript. Faults are replies too: 401, 429 with `Retry-After`, 500,
//! 413 and a hang. Every request is recorded, valid or not.

mod synthesis;

pub use synthesis::{MAX_INPUT_CHARS, SPEECH_FORMATS, SynthesisReply, SynthesisRequest, audio_for};

use crate::peer::{Body, Part, read_body};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// OpenAI's upload limit for transcriptions, in bytes (26,214,400; its
/// 413 names this number).
pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;

/// The file extensions OpenAI accepts, as its 400 answer lists them.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm",
];

/// The `response_format` values OpenAI accepts.
const RESPONSE_FORMATS: &[&str] = &["json", "text", "srt", "verbose_json", "vtt"];

/// How the fake answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeechReply {
    /// A transcript, in the requested `response_format`.
    Text(String),
    /// 401 `invalid_api_key`, as for a wrong key.
    Unauthorized,
    /// 429 with `Retry-After: <secs>` (none when `None`).
    RateLimited { retry_after_secs: Option<u64> },
    /// 500 `server_error`.
    ServerError,
    /// 413, as OpenAI answers a body over its limit.
    TooLarge,
    /// Never answers (until the fake is dropped).
    Hang,
}

impl SpeechReply {
    pub fn text(text: impl Into<String>) -> Self {
        SpeechReply::Text(text.into())
    }
}

/// One request the fake received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptionRequest {
    /// The `Content-Type` header, lowercase.
    pub content_type: String,
    pub authorization: Option<String>,
    /// The `file` part's file name, type and bytes.
    pub file_name: Option<String>,
    pub file_type: Option<String>,
    pub file: Vec<u8>,
    /// The text fields (`model`, `response_format`, `language`, `prompt`).
    pub fields: HashMap<String, String>,
    /// The status the fake answered.
    pub status: u16,
}

impl TranscriptionRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn model(&self) -> Option<&str> {
        self.field("model")
    }
}

#[derive(Debug)]
struct Script {
    queue: VecDeque<SpeechReply>,
    by_audio: HashMap<[u8; 32], String>,
    default: String,
    key: Option<String>,
    requests: Vec<TranscriptionRequest>,
    /// `/audio/speech`'s script and requests.
    synthesis: synthesis::Script,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<Script>,
    changed: Notify,
    shutdown: CancellationToken,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake speech server. Dropping it shuts it down.
#[derive(Debug)]
pub struct FakeSpeech {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl FakeSpeech {
    /// Binds `127.0.0.1:0` and serves; connections are accepted as soon
    /// as this returns.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(Script {
                queue: VecDeque::new(),
                by_audio: HashMap::new(),
                default: "fake transcript".to_owned(),
                key: None,
                requests: Vec::new(),
                synthesis: synthesis::Script::default(),
            }),
            changed: Notify::new(),
            shutdown: CancellationToken::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake speech server binds a local port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(transcriptions))
            .route("/v1/audio/speech", post(synthesis::speech))
            // Room for a body just over the limit, so the limit check
            // below answers rather than the multipart reader.
            .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES * 2))
            .with_state(shared.clone());
        let shutdown = shared.shutdown.clone().cancelled_owned();
        tokio::spawn(async move {
            // Serving ends with an error only when accepting fails for good;
            // tests then see connection errors, the right signal.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Self { shared, addr }
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requires `Authorization: Bearer <key>`; other requests get 401.
    pub fn require_key(&self, key: impl Into<String>) -> &Self {
        self.shared.lock().key = Some(key.into());
        self
    }

    /// Queues the answer to a coming valid request.
    pub fn push(&self, reply: SpeechReply) -> &Self {
        self.shared.lock().queue.push_back(reply);
        self
    }

    /// Answers `text` whenever exactly these audio bytes are sent (and
    /// no queued reply comes first).
    pub fn answer_audio(&self, audio: &[u8], text: impl Into<String>) -> &Self {
        self.shared
            .lock()
            .by_audio
            .insert(digest(audio), text.into());
        self
    }

    /// The transcript for audio nothing else answers.
    pub fn set_default(&self, text: impl Into<String>) -> &Self {
        self.shared.lock().default = text.into();
        self
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<TranscriptionRequest> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        loop {
            let notified = self.shared.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.shared.lock().requests.len() >= n {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for FakeSpeech {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// OpenAI's error answer.
fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

fn invalid(message: &str) -> Response {
    error(400, "invalid_request_error", None, message)
}

fn too_large() -> Response {
    error(
        413,
        "invalid_request_error",
        None,
        &format!("Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded."),
    )
}

async fn transcriptions(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let mut record = TranscriptionRequest {
        content_type: header_text(&request, header::CONTENT_TYPE).to_ascii_lowercase(),
        authorization: Some(header_text(&request, header::AUTHORIZATION)).filter(|a| !a.is_empty()),
        ..TranscriptionRequest::default()
    };
    let length = header_text(&request, header::CONTENT_LENGTH)
        .parse::<usize>()
        .unwrap_or(0);
    let response = if length > MAX_UPLOAD_BYTES {
        too_large()
    } else {
        answer(&shared, request, &mut record).await
    };
    record.status = response.status().as_u16();
    shared.lock().requests.push(record);
    shared.changed.notify_waiters();
    response
}

fn header_text(request: &Request, name: header::HeaderName) -> String {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Checks the request as OpenAI would, then answers from the script.
async fn answer(shared: &Shared, request: Request, record: &mut TranscriptionRequest) -> Response {
    let key = shared.lock().key.clone();
    if let Some(key) = key
        && record.authorization.as_deref() != Some(&format!("Bearer {key}"))
    {
        return unauthorized();
    }
    let Ok(read) = read_body(request, MAX_UPLOAD_BYTES * 2).await else {
        return invalid("Could not parse multipart form");
    };
    let Body::Multipart(parts) = read.body else {
        return invalid(
            "Invalid Content-Type header (expected multipart/form-data), or missing required parameter: 'file'.",
        );
    };
    let mut file: Option<Part> = None;
    for part in parts {
        if part.name == "file" {
            file = Some(part);
        } else {
            record.fields.insert(part.name.clone(), part.text());
        }
    }
    let Some(file) = file else {
        return invalid("you must provide a file");
    };
    record.file_name.clone_from(&file.file_name);
    record.file_type.clone_from(&file.content_type);
    record.file.clone_from(&file.bytes);
    let extension = file
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    if !extension.is_some_and(|ext| AUDIO_EXTENSIONS.contains(&ext.as_str())) {
        return invalid(&format!(
            "Invalid file format. Supported formats: {AUDIO_EXTENSIONS:?}"
        ));
    }
    if file.bytes.is_empty() {
        return invalid("Audio file is too short. Minimum audio length is 0.1 seconds.");
    }
    if record.model().is_none_or(str::is_empty) {
        return invalid("you must provide a model parameter");
    }
    let format = record.field("response_format").unwrap_or("json").to_owned();
    if !RESPONSE_FORMATS.contains(&format.as_str()) {
        return invalid(&format!(
            "'{format}' is not one of {RESPONSE_FORMATS:?} - 'response_format'"
        ));
    }
    let reply = {
        let mut state = shared.lock();
        let scripted = state.queue.pop_front();
        scripted.unwrap_or_else(|| {
            let text = state
                .by_audio
                .get(&digest(&file.bytes))
                .unwrap_or(&state.default);
            SpeechReply::Text(text.clone())
        })
    };
    match reply {
        SpeechReply::Text(text) => render(&format, &text, record.field("language")),
        SpeechReply::Unauthorized => unauthorized(),
        SpeechReply::RateLimited { retry_after_secs } => rate_limited(retry_after_secs),
        SpeechReply::ServerError => server_error(),
        SpeechReply::TooLarge => too_large(),
        SpeechReply::Hang => {
            shared.shutdown.cancelled().await;
            error(503, "server_error", None, "the fake is shutting down")
        }
    }
}

/// 429 as OpenAI answers it, with `Retry-After` when given.
fn rate_limited(retry_after_secs: Option<u64>) -> Response {
    let mut response = error(
        429,
        "requests",
        Some("rate_limit_exceeded"),
        "Rate limit reached for requests. Please try again later.",
    );
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// 500 as OpenAI answers it.
fn server_error() -> Response {
    error(
        500,
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    )
}

fn unauthorized() -> Response {
    error(
        401,
        "invalid_request_error",
        Some("invalid_api_key"),
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    )
}

/// The transcript in the requested format.
fn render(format: &str, text: &str, language: Option<&str>) -> Response {
    match format {
        "json" => axum::Json(json!({"text": text})).into_response(),
        "verbose_json" => axum::Json(json!({
            "task": "transcribe",
            "language": language.unwrap_or("english"),
            "duration": 1.0,
            "text": text,
            "segments": [],
        }))
        .into_response(),
        "srt" => format!("1\n00:00:00,000 --> 00:00:01,000\n{text}\n\n").into_response(),
        "vtt" => format!("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n\n").into_response(),
        _ => format!("{text}\n").into_response(),
    }
}
