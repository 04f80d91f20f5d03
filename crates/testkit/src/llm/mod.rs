//! [`FakeLlm`]: a scripted OpenAI-compatible chat completions server on a
//! local port, recording what it receives.
//!
//! Replies are consumed one per request from a FIFO queue of [`Reply`]
//! values; when the queue is empty the default reply (echo) answers. The
//! server is listening when [`FakeLlm::start`] returns and stops when the
//! handle is dropped.

mod body;
mod render;
mod reply;

pub use reply::Reply;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use body::{RequestGuard, ScriptedBody};
use bytes::Bytes;
use render::RequestView;
use reply::Kind;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Response header with the microseconds the fake spent on the request
/// (scripted token delays included).
pub const TIME_HEADER: &str = "x-fake-llm-time-us";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
    pub headers: HeaderMap,
}

impl RecordedRequest {
    /// The `Authorization` header.
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `messages` array (empty when absent).
    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }

    pub fn is_stream(&self) -> bool {
        self.body["stream"].as_bool().unwrap_or(false)
    }

    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }

    /// The names of the offered tools.
    pub fn tool_names(&self) -> Vec<&str> {
        self.body["tools"]
            .as_array()
            .map_or_else(Vec::new, |tools| {
                tools
                    .iter()
                    .filter_map(|t| t["function"]["name"].as_str())
                    .collect()
            })
    }
}

#[derive(Debug)]
struct Script {
    queue: VecDeque<Reply>,
    default: Reply,
}

/// State shared by the handle and the request handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    script: Mutex<Script>,
    requests: Mutex<Vec<RecordedRequest>>,
    busy: Mutex<Duration>,
    in_flight: AtomicUsize,
    completed: AtomicUsize,
    disconnects: AtomicUsize,
    /// Woken whenever a request arrives or ends.
    changed: Notify,
    shutdown: CancellationToken,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn add_busy(&self, elapsed: Duration) {
        *lock(&self.busy) += elapsed;
    }

    fn next_reply(&self) -> Reply {
        let mut script = lock(&self.script);
        script
            .queue
            .pop_front()
            .unwrap_or_else(|| script.default.clone())
    }

    async fn wait_until(&self, condition: impl Fn() -> bool) {
        loop {
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if condition() {
                return;
            }
            notified.await;
        }
    }
}

/// A running fake LLM server. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeLlm {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeLlm {
    /// Binds `127.0.0.1:0` and starts serving; the server accepts
    /// connections as soon as this returns.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                queue: VecDeque::new(),
                default: Reply::echo(),
            }),
            requests: Mutex::new(Vec::new()),
            busy: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            disconnects: AtomicUsize::new(0),
            changed: Notify::new(),
            shutdown: CancellationToken::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake LLM binds a local port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(models))
            .with_state(shared.clone());
        let shutdown = shared.shutdown.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            // Serving only ends with an error when accepting fails for good;
            // the tests then see connection errors, which is the right signal.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Self {
            shared,
            addr,
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a reply for a coming request.
    pub fn push(&self, reply: Reply) -> &Self {
        lock(&self.shared.script).queue.push_back(reply);
        self
    }

    /// Queues several replies, in order.
    pub fn push_all(&self, replies: impl IntoIterator<Item = Reply>) -> &Self {
        lock(&self.shared.script).queue.extend(replies);
        self
    }

    /// The reply used when the queue is empty (initially [`Reply::echo`]).
    pub fn set_default(&self, reply: Reply) -> &Self {
        lock(&self.shared.script).default = reply;
        self
    }

    /// Scripted replies not consumed yet.
    pub fn pending_replies(&self) -> usize {
        lock(&self.shared.script).queue.len()
    }

    /// Every chat completion request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Requests whose response has not ended yet.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Requests whose response was delivered as scripted.
    pub fn completed(&self) -> usize {
        self.shared.completed.load(Ordering::SeqCst)
    }

    /// Requests whose client went away before the response ended.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        self.shared.wait_until(|| self.request_count() >= n).await;
    }

    /// Waits until at least `n` responses ended as scripted.
    pub async fn wait_for_completions(&self, n: usize) {
        self.shared.wait_until(|| self.completed() >= n).await;
    }

    /// Waits until clients went away mid-response at least `n` times.
    pub async fn wait_for_disconnects(&self, n: usize) {
        self.shared.wait_until(|| self.disconnects() >= n).await;
    }

    /// Total time spent handling requests, scripted delays included.
    pub fn busy_time(&self) -> Duration {
        *lock(&self.shared.busy)
    }

    /// Stops the server and waits for it to finish. Hanging replies are
    /// released first.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

async fn models() -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": "fake-model", "object": "model", "created": 1_700_000_000, "owned_by": "hermod-testkit"}],
    }))
    .into_response()
}

