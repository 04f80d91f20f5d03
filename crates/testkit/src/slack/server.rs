//! The HTTP side: routing `/api/<method>`, the upload URLs and the Socket
//! Mode websocket; reading arguments from the query, a form or a JSON body;
//! tokens; faults (a cut connection for [`super::Fault::DropConnection`]).

use super::limits::{Answer, ApiError};
use super::state::{Shared, SlackCall};
use super::{files, socket, user_files, web_api};
use crate::peer::{Body, BodyError, Cut, PeerListener, form_fields, read_body};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;
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
    "files.getUploadURLExternal",
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

/// Binds `127.0.0.1:0` and serves until `shared.shutdown` is cancelled.
pub(crate) async fn start(shared: Arc<Shared>) -> SocketAddr {
    let listener = PeerListener::bind().await;
    let addr = listener.addr();
    let _ = shared.addr.set(addr);
    let app = Router::new()
        .route("/api/{method}", any(api))
        .route("/upload/v1/{file_id}", post(files::upload))
        .route("/files-pri/{key}/{*rest}", get(user_files::serve))
        .route("/link", any(socket::connect))
        .route("/link/", any(socket::connect))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    shared
        .tasks
        .spawn(listener.serve(app, shared.shutdown.clone()));
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
        s.calls.record(SlackCall {
            method: method.clone(),
            params: Value::Object(params.map.clone()),
            http_method: http_method.to_string(),
            content_type,
            at: Instant::now(),
        });
        s.limits.decide(&method, channel.as_deref())
    });
    let (verdict, answer) = verdict;
    let unavailable = || ApiError::Server(503);
    if let Some(refused) = verdict.carry_out(&cut, &shared.shutdown, unavailable).await {
        return refused;
    }
    if method == "apps.connections.open" && http_method != Method::POST {
        return ApiError::slack("insecure_request").into_response();
    }
    let warnings: &[&str] = match kind {
        BodyKind::Json { charset: false } => &["missing_charset"],
        BodyKind::Form { charset: true } => &["superfluous_charset"],
        _ => &[],
    };
    let response = web_api::call(&shared, &method, &params, warnings);
    if answer == Answer::Never {
        // Done, never told: the caller gives up first.
        shared.shutdown.cancelled().await;
        return ApiError::Server(503).into_response();
    }
    response
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
    let query = form_fields(request.uri().query().unwrap_or("").as_bytes());
    let read = read_body(request, BODY_LIMIT).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::slack("request_too_large"),
        BodyError::InvalidJson => ApiError::slack("invalid_json"),
        BodyError::BrokenMultipart => ApiError::slack("invalid_form_data"),
    })?;
    let charset = read.has_charset();
    match read.body {
        Body::Empty => Ok((query, Map::new(), BodyKind::None)),
        Body::Json(Value::Object(body)) => Ok((query, body, BodyKind::Json { charset })),
        Body::Json(_) => Err(ApiError::slack("invalid_json")),
        Body::Form(body) => Ok((query, body, BodyKind::Form { charset })),
        // A multipart form's text parts are arguments like a form's
        // fields; files go to the upload URL, not to Web API methods.
        Body::Multipart(parts) => {
            let body = parts
                .iter()
                .filter(|p| p.file_name.is_none())
                .map(|p| (p.name.clone(), Value::String(p.text())))
                .collect();
            Ok((query, body, BodyKind::Form { charset }))
        }
    }
}
