//! [`RouteHandler`]: what happens to a request once the kit has served it
//! (the body within its limit: 413 before; the signature checked: 401,
//! or 403 for a route without a secret), in Hermes' order:
//!
//! 1. the route's rate limit: 429 `{"error":"Rate limit exceeded"}`;
//! 2. the body as JSON, else as a form: 400 `{"error":"Cannot parse body"}`;
//! 3. the event type: `X-GitHub-Event`, `X-GitLab-Event`, the payload's
//!    `event_type`, its `type`, else `unknown`;
//! 4. the route's `events`: another type is answered 200
//!    `{"status":"ignored","event":…}`;
//! 5. the prompt, rendered ([`crate::template`]);
//! 6. the delivery id: `X-GitHub-Delivery`, `svix-id`, `webhook-id`,
//!    `X-Request-ID`, else the time in milliseconds; a delivery seen
//!    before is answered 200 `{"status":"duplicate","delivery_id":…}` and
//!    runs nothing (recorded in the store, so across restarts);
//! 7. `deliver_only`: the prompt itself to the targets, 200 `delivered`
//!    or 502 `{"status":"error","error":"Delivery failed"}`; otherwise a
//!    turn, recorded before the answer, 202 `{"status":"accepted","route",
//!    "event","delivery_id"}` at once, the agent working afterwards.

use crate::adapter::Inner;
use crate::config::{Route, platform_id};
use async_trait::async_trait;
use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hermod_adapter_kit::WebhookHandler;
use hermod_core::{CoreError, Submitted};
use hermod_model::{ChatType, InboundEvent, Source, parse_command};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tracing::{debug, error, info, warn};

/// Longest delivery id kept as it is; a longer one is replaced by its hash.
const MAX_DELIVERY_ID: usize = 128;

/// Refusals and answers in Hermes' words.
fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    answer(status, json!({ "error": message }))
}

/// One route's requests after the kit's checks.
pub(crate) struct RouteHandler {
    inner: Arc<Inner>,
    route: Arc<Route>,
}

impl RouteHandler {
    pub(crate) fn new(inner: Arc<Inner>, route: Arc<Route>) -> Self {
        Self { inner, route }
    }
}

#[async_trait]
impl WebhookHandler for RouteHandler {
    async fn handle(&self, headers: HeaderMap, body: Bytes) -> Response {
        let route = &self.route;
        if !self.inner.rate.admit(&route.name) {
            warn!(route = %route.name, "a webhook route is over its rate limit; refused");
            return error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        }
        let Some(payload) = parse(&body) else {
            warn!(route = %route.name, bytes = body.len(), "a webhook body that is neither JSON nor a form");
            return error(StatusCode::BAD_REQUEST, "Cannot parse body");
        };
        let event = event_type(&headers, &payload);
        if !route.events.is_empty() && !route.events.contains(&event) {
            debug!(route = %route.name, %event, "ignoring a webhook event the route does not take");
            return answer(
                StatusCode::OK,
                json!({ "status": "ignored", "event": event }),
            );
        }
        let prompt = crate::template::render(&route.prompt, &payload, &event, &route.name);
        let delivery = delivery_id(&headers).unwrap_or_else(|| self.inner.fresh_id());
        if route.deliver_only {
            self.deliver_only(&prompt, &event, &delivery).await
        } else {
            self.start_turn(prompt, &event, &delivery).await
        }
    }

    fn refused(&self, status: StatusCode) -> Response {
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "Payload too large",
            StatusCode::UNAUTHORIZED => "Invalid signature",
            StatusCode::FORBIDDEN => "Webhook route is missing an HMAC secret",
            _ => return status.into_response(),
        };
        error(status, message)
    }
}

