//! The HTTP side: routing `/api/<method>`, the upload URLs and the Socket
//! Mode websocket; reading arguments from the query, a form or a JSON body;
//! tokens; faults; and a listener whose connections a handler can cut (for
//! [`super::Fault::DropConnection`]).

use super::limits::{ApiError, Verdict};
use super::state::{Shared, SlackCall};
use super::{files, socket, web_api};
use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::serve::{IncomingStream, Listener};
use serde_json::{Map, Value, json};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// Bodies up to this size are read (Slack takes files up to 1 GB; tests
/// upload far less).
const BODY_LIMIT: usize = 64 << 20;

/// Methods whose documentation marks JSON bodies as accepted
/// (`json_input_supported`). The others read only the query and form
/// arguments, so a JSON body's arguments go unseen, as at Slack.
const JSON_METHODS: &[&str] = &[
    "auth.test",
    "apps.connections.open",
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "reactions.add",
    "reactions.remove",
    "conversations.open",
    "files.completeUploadExternal",
];

/// The arguments of one call.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) map: Map<String, Value>,
}

impl Params {
    fn get(&self, name: &str) -> Option<&Value> {
        self.map
            .get(name)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
    }

    /// A string argument (numbers and booleans as their text).
    pub(crate) fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A boolean argument: `true`/`1` in forms, a JSON boolean in JSON.
    pub(crate) fn bool(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "1"),
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => default,
        }
    }

    /// A JSON argument, given as JSON or as a string of JSON (as forms
    /// carry `blocks`); `Err` when the string is not JSON.
    pub(crate) fn json(&self, name: &str) -> Result<Option<Value>, ()> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(other) => Ok(Some(other.clone())),
        }
    }
}

/// How a request was sent, for Slack's charset warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    None,
    Form { charset: bool },
    Json { charset: bool },
}

/// Cuts a connection: its reads and writes fail from then on, so the
/// server closes it without answering.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cut(Arc<AtomicBool>);

impl Cut {
    fn cut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn check(&self) -> io::Result<()> {
        if self.0.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "cut by the fake",
            ))
        } else {
            Ok(())
        }
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for Cut {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections carry a [`Cut`].
#[derive(Debug)]
pub(crate) struct CuttableListener(TcpListener);

impl Listener for CuttableListener {
    type Io = CuttableStream;
    type Addr = Cut;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, _)) => {
                    let cut = Cut::default();
                    let stream = CuttableStream {
                        inner,
                        cut: cut.clone(),
                    };
                    return (stream, cut);
                }
                // Out of file descriptors and the like: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Cut::default())
    }
}

#[derive(Debug)]
pub(crate) struct CuttableStream {
    inner: TcpStream,
    cut: Cut,
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.cut.check()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds `127.0.0.1:0` and serves until `shared.shutdown` is cancelled.
pub(crate) async fn start(shared: Arc<Shared>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the fake Slack server binds a local port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let _ = shared.addr.set(addr);
    let app = Router::new()
        .route("/api/{method}", any(api))
        .route("/upload/v1/{file_id}", post(files::upload))
        .route("/link", any(socket::connect))
        .route("/link/", any(socket::connect))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    let shutdown = shared.shutdown.clone().cancelled_owned();
    shared.tasks.spawn(async move {
        // Serving only ends early when accepting fails for good; clients
        // then see connection errors, which is the right signal.
        let _ = axum::serve(
            CuttableListener(listener),
            app.into_make_service_with_connect_info::<Cut>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
    });
    addr
}

/// Which token a method takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Bot,
    App,
}

async fn api(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    let http_method = request.method().clone();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bearer = bearer(request.headers());
    let (query, body, kind) = match read_params(request).await {
        Ok(read) => read,
        Err(error) => return error.into_response(),
    };
    let json_body = matches!(kind, BodyKind::Json { .. });
    // Slack reads a JSON body only where the method supports it, and never
    // a token from one: JSON callers send the token in the header.
    let body_token = if json_body { None } else { token_in(&body) };
    let query_token = token_in(&query);
    let mut params = Params { map: query };
    if !json_body || JSON_METHODS.contains(&method.as_str()) {
        params.map.extend(body);
    }
    params.map.remove("token");
    let wanted = if method == "apps.connections.open" {
        TokenKind::App
    } else {
        TokenKind::Bot
    };
    let token = bearer.or(body_token).or(query_token);
    if let Err(error) = check_token(&shared, token.as_deref(), wanted) {
        shared.update(|s| s.refused_calls += 1);
        return error.into_response();
    }
    let channel = params.str("channel").or_else(|| params.str("channel_id"));
    let verdict = shared.update(|s| {
        s.calls.push(SlackCall {
            method: method.clone(),
            params: Value::Object(params.map.clone()),
            http_method: http_method.to_string(),
            content_type,
            at: Instant::now(),
        });
        s.limits.verdict(&method, channel.as_deref())
    });
    match verdict {
        Verdict::Proceed => {}
        Verdict::Delay(delay) => {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shared.shutdown.cancelled() => return ApiError::Server(503).into_response(),
            }
        }
        Verdict::Fail(error) => return error.into_response(),
        Verdict::Drop => {
            cut.cut();
            // Never written: the connection fails first.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    if method == "apps.connections.open" && http_method != Method::POST {
        return ApiError::slack("insecure_request").into_response();
    }
    let warnings: &[&str] = match kind {
        BodyKind::Json { charset: false } => &["missing_charset"],
        BodyKind::Form { charset: true } => &["superfluous_charset"],
        _ => &[],
    };
    web_api::call(&shared, &method, &params, warnings)
}

fn token_in(map: &Map<String, Value>) -> Option<String> {
    map.get("token").and_then(Value::as_str).map(str::to_owned)
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn check_token(shared: &Shared, token: Option<&str>, wanted: TokenKind) -> Result<(), ApiError> {
    let config = &shared.config;
    let kind = match token {
        None | Some("") => return Err(ApiError::slack("not_authed")),
        Some(t) if t == config.bot_token => TokenKind::Bot,
        Some(t) if t == config.app_token => TokenKind::App,
        Some(_) => return Err(ApiError::slack("invalid_auth")),
    };
    if kind == wanted {
        Ok(())
    } else {
        Err(ApiError::slack("not_allowed_token_type"))
    }
}

/// The query's arguments and the form or JSON body's.
async fn read_params(
    request: Request,
) -> Result<(Map<String, Value>, Map<String, Value>, BodyKind), ApiError> {
    let mut query = Map::new();
    if let Some(raw) = request.uri().query() {
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            query.insert(name.into_owned(), json!(value.into_owned()));
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let charset = content_type.contains("charset");
    let bytes = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| ApiError::slack("request_too_large"))?;
    if bytes.is_empty() {
        return Ok((query, Map::new(), BodyKind::None));
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(body)) => Ok((query, body, BodyKind::Json { charset })),
            _ => Err(ApiError::slack("invalid_json")),
        }
    } else {
        let body = form_urlencoded::parse(&bytes)
            .map(|(name, value)| (name.into_owned(), json!(value.into_owned())))
            .collect();
        Ok((query, body, BodyKind::Form { charset }))
    }
}
