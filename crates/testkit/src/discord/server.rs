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
use super::faults::{Refusal, Verdict};
use super::rest::{self, Answer, Reply};
use super::routes::{Matched, Route, match_route};
use super::state::{FakeCall, Shared, State};
use super::{cdn, commands, gateway, interactions, threads};
use crate::peer::{Cut, PeerListener, RequestHead};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::time::Instant;

/// The REST API's base path.
pub(crate) const API_PREFIX: &str = "/api/v10";

/// Serves `listener` until `shared.shutdown` is cancelled.
pub(crate) fn start(shared: &Arc<Shared>, listener: PeerListener) {
    let app = Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    tokio::spawn(listener.serve(app, shared.shutdown.clone()));
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
        return cdn::download(&shared, rest, query.as_deref()).await;
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
    if matched.route.needs_bot_token() {
        let expected = format!("Bot {}", shared.token);
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            shared.update(|s| s.unauthorized_calls += 1);
            let error = ApiError::unauthorized();
            return json_response(error.status, &error.body, &[]);
        }
    }
    let (parts, body) = request.into_parts();
    let head = RequestHead::of(&parts, &["user-agent", "x-audit-log-reason"]);
    let body = body::read(Request::from_parts(parts, body)).await;
    let recorded = body.as_ref().map_or(Value::Null, |b| b.json.clone());
    let files = body
        .as_ref()
        .map(|b| b.uploads.iter().map(|u| u.file.clone()).collect())
        .unwrap_or_default();
    let (verdict, limit_headers) = shared.update(|s| {
        s.calls.record(FakeCall {
            route: matched.route,
            method: head.method.clone(),
            path: path.clone(),
            query: head.query.clone(),
            body: recorded,
            files,
            user_agent: head.header("user-agent").map(str::to_owned),
            audit_log_reason: head.header("x-audit-log-reason").map(str::to_owned),
            at: head.at,
        });
        admit(s, &matched)
    });
    let unavailable = || Refusal {
        error: ApiError::server_error(503),
        headers: limit_headers.clone(),
    };
    if let Some(refused) = verdict.carry_out(&cut, &shared.shutdown, unavailable).await {
        return refused;
    }
    let body = match body {
        Ok(body) => body,
        Err(error) => return json_response(error.status, &error.body, &limit_headers),
    };
    let with_response = head
        .query_param("with_response")
        .is_some_and(|v| matches!(v.as_str(), "true" | "True" | "1"));
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
/// route's rate-limit headers, which a refusal carries too.
fn admit(s: &mut State, m: &Matched) -> (Verdict, Vec<(&'static str, String)>) {
    let now = Instant::now();
    let now_ms = s.clock.now_ms();
    let major = m.major();
    if let Some(fault) = s.faults.take(&[&Some(m.route), &None]) {
        let headers = s.limits.peek(m.route, &major, now, now_ms);
        let verdict = Verdict::from(fault);
        if matches!(&verdict, Verdict::Fail(refusal) if refusal.error.status == 429) {
            s.served_429s += 1;
        }
        return (with_headers(verdict, &headers), headers);
    }
    let outcome = s.limits.take(m.route, &major, now, now_ms);
    match outcome.too_many {
        Some(too_many) => {
            s.served_429s += 1;
            let (error, headers) = too_many.answer();
            let verdict = Verdict::Fail(Refusal { error, headers });
            (with_headers(verdict, &outcome.headers), outcome.headers)
        }
        None => (Verdict::Proceed, outcome.headers),
    }
}

/// Puts the route's rate-limit headers ahead of a refusal's own.
fn with_headers(verdict: Verdict, limit_headers: &[(&'static str, String)]) -> Verdict {
    match verdict {
        Verdict::Fail(mut refusal) => {
            let mut headers = limit_headers.to_vec();
            headers.append(&mut refusal.headers);
            refusal.headers = headers;
            Verdict::Fail(refusal)
        }
        other => other,
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

fn add_headers(map: &mut HeaderMap, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(*name, value);
        }
    }
}

pub(crate) fn json_response(
    status: u16,
    body: &Value,
    headers: &[(&'static str, String)],
) -> Response {
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
