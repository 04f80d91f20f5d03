//! [`LlmClient`]: one call to an OpenAI-compatible chat completions
//! endpoint, streamed or not, with retries that never repeat visible text.
//! A stream counts as finished at `[DONE]` or, from providers that omit
//! it, at a `finish_reason`; ending any other way, it was cut short.

mod sse;
mod wire;

pub use wire::{CallEnd, Completion};

use crate::config::LlmConfig;
use crate::turn::{AgentError, AgentEvent};
use hermod_http::{HttpClient, HttpConfig, HttpError, classify_status};
use hermod_model::{ChatMessage, TurnOptions, Usage};
use serde_json::{Value, json};
use sse::SseParser;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wire::{Received, StreamAccumulator};

/// What to send for one model call.
#[derive(Debug, Clone, Copy)]
pub struct CompletionRequest<'a> {
    /// The whole conversation, system prompt first.
    pub messages: &'a [ChatMessage],
    /// OpenAI `tools` entries; omitted from the request when empty.
    pub tools: &'a [Value],
    pub options: &'a TurnOptions,
}

/// A client of one OpenAI-compatible endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    endpoint: String,
    config: LlmConfig,
}

/// Why an attempt ended without an answer.
enum Failure {
    /// Worth classifying for a retry.
    Http(HttpError),
    /// Final: protocol errors, error objects, cancellation.
    Agent(AgentError),
    /// The stream ended before the provider finished its answer.
    Cut(Cut),
}

/// A stream that ended with neither a `finish_reason` nor `[DONE]`.
struct Cut {
    /// What ended it: a clean close, a connection error, a stall.
    cause: String,
    received: Received,
    usage: Option<Usage>,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the stream ended before the model finished its answer ({}; received {})",
            self.cause, self.received
        )
    }
}

impl From<HttpError> for Failure {
    fn from(err: HttpError) -> Self {
        Failure::Http(err)
    }
}

impl From<AgentError> for Failure {
    fn from(err: AgentError) -> Self {
        match err {
            AgentError::RateLimited { retry_after } => {
                Failure::Http(HttpError::RateLimited { retry_after })
            }
            AgentError::Transient(message) => Failure::Http(HttpError::Transient(message)),
            other => Failure::Agent(other),
        }
    }
}

/// A client of its own for one endpoint (when there is no shared one),
/// connecting within the request timeout (at most 30 s).
pub(crate) fn own_http(request_timeout: Duration) -> Result<HttpClient, AgentError> {
    HttpClient::with_config(&HttpConfig {
        connect_timeout: request_timeout.min(Duration::from_secs(30)),
        ..HttpConfig::default()
    })
    .map_err(to_agent_error)
}

fn to_agent_error(err: HttpError) -> AgentError {
    match err {
        HttpError::RateLimited { retry_after } => AgentError::RateLimited { retry_after },
        HttpError::Transient(message) => AgentError::Transient(message),
        HttpError::Auth { status } => AgentError::Auth { status },
        HttpError::NotFound { body } => AgentError::Rejected {
            status: 404,
            message: wire::error_message(&body),
        },
        HttpError::Rejected { status, body } => AgentError::Rejected {
            status,
            message: wire::error_message(&body),
        },
        HttpError::Protocol(message) => AgentError::Protocol(message),
        HttpError::Setup(message) => AgentError::Protocol(format!("invalid request: {message}")),
        HttpError::Cancelled => AgentError::Cancelled,
    }
}

/// The events channel and what has been shown through it during one call.
struct Output<'a> {
    events: &'a mpsc::Sender<AgentEvent>,
    cancel: &'a CancellationToken,
    shown: String,
}

impl Output<'_> {
    /// Runs `fut` unless the turn is cancelled or nobody listens any more.
    async fn guard<T>(&self, fut: impl Future<Output = T>) -> Result<T, Failure> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Failure::Agent(AgentError::Cancelled)),
            () = self.events.closed() => Err(Failure::Agent(AgentError::Cancelled)),
            value = fut => Ok(value),
        }
    }

    /// [`Output::guard`] with a time bound.
    async fn timed<T>(
        &self,
        limit: Duration,
        what: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, Failure> {
        match self.guard(tokio::time::timeout(limit, fut)).await? {
            Ok(value) => Ok(value),
            Err(_) => Err(HttpError::Transient(format!(
                "no {what} within {}",
                crate::human::describe(limit)
            ))
            .into()),
        }
    }

    async fn show(&mut self, text: String) -> Result<(), Failure> {
        if text.is_empty() {
            return Ok(());
        }
        self.shown.push_str(&text);
        match self
            .guard(self.events.send(AgentEvent::TextDelta(text)))
            .await?
        {
            Ok(()) => Ok(()),
            Err(_) => Err(Failure::Agent(AgentError::Cancelled)),
        }
    }
}

