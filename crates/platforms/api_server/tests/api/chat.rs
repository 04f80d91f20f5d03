//! Chat completions end to end: plain and streamed replies, sessions,
//! input errors, upstream failures, disconnects and restarts.

use crate::support::{KEY, Server, json_of, sse_payloads, streamed, user};
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn health_is_open_and_models_need_the_key() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let (status, body) = json_of(
        s.http
            .get(format!("{}/health", s.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");

    let (status, body) = json_of(
        s.http
            .get(format!("{}/v1/models", s.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let response = s
        .http
        .get(format!("{}/v1/models", s.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["id"], "hermod");
    s.stop().await;
}

#[tokio::test]
async fn auth_failures_are_401_in_openai_shape() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let url = format!("{}/v1/chat/completions", s.base);
    let attempts = [
        s.http.post(&url).json(&user("hi")),
        s.http
            .post(&url)
            .bearer_auth("wrong-key-0123456789abcdef")
            .json(&user("hi")),
        s.http
            .post(&url)
            .bearer_auth(&KEY[..KEY.len() - 1])
            .json(&user("hi")),
        s.http
            .post(&url)
            .header("Authorization", format!("Basic {KEY}"))
            .json(&user("hi")),
    ];
    for attempt in attempts {
        let (status, body) = json_of(attempt.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    assert_eq!(llm.request_count(), 0, "nothing reached the model");
    s.stop().await;
}

#[tokio::test]
async fn non_streaming_reply() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("Hello there!"));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = s.post(&user("hi")).send().await.unwrap();
    let session = response.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response.headers()["x-hermes-session-id"].to_str().unwrap(),
        session
    );
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello there!");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The upstream got the configured model and key.
    let request = &llm.requests()[0];
    assert_eq!(request.model(), Some("upstream-model"));
    assert_eq!(request.authorization(), Some("Bearer sk-upstream"));
    // The stateless turn was recorded.
    let id = hermod_model::SessionId::parse(&session).unwrap();
    let stored = s.store.messages(&id).await.unwrap();
    assert_eq!(stored.len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn streaming_reply() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("one two three four five").chunk_size(4));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = s.post(&streamed(user("count"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().contains_key("x-hermod-session-id"));
    let payloads = sse_payloads(response).await;
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three four five");
    assert!(chunks.len() > 3, "content arrived in several chunks");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    s.stop().await;
}

/// With `stream_options.include_usage`, OpenAI ends the stream with a
/// chunk of its own that has the usage and no choices; the official SDKs
/// read it there.
#[tokio::test]
async fn include_usage_ends_the_stream_with_a_usage_chunk() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("counted").chunk_size(3));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let mut body = streamed(user("count"));
    body["stream_options"] = json!({"include_usage": true});
    let payloads = sse_payloads(s.post(&body).send().await.unwrap()).await;
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    let [.., finish, usage] = chunks.as_slice() else {
        panic!("{chunks:?}")
    };
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert!(finish.get("usage").is_none(), "{finish}");
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["id"], finish["id"]);
    assert_eq!(usage["object"], "chat.completion.chunk");
    assert!(
        usage["usage"]["total_tokens"].as_u64().unwrap() > 0,
        "{usage}"
    );

    // A slash command's answer (no turn) ends the same way.
    let mut body = streamed(user("/help"));
    body["stream_options"] = json!({"include_usage": true});
    let payloads = sse_payloads(s.post(&body).send().await.unwrap()).await;
    let usage: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"].is_object(), "{usage}");
    s.stop().await;
}

#[tokio::test]
async fn a_session_continues_with_history_from_the_store() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("Noted: 7."), Reply::text("It was 7.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let first = s
        .post(&user("Remember 7"))
        .header("X-Hermod-Session-Id", "chat-1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.headers()["x-hermod-session-id"], "chat-1");
    assert_eq!(first.status(), 200);
    // The request's own history is ignored for a stored session: only the
    // last user message is new.
    let second_body = json!({"model": "hermod", "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "this old message is not used"},
        {"role": "user", "content": "Which number?"}
    ]});
    let second = s
        .post(&second_body)
        .header("X-Hermes-Session-Id", "chat-1")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(second).await;
    assert_eq!(status, 200);
    assert_eq!(body["choices"][0]["message"]["content"], "It was 7.");
    let sent = llm.requests()[1].messages().to_vec();
    let shape: Vec<(String, String)> = sent
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("system".to_owned(), "Answer briefly.".to_owned()),
            ("user".to_owned(), "Remember 7".to_owned()),
            ("assistant".to_owned(), "Noted: 7.".to_owned()),
            ("user".to_owned(), "Which number?".to_owned()),
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn stateless_requests_send_their_own_history() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let body = json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": [{"type": "text", "text": "c"}]}
    ]});
    let (status, reply) = json_of(s.post(&body).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(reply["choices"][0]["message"]["content"], "echo: c");
    let sent = llm.requests()[0].messages().to_vec();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1]["content"], "b");
    // Two identical stateless requests are two sessions, never merged.
    let a = s.post(&user("same")).send().await.unwrap();
    let b = s.post(&user("same")).send().await.unwrap();
    assert_ne!(
        a.headers()["x-hermod-session-id"],
        b.headers()["x-hermod-session-id"]
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let url = format!("{}/v1/chat/completions", s.base);
    let raw = |body: &str| {
        s.http
            .post(&url)
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    let cases = [
        (raw("{not json"), 400, "invalid_json"),
        (raw(r#"{"messages": "hello"}"#), 400, "invalid_request"),
        (
            raw(r#"{"messages": [{"role": "user", "content": 42}]}"#),
            400,
            "invalid_request",
        ),
        (raw(r#"{"messages": []}"#), 400, "empty_messages"),
        (raw(r#"{"model": "hermod"}"#), 400, "missing_messages"),
        (
            s.post(&user("hi"))
                .header("X-Hermod-Session-Id", "../etc/passwd"),
            400,
            "invalid_session_id",
        ),
        (
            s.post(&user("hi"))
                .header("X-Hermod-Session-Id", "x".repeat(300)),
            400,
            "invalid_session_id",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(
            (got, body["error"]["code"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let huge = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(11 * 1024 * 1024)
    );
    let (status, body) = json_of(raw(&huge).send().await.unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "request_too_large");
    assert_eq!(llm.request_count(), 0);
    s.stop().await;
}

#[tokio::test]
async fn upstream_429_is_retried_and_500_becomes_502() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::status(429).retry_after(0.05),
        Reply::text("after the wait"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let (status, body) = json_of(s.post(&user("hi")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "after the wait");
    assert_eq!(llm.request_count(), 2);

    llm.set_default(Reply::status(500));
    let (status, body) = json_of(s.post(&user("again")).send().await.unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model provider")
    );
    // Streaming requests that fail before any output get the same status.
    let (status, _) = json_of(s.post(&streamed(user("stream"))).send().await.unwrap()).await;
    assert_eq!(status, 502);
    s.stop().await;
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_turn() {
    let llm = FakeLlm::start().await;
    let long = "word ".repeat(400);
    llm.push(
        Reply::text(long)
            .chunk_size(5)
            .token_delay(Duration::from_millis(20)),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let mut response = s.post(&streamed(user("talk a lot"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Read a little, then go away.
    let first = response.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(response);
    tokio::time::timeout(Duration::from_secs(5), llm.wait_for_disconnects(1))
        .await
        .expect("the upstream request was abandoned when the client left");
    s.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_the_session() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("first answer"), Reply::text("second answer")]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hermod.db");
    let s = Server::start(&db, &llm.base_url()).await;
    let first = s
        .post(&user("before restart"))
        .header("X-Hermod-Session-Id", "durable")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    s.stop().await;

    let s = Server::start(&db, &llm.base_url()).await;
    let second = s
        .post(&user("after restart"))
        .header("X-Hermod-Session-Id", "durable")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    let sent = llm.requests()[1].messages().to_vec();
    let texts: Vec<&str> = sent
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before restart", "first answer", "after restart"]);
    s.stop().await;
}

#[tokio::test]
async fn slash_commands_work_through_the_api() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let first = s
        .post(&user("hello"))
        .header("X-Hermod-Session-Id", "webui")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let title = s
        .post(&user("/title Planning"))
        .header("X-Hermod-Session-Id", "webui")
        .send()
        .await
        .unwrap();
    assert_eq!(title.headers()["x-hermod-session-id"], "webui");
    let (_, body) = json_of(title).await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "📝 Title set: Planning"
    );
    let (status, body) = json_of(
        s.post(&user("/status"))
            .header("X-Hermod-Session-Id", "webui")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        text.contains("Session: webui")
            && text.contains("Title: Planning")
            && text.contains("Messages: 2"),
        "{text}"
    );
    // Streamed, the command's answer arrives as an ordinary completion stream.
    let payloads = sse_payloads(s.post(&streamed(user("/help"))).send().await.unwrap()).await;
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let streamed: String = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str::<Value>(p).unwrap())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        streamed.contains("/status") && streamed.contains("/new"),
        "{streamed}"
    );
    assert_eq!(llm.request_count(), 1, "commands never reach the model");
    s.stop().await;
}
