//! The runs API end to end, as Hermes' clients use it: `POST /v1/runs`
//! answers `202` at once, `GET /v1/runs/{id}/events` streams the run's
//! events (Hermes' names and fields, one `data:` line each), `GET
//! /v1/runs/{id}` is its status, `/approval` answers a tool's request and
//! `/stop` stops it. The timing rules (stream 300 s, status 3600 s after
//! the end) are unit-tested on paused time in `src/runs/registry.rs`.

use crate::support::{Guarded, KEY, Server, Setup, json_of};
use hermod_agent::{Tool, ToolContext, ToolRegistry, async_trait};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::time::Duration;

/// Looks something up, without asking.
struct Lookup;

#[async_trait]
impl Tool for Lookup {
    fn name(&self) -> &str {
        "lookup"
    }

    fn description(&self) -> &str {
        "Looks a word up"
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"word": {"type": "string"}}})
    }

    async fn call(&self, arguments: Value, _ctx: ToolContext) -> Result<String, String> {
        Ok(format!(
            "{} means hello",
            arguments["word"].as_str().unwrap_or("?")
        ))
    }
}

async fn server(llm: &FakeLlm, dir: &tempfile::TempDir, max_runs: usize) -> Server {
    let tools = ToolRegistry::new().with(Lookup).with(Guarded);
    let setup =
        Setup::llm_with_tools(&llm.base_url(), tools).config(|c| c.max_concurrent_runs = max_runs);
    Server::with(&dir.path().join("db"), setup).await
}

fn url(s: &Server, path: &str) -> String {
    format!("{}{path}", s.base)
}