impl LlmClient {
    pub fn new(config: LlmConfig) -> Result<Self, AgentError> {
        let http = crate::llm::own_http(config.request_timeout)?;
        Ok(Self::with_http(config, &http))
    }

    /// A client on `http`'s connection pool (and its one copy of the
    /// system's root certificates), shared with the gateway's other clients.
    pub fn with_http(config: LlmConfig, http: &HttpClient) -> Self {
        Self {
            http: http.reqwest().clone(),
            endpoint: config.endpoint(),
            config,
        }
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The JSON body of a request.
    pub fn request_body(&self, request: &CompletionRequest<'_>) -> Value {
        let model = request
            .options
            .model
            .as_deref()
            .unwrap_or(&self.config.model);
        let mut body = json!({
            "model": model,
            "messages": request.messages,
            "stream": self.config.stream,
        });
        if self.config.stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if !request.tools.is_empty() {
            body["tools"] = json!(request.tools);
        }
        if let Some(temperature) = request.options.temperature {
            body["temperature"] = json!(temperature);
        }
        if let Some(max_tokens) = request.options.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        if let Some(effort) = &request.options.reasoning_effort {
            body["reasoning_effort"] = json!(effort);
        }
        body
    }

    /// Calls the model once. Text is sent on `events` as
    /// [`AgentEvent::TextDelta`] while it arrives. Failed attempts are
    /// retried per [`LlmConfig::retry`] as long as no text was shown.
    ///
    /// A stream that ends before the provider finished its answer (no
    /// `finish_reason` on any choice and no `[DONE]`) is such a failed
    /// attempt while nothing was shown; once text was shown, the result is
    /// a [`Completion`] ending [`CallEnd::Incomplete`] with that text and no
    /// tool calls, since arguments may be cut too.
    ///
    /// Cancellation (`cancel`, or the receiver of `events` going away)
    /// aborts the request: the result is [`AgentError::Cancelled`], or a
    /// [`Completion`] ending [`CallEnd::Cancelled`] with the text already
    /// shown.
    pub async fn complete(
        &self,
        request: &CompletionRequest<'_>,
        cancel: &CancellationToken,
        events: &mpsc::Sender<AgentEvent>,
    ) -> Result<Completion, AgentError> {
        let body = self.request_body(request);
        let mut out = Output {
            events,
            cancel,
            shown: String::new(),
        };
        let mut attempt = 1;
        loop {
            let err = match self.attempt(&body, &mut out).await {
                Ok(completion) => return Ok(completion),
                Err(Failure::Agent(AgentError::Cancelled)) if !out.shown.is_empty() => {
                    return Ok(Completion {
                        text: std::mem::take(&mut out.shown),
                        end: CallEnd::Cancelled,
                        ..Completion::default()
                    });
                }
                Err(Failure::Agent(err)) => return Err(err),
                Err(Failure::Http(err)) => err,
                Err(Failure::Cut(cut)) if !out.shown.is_empty() => {
                    return Ok(Completion {
                        text: std::mem::take(&mut out.shown),
                        usage: cut.usage,
                        end: CallEnd::Incomplete,
                        ..Completion::default()
                    });
                }
                // Nothing of it was shown: a fresh attempt is invisible.
                Err(Failure::Cut(cut)) => HttpError::Transient(cut.to_string()),
            };
            // Once text was shown, a retry would show it again.
            let delay = if out.shown.is_empty() {
                self.config.retry.next_delay(attempt, &err)
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(to_agent_error(err));
            };
            tracing::warn!(attempt, ?delay, error = %err, "model call failed; retrying");
            match out.guard(tokio::time::sleep(delay)).await {
                Ok(()) => attempt += 1,
                Err(_) => return Err(AgentError::Cancelled),
            }
        }
    }

    async fn attempt(&self, body: &Value, out: &mut Output<'_>) -> Result<Completion, Failure> {
        let limit = self.config.request_timeout;
        let mut request = self.http.post(&self.endpoint).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = out
            .timed(limit, "response", request.send())
            .await?
            .map_err(HttpError::from)?;
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            // The error body is only for the message; a failure to read it is no news.
            let text: String = out
                .timed(limit, "error body", response.text())
                .await?
                .unwrap_or_default();
            return Err(classify_status(status, &headers, &text).into());
        }
        // Some providers ignore `stream` and answer with one JSON object.
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if self.config.stream && !is_json {
            self.read_stream(response, out).await
        } else {
            let bytes = out
                .timed(limit, "response body", response.bytes())
                .await?
                .map_err(HttpError::from)?;
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                if e.is_eof() {
                    // Cut short, like a broken stream; nothing was shown yet.
                    tracing::warn!(bytes = bytes.len(), "the model's response ended mid-JSON");
                    Failure::Http(HttpError::Transient(format!(
                        "the response ended before its JSON did ({e})"
                    )))
                } else {
                    AgentError::Protocol(format!("the response is not JSON ({e})")).into()
                }
            })?;
            let completion = wire::parse_completion(&value)?;
            out.show(completion.text.clone()).await?;
            Ok(completion)
        }
    }

    /// Reads a stream to its end: `[DONE]`, or the end of the body once
    /// a `finish_reason` arrived. Any other end is a [`Failure::Cut`].
    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        out: &mut Output<'_>,
    ) -> Result<Completion, Failure> {
        let limit = self.config.request_timeout;
        let mut parser = SseParser::new();
        let mut answer = StreamAccumulator::default();
        let mut bytes_received = 0;
        let cause = loop {
            let chunk = match out.timed(limit, "stream data", response.chunk()).await {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(err)) => break HttpError::from(err).to_string(),
                // A stall: the provider stopped sending.
                Err(Failure::Http(err)) => break err.to_string(),
                Err(other) => return Err(other),
            };
            let Some(bytes) = chunk else {
                // An event left without its closing blank line is applied;
                // one cut mid-way is not JSON and part of the cut.
                if let Some(data) = parser.finish()
                    && let Ok(event) = parse_event(&data)
                    && apply_event(event, &mut answer, out).await?
                {
                    return Ok(answer.finish());
                }
                break "the connection closed".to_owned();
            };
            bytes_received += bytes.len();
            for data in parser.push(&bytes) {
                if apply_event(parse_event(&data)?, &mut answer, out).await? {
                    return Ok(answer.finish());
                }
            }
        };
        if answer.is_finished() {
            // Some providers close, or even break, the connection after the
            // finish chunk instead of sending `[DONE]`.
            tracing::debug!(%cause, "the model's stream ended without [DONE] after finishing");
            return Ok(answer.finish());
        }
        let received = answer.received();
        tracing::warn!(
            %cause,
            bytes = bytes_received,
            chunks = received.chunks,
            text_chars = received.text_chars,
            tool_calls = received.tool_calls,
            shown_chars = out.shown.chars().count(),
            "the model's stream ended before the model finished its answer"
        );
        Err(Failure::Cut(Cut {
            cause,
            received,
            usage: answer.usage(),
        }))
    }
}

/// One SSE payload of a chat completion stream.
enum Event {
    /// `[DONE]`.
    Done,
    Chunks(Vec<Value>),
}

fn parse_event(data: &str) -> Result<Event, AgentError> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(Event::Done);
    }
    if data.is_empty() {
        return Ok(Event::Chunks(Vec::new()));
    }
    match serde_json::from_str(data) {
        Ok(value) => Ok(Event::Chunks(vec![value])),
        // Several `data:` lines of one event, each a whole chunk.
        Err(err) => data
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map(Event::Chunks)
            .map_err(|_| AgentError::Protocol(format!("a stream chunk is not JSON ({err})"))),
    }
}

/// Applies one SSE payload; true at `[DONE]`.
async fn apply_event(
    event: Event,
    answer: &mut StreamAccumulator,
    out: &mut Output<'_>,
) -> Result<bool, Failure> {
    let chunks = match event {
        Event::Done => return Ok(true),
        Event::Chunks(chunks) => chunks,
    };
    for chunk in &chunks {
        let text = answer.apply(chunk)?;
        out.show(text).await?;
    }
    Ok(false)
}
