//! The Responses API (`/v1/responses`) over real HTTP: plain and streamed
//! answers in OpenAI's shapes, failures and refusals; chaining and stored
//! responses in `stored`, approvals in `approvals`, request headers in
//! `headers`, the OpenAI SDKs in `sdk`.

mod approvals;
mod headers;
mod kept;
mod sdk;
mod stored;

use crate::support::{KEY, Server, Setup, json_of};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::time::Duration;

pub(super) fn create(s: &Server, body: &Value) -> reqwest::RequestBuilder {
    s.http
        .post(format!("{}/v1/responses", s.base))
        .bearer_auth(KEY)
        .json(body)
}

pub(super) async fn created(s: &Server, body: Value) -> Value {
    let (status, response) = json_of(create(s, &body).send().await.unwrap()).await;
    assert_eq!(status, 200, "{response}");
    response
}

pub(super) async fn get(s: &Server, id: &str) -> (u16, Value) {
    let url = format!("{}/v1/responses/{id}", s.base);
    json_of(s.http.get(url).bearer_auth(KEY).send().await.unwrap()).await
}

pub(super) async fn delete(s: &Server, id: &str) -> (u16, Value) {
    let url = format!("{}/v1/responses/{id}", s.base);
    json_of(s.http.delete(url).bearer_auth(KEY).send().await.unwrap()).await
}

pub(super) fn id(response: &Value) -> &str {
    response["id"].as_str().unwrap()
}

