//! The HTTP side: routing `/bot<token>/<method>` and
//! `/file/bot<token>/<path>`, reading parameters from the query, JSON,
//! form and multipart bodies, and applying faults (a cut connection for
//! [`super::Fault::DropConnection`]).

use super::faults::{self, ApiError, Verdict};
use super::state::{FakeCall, Shared};
use super::{files, methods};
use crate::peer::{Body, BodyError, Cut, Part, PeerListener, form_fields, read_body};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
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

/// Binds `127.0.0.1:0` and serves until `shared.shutdown` is cancelled.
pub(crate) async fn start(shared: Arc<Shared>) -> SocketAddr {
    let listener = PeerListener::bind().await;
    let addr = listener.addr();
    let app = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    tokio::spawn(listener.serve(app, shared.shutdown.clone()));
    addr
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
        s.calls.record(FakeCall {
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
    let unavailable = || ApiError::server_error(503);
    verdict.carry_out(cut, &shared.shutdown, unavailable).await
}

async fn read_params(request: Request) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = request.uri().query() {
        params.map = form_fields(query.as_bytes());
    }
    let read = read_body(request, BODY_LIMIT).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::bad_request("request body is too big"),
        BodyError::InvalidJson => ApiError::bad_request("can't parse JSON object"),
        BodyError::BrokenMultipart => ApiError::bad_request("can't parse multipart/form-data body"),
    })?;
    match read.body {
        Body::Empty => {}
        Body::Json(Value::Object(map)) => params.map.extend(map),
        Body::Json(_) => return Err(ApiError::bad_request("can't parse JSON object")),
        Body::Form(fields) => params.map.extend(fields),
        Body::Multipart(parts) => {
            for part in parts {
                add_part(&mut params, part);
            }
        }
    }
    Ok(params)
}

/// A part with a file name, or a type other than text, is an upload;
/// others are string parameters.
fn add_part(params: &mut Params, part: Part) {
    let is_file = part.file_name.is_some()
        || part
            .content_type
            .as_deref()
            .is_some_and(|m| !m.starts_with("text/plain"));
    if !is_file {
        let text = part.text();
        params.map.insert(part.name, json!(text));
        return;
    }
    let Part {
        name,
        file_name,
        content_type: mime_type,
        bytes,
    } = part;
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
}
