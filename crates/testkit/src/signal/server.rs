//! The fake's HTTP side: `/api/v1/rpc`, `/api/v1/events` and
//! `/api/v1/check`, answered as signal-cli's `HttpServerHandler` answers.

use super::rpc::{self, Answer};
use super::{Connection, Frame, Shared};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/rpc", post(rpc_endpoint))
        .route("/api/v1/events", get(events))
        .route("/api/v1/check", get(|| async { StatusCode::OK }))
        .with_state(shared)
}

fn json_response(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn rpc_endpoint(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return json_response(&json!({
                "jsonrpc": "2.0",
                "error": rpc::error(-32700, &format!("Parse error: {e}"), &Value::Null),
                "id": null,
            }));
        }
    };
    let id = request.get("id").cloned();
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return json_response(&json!({
            "jsonrpc": "2.0",
            "error": rpc::error(-32600, "method field must be set", &Value::Null),
            "id": null,
        }));
    };
    let params = request.get("params").cloned().unwrap_or_else(|| json!({}));
    let (answer, http): (Answer, Option<u16>) = shared.state.update(|s| {
        s.calls.push((method.to_owned(), params.clone()));
        let keys = [method, "*"];
        if let Some(fault) = s.faults.take(&keys) {
            if let super::Fault::Http(status) = fault {
                return (Ok(Value::Null), Some(status));
            }
            if let Some(answer) = rpc::fault_answer(s, &fault, &params) {
                return (answer, None);
            }
        }
        (rpc::call(&shared, s, method, &params), None)
    });
    if let Some(status) = http {
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let Some(id) = id else {
        // A notification: no answer.
        return StatusCode::CREATED.into_response();
    };
    let body = match answer {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(error) => json!({"jsonrpc": "2.0", "error": error, "id": id}),
    };
    json_response(&body)
}

async fn events(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let account = query.get("account").cloned();
    if account.as_deref().is_some_and(|a| a != shared.account) {
        // Multi-account mode answers 400 for an account it does not have.
        return StatusCode::BAD_REQUEST.into_response();
    }
    if let Some(super::Fault::Http(status)) = shared.state.update(|s| s.faults.take(&["events"])) {
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (tx, rx) = mpsc::unbounded_channel();
    shared.state.update(|s| {
        s.connections.push(Connection {
            account,
            last_event_id: last_event_id.clone(),
        });
        let after = last_event_id
            .as_deref()
            .filter(|_| shared.event_ids)
            .map(|id| {
                id.parse::<u64>()
                    .ok()
                    .filter(|id| s.events.iter().any(|e| e.id == *id))
            });
        for event in &mut s.events {
            let send = match after {
                // Known id: the events after it.
                Some(Some(id)) => event.id > id,
                // Unknown id: every event kept.
                Some(None) => true,
                // No id: what no stream took yet (on-connection receiving).
                None => !event.delivered,
            };
            if send {
                let _ = tx.send(Frame::Raw(shared.event_text(event)));
                event.delivered = true;
            }
        }
        s.streams.push(tx.clone());
    });
    if let Some(every) = shared.keepalive {
        let shared = Arc::clone(&shared);
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shared.shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let sent = shared.state.update(|s| {
                    s.keepalives += 1;
                    tx.send(Frame::Raw(":\n".into())).is_ok()
                });
                if !sent {
                    return;
                }
            }
        });
    }
    drop(tx);
    let shutdown = shared.shutdown.clone();
    let stream = futures_util::stream::unfold((rx, false), move |(mut rx, done)| {
        let shutdown = shutdown.clone();
        async move {
            if done {
                return None;
            }
            let frame = tokio::select! {
                () = shutdown.cancelled() => None,
                frame = rx.recv() => frame,
            };
            match frame? {
                Frame::Raw(text) => Some((Ok(Bytes::from(text)), (rx, false))),
                Frame::Drop => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "dropped by the fake",
                    )),
                    (rx, true),
                )),
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}
