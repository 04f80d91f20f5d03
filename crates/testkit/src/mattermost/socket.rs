//! The fake's websocket (`/api/v4/websocket`): the authentication
//! challenge (or the `Authorization` header), `hello`, resumption with
//! `connection_id` and `sequence_number`, and the actions a client sends
//! (`user_typing`, `ping`), each answered `{"status": "OK", "seq_reply": n}`
//! or `{"status": "FAIL", "seq_reply": n, "error": {...}}`.

use super::rest::{answer_fault, bearer, record_typing};
use super::state::Shared;
use crate::peer::socket::{self, Outgoing, SocketHandle, SocketPeer};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) async fn upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let fault = shared.state.update(|s| {
        s.calls.push(super::Call {
            route: "websocket",
            path: "/api/v4/websocket".into(),
            query: query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
            authorization: None,
            at: tokio::time::Instant::now(),
        });
        s.faults.take(&["websocket"])
    });
    if let Some(fault) = fault {
        return answer_fault(&fault);
    }
    let header_user =
        bearer(&headers).and_then(|t| shared.state.lock().user_by_token(&t).map(|u| u.id.clone()));
    let asked = (
        query
            .get("connection_id")
            .filter(|c| !c.is_empty())
            .cloned(),
        query.get("sequence_number").and_then(|s| s.parse().ok()),
    );
    ws.on_upgrade(move |mut ws| async move {
        let (handle, mut outbox) = socket::channel();
        let id = shared.state.update(|s| {
            s.next_socket += 1;
            s.next_socket
        });
        let mut peer = Peer {
            shared: Arc::clone(&shared),
            handle,
            socket: id,
            user: None,
            asked,
        };
        if let Some(user) = header_user {
            peer.authenticated(user);
        }
        let shutdown = shared.shutdown.clone();
        socket::serve(&mut ws, &mut outbox, &shutdown, &mut peer).await;
        shared.state.update(|s| s.detach(id));
    })
}

/// One socket's side of the protocol.
struct Peer {
    shared: Arc<Shared>,
    handle: SocketHandle,
    socket: u64,
    user: Option<String>,
    asked: (Option<String>, Option<i64>),
}

impl Peer {
    fn reply(&self, seq: i64, ok: bool, data: Option<Value>, error: Option<(&str, &str)>) {
        let mut frame = json!({"status": if ok { "OK" } else { "FAIL" }, "seq_reply": seq});
        if let Some(data) = data {
            frame["data"] = data;
        }
        if let Some((id, message)) = error {
            frame["error"] =
                json!({"id": id, "message": message, "detailed_error": "", "status_code": 400});
        }
        self.handle.send(Outgoing::Text(frame.to_string()));
    }

    fn authenticated(&mut self, user: String) {
        let socket = (self.socket, self.handle.clone());
        let asked = &self.asked;
        self.shared.state.update(|s| s.attach(&user, socket, asked));
        self.user = Some(user);
    }
}

impl SocketPeer for Peer {
    fn on_text(&mut self, text: &str) {
        let Ok(request) = serde_json::from_str::<Value>(text) else {
            // The server closes a socket that sends what it cannot read.
            self.handle
                .send(Outgoing::Close(Some((1003, "invalid message".into()))));
            return;
        };
        let seq = request["seq"].as_i64().unwrap_or(0);
        let action = request["action"].as_str().unwrap_or_default();
        match (action, self.user.clone()) {
            ("authentication_challenge", None) => {
                let token = request["data"]["token"].as_str().unwrap_or_default();
                let user = self
                    .shared
                    .state
                    .lock()
                    .user_by_token(token)
                    .map(|u| u.id.clone());
                match user {
                    Some(user) => {
                        self.reply(seq, true, None, None);
                        self.authenticated(user);
                    }
                    None => self.reply(
                        seq,
                        false,
                        None,
                        Some((
                            "api.web_socket_router.not_authenticated.app_error",
                            "No authentication",
                        )),
                    ),
                }
            }
            (_, None) => self.reply(
                seq,
                false,
                None,
                Some((
                    "api.web_socket_router.not_authenticated.app_error",
                    "No authentication",
                )),
            ),
            ("authentication_challenge", Some(_)) => self.reply(seq, true, None, None),
            ("user_typing", Some(user)) => {
                let channel = request["data"]["channel_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let parent = request["data"]["parent_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.shared
                    .state
                    .update(|s| record_typing(s, &user, &channel, &parent, "websocket"));
                self.reply(seq, true, None, None);
            }
            ("ping", Some(_)) => {
                let ignored = self.shared.state.update(|s| {
                    s.pings += 1;
                    s.ignore_pings
                });
                if ignored {
                    return;
                }
                let data = json!({"text": "pong", "version": "10.5.0", "server_time": 1_700_000_000_000_i64});
                self.reply(seq, true, Some(data), None);
            }
            _ => self.reply(
                seq,
                false,
                None,
                Some((
                    "api.web_socket_router.bad_action.app_error",
                    "Invalid action",
                )),
            ),
        }
    }
}
