//! A Matrix homeserver with nothing happening: `whoami` for the access
//! token, and `/sync` long polls that end empty after their timeout
//! (client-server API v1.11).

use super::{Connected, listen};
use axum::Json;
use axum::extract::{Query, State};
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub struct IdleMatrix {
    pub base_url: String,
    pub connected: Connected,
}

#[derive(Debug, Clone, Default)]
struct Shared {
    connected: Connected,
    batches: Arc<AtomicU64>,
}

impl IdleMatrix {
    pub async fn start() -> anyhow::Result<Self> {
        let (listener, port) = listen().await?;
        let shared = Shared::default();
        let connected = shared.connected.clone();
        let app = axum::Router::new()
            .route(
                "/_matrix/client/versions",
                get(|| async { Json(json!({"versions": ["v1.11"]})) }),
            )
            .route(
                "/_matrix/client/v3/account/whoami",
                get(|| async {
                    Json(json!({"user_id": "@hermod:bench.local", "device_id": "BENCH"}))
                }),
            )
            .route("/_matrix/client/v3/sync", get(sync))
            .fallback(any(|| async { Json(json!({})) }))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            connected,
        })
    }
}

async fn sync(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    shared.connected.mark();
    let batch = shared.batches.fetch_add(1, Ordering::Relaxed);
    // The first sync (no `since`) answers at once, as a server does.
    if query.contains_key("since") {
        let millis = query
            .get("timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0)
            .min(30_000);
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    Json(json!({"next_batch": format!("b{batch}"), "rooms": {}, "account_data": {"events": []}}))
}
