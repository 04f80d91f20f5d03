//! The HTTP side on one port: REST under `/api/v10`, the gateway
//! websocket at `/` (and `/resume`, READY's `resume_gateway_url`), and
//! attachment downloads under `/attachments/` (the fake's CDN).
//!
//! A REST call goes: route (404/405), `Authorization: Bot <token>` (401),
//! body, then — recorded — a scripted fault or the rate limiter, then the
//! handler. Every answer past the token check carries the route's
//! `X-RateLimit-*` headers.

use super::body::{self, BODY_LIMIT, Body};
use super::errors::ApiError;
use super::faults::Verdict;
use super::listener::{Cut, CuttableListener};
use super::rest::{self, Answer, Reply};
use super::routes::{Matched, Route, match_route};
use super::state::{FakeCall, Shared, State};
use super::{commands, gateway, interactions, threads};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// The REST API's base path.
pub(crate) const API_PREFIX: &str = "/api/v10";

/// Serves `listener` until `shared.shutdown` is cancelled.
pub(crate) fn start(shared: &Arc<Shared>, listener: TcpListener) {
    let app = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    let shutdown = shared.shutdown.clone().cancelled_owned();
    tokio::spawn(async move {
        // Serving only ends early when accepting fails for good; clients
        // then see connection errors, which is the right signal.
        let _ = axum::serve(
            CuttableListener(listener),
            app.into_make_service_with_connect_info::<Cut>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
    });
}

/// Binds `127.0.0.1:0`.
pub(crate) async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the fake Discord server binds a local port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    (listener, addr)
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix(API_PREFIX)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return rest_call(shared, cut, request, rest.to_owned()).await;
    }
    if let Some(rest) = path.strip_prefix("/attachments/") {
        let query = request.uri().query().map(str::to_owned);
        return cdn(&shared, rest, query.as_deref());
    }
    let via_resume_url = match path.trim_end_matches('/') {
        "" => false,
        "/resume" => true,
        _ => return json_response(404, &ApiError::not_found().body, &[]),
    };
    let query = request.uri().query().map(str::to_owned);
    let (mut parts, _) = request.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => gateway::upgrade(shared, ws, query, via_resume_url),
        Err(rejection) => rejection.into_response(),
    }
}

async fn rest_call(shared: Arc<Shared>, cut: Cut, request: Request, path: String) -> Response {
    let method = request.method().clone();
    let matched = match match_route(&method, &path) {
        Ok(matched) => matched,
        Err(error) => return json_response(error.status, &error.body, &[]),
    };
    let headers = request.headers().clone();
    if matched.route.needs_bot_token() {
        let expected = format!("Bot {}", shared.token);
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            shared.update(|s| s.unauthorized_calls += 1);
            let error = ApiError::unauthorized();
            return json_response(error.status, &error.body, &[]);
        }
    }
    let query = request.uri().query().map(str::to_owned);
    let body = body::read(request).await;
    let recorded = body.as_ref().map_or(Value::Null, |b| b.json.clone());
    let files = body
        .as_ref()
        .map(|b| b.uploads.iter().map(|u| u.file.clone()).collect())
        .unwrap_or_default();
    let (verdict, limit_headers) = shared.update(|s| {
        s.calls.push(FakeCall {
            route: matched.route,
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: recorded,
            files,
            user_agent: header_text(&headers, header::USER_AGENT.as_str()),
            audit_log_reason: header_text(&headers, "x-audit-log-reason"),
            at: Instant::now(),
        });
        admit(s, &matched)
    });
    match verdict {
        Verdict::Proceed => {}
        Verdict::Delay(delay) => {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shared.shutdown.cancelled() => {
                    let error = ApiError::server_error(503);
                    return json_response(error.status, &error.body, &limit_headers);
                }
            }
        }
        Verdict::Fail(error, extra) => {
            let mut all = limit_headers;
            all.extend(extra);
            return json_response(error.status, &error.body, &all);
        }
        Verdict::Drop => {
            cut.cut();
            // Never written: the connection fails first.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    let body = match body {
        Ok(body) => body,
        Err(error) => return json_response(error.status, &error.body, &limit_headers),
    };
    let with_response = query.as_deref().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "with_response" && matches!(&*v, "true" | "True" | "1"))
    });
    let answer = shared.update(|s| call(&shared, s, &matched, &body, with_response));
    match answer {
        Ok(Reply {
            status,
            body: Some(body),
        }) => json_response(status, &body, &limit_headers),
        Ok(Reply { status, body: None }) => {
            let mut response = StatusCode::from_u16(status)
                .unwrap_or(StatusCode::NO_CONTENT)
                .into_response();
            add_headers(response.headers_mut(), &limit_headers);
            response
        }
        Err(error) => json_response(error.status, &error.body, &limit_headers),
    }
}

