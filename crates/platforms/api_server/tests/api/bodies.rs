//! Request bodies: JSON only, refused unread when declared too large, and
//! large ones handled within the body budget.

use crate::support::{KEY, Server, Setup, json_of, raw_exchange, user};
use hermod_testkit::ScriptedAgent;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_body_not_sent_as_json_is_415() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), Setup::echo()).await;
    let url = format!("{}/v1/chat/completions", s.base);
    let body = user("hi").to_string();
    let send = |content_type: Option<&str>| {
        let mut request = s.http.post(&url).bearer_auth(KEY).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    for refused in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, error) = json_of(send(refused).await.unwrap()).await;
        assert_eq!(status, 415, "{refused:?}");
        assert_eq!(error["error"]["code"], "unsupported_media_type");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    let (status, reply) =
        json_of(send(Some("application/json; charset=utf-8")).await.unwrap()).await;
    assert_eq!(status, 200, "{reply}");
    s.stop().await;
}

#[tokio::test]
async fn a_body_declared_too_large_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(&dir.path().join("db"), Setup::echo()).await;
    let mut conn = s.connect().await;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: hermod\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        11 * 1024 * 1024
    );
    let head = raw_exchange(&mut conn, request.as_bytes(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    s.stop().await;
}

#[tokio::test]
async fn large_bodies_take_turns_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let agent = ScriptedAgent::with_delay(Duration::from_secs(2));
    let stats = agent.stats();
    let setup = Setup::agent(Arc::new(agent)).config(|c| {
        c.max_body_bytes = 64 * 1024;
        c.body_budget_bytes = Some(64 * 1024);
    });
    let s = Server::with(&dir.path().join("db"), setup).await;
    // Two 40 KB requests do not fit in the budget together: the second is
    // read only once the first is answered.
    let big = |tag: &str| user(&format!("{tag} {}", "x".repeat(40 * 1024)));
    let (a, b) = tokio::join!(s.post(&big("a")).send(), s.post(&big("b")).send());
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(
        stats.max_running(),
        1,
        "the large requests ran one at a time"
    );
    // Small requests fit together.
    let (a, b) = tokio::join!(s.post(&user("a")).send(), s.post(&user("b")).send());
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(stats.max_running(), 2, "small requests ran side by side");
    // The budget is whole again: a body of the full limit still fits.
    let full = json!({"messages": [{"role": "user", "content": "y".repeat(60 * 1024)}]});
    assert_eq!(s.post(&full).send().await.unwrap().status(), 200);
    s.stop().await;
}

/// Polls a run's status until it is over.
async fn run_ended(s: &Server, id: &str) -> serde_json::Value {
    for _ in 0..800 {
        let (status, body) = json_of(
            s.http
                .get(format!("{}/v1/runs/{id}", s.base))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if ["completed", "failed", "cancelled"].contains(&body["status"].as_str().unwrap()) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {id} did not end");
}

#[tokio::test]
async fn a_run_keeps_its_share_of_the_budget_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let agent = ScriptedAgent::with_delay(Duration::from_secs(2));
    let stats = agent.stats();
    let setup = Setup::agent(Arc::new(agent)).config(|c| {
        c.max_body_bytes = 64 * 1024;
        c.body_budget_bytes = Some(64 * 1024);
    });
    let s = Server::with(&dir.path().join("db"), setup).await;
    // `POST /v1/runs` answers at once, but the run's body lives on in the
    // turn: a second 40 KB run is read only once the first has ended.
    let big = |tag: &str| json!({"input": format!("{tag} {}", "x".repeat(40 * 1024))});
    let start = |body: serde_json::Value| {
        s.http
            .post(format!("{}/v1/runs", s.base))
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    let (a, b) = tokio::join!(start(big("a")), start(big("b")));
    let (status_a, a) = json_of(a.unwrap()).await;
    let (status_b, b) = json_of(b.unwrap()).await;
    assert_eq!((status_a, status_b), (202, 202), "{a} {b}");
    for run in [&a, &b] {
        let ended = run_ended(&s, run["run_id"].as_str().unwrap()).await;
        assert_eq!(ended["status"], "completed", "{ended}");
    }
    assert_eq!(stats.max_running(), 1, "the large runs ran one at a time");
    s.stop().await;
}
