//! Exercises the fake LLM server over real HTTP.

use hermod_http::HttpClient;
use hermod_model::Usage;
use hermod_testkit::llm::TIME_HEADER;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::time::Duration;

fn client() -> reqwest::Client {
    HttpClient::new().expect("http client").reqwest().clone()
}

fn body(stream: bool, user: &str) -> Value {
    json!({
        "model": "test-model",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": user}],
    })
}

async fn post(fake: &FakeLlm, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .expect("the fake answers")
}

fn data_lines(text: &str) -> Vec<&str> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect()
}

#[tokio::test]
async fn default_reply_echoes_and_requests_are_recorded() {
    let fake = FakeLlm::start().await;
    let response = post(&fake, &body(false, "hello")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key(TIME_HEADER));
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "test-model");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].authorization(), Some("Bearer sk-test"));
    assert_eq!(requests[0].messages().len(), 2);
    assert_eq!(requests[0].model(), Some("test-model"));
    assert!(!requests[0].is_stream());
    fake.wait_for_completions(1).await;
    assert_eq!(fake.in_flight(), 0);
}

#[tokio::test]
async fn streams_realistic_chunks() {
    let fake = FakeLlm::start().await;
    let usage = Usage {
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
    };
    fake.push(Reply::text("Hello there world").chunk_size(5).usage(usage));
    let response = post(&fake, &body(true, "hi")).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let lines = data_lines(&text);
    assert_eq!(lines.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, ["", "Hello", " ther", "e wor", "ld"]);
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(chunks[chunks.len() - 1]["choices"], json!([]));
    assert_eq!(chunks[chunks.len() - 1]["usage"]["total_tokens"], 7);
}

#[tokio::test]
async fn quirks_are_applied() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::tool_call("f", json!({"a": 1}))
            .without_tool_call_ids()
            .without_done()
            .no_usage(),
    );
    let text = post(&fake, &body(true, "x")).await.text().await.unwrap();
    assert!(!text.contains("[DONE]"));
    assert!(!text.contains("\"id\":\"call"));
    assert!(!text.contains("\"usage\""));
    assert!(text.contains(r#""finish_reason":"tool_calls""#));

    fake.push(Reply::text("cut").finish_reason("length").empty_usage());
    let v: Value = post(&fake, &body(false, "x")).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"], json!({}));
}

#[tokio::test]
async fn status_replies_carry_retry_after() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::status(429).retry_after(2),
        Reply::status(503).retry_after(0.25),
    ]);
    let response = post(&fake, &body(true, "x")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let response = post(&fake, &body(true, "x")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "0.25");
    assert_eq!(fake.pending_replies(), 0);
}

#[tokio::test]
async fn drop_after_chunks_breaks_the_connection() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("one two three four").drop_after_chunks(2));
    let mut response = post(&fake, &body(true, "x")).await;
    let mut received = String::new();
    let err = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => panic!("the stream ended cleanly: {received}"),
            Err(err) => break err,
        }
    };
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    assert_eq!(data_lines(&received).len(), 2);
    assert_eq!(
        fake.disconnects(),
        0,
        "a scripted drop is not a client disconnect"
    );
}

#[tokio::test]
async fn client_going_away_is_noticed() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::hang());
    let url = format!("{}/chat/completions", fake.base_url());
    let request =
        tokio::spawn(async move { client().post(url).json(&body(true, "x")).send().await });
    fake.wait_for_requests(1).await;
    assert_eq!(fake.in_flight(), 1);
    request.abort();
    fake.wait_for_disconnects(1).await;
    assert_eq!(fake.in_flight(), 0);

    // Mid-stream too.
    fake.push(Reply::text("a b c d e f").token_delay(Duration::from_secs(60)));
    let mut response = post(&fake, &body(true, "x")).await;
    response.chunk().await.unwrap().unwrap();
    drop(response);
    fake.wait_for_disconnects(2).await;
}

#[tokio::test]
async fn timing_is_reported() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("a b c").token_delay(Duration::from_millis(20)));
    let response = post(&fake, &body(true, "x")).await;
    let reported: u64 = response.headers()[TIME_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reported >= 20_000 * 4, "{reported}");
    response.text().await.unwrap();
    fake.wait_for_completions(1).await;
    assert!(fake.busy_time() >= Duration::from_millis(80));
}

#[tokio::test]
async fn shutdown_releases_hanging_requests() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::hang());
    let url = format!("{}/chat/completions", fake.base_url());
    let request =
        tokio::spawn(async move { client().post(url).json(&body(false, "x")).send().await });
    fake.wait_for_requests(1).await;
    fake.shutdown().await;
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn models_are_listed() {
    let fake = FakeLlm::start().await;
    let v: Value = client()
        .get(format!("{}/models", fake.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["id"], "fake-model");
}