/// A scripted fault for the call, else the rate limiter's say; with the
/// route's rate-limit headers.
fn admit(s: &mut State, m: &Matched) -> (Verdict, Vec<(&'static str, String)>) {
    let now = Instant::now();
    let now_ms = s.clock.now_ms();
    let major = m.major();
    let fault = [Some(m.route), None].into_iter().find_map(|key| {
        let queue = s.faults.get_mut(&key)?;
        let fault = queue.pop_front();
        if queue.is_empty() {
            s.faults.remove(&key);
        }
        fault
    });
    if let Some(fault) = fault {
        let headers = s.limits.peek(m.route, &major, now, now_ms);
        let verdict = Verdict::from(fault);
        if matches!(&verdict, Verdict::Fail(error, _) if error.status == 429) {
            s.served_429s += 1;
        }
        return (verdict, headers);
    }
    let outcome = s.limits.take(m.route, &major, now, now_ms);
    match outcome.too_many {
        Some(too_many) => {
            s.served_429s += 1;
            let (error, extra) = too_many.answer();
            (Verdict::Fail(error, extra), outcome.headers)
        }
        None => (Verdict::Proceed, outcome.headers),
    }
}

fn call(shared: &Shared, s: &mut State, m: &Matched, body: &Body, with_response: bool) -> Answer {
    let channel = m.channel_id.unwrap_or(0);
    let message = m.message_id.unwrap_or(0);
    match m.route {
        Route::GetGateway => Ok(Reply::ok(json!({"url": shared.gateway_url()}))),
        Route::GetGatewayBot => Ok(Reply::ok(json!({
            "url": shared.gateway_url(),
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000usize.saturating_sub(s.gateway.identify_count),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }))),
        Route::GetCurrentUser => {
            let mut user = s.user_json(shared.bot_id);
            user["verified"] = json!(true);
            user["mfa_enabled"] = json!(false);
            user["email"] = Value::Null;
            user["locale"] = json!("en-US");
            Ok(Reply::ok(user))
        }
        Route::CreateDm => rest::create_dm(s, body),
        Route::GetChannel => rest::get_channel(shared, s, channel),
        Route::GetMessage => rest::get_message(s, channel, message),
        Route::CreateMessage => rest::create_message(shared, s, channel, body),
        Route::EditMessage => rest::edit_message(shared, s, channel, message, body),
        Route::DeleteMessage => rest::delete_message(shared, s, channel, message),
        Route::TriggerTyping => rest::trigger_typing(shared, s, channel),
        Route::CreateReaction | Route::DeleteOwnReaction => {
            let emoji = m.emoji.as_deref().unwrap_or("");
            rest::reaction(
                shared,
                s,
                channel,
                message,
                emoji,
                m.route == Route::CreateReaction,
            )
        }
        Route::StartThreadFromMessage => {
            threads::start_thread(shared, s, channel, Some(message), body)
        }
        Route::StartThreadWithoutMessage => threads::start_thread(shared, s, channel, None, body),
        Route::GetGlobalCommands => commands::list(shared, s, m.application_id.unwrap_or(0)),
        Route::BulkOverwriteGlobalCommands => {
            commands::bulk_overwrite(shared, s, m.application_id.unwrap_or(0), None, body)
        }
        Route::BulkOverwriteGuildCommands => {
            commands::bulk_overwrite(shared, s, m.application_id.unwrap_or(0), m.guild_id, body)
        }
        Route::CreateInteractionResponse => {
            interactions::callback(shared, s, m, body, with_response)
        }
        Route::GetOriginalResponse
        | Route::EditOriginalResponse
        | Route::DeleteOriginalResponse
        | Route::CreateFollowupMessage
        | Route::EditFollowupMessage => interactions::webhook(shared, s, m, body),
    }
}

/// `GET /attachments/{channel}/{id}/{filename}?ex=..&is=..&hm=..`: the
/// file, if the URL is the one the fake signed (a stripped query is
/// refused, as Discord's CDN refuses unsigned attachment URLs).
fn cdn(shared: &Shared, path: &str, query: Option<&str>) -> Response {
    let gone = || {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "This content is no longer available.",
        )
            .into_response()
    };
    let mut s = shared.lock();
    s.cdn_downloads += 1;
    let parts: Vec<&str> = path.split('/').collect();
    let [channel, id, filename] = parts.as_slice() else {
        return gone();
    };
    let signature = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "hm")
        .map(|(_, v)| v.into_owned());
    let stored = id.parse::<u64>().ok().and_then(|id| s.files.get(&id));
    let Some(stored) = stored else {
        return gone();
    };
    let url_matches = signature.as_deref() == Some(stored.signature.as_str())
        && rest_path_matches(&s, channel, id, filename, &stored.file.filename);
    if !url_matches {
        return gone();
    }
    let content_type = stored
        .file
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let bytes = stored.file.bytes.clone();
    drop(s);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        bytes,
    )
        .into_response()
}

fn rest_path_matches(
    s: &State,
    channel: &str,
    id: &str,
    filename: &str,
    stored_name: &str,
) -> bool {
    let channel_known = channel
        .parse::<u64>()
        .is_ok_and(|c| s.channels.contains_key(&c));
    channel_known
        && id.parse::<u64>().is_ok()
        && super::routes::percent_decode(filename) == stored_name
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn add_headers(map: &mut HeaderMap, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(*name, value);
        }
    }
}

fn json_response(status: u16, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    add_headers(response.headers_mut(), headers);
    response
}
