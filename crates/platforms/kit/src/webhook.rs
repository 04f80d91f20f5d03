//! [`WebhookListener`]: the one inbound HTTP listener every webhook-style
//! platform shares — `WEBHOOK_HOST:WEBHOOK_PORT` (default
//! `127.0.0.1:8644`, as Hermes), one path per platform
//! (`/<platform>/<secret path>`, `/<platform>/events`, `/webhooks/<route>`, ...).
//!
//! Nothing listens until an enabled adapter registers a route
//! ([`WebhookListener::register`]); the first registration binds the
//! address (a port in use fails there, before the platform is told
//! anything) and the listener stops when the last route is closed.
//!
//! A request goes through, in order:
//!
//! 1. the route, by exact path (404 otherwise), and its method (405):
//!    `POST` for webhooks, `GET` for a probe ([`RouteSpec::probe`], such
//!    as a health check, answered by its handler with nothing to verify);
//! 2. the body's size: a `Content-Length` over the route's limit
//!    ([`RouteSpec::max_body`], else [`WebhookConfig::max_body`]) is
//!    refused before a byte is read, and reading stops at the limit (413
//!    either way);
//! 3. the route's [`Verifier`], with the headers and the raw bytes, which
//!    checks the platform's signature or secret in constant time (401
//!    when it refuses, 403 when the route has nothing to check with) —
//!    before anything parses the body;
//! 4. the route's [`WebhookHandler`], whose answer goes back as it is
//!    (for example 200 once recorded, 500 to have the platform deliver
//!    again, 503 while shutting down — see [`Handled::status`]).
//!
//! Refusals of steps 2 and 3 are answered by [`WebhookHandler::refused`]
//! (the bare status unless the platform answers in its own words), so
//! the handler proper only ever sees verified requests.

use crate::error::KitError;
use crate::poll::Handled;
use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hermod_core::BuildContext;
use hermod_model::Secret;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Where the listener binds unless `WEBHOOK_HOST` says otherwise.
pub const DEFAULT_WEBHOOK_HOST: &str = "127.0.0.1";

/// The port unless `WEBHOOK_PORT` says otherwise (Hermes's).
pub const DEFAULT_WEBHOOK_PORT: u16 = 8644;

/// The largest body accepted unless configured otherwise.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// How long closing the last route waits for requests in flight.
const DRAIN: Duration = Duration::from_millis(500);

/// The listener's address and body limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `WEBHOOK_HOST`, when set.
    pub host: Option<String>,
    /// `WEBHOOK_PORT`, when set.
    pub port: Option<u16>,
    pub max_body: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl WebhookConfig {
    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or(DEFAULT_WEBHOOK_HOST)
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_WEBHOOK_PORT)
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host(), self.port())
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.host().trim().is_empty() {
            return Err(
                "WEBHOOK_HOST is empty; set an address to listen on, such as 127.0.0.1".into(),
            );
        }
        if self.max_body == 0 {
            return Err("the webhook body limit must be at least 1 byte".into());
        }
        Ok(())
    }
}

/// A verifier's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refused (401); the reason goes to the log, never to the caller.
    Reject(&'static str),
    /// Refused whatever the request holds, because the route has no way
    /// to check it (no secret configured): 403, failing closed.
    Forbid(&'static str),
}

/// Checks that a request comes from the platform, from its headers and
/// raw body, in constant time. Runs before anything parses the body.
pub trait Verifier: Send + Sync {
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Verdict;
}

/// A shared secret the platform sends as it is in a header (a bot API's
/// secret-token header, a forge's token header).
pub struct SecretHeader {
    header: HeaderName,
    secret: Secret,
}

impl std::fmt::Debug for SecretHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHeader")
            .field("header", &self.header)
            .field("secret", &self.secret)
            .finish()
    }
}

impl SecretHeader {
    pub fn new(header: HeaderName, secret: Secret) -> Self {
        Self { header, secret }
    }
}

impl Verifier for SecretHeader {
    fn verify(&self, headers: &HeaderMap, _body: &[u8]) -> Verdict {
        match headers.get(&self.header) {
            Some(given) if !self.secret.is_empty() && self.secret.ct_eq(given.as_bytes()) => {
                Verdict::Accept
            }
            Some(_) => Verdict::Reject("wrong secret"),
            None => Verdict::Reject("no secret"),
        }
    }
}

/// What a route does with a verified request.
#[async_trait]
pub trait WebhookHandler: Send + Sync {
    /// `body` is the raw bytes the verifier accepted (empty for a probe).
    async fn handle(&self, headers: HeaderMap, body: Bytes) -> Response;