/// Starts a run; its id.
async fn start(s: &Server, body: &Value) -> String {
    let (status, answer) = json_of(
        s.http
            .post(url(s, "/v1/runs"))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "started");
    let id = answer["run_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("run_") && id.len() == 36, "{id}");
    id
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    json_of(
        s.http
            .get(url(s, path))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    json_of(
        s.http
            .post(url(s, path))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A subscription to a run's events.
struct Events {
    response: reqwest::Response,
    received: String,
    /// Events parsed so far.
    seen: Vec<Value>,
    closed: bool,
}

impl Events {
    async fn open(s: &Server, id: &str) -> Self {
        let response = s
            .http
            .get(url(s, &format!("/v1/runs/{id}/events")))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            received: String::new(),
            seen: Vec::new(),
            closed: false,
        }
    }

    /// Reads until an event named `name` arrives; it.
    async fn until(&mut self, name: &str) -> Value {
        loop {
            if let Some(event) = self.seen.iter().find(|e| e["event"] == name) {
                return event.clone();
            }
            assert!(
                !self.read().await,
                "the stream ended without {name}: {:?}",
                self.seen
            );
        }
    }

    /// Reads one chunk; true at the end of the stream.
    async fn read(&mut self) -> bool {
        let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
            .await
            .expect("events keep coming")
            .unwrap();
        let Some(chunk) = chunk else {
            return true;
        };
        self.received.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = self.received.find("\n\n") {
            let frame: String = self.received.drain(..end + 2).collect();
            let frame = frame.trim_end();
            if let Some(data) = frame.strip_prefix("data: ") {
                self.seen.push(serde_json::from_str(data).unwrap());
            } else if frame == ": stream closed" {
                self.closed = true;
            } else {
                assert!(frame.starts_with(':'), "only data and comments: {frame}");
            }
        }
        false
    }

    /// Reads to the end of the stream; every event.
    async fn all(mut self) -> Vec<Value> {
        while !self.read().await {}
        assert!(self.closed, "the stream says it closed");
        self.seen
    }
}

fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// The text of the `message.delta` events.
fn text(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["event"] == "message.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

/// Polls the run's status until it is over.
async fn finished(s: &Server, id: &str) -> Value {
    for _ in 0..400 {
        let (status, body) = get(s, &format!("/v1/runs/{id}")).await;
        assert_eq!(status, 200, "{body}");
        if ["completed", "failed", "cancelled"].contains(&body["status"].as_str().unwrap()) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {id} did not finish");
}

#[tokio::test]
async fn a_run_streams_its_text_and_ends_with_its_output_and_usage() {
    let llm = FakeLlm::start().await;
    llm.push(
        Reply::text("Hello there, friend.")
            .chunk_size(4)
            .token_delay(Duration::from_millis(5)),
    );
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(&s, &json!({"input": "hi", "instructions": "Be warm."})).await;
    let events = Events::open(&s, &id).await.all().await;
    let names = names(&events);
    assert_eq!(names.first(), Some(&"run.started"));
    assert_eq!(names.last(), Some(&"run.completed"));
    assert!(
        names[1..names.len() - 1]
            .iter()
            .all(|n| *n == "message.delta"),
        "{names:?}"
    );
    assert_eq!(text(&events), "Hello there, friend.");
    for event in &events {
        assert_eq!(event["run_id"], id);
        assert!(event["timestamp"].as_f64().unwrap() > 1.7e9, "{event}");
    }
    let completed = events.last().unwrap();
    assert_eq!(completed["output"], "Hello there, friend.");
    let usage = &completed["usage"];
    assert!(usage["total_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert!(usage.get("input_tokens").is_some() && usage.get("output_tokens").is_some());

    let status = finished(&s, &id).await;
    assert_eq!(status["object"], "hermes.run");
    assert_eq!(status["run_id"], id);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["output"], "Hello there, friend.");
    assert_eq!(status["usage"], *usage);
    assert_eq!(status["last_event"], "run.completed");
    assert_eq!(
        status["session_id"], id,
        "a run without a session names its own"
    );
    assert_eq!(status["model"], "hermod");
    assert!(status["created_at"].as_f64().unwrap() <= status["updated_at"].as_f64().unwrap());
    // The instructions reached the model as a system prompt.
    let request = &llm.requests()[0];
    let system = request.messages()[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains("Be warm."), "{system}");
    s.stop().await;
}

#[tokio::test]
async fn tool_calls_are_started_and_completed_events() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("lookup", json!({"word": "hola"})),
        Reply::text("It means hello."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(
        &s,
        &json!({"input": [{"role": "user", "content": "what is hola?"}]}),
    )
    .await;
    let events = Events::open(&s, &id).await.all().await;
    let names = names(&events);
    let started = names.iter().position(|n| *n == "tool.started").unwrap();
    let completed = names.iter().position(|n| *n == "tool.completed").unwrap();
    assert!(started < completed, "{names:?}");
    assert_eq!(names.last(), Some(&"run.completed"));
    assert_eq!(events[started]["tool"], "lookup");
    assert_eq!(events[started]["preview"], r#"{"word":"hola"}"#);
    assert_eq!(events[completed]["tool"], "lookup");
    assert_eq!(events[completed]["error"], false);
    assert!(events[completed]["duration"].as_f64().unwrap() >= 0.0);
    assert_eq!(events.last().unwrap()["output"], "It means hello.");
    s.stop().await;
}

#[tokio::test]
async fn an_approval_is_asked_as_an_event_and_answered_through_the_run() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("delete_files", json!({"path": "/tmp/x"})),
        Reply::text("All done."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(&s, &json!({"input": "clean up"})).await;
    let mut events = Events::open(&s, &id).await;
    let request = events.until("approval.request").await;
    assert_eq!(request["command"], "delete /tmp/x");
    assert_eq!(request["pattern_key"], "recursive_delete");
    assert_eq!(request["pattern_keys"], json!(["recursive_delete"]));
    assert_eq!(
        request["choices"],
        json!(["once", "session", "always", "deny"])
    );
    assert_eq!(request["tool"], "delete_files");
    let (_, status) = get(&s, &format!("/v1/runs/{id}")).await;
    assert_eq!(status["status"], "waiting_for_approval");
    assert_eq!(status["last_event"], "approval.request");

    let approval = format!("/v1/runs/{id}/approval");
    let (code, body) = post(&s, &approval, &json!({"choice": "maybe"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("invalid_approval_choice"))
    );
    let (code, body) = post(&s, "/v1/runs/run_nope/approval", &json!({"choice": "once"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("run_not_found"))
    );
    // Hermes' alias for "once".
    let (code, body) = post(&s, &approval, &json!({"choice": "approve"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"object": "hermes.run.approval_response", "run_id": id, "choice": "once", "resolved": 1})
    );
    let responded = events.until("approval.responded").await;
    assert_eq!(
        (responded["choice"].as_str(), responded["resolved"].as_u64()),
        (Some("once"), Some(1))
    );
    let rest = events.all().await;
    let names = names(&rest);
    let responded = names
        .iter()
        .position(|n| *n == "approval.responded")
        .unwrap();
    let completed = names.iter().position(|n| *n == "tool.completed").unwrap();
    assert!(responded < completed, "{names:?}");
    assert_eq!(rest[completed]["error"], false);
    assert_eq!(rest.last().unwrap()["output"], "All done.");
    let tool = llm.requests()[1]
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .unwrap();
    assert_eq!(tool["content"], "deleted /tmp/x");
    // The run is over: nothing to answer.
    let (code, body) = post(&s, &approval, &json!({"choice": "once"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("approval_not_active"))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_stopped_run_is_cancelled_and_its_upstream_call_dropped() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::hang());
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(&s, &json!({"input": "take your time"})).await;
    let mut events = Events::open(&s, &id).await;
    events.until("run.started").await;
    llm.wait_for_requests(1).await;
    // Running, but nothing asked: no approval to answer.
    let (code, body) = post(
        &s,
        &format!("/v1/runs/{id}/approval"),
        &json!({"choice": "once"}),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("approval_not_pending"))
    );
    let (code, body) = post(&s, &format!("/v1/runs/{id}/stop"), &json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, json!({"run_id": id, "status": "stopping"}));
    let rest = events.all().await;
    assert_eq!(names(&rest).last(), Some(&"run.cancelled"));
    let status = finished(&s, &id).await;
    assert_eq!(status["status"], "cancelled");
    assert_eq!(status["last_event"], "run.cancelled");
    tokio::time::timeout(Duration::from_secs(10), llm.wait_for_disconnects(1))
        .await
        .expect("the model call was dropped");
    // Stopping a run that is over: not found, as in Hermes.
    let (code, body) = post(&s, &format!("/v1/runs/{id}/stop"), &json!({})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("run_not_found"))
    );
    s.stop().await;
}

#[tokio::test]
async fn a_failing_upstream_fails_the_run_with_its_error() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::status(401));
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(&s, &json!({"input": "hi"})).await;
    let events = Events::open(&s, &id).await.all().await;
    assert_eq!(names(&events).last(), Some(&"run.failed"));
    let error = events.last().unwrap()["error"].as_str().unwrap().to_owned();
    assert!(!error.is_empty());
    assert!(!error.contains("sk-upstream"), "{error}");
    let status = finished(&s, &id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"], error);
    assert!(status.get("output").is_none(), "{status}");
    s.stop().await;
}

#[tokio::test]
async fn a_late_subscriber_gets_every_event_and_several_may_follow() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::tool_call("lookup", json!({"word": "ciao"})),
        Reply::text("It means hello or bye.").chunk_size(3),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(&s, &json!({"input": "ciao?"})).await;
    // Nobody listens while it runs.
    let status = finished(&s, &id).await;
    assert_eq!(status["status"], "completed", "{status}");
    let first = Events::open(&s, &id).await.all().await;
    let second = Events::open(&s, &id).await.all().await;
    assert_eq!(first, second);
    assert_eq!(
        names(&first),
        [
            "run.started",
            "tool.started",
            "tool.completed",
            "message.delta",
            "run.completed"
        ],
        "unread deltas were merged"
    );
    assert_eq!(text(&first), "It means hello or bye.");
    s.stop().await;
}

#[tokio::test]
async fn unknown_runs_and_bad_requests_are_answered_in_openais_shape() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    for path in ["/v1/runs/run_nope", "/v1/runs/run_nope/events"] {
        let (code, body) = get(&s, path).await;
        assert_eq!(code, 404, "{path}");
        assert_eq!(body["error"]["code"], "run_not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("run_nope")
        );
    }
    let (code, body) = post(&s, "/v1/runs/run_nope/stop", &json!({})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("run_not_found"))
    );
    let (code, body) = post(&s, "/v1/runs", &json!({"instructions": "x"})).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("missing_input"))
    );
    let unauthenticated = s
        .http
        .post(url(&s, "/v1/runs"))
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(llm.request_count(), 0);
    s.stop().await;
}

#[tokio::test]
async fn a_run_over_the_cap_is_refused_until_one_ends() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::hang(), Reply::text("Second.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 1).await;
    let first = start(&s, &json!({"input": "one"})).await;
    let (code, body) = post(&s, "/v1/runs", &json!({"input": "two"})).await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // The first run holds the hanging reply before it is stopped.
    llm.wait_for_requests(1).await;
    let (code, _) = post(&s, &format!("/v1/runs/{first}/stop"), &json!({})).await;
    assert_eq!(code, 200);
    // Once the run has ended, its slot is free.
    assert_eq!(finished(&s, &first).await["status"], "cancelled");
    let second = start(&s, &json!({"input": "two"})).await;
    let events = Events::open(&s, &second).await.all().await;
    assert_eq!(events.last().unwrap()["output"], "Second.");
    s.stop().await;
}

#[tokio::test]
async fn the_session_key_is_echoed_as_hermes_does() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let response = s
        .http
        .post(url(&s, "/v1/runs"))
        .bearer_auth(KEY)
        .header("X-Hermes-Session-Key", "team-7")
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["x-hermes-session-key"], "team-7");
    let (_, body) = json_of(response).await;
    let id = body["run_id"].as_str().unwrap();
    assert_eq!(finished(&s, id).await["status"], "completed");
    let too_long = s
        .http
        .post(url(&s, "/v1/runs"))
        .bearer_auth(KEY)
        .header("X-Hermes-Session-Key", "k".repeat(300))
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn a_named_session_carries_the_conversation_on() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("Noted: blue."), Reply::text("Blue.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let first = start(
        &s,
        &json!({"input": "my colour is blue", "session_id": "colours"}),
    )
    .await;
    assert_eq!(finished(&s, &first).await["session_id"], "colours");
    let second = start(
        &s,
        &json!({"input": "what is my colour?", "session_id": "colours"}),
    )
    .await;
    assert_eq!(finished(&s, &second).await["output"], "Blue.");
    let history: Vec<String> = llm.requests()[1]
        .messages()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert!(
        history.iter().any(|m| m == "my colour is blue"),
        "{history:?}"
    );
    assert!(history.iter().any(|m| m == "Noted: blue."), "{history:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_run_carries_on_a_stored_response() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::text("Noted: green."), Reply::text("Green.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let answered = s
        .http
        .post(url(&s, "/v1/responses"))
        .bearer_auth(KEY)
        .json(&json!({"input": "my colour is green", "instructions": "Answer in one word."}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let session = answered.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, response) = json_of(answered).await;
    let previous = response["id"].as_str().unwrap();
    let id = start(
        &s,
        &json!({"input": "what is my colour?", "previous_response_id": previous}),
    )
    .await;
    let status = finished(&s, &id).await;
    assert_eq!(status["output"], "Green.");
    assert_eq!(
        status["session_id"], session,
        "the response's session goes on"
    );
    let request = &llm.requests()[1];
    let contents: Vec<String> = request
        .messages()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert!(
        contents.iter().any(|c| c == "my colour is green"),
        "{contents:?}"
    );
    assert!(
        contents.iter().any(|c| c == "Noted: green."),
        "{contents:?}"
    );
    assert!(
        contents[0].contains("Answer in one word."),
        "the instructions carry over: {contents:?}"
    );
    // An unknown id is ignored, as in Hermes.
    llm.push(Reply::text("Fresh."));
    let id = start(
        &s,
        &json!({"input": "hi", "previous_response_id": "resp_nope"}),
    )
    .await;
    let status = finished(&s, &id).await;
    assert_eq!(status["output"], "Fresh.");
    assert_eq!(status["session_id"], id);
    s.stop().await;
}

#[tokio::test]
async fn hidden_reasoning_is_one_event_and_out_of_the_text() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::text("<think>They greet me.</think>Hello!").chunk_size(5));
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let id = start(&s, &json!({"input": "hi"})).await;
    let events = Events::open(&s, &id).await.all().await;
    let reasoning: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "reasoning.available")
        .collect();
    assert_eq!(reasoning.len(), 1, "{events:?}");
    assert_eq!(reasoning[0]["text"], "They greet me.");
    assert_eq!(text(&events), "Hello!");
    assert_eq!(events.last().unwrap()["output"], "Hello!");
    s.stop().await;
}