pub(super) fn text(response: &Value) -> &str {
    response["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
}

/// The `(role, text)` of each message a model request carried.
pub(super) fn seen(llm: &FakeLlm, n: usize) -> Vec<(String, String)> {
    llm.requests()[n]
        .messages()
        .iter()
        .map(|m| {
            let text = match &m["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            (m["role"].as_str().unwrap().to_owned(), text)
        })
        .collect()
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(r, t)| ((*r).to_owned(), (*t).to_owned()))
        .collect()
}

/// The conversation part of what the model saw (system prompts left out).
pub(super) fn dialogue(llm: &FakeLlm, n: usize) -> Vec<(String, String)> {
    seen(llm, n)
        .into_iter()
        .filter(|(role, _)| role != "system")
        .collect()
}

/// An SSE body as `(event name, data)` pairs.
async fn events_of(response: reqwest::Response) -> Vec<(String, Value)> {
    events(&response.text().await.unwrap())
}

/// SSE frames as `(event name, data)` pairs (comments left out).
pub(super) fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|frame| {
            let mut name = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(rest) = line.strip_prefix("event: ") {
                    name = Some(rest.to_owned());
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(rest).unwrap());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

#[tokio::test]
async fn a_plain_response_has_openais_shape_and_instructions_reach_the_model() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("Hello there."));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = create(
        &s,
        &json!({"model": "hermod", "input": "hi", "instructions": "Answer like a pirate."}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let session = response.headers()["x-hermod-session-id"].clone();
    assert_eq!(response.headers()["x-hermes-session-id"], session);
    let (_, body) = json_of(response).await;
    assert!(id(&body).starts_with("resp_"), "{body}");
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "hermod");
    assert_eq!(body["instructions"], "Answer like a pirate.");
    assert!(body["previous_response_id"].is_null());
    assert!(body["created_at"].as_i64().unwrap() > 0);
    let item = &body["output"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["status"], "completed");
    assert!(item["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(text(&body), "Hello there.");
    assert_eq!(item["content"][0]["annotations"], json!([]));
    for field in ["input_tokens", "output_tokens", "total_tokens"] {
        assert!(body["usage"][field].is_u64(), "{field}: {body}");
    }
    let system = &seen(&llm, 0)[0];
    assert_eq!(system.0, "system");
    assert!(system.1.contains("Answer like a pirate."), "{system:?}");
    assert_eq!(dialogue(&llm, 0), pairs(&[("user", "hi")]));
    s.stop().await;
}

#[tokio::test]
async fn input_items_and_parts_become_history_and_the_new_message() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("A red square."));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let pixel = "data:image/png;base64,iVBORw0KGgo=";
    let body = created(
        &s,
        json!({"input": [
            {"role": "user", "content": "remember: blue"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "noted"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": pixel}
            ]}
        ]}),
    )
    .await;
    assert_eq!(text(&body), "A red square.");
    assert_eq!(
        dialogue(&llm, 0),
        pairs(&[
            ("user", "remember: blue"),
            ("assistant", "noted"),
            ("user", "what is this?")
        ])
    );
    let last = llm.requests()[0].messages().last().unwrap().clone();
    let image = last["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "image_url")
        .cloned()
        .unwrap_or_else(|| panic!("no image part: {last}"));
    assert!(
        image["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/")
    );
    s.stop().await;
}

#[tokio::test]
async fn a_stream_sends_openais_events_in_order_with_sequence_numbers() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("Hello streaming world.").chunk_size(4));
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let response = create(&s, &json!({"input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().contains_key("x-hermod-session-id"));
    let events = events_of(response).await;
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(&data["type"], name, "data names its event");
        assert_eq!(data["sequence_number"], n, "{name}");
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = names
        .iter()
        .filter(|n| **n == "response.output_text.delta")
        .count();
    assert!(deltas > 1, "{names:?}");
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(std::iter::repeat_n("response.output_text.delta", deltas));
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(names, expected);
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    let joined: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert_eq!(joined, "Hello streaming world.");
    let item_id = events[2].1["item"]["id"].as_str().unwrap();
    assert_eq!(events[4].1["item_id"], item_id);
    let done = &events[names.len() - 4].1;
    assert_eq!(done["text"], "Hello streaming world.");
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["id"], created["id"]);
    assert_eq!(text(completed), "Hello streaming world.");
    assert_eq!(completed["output"][0]["id"], item_id);
    // The streamed response is stored as it completed.
    let (status, stored) = get(&s, id(completed)).await;
    assert_eq!(status, 200);
    assert_eq!(&stored, completed);
    s.stop().await;
}

#[tokio::test]
async fn a_failing_upstream_is_an_http_error_before_output_and_failed_after() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::status(400),
        Reply::status(400),
        Reply::text("This answer breaks off somewhere in the middle")
            .chunk_size(4)
            .drop_after_chunks(3),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    for stream in [false, true] {
        let (status, body) = json_of(
            create(&s, &json!({"input": "hi", "stream": stream}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 502, "stream {stream}: {body}");
        assert_eq!(body["error"]["code"], "upstream_rejected");
    }
    let response = create(&s, &json!({"input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = events_of(response).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"response.output_text.delta"), "{names:?}");
    assert!(!names.contains(&"response.completed"), "{names:?}");
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "response.failed");
    assert_eq!(data["response"]["status"], "failed");
    assert_eq!(data["response"]["error"]["code"], "incomplete_response");
    assert!(data["response"]["error"]["message"].as_str().unwrap().len() > 10);
    s.stop().await;
}

#[tokio::test]
async fn a_full_run_cap_is_answered_429() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("slow ".repeat(40))
            .chunk_size(5)
            .token_delay(Duration::from_millis(20)),
        Reply::text("Second."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::llm(&llm.base_url()).config(|c| c.max_concurrent_runs = 1);
    let s = Server::with(&dir.path().join("db"), setup).await;
    let mut first = create(&s, &json!({"input": "long", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let refused = create(&s, &json!({"input": "me too"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let (_, body) = json_of(refused).await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    while first.chunk().await.unwrap().is_some() {}
    let second = created(&s, json!({"input": "now?"})).await;
    assert_eq!(text(&second), "Second.");
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_are_400s_that_say_what_is_wrong() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let cases = [
        (json!({"model": "hermod"}), "missing_input", "`input`"),
        (json!({"input": 7}), "invalid_input", "string or a list"),
        (json!({"input": []}), "empty_input", "no user message"),
        (
            json!({"input": [{"role": "assistant", "content": "x"}]}),
            "no_user_message",
            "user message",
        ),
        (
            json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]}),
            "unsupported_input_item",
            "function_call_output",
        ),
        (
            json!({"input": "x", "instructions": ["a"]}),
            "invalid_request",
            "`instructions` must be a string",
        ),
        (
            json!({"input": "x", "previous_response_id": "resp_1", "conversation": "c"}),
            "invalid_request",
            "not both",
        ),
        (
            json!({"input": "x", "background": true}),
            "unsupported_parameter",
            "Background",
        ),
    ];
    for (body, code, says) in cases {
        let (status, error) = json_of(create(&s, &body).send().await.unwrap()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let (status, error) = json_of(
        create(
            &s,
            &json!({"input": "x", "previous_response_id": "resp_nope"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "response_not_found");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resp_nope")
    );
    assert_eq!(llm.request_count(), 0, "nothing reached the model");
    s.stop().await;
}

#[tokio::test]
async fn a_token_limit_ends_incomplete_and_options_reach_the_model() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("<think>let me see</think>Cut off her").finish_reason("length"),
        Reply::text("Cut off here too")
            .chunk_size(4)
            .finish_reason("length"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let body = created(
        &s,
        json!({"input": "long story", "max_output_tokens": 5, "temperature": 0.25}),
    )
    .await;
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(text(&body), "Cut off her", "hidden reasoning is left out");
    assert_eq!(body["max_output_tokens"], 5);
    let sent = &llm.requests()[0].body;
    assert_eq!(sent["max_tokens"], 5);
    assert_eq!(sent["temperature"], 0.25);

    let response = create(&s, &json!({"input": "again", "stream": true}))
        .send()
        .await
        .unwrap();
    let events = events_of(response).await;
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "response.incomplete");
    assert_eq!(data["response"]["status"], "incomplete");
    assert_eq!(text(&data["response"]), "Cut off here too");
    assert_eq!(
        data["response"]["output"][0]["status"], "incomplete",
        "{data}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_slash_command_is_answered_as_a_response() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let plain = created(&s, json!({"input": "/help"})).await;
    assert_eq!(plain["status"], "completed");
    assert!(text(&plain).contains("/new"), "{plain}");
    let response = create(&s, &json!({"input": "/help", "stream": true}))
        .send()
        .await
        .unwrap();
    let events = events_of(response).await;
    for (n, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], n);
    }
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "response.completed");
    assert!(text(&data["response"]).contains("/new"), "{data}");
    assert_eq!(llm.request_count(), 0, "commands never reach the model");
    s.stop().await;
}
