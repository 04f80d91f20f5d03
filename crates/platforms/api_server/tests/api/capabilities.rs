//! `GET /v1/capabilities`: Hermes' document, and true of this server —
//! every endpoint it lists is served.

use crate::support::{KEY, Server, Setup, json_of};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn capabilities_list_only_what_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), Setup::echo()).await;
    let url = format!("{}/v1/capabilities", s.base);
    let (status, _) = json_of(s.http.get(&url).send().await.unwrap()).await;
    assert_eq!(status, 401, "behind the key");
    let (status, caps) = json_of(s.http.get(&url).bearer_auth(KEY).send().await.unwrap()).await;
    assert_eq!(status, 200, "{caps}");
    assert_eq!(caps["object"], "hermes.api_server.capabilities");
    assert_eq!(caps["model"], "hermod");
    assert_eq!(caps["auth"]["type"], "bearer");
    assert_eq!(caps["runtime"]["tool_execution"], "server");
    let features = &caps["features"];
    for feature in [
        "chat_completions",
        "chat_completions_streaming",
        "tool_progress_events",
        "approval_events",
        "responses_api",
        "responses_streaming",
        "run_submission",
        "session_resources",
    ] {
        assert_eq!(features[feature], true, "{feature}");
    }
    assert_eq!(features["session_key_header"], "X-Hermes-Session-Key");
    assert_eq!(features["session_continuity_header"], "X-Hermes-Session-Id");
    assert_eq!(features["idempotency_key_header"], "Idempotency-Key");
    assert_eq!(features["cors"], false, "no origins configured");
    assert_eq!(features["jobs_admin"], false, "no scheduler here");
    assert_eq!(features["session_fork"], false, "not served");

    let endpoints = caps["endpoints"].as_object().unwrap();
    for name in ["chat_completions", "responses", "runs", "sessions"] {
        assert!(endpoints.contains_key(name), "{name}");
    }
    assert!(!endpoints.contains_key("jobs"), "no scheduler, no jobs");
    assert!(!endpoints.contains_key("session_fork"));
    for (name, endpoint) in endpoints {
        let method = endpoint["method"].as_str().unwrap();
        let path = fill_parameters(endpoint["path"].as_str().unwrap());
        let request = match method {
            "GET" => s.http.get(format!("{}{path}", s.base)),
            "POST" => s
                .http
                .post(format!("{}{path}", s.base))
                .json(&serde_json::json!({})),
            "PATCH" => s
                .http
                .patch(format!("{}{path}", s.base))
                .json(&serde_json::json!({})),
            "DELETE" => s.http.delete(format!("{}{path}", s.base)),
            other => panic!("{name}: unexpected method {other}"),
        };
        let response =
            tokio::time::timeout(Duration::from_secs(10), request.bearer_auth(KEY).send())
                .await
                .unwrap()
                .unwrap();
        let status = response.status().as_u16();
        assert_ne!(status, 405, "{name}: {method} {path} is not routed");
        if status == 404 {
            let body: Value = response.json().await.unwrap_or_default();
            assert_ne!(
                body["error"]["code"], "not_found",
                "{name}: {method} {path} is not routed: {body}"
            );
        }
    }
    s.stop().await;
}

/// `path` with each `{parameter}` replaced by an id no one has.
fn fill_parameters(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with('{') {
                "no-such-id"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
