//! The HTTP side: routing `/bot<token>/<method>` and
//! `/file/bot<token>/<path>`, reading parameters from the query, JSON,
//! form and multipart bodies, applying faults, and a listener whose
//! connections a handler can cut (for [`super::Fault::DropConnection`]).

use super::faults::{self, ApiError, Verdict};
use super::state::{FakeCall, Shared};
use super::{files, methods};
use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
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

/// Bodies up to this size are read (Telegram takes 50 MB documents).
const BODY_LIMIT: usize = 64 << 20;

/// A file sent in a multipart body.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) file_name: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) bytes: Vec<u8>,
}

/// The parameters of one call.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) map: Map<String, Value>,
    pub(crate) uploads: HashMap<String, Upload>,
}

impl Params {
    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A string parameter (numbers are taken as their decimal text).
    pub(crate) fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer parameter, from a JSON number or a decimal string.
    pub(crate) fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let number = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        number
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid {name} specified")))
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "True" | "1"),
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// A JSON-serialized parameter: given as JSON, or as a string of JSON.
    pub(crate) fn json(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("can't parse {name} JSON object"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// `chat_id`: a number (`@username` names no chat the fake knows).
    pub(crate) fn chat_id(&self) -> Result<i64, ApiError> {
        match self.str("chat_id") {
            None => Err(ApiError::bad_request("chat_id is empty")),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ApiError::bad_request("chat not found")),
        }
    }

    pub(crate) fn message_id(&self) -> Result<i64, ApiError> {
        self.i64("message_id")?
            .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
    }
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
                Ok((stream, _)) => {
                    let cut = Cut::default();
                    return (
                        CuttableStream {
                            inner: stream,
                            cut: cut.clone(),
                        },
                        cut,
                    );
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
pub(crate) async fn start(shared: Arc<Shared>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the fake Telegram server binds a local port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let app = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    let shutdown = shared.shutdown.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        // Serving only ends early when accepting fails for good; clients
        // then see connection errors, which is the right signal.
        let _ = axum::serve(
            CuttableListener(listener),
            app.into_make_service_with_connect_info::<Cut>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
    });
    (addr, task)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/file/bot") {
        let Some((token, file_path)) = rest.split_once('/') else {
            return ApiError::not_found().into_response();
        };
        if token != shared.token {
            return ApiError::unauthorized().into_response();
        }
        let verdict = shared.update(|s| {
            s.file_downloads += 1;
            faults::verdict(s, &["download"])
        });
        return match apply(&shared, verdict, &cut).await {
            Some(response) => response,
            None => files::download(&shared, file_path),
        };
    }
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return ApiError::not_found().into_response();
    };
    if token != shared.token {
        shared.update(|s| s.unauthorized_calls += 1);
        return ApiError::unauthorized().into_response();
    }
    let method = method.to_owned();
    let params = match read_params(request).await {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let lower = method.to_ascii_lowercase();
    let verdict = shared.update(|s| {
        s.calls.push(FakeCall {
            method,
            params: Value::Object(params.map.clone()),
            at: Instant::now(),
        });
        faults::verdict(s, &[lower.as_str(), "*"])
    });
    if let Some(response) = apply(&shared, verdict, &cut).await {
        return response;
    }
    match methods::call(&shared, &lower, &params).await {
        Ok(result) => {
            let without = {
                let s = shared.lock();
                s.null_results.contains(&lower) || s.null_results.contains("*")
            };
            faults::ok(if without { Value::Null } else { result })
        }
        Err(error) => error.into_response(),
    }
}

/// Carries out a fault; `None` means go on and answer normally.
async fn apply(shared: &Shared, verdict: Verdict, cut: &Cut) -> Option<Response> {
    match verdict {
        Verdict::Proceed => None,
        Verdict::Delay(delay) => {
            tokio::select! {
                () = tokio::time::sleep(delay) => None,
                () = shared.shutdown.cancelled() => Some(ApiError::server_error(503).into_response()),
            }
        }
        Verdict::Fail(error) => Some(error.into_response()),
        Verdict::Drop => {
            cut.cut();
            // Never written: the connection fails first.
            Some(ApiError::server_error(500).into_response())
        }
    }
}

async fn read_params(request: Request) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = request.uri().query() {
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            params
                .map
                .insert(name.into_owned(), json!(value.into_owned()));
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        read_multipart(request, &mut params).await?;
        return Ok(params);
    }
    let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| ApiError::bad_request("request body is too big"))?;
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => params.map.extend(map),
            _ => return Err(ApiError::bad_request("can't parse JSON object")),
        }
    } else {
        for (name, value) in form_urlencoded::parse(&body) {
            params
                .map
                .insert(name.into_owned(), json!(value.into_owned()));
        }
    }
    Ok(params)
}

async fn read_multipart(request: Request, params: &mut Params) -> Result<(), ApiError> {
    let broken = |_| ApiError::bad_request("can't parse multipart/form-data body");
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| ApiError::bad_request("can't parse multipart/form-data body"))?;
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let mime_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(broken)?.to_vec();
        let is_file = file_name.is_some()
            || mime_type
                .as_deref()
                .is_some_and(|m| !m.starts_with("text/plain"));
        if is_file {
            params.map.insert(
                name.clone(),
                json!({"file_name": file_name, "mime_type": mime_type, "size": bytes.len()}),
            );
            params.uploads.insert(
                name,
                Upload {
                    file_name,
                    mime_type,
                    bytes,
                },
            );
        } else {
            params
                .map
                .insert(name, json!(String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(())
}