fn error_body(status: u16, message: &str) -> String {
    let kind = match status {
        429 => "rate_limit_error",
        401 | 403 => "authentication_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    json!({"error": {"message": message, "type": kind, "code": status}}).to_string()
}

fn time_header(elapsed: Duration) -> HeaderValue {
    HeaderValue::from(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let guard = RequestGuard::new(shared.clone());
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    lock(&shared.requests).push(RecordedRequest {
        body: json.clone(),
        headers,
    });
    shared.changed.notify_waiters();

    if !json.is_object() {
        let response = plain_error(
            StatusCode::BAD_REQUEST,
            "the body is not a JSON object",
            &guard,
        );
        guard.finish();
        return response;
    }
    let reply = shared.next_reply();
    let view = RequestView::from_body(&json);
    let stream = json["stream"].as_bool().unwrap_or(false) && !reply.ignore_stream;

    match &reply.kind {
        Kind::Hang => {
            shared.shutdown.cancelled().await;
            let response = plain_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the fake LLM shut down",
                &guard,
            );
            guard.finish();
            response
        }
        Kind::Status { status, body } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = body
                .clone()
                .unwrap_or_else(|| error_body(status.as_u16(), "scripted failure"));
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                message,
            )
                .into_response();
            if let Some(secs) = reply.retry_after {
                let value = if secs.fract() == 0.0 {
                    format!("{secs:.0}")
                } else {
                    secs.to_string()
                };
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
                .headers_mut()
                .insert(TIME_HEADER, time_header(guard.elapsed()));
            guard.finish();
            response
        }
        Kind::RawStream(pieces) => {
            let pieces = pieces.iter().map(|p| Bytes::from(p.clone())).collect();
            sse_response(pieces, &reply, guard)
        }
        _ if stream => {
            let events = render::stream_events(&reply, &view);
            sse_response(events.into_iter().map(Bytes::from).collect(), &reply, guard)
        }
        _ => {
            let body = render::completion(&reply, &view).to_string();
            let broken = reply.drop_after_chunks.is_some() || reply.end_after_chunks.is_some();
            let mut response = if broken {
                let pieces: Vec<Bytes> = body
                    .as_bytes()
                    .chunks(16)
                    .take(reply.end_after_chunks.unwrap_or(usize::MAX))
                    .map(Bytes::copy_from_slice)
                    .collect();
                let scripted =
                    ScriptedBody::new(pieces, reply.token_delay, reply.drop_after_chunks, guard);
                Response::new(Body::from_stream(scripted))
            } else {
                let mut response = Response::new(Body::from(body));
                response
                    .headers_mut()
                    .insert(TIME_HEADER, time_header(guard.elapsed()));
                guard.finish();
                response
            };
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

fn plain_error(status: StatusCode, message: &str, guard: &RequestGuard) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        error_body(status.as_u16(), message),
    )
        .into_response();
    response
        .headers_mut()
        .insert(TIME_HEADER, time_header(guard.elapsed()));
    response
}

fn sse_response(mut pieces: Vec<Bytes>, reply: &Reply, guard: RequestGuard) -> Response {
    if let Some(n) = reply.end_after_chunks {
        pieces.truncate(n);
    }
    let gaps = u32::try_from(pieces.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let planned = guard.elapsed() + reply.token_delay.saturating_mul(gaps);
    let scripted = ScriptedBody::new(pieces, reply.token_delay, reply.drop_after_chunks, guard);
    let mut response = Response::new(Body::from_stream(scripted));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(TIME_HEADER, time_header(planned));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(fake: &FakeLlm, stream: bool) -> reqwest::Response {
        let body =
            json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "x"}]});
        hermod_http::HttpClient::new()
            .expect("http client")
            .reqwest()
            .post(format!("{}/chat/completions", fake.base_url()))
            .json(&body)
            .send()
            .await
            .expect("the fake answers")
    }

    #[tokio::test]
    async fn end_after_chunks_ends_cleanly_before_the_answer_is_finished() {
        let fake = FakeLlm::start().await;
        fake.push(Reply::text("one two three four").end_after_chunks(3));
        let text = post(&fake, true)
            .await
            .text()
            .await
            .expect("no connection error");
        let events: Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(events.len(), 3, "{text}");
        assert!(text.contains(r#""content":" two""#), "{text}");
        assert!(!text.contains(r#""finish_reason":""#), "{text}");
        assert!(!text.contains("[DONE]"), "{text}");

        fake.push(Reply::text("one two three four").end_after_chunks(2));
        let body = post(&fake, false)
            .await
            .bytes()
            .await
            .expect("no connection error");
        assert_eq!(body.len(), 32);
        assert_eq!(fake.completed(), 2);
        assert_eq!(fake.disconnects(), 0);
    }
}