impl RouteHandler {
    /// An agent turn in the delivery's own conversation.
    async fn start_turn(&self, prompt: String, event: &str, delivery: &str) -> Response {
        let route = &self.route;
        let Some(inbound) = self.inner.inbound() else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "Not ready");
        };
        let source = Source {
            platform: platform_id(),
            chat_type: ChatType::Webhook,
            chat_id: Some(format!("webhook:{}:{delivery}", route.name)),
            chat_name: Some(format!("webhook/{}", route.name)),
            user_id: Some(format!("webhook:{}", route.name)),
            user_id_alt: None,
            user_name: Some(route.name.clone()),
            thread_id: None,
            is_bot: false,
        };
        let mut turn = InboundEvent::text(source, not_a_command(prompt));
        turn.message_id = Some(delivery.to_owned());
        let key = format!("{}:{delivery}", route.name);
        match inbound.submit_once(turn, &key).await {
            Ok(Submitted::Accepted) => {
                info!(route = %route.name, %event, delivery, "accepted a webhook delivery");
                answer(
                    StatusCode::ACCEPTED,
                    json!({
                        "status": "accepted",
                        "route": route.name,
                        "event": event,
                        "delivery_id": delivery,
                    }),
                )
            }
            Ok(Submitted::Duplicate) => duplicate(&route.name, delivery),
            Err(CoreError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "Shutting down"),
            Err(e) => {
                // Not recorded: the sender delivers it again later.
                error!(route = %route.name, delivery, error = %e, "cannot record a webhook delivery");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Cannot record the delivery",
                )
            }
        }
    }

    /// The rendered prompt itself to every target. Its outbox entries
    /// are the delivery's record: a delivery whose entries exist was seen.
    async fn deliver_only(&self, text: &str, event: &str, delivery: &str) -> Response {
        let route = &self.route;
        let Some(deliveries) = self.inner.deliveries() else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "Not ready");
        };
        let keys: Vec<String> = (0..route.targets.len())
            .map(|i| format!("webhook:{}:{delivery}:direct:{i}", route.name))
            .collect();
        for key in &keys {
            match self.inner.store.outbox_entry(key).await {
                Ok(None) => {}
                Ok(Some(_)) => return duplicate(&route.name, delivery),
                Err(e) => {
                    error!(route = %route.name, delivery, error = %e, "cannot read the outbox");
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Cannot record the delivery",
                    );
                }
            }
        }
        info!(route = %route.name, %event, delivery, target = %route.deliver, "delivering a webhook directly");
        let mut failed = false;
        for (target, key) in route.targets.iter().zip(&keys) {
            if let Err(e) = deliveries.deliver(target, None, text, key).await {
                warn!(route = %route.name, %target, delivery, error = %e, "a direct webhook delivery failed");
                failed = true;
            }
        }
        if failed {
            return answer(
                StatusCode::BAD_GATEWAY,
                json!({ "status": "error", "error": "Delivery failed", "delivery_id": delivery }),
            );
        }
        answer(
            StatusCode::OK,
            json!({
                "status": "delivered",
                "route": route.name,
                "target": route.deliver,
                "delivery_id": delivery,
            }),
        )
    }
}

fn duplicate(route: &str, delivery: &str) -> Response {
    info!(route, delivery, "skipping a webhook delivery seen before");
    answer(
        StatusCode::OK,
        json!({ "status": "duplicate", "delivery_id": delivery }),
    )
}

/// `GET /health` on the listener, as Hermes answers it.
pub(crate) struct Health;

#[async_trait]
impl WebhookHandler for Health {
    async fn handle(&self, _headers: HeaderMap, _body: Bytes) -> Response {
        answer(
            StatusCode::OK,
            json!({ "status": "ok", "platform": crate::NAME }),
        )
    }
}

/// The body as JSON, else as a form (`a=1&b=2`, blank values left out);
/// `None` when it is not text.
pub(crate) fn parse(body: &[u8]) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Some(value);
    }
    std::str::from_utf8(body).ok()?;
    let mut form = Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        if !value.is_empty() {
            form.insert(name.into_owned(), Value::String(value.into_owned()));
        }
    }
    Some(Value::Object(form))
}

/// The event's type: the forge's header, else the payload's own field.
pub(crate) fn event_type(headers: &HeaderMap, payload: &Value) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let field = |name: &str| match payload.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    header("x-github-event")
        .or_else(|| header("x-gitlab-event"))
        .or_else(|| field("event_type"))
        .or_else(|| field("type"))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The sender's id for this delivery, which its retries repeat.
pub(crate) fn delivery_id(headers: &HeaderMap) -> Option<String> {
    let id = ["x-github-delivery", "svix-id", "webhook-id", "x-request-id"]
        .iter()
        .find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        })?;
    if id.len() <= MAX_DELIVERY_ID && !id.chars().any(char::is_control) {
        return Some(id.to_owned());
    }
    let digest = Sha256::digest(id.as_bytes());
    Some(hermod_model::to_hex(&digest))
}

/// The prompt, never read as a slash command: a webhook's sender is
/// trusted to start turns, not to run commands (a payload field like
/// an issue title starting with `/` would otherwise be one). A word
/// joiner in front is invisible and keeps the text.
fn not_a_command(prompt: String) -> String {
    if parse_command(&prompt, '/').is_some() {
        format!("\u{2060}{prompt}")
    } else {
        prompt
    }
}

#[cfg(test)]
mod tests;
