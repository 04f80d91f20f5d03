//! A small reverse proxy in front of the shared Synapse, one per test:
//! it forwards every call as it is, records the `since` of each `/sync`,
//! and on demand answers the next send with Synapse's own 429 body
//! (`M_LIMIT_EXCEEDED`, `retry_after_ms`), fails syncs with 502 as a
//! broken proxy would, or slips a malformed event into the next sync
//! response. Synapse's own limits are raised for the tests, so the proxy
//! is how a rate limit is produced exactly when a test wants one.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
struct Faults {
    /// Answer the next send with 429 and this wait.
    limit_next_send: Option<Duration>,
    /// Answer this many syncs with 502.
    failing_syncs: usize,
    /// Put this event into the next sync response that has a room.
    malformed: Option<(String, Value)>,
}

#[derive(Default)]
struct Shared {
    upstream: String,
    faults: Mutex<Faults>,
    /// The `since` of every sync, in order of arrival.
    syncs: Mutex<Vec<Option<String>>>,
    /// The path of every call, in order of arrival.
    paths: Mutex<Vec<String>>,
    changed: Notify,
}

/// The proxy; dropped with its test's runtime.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
    pub base_url: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            ..Shared::default()
        });
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            shared,
            base_url: format!("http://{addr}"),
        }
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.shared.faults.lock().unwrap()
    }

    pub fn rate_limit_next_send(&self, wait: Duration) {
        self.faults().limit_next_send = Some(wait);
    }

    pub fn fail_syncs(&self, n: usize) {
        self.faults().failing_syncs = n;
    }

    pub fn inject_malformed(&self, room: &str, event: Value) {
        self.faults().malformed = Some((room.to_owned(), event));
    }

    /// The path of every call so far.
    pub fn paths(&self) -> Vec<String> {
        self.shared.paths.lock().unwrap().clone()
    }

    /// The `since` of every sync so far.
    pub fn syncs(&self) -> Vec<Option<String>> {
        self.shared.syncs.lock().unwrap().clone()
    }

    /// Waits until `n` syncs arrived.
    pub async fn wait_for_syncs(&self, n: usize) -> Vec<Option<String>> {
        loop {
            let notified = self.shared.changed.notified();
            let syncs = self.syncs();
            if syncs.len() >= n {
                return syncs;
            }
            notified.await;
        }
    }

    /// Waits until a sync with a token is under way: the adapter made its
    /// first sync and is long polling for what comes next.
    pub async fn wait_until_polling(&self) {
        loop {
            let notified = self.shared.changed.notified();
            if self.syncs().iter().any(Option::is_some) {
                return;
            }
            notified.await;
        }
    }
}

fn matrix_error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let path = uri.path().to_owned();
    shared.paths.lock().unwrap().push(path.clone());
    let is_sync = path.ends_with("/sync");
    let is_send = method == "PUT" && path.contains("/send/");
    if is_sync {
        let since = uri.query().and_then(|q| {
            form_pairs(q)
                .into_iter()
                .find(|(k, _)| k == "since")
                .map(|(_, v)| v)
        });
        shared.syncs.lock().unwrap().push(since);
        shared.changed.notify_waiters();
        let mut faults = shared.faults.lock().unwrap();
        if faults.failing_syncs > 0 {
            faults.failing_syncs -= 1;
            return matrix_error(StatusCode::BAD_GATEWAY, json!({"error": "bad gateway"}));
        }
    }
    if is_send && let Some(wait) = shared.faults.lock().unwrap().limit_next_send.take() {
        return matrix_error(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
                   "retry_after_ms": u64::try_from(wait.as_millis()).unwrap()}),
        );
    }
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 64 << 20)
        .await
        .unwrap_or_default();
    let url = format!(
        "{}{}",
        shared.upstream,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let client = hermod_adapter_kit::http_client().unwrap().reqwest().clone();
    let mut upstream = client
        .request(method, url)
        .timeout(Duration::from_secs(120))
        .body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(value) = headers.get(&name) {
            upstream = upstream.header(name, value);
        }
    }
    let Ok(answer) = upstream.send().await else {
        return matrix_error(
            StatusCode::BAD_GATEWAY,
            json!({"error": "upstream unreachable"}),
        );
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
    if is_sync && status.is_success() {
        let injected = shared.faults.lock().unwrap().malformed.take();
        if let Some((room, event)) = injected {
            let mut sync: Value = serde_json::from_slice(&bytes).unwrap();
            let events = &mut sync["rooms"]["join"][&room]["timeline"]["events"];
            if !events.is_array() {
                *events = json!([]);
            }
            events.as_array_mut().unwrap().insert(0, event);
            bytes = sync.to_string().into_bytes();
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(content_type) = content_type
        && let Ok(value) = HeaderValue::from_bytes(content_type.as_bytes())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `a=1&b=2` decoded.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}