    /// The answer to a request the listener refused before the handler
    /// (413, 401, 403): the bare status unless the platform's senders
    /// expect its own words.
    fn refused(&self, status: StatusCode) -> Response {
        status.into_response()
    }
}

/// A route to serve: its path, what checks it, what handles it and how
/// large a body it takes.
#[derive(Clone)]
pub struct RouteSpec {
    path: String,
    method: Method,
    verifier: Option<Arc<dyn Verifier>>,
    handler: Arc<dyn WebhookHandler>,
    max_body: Option<usize>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSpec")
            .field("path", &self.path)
            .field("method", &self.method)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl RouteSpec {
    /// A webhook: `POST` requests checked by `verifier`, then handled.
    pub fn webhook(
        path: impl Into<String>,
        verifier: Arc<dyn Verifier>,
        handler: Arc<dyn WebhookHandler>,
    ) -> Self {
        Self {
            path: path.into(),
            method: Method::POST,
            verifier: Some(verifier),
            handler,
            max_body: None,
        }
    }

    /// A probe: `GET` requests, with no body and nothing to verify (a
    /// health check for the senders' monitoring).
    pub fn probe(path: impl Into<String>, handler: Arc<dyn WebhookHandler>) -> Self {
        Self {
            path: path.into(),
            method: Method::GET,
            verifier: None,
            handler,
            max_body: None,
        }
    }

    /// The largest body this route takes, instead of the listener's.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = Some(bytes);
        self
    }
}

