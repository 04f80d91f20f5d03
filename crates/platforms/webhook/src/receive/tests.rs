use super::*;
use crate::adapter::WebhookAdapter;
use crate::config::WebhookPlatformConfig;
use axum::http::{HeaderName, HeaderValue};
use hermod_adapter_kit::{WebhookConfig, WebhookListener};
use hermod_core::Clock;
use std::time::Duration;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

#[test]
fn bodies_are_json_else_forms() {
    assert_eq!(parse(br#"{"a":1}"#), Some(json!({"a": 1})));
    assert_eq!(parse(b"[1,2]"), Some(json!([1, 2])));
    assert_eq!(
        parse(b"text=hello+world&empty=&user=%40mona"),
        Some(json!({"text": "hello world", "user": "@mona"}))
    );
    assert_eq!(parse(&[0xff, 0xfe]), None);
}

#[test]
fn the_event_type_comes_from_the_forge_header_then_the_payload() {
    let payload = json!({"event_type": "deploy", "type": "other"});
    assert_eq!(
        event_type(&headers(&[("X-GitHub-Event", "push")]), &payload),
        "push"
    );
    assert_eq!(
        event_type(&headers(&[("X-Gitlab-Event", "Push Hook")]), &payload),
        "Push Hook"
    );
    assert_eq!(event_type(&HeaderMap::new(), &payload), "deploy");
    assert_eq!(
        event_type(&HeaderMap::new(), &json!({"type": "alert"})),
        "alert"
    );
    assert_eq!(
        event_type(&HeaderMap::new(), &json!({"event_type": ""})),
        "unknown"
    );
    assert_eq!(event_type(&HeaderMap::new(), &json!([1])), "unknown");
}

#[test]
fn the_delivery_id_comes_from_the_senders_headers_in_hermes_order() {
    let all = headers(&[
        ("X-Request-ID", "req"),
        ("webhook-id", "std"),
        ("svix-id", "svix"),
        ("X-GitHub-Delivery", "gh"),
    ]);
    assert_eq!(delivery_id(&all).as_deref(), Some("gh"));
    assert_eq!(
        delivery_id(&headers(&[("X-Request-ID", "req"), ("webhook-id", "std")])).as_deref(),
        Some("std")
    );
    assert_eq!(delivery_id(&HeaderMap::new()), None);
    let long = "x".repeat(500);
    let hashed = delivery_id(&headers(&[("X-Request-ID", &long)])).unwrap();
    assert_eq!(hashed.len(), 64);
}

#[test]
fn a_prompt_is_never_a_command() {
    assert_eq!(not_a_command("Summarise this".into()), "Summarise this");
    let guarded = not_a_command("/platform pause telegram".into());
    assert!(parse_command(&guarded, '/').is_none());
    assert!(guarded.ends_with("/platform pause telegram"));
}

fn handler(config: serde_json::Value) -> (RouteHandler, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = hermod_store::SqliteStore::open(&dir.path().join("t.db")).unwrap();
    let config: WebhookPlatformConfig = serde_json::from_value(config).unwrap();
    let adapter = WebhookAdapter::new(
        &config,
        Arc::new(store),
        WebhookListener::new(WebhookConfig::default()),
        Clock::System,
    )
    .unwrap();
    let route = Arc::clone(adapter.inner.routes.values().next().unwrap());
    (RouteHandler::new(Arc::clone(&adapter.inner), route), dir)
}

async fn status_and_body(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(start_paused = true)]
async fn after_the_limit_a_route_answers_429_until_its_minute_has_passed() {
    let (handler, _dir) = handler(json!({
        "secret": "s",
        "rate_limit": 3,
        "routes": {"gh": {"events": ["push"]}}
    }));
    let issues = headers(&[("X-GitHub-Event", "issues")]);
    for _ in 0..3 {
        let (status, body) = status_and_body(
            handler
                .handle(issues.clone(), Bytes::from_static(b"{}"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"status": "ignored", "event": "issues"}));
    }
    let (status, body) = status_and_body(
        handler
            .handle(issues.clone(), Bytes::from_static(b"{}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, json!({"error": "Rate limit exceeded"}));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (status, _) =
        status_and_body(handler.handle(issues, Bytes::from_static(b"{}")).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreadable_body_is_400_and_refusals_are_in_hermes_words() {
    let (handler, _dir) = handler(json!({"secret": "s", "routes": {"r": {}}}));
    let (status, body) = status_and_body(
        handler
            .handle(HeaderMap::new(), Bytes::from_static(&[0xff]))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "Cannot parse body"}));
    for (status, message) in [
        (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
        (StatusCode::UNAUTHORIZED, "Invalid signature"),
        (
            StatusCode::FORBIDDEN,
            "Webhook route is missing an HMAC secret",
        ),
    ] {
        let (got, body) = status_and_body(handler.refused(status)).await;
        assert_eq!(got, status);
        assert_eq!(body, json!({"error": message}));
    }
}
