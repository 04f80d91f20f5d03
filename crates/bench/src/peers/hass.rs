//! A Home Assistant with nothing happening: the WebSocket API's
//! authentication (`auth_required` → `auth` → `auth_ok`), every command
//! answered with a successful `result`, pings with pongs; the REST API's
//! `GET /api/` and service calls answered too.

use super::{Connected, listen};
use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{any, get};
use serde_json::{Value, json};

const VERSION: &str = "2025.4.4";

#[derive(Debug)]
pub struct IdleHass {
    pub base_url: String,
    pub connected: Connected,
}

impl IdleHass {
    pub async fn start() -> anyhow::Result<Self> {
        let (listener, port) = listen().await?;
        let connected = Connected::default();
        let app = axum::Router::new()
            .route("/api/websocket", get(upgrade))
            .route(
                "/api/",
                get(|| async { Json(json!({"message": "API running."})) }),
            )
            .fallback(any(|| async { Json(json!([])) }))
            .with_state(connected.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            connected,
        })
    }
}

async fn upgrade(State(connected): State<Connected>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        let _ = serve(socket, connected).await;
    })
}

async fn serve(mut socket: WebSocket, connected: Connected) -> Result<(), axum::Error> {
    let hello = json!({"type": "auth_required", "ha_version": VERSION});
    socket.send(Message::Text(hello.to_string().into())).await?;
    while let Some(message) = socket.recv().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let Ok(request) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let answer = match request["type"].as_str() {
            Some("auth") => {
                connected.mark();
                json!({"type": "auth_ok", "ha_version": VERSION})
            }
            Some("ping") => json!({"id": request["id"], "type": "pong"}),
            _ => json!({"id": request["id"], "type": "result", "success": true, "result": null}),
        };
        socket
            .send(Message::Text(answer.to_string().into()))
            .await?;
    }
    Ok(())
}