impl Handled {
    /// The answer that tells a platform whether to deliver again: 200 when
    /// recorded, 500 when not (it delivers again later), 503 when stopping.
    pub fn status(&self) -> StatusCode {
        match self {
            Handled::Done => StatusCode::OK,
            Handled::Retry(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Handled::Stop => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Clone)]
struct Route {
    method: Method,
    /// `None` for a probe, which takes no body.
    verifier: Option<Arc<dyn Verifier>>,
    handler: Arc<dyn WebhookHandler>,
    max_body: usize,
}

type Routes = Arc<RwLock<HashMap<String, Route>>>;

struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

struct Shared {
    config: WebhookConfig,
    routes: Routes,
    /// Running while at least one route is registered.
    server: tokio::sync::Mutex<Option<Server>>,
    /// The bound address, for tests and logs (port 0 resolved).
    addr: Mutex<Option<SocketAddr>>,
}

/// The shared listener. Cheap to clone; clones are the same listener.
#[derive(Clone)]
pub struct WebhookListener {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WebhookListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookListener")
            .field("addr", &self.shared.config.addr())
            .finish_non_exhaustive()
    }
}

impl WebhookListener {
    /// A listener for `config`; nothing is bound until a route registers.
    pub fn new(config: WebhookConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                routes: Arc::default(),
                server: tokio::sync::Mutex::new(None),
                addr: Mutex::new(None),
            }),
        }
    }

    /// The gateway's one listener: made by the first platform that asks
    /// (with its configuration) and shared with the others, so every
    /// webhook platform is served on `WEBHOOK_HOST:WEBHOOK_PORT` under its
    /// own path. Platforms asking for another address get an error naming
    /// both, since one listener serves them all.
    pub fn shared(ctx: &BuildContext, config: WebhookConfig) -> Result<Self, KitError> {
        let addr = config.addr();
        let listener = ctx
            .shared
            .get_or_insert_with(|| WebhookListener::new(config));
        let first = listener.config().addr();
        if first != addr {
            return Err(KitError::Route(format!(
                "two platforms ask for webhook listeners on different addresses ({first} and {addr}); hermod serves every webhook platform on one (set WEBHOOK_HOST and WEBHOOK_PORT once)"
            )));
        }
        Ok(listener)
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.shared.config
    }

    /// The address bound, while listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self
            .shared
            .addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `path` (absolute, like `/chat/events`) with `verifier` and
    /// `handler`, starting the listener if it is the first route. Fails
    /// when the path is malformed or taken, or the address cannot be bound.
    pub async fn register(
        &self,
        path: &str,
        verifier: Arc<dyn Verifier>,
        handler: Arc<dyn WebhookHandler>,
    ) -> Result<Registration, KitError> {
        self.register_route(RouteSpec::webhook(path, verifier, handler))
            .await
    }

    /// Serves `spec` ([`WebhookListener::register`] with the route's own
    /// method and body limit).
    pub async fn register_route(&self, spec: RouteSpec) -> Result<Registration, KitError> {
        let path = spec.path.as_str();
        if spec.max_body == Some(0) {
            return Err(KitError::Route(format!(
                "the body limit of {path} must be at least 1 byte"
            )));
        }
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            return Err(KitError::Route(format!(
                "the webhook path {path:?} must start with '/' and hold no spaces"
            )));
        }
        let mut server = self.shared.server.lock().await;
        {
            let mut routes = self
                .shared
                .routes
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if routes.contains_key(path) {
                return Err(KitError::Route(format!(
                    "the webhook path {path} is already served by another adapter; give each its own path"
                )));
            }
            let route = Route {
                method: spec.method.clone(),
                verifier: spec.verifier.clone(),
                handler: Arc::clone(&spec.handler),
                max_body: spec.max_body.unwrap_or(self.shared.config.max_body),
            };
            routes.insert(path.to_owned(), route);
        }
        if server.is_none() {
            match self.start().await {
                Ok(started) => *server = Some(started),
                Err(e) => {
                    self.remove(path);
                    return Err(e);
                }
            }
        }
        Ok(Registration {
            listener: self.clone(),
            path: Some(path.to_owned()),
        })
    }

    async fn start(&self) -> Result<Server, KitError> {
        let config = &self.shared.config;
        let addr = config.addr();
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| KitError::Bind {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let local = listener.local_addr().map_err(|e| KitError::Bind {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
        *self
            .shared
            .addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(local);
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&self.shared));
        let stop = CancellationToken::new();
        let graceful = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                warn!(error = %e, "the webhook listener stopped");
            }
        });
        info!(addr = %local, "listening for webhooks");
        Ok(Server {
            addr: local,
            stop,
            task,
        })
    }

    /// Removes `path`; true when no route is left.
    fn remove(&self, path: &str) -> bool {
        let mut routes = self
            .shared
            .routes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        routes.remove(path);
        routes.is_empty()
    }

    async fn close(&self, path: &str) {
        let mut server = self.shared.server.lock().await;
        if !self.remove(path) {
            return;
        }
        if let Some(mut running) = server.take() {
            running.stop.cancel();
            // Requests in flight get a moment; a slow one is cut off, so
            // the adapter's `run` still returns within its second.
            if tokio::time::timeout(DRAIN, &mut running.task)
                .await
                .is_err()
            {
                running.task.abort();
            }
            info!(addr = %running.addr, "stopped listening for webhooks");
            *self
                .shared
                .addr
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// A route served while this lives: [`Registration::close`] removes it
/// (and stops the listener after the last one); dropping it does the same
/// without waiting.
#[derive(Debug)]
pub struct Registration {
    listener: WebhookListener,
    path: Option<String>,
}

impl Registration {
    /// Removes the route, waiting for the listener to stop if it was the
    /// last one (at most half a second).
    pub async fn close(mut self) {
        if let Some(path) = self.path.take() {
            self.listener.close(&path).await;
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some(path) = self.path.take() else {
            return;
        };
        if self.listener.remove(&path) {
            // No await in drop: stop the server without waiting for it.
            if let Ok(mut server) = self.listener.shared.server.try_lock()
                && let Some(running) = server.take()
            {
                running.stop.cancel();
            }
        }
    }
}

/// Every request, routed by path.
async fn receive(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let route = shared
        .routes
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&path)
        .cloned();
    let Some(route) = route else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if request.method() != route.method {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let (parts, body): (_, Body) = request.into_parts();
    let Some(verifier) = &route.verifier else {
        // A probe: nothing to read or verify.
        return route.handler.handle(parts.headers, Bytes::new()).await;
    };
    let limit = route.max_body;
    // A declared length over the limit is refused before reading a byte;
    // an undeclared or understated one stops being read at the limit.
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let over = declared.is_some_and(|n| n > limit as u64);
    let bytes = if over {
        None
    } else {
        axum::body::to_bytes(body, limit).await.ok()
    };
    let Some(bytes) = bytes else {
        warn!(%path, limit, "refused a webhook body over the limit");
        return route.handler.refused(StatusCode::PAYLOAD_TOO_LARGE);
    };
    match verifier.verify(&parts.headers, &bytes) {
        Verdict::Accept => route.handler.handle(parts.headers, bytes).await,
        Verdict::Reject(why) => {
            warn!(%path, why, "refused a webhook request that failed verification");
            route.handler.refused(StatusCode::UNAUTHORIZED)
        }
        Verdict::Forbid(why) => {
            error!(%path, why, "refused a webhook request: the route cannot verify anything; configure its secret");
            route.handler.refused(StatusCode::FORBIDDEN)
        }
    }
}

#[cfg(test)]
mod tests;