#[tokio::test]
async fn a_newer_run_on_the_same_session_interrupts_the_older_one() {
    let llm = FakeLlm::start().await;
    llm.push_all([Reply::hang(), Reply::text("Second.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let first = start(&s, &json!({"input": "one", "session_id": "shared"})).await;
    llm.wait_for_requests(1).await;
    let second = start(&s, &json!({"input": "two", "session_id": "shared"})).await;
    assert_eq!(finished(&s, &first).await["status"], "cancelled");
    let status = finished(&s, &second).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["output"], "Second.");
    s.stop().await;
}

#[tokio::test]
async fn a_run_chained_onto_a_deleted_conversation_is_session_not_found() {
    let llm = FakeLlm::start().await;
    llm.set_default(Reply::text("ok"));
    let dir = tempfile::tempdir().unwrap();
    let s = server(&llm, &dir, 4).await;
    let answered = s
        .http
        .post(url(&s, "/v1/responses"))
        .bearer_auth(KEY)
        .json(&json!({"input": "secret plans"}))
        .send()
        .await
        .unwrap();
    let session = answered.headers()["x-hermod-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, response) = json_of(answered).await;
    let session = hermod_model::SessionId::parse(&session).unwrap();
    assert!(
        hermod_store::Store::delete_session(&*s.store, &session)
            .await
            .unwrap()
    );
    let (status, body) = post(
        &s,
        "/v1/runs",
        &json!({"input": "go on", "previous_response_id": response["id"]}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "session_not_found");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deleted"),
        "{body}"
    );
    assert_eq!(llm.request_count(), 1, "the model was not asked again");
    s.stop().await;
}
