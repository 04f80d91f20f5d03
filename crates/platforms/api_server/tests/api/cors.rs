//! CORS for browser clients: preflights answered without the key for the
//! configured origins, CORS headers on their responses, none for others,
//! and none at all when no origin is configured.

use crate::support::{KEY, Server, Setup, json_of, user};
use reqwest::Method;

const PAGE: &str = "https://chat.example.com";

fn with_origins(origins: &[&str]) -> Setup {
    let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
    Setup::echo().config(|c| c.cors_origins = origins)
}

fn preflight(s: &Server, origin: &str) -> reqwest::RequestBuilder {
    s.http
        .request(Method::OPTIONS, format!("{}/v1/chat/completions", s.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, x-hermes-session-id, x-stainless-os",
        )
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn has_cors_headers(response: &reqwest::Response) -> bool {
    response
        .headers()
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn an_allowed_origins_preflight_is_answered_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), with_origins(&[PAGE])).await;
    let response = preflight(&s, PAGE).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(PAGE));
    let methods = header(&response, "access-control-allow-methods").unwrap();
    for method in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{method} not in {methods}");
    }
    let allowed = header(&response, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-hermes-session-id",
        "x-hermes-session-key",
        "x-stainless-os",
    ] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
    assert_eq!(header(&response, "access-control-max-age"), Some("600"));
    let vary = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(vary.contains("Origin"), "{vary}");
    s.stop().await;
}

#[tokio::test]
async fn an_allowed_origins_responses_carry_cors_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), with_origins(&[PAGE])).await;
    let response = s
        .post(&user("hi"))
        .header("Origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(PAGE));
    let exposed = header(&response, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("X-Hermes-Session-Id"), "{exposed}");
    assert!(exposed.contains("X-Hermod-Session-Id"), "{exposed}");
    // Errors too, so the page can read why.
    let response = s
        .http
        .get(format!("{}/v1/models", s.base))
        .header("Origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(PAGE));
    s.stop().await;
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), with_origins(&[PAGE])).await;
    for origin in [
        "https://evil.example",
        "https://chat.example.com.evil.example",
    ] {
        let response = preflight(&s, origin).send().await.unwrap();
        assert_eq!(response.status(), 403);
        assert!(!has_cors_headers(&response), "{origin}: {response:?}");
        let response = s
            .post(&user("hi"))
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert!(!has_cors_headers(&response), "{origin}: {response:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn without_configured_origins_there_is_no_cors_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), Setup::echo()).await;
    let response = preflight(&s, PAGE).send().await.unwrap();
    assert_ne!(response.status(), 204);
    assert!(!has_cors_headers(&response), "{response:?}");
    let response = s
        .post(&user("hi"))
        .header("Origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!has_cors_headers(&response), "{response:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_wildcard_allows_any_origin() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), with_origins(&["*"])).await;
    let origin = "http://localhost:3000";
    let response = preflight(&s, origin).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(origin)
    );
    let (status, body) = json_of(
        s.http
            .get(format!("{}/v1/models", s.base))
            .bearer_auth(KEY)
            .header("Origin", origin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}
