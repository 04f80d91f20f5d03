//! Security headers on every answer: open and keyed routes, refusals,
//! unknown paths, streams and CORS preflights.

use crate::support::{KEY, Server, Setup, sse_payloads, streamed, user};
use reqwest::Method;

const EXPECTED: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=31536000"),
];

fn assert_secured(what: &str, response: &reqwest::Response) {
    for (name, value) in EXPECTED {
        assert_eq!(
            response.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{what}: {name}"
        );
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::echo().config(|c| c.cors_origins = vec!["https://chat.example.com".into()]);
    let s = Server::with(&dir.path().join("db"), setup).await;

    let health = s
        .http
        .get(format!("{}/health", s.base))
        .send()
        .await
        .unwrap();
    assert_secured("/health", &health);

    let refused = s
        .http
        .get(format!("{}/v1/models", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_secured("a refusal", &refused);

    let models = s
        .http
        .get(format!("{}/v1/models", s.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    assert_secured("/v1/models", &models);

    let missing = s
        .http
        .get(format!("{}/nowhere", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_secured("a 404", &missing);

    let preflight = s
        .http
        .request(Method::OPTIONS, format!("{}/v1/chat/completions", s.base))
        .header("Origin", "https://chat.example.com")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_secured("a preflight", &preflight);

    let stream = s.post(&streamed(user("hi"))).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_secured("a stream", &stream);
    assert!(
        sse_payloads(stream)
            .await
            .last()
            .is_some_and(|p| p == "[DONE]")
    );
    s.stop().await;
}
