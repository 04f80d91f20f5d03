//! What clients see when things fail: short reasons without internal
//! addresses, paths or OS errors, a cut-off answer reported as an error
//! rather than a finished completion, and the model provider's rate limit
//! passed on as a 429 to retry after.

use crate::support::{Server, Setup, json_of, sse_payloads, streamed, user};
use hermod_agent::{
    Agent, AgentError, AgentEvent, FinishReason, TurnControl, TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_model::{ChatMessage, Usage};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// An agent whose every turn ends the given way after showing `TEXT`.
struct Ending(fn() -> AgentEvent);

const TEXT: &str = "The answer is four hun";

impl Agent for Ending {
    fn run_turn(&self, _request: TurnRequest) -> TurnHandle {
        let (control, _cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(8);
        let end = (self.0)();
        tokio::spawn(async move {
            let _ = events.send(AgentEvent::TextDelta(TEXT.into())).await;
            let _ = events.send(end).await;
        });
        TurnHandle {
            events: rx,
            control,
        }
    }
}

fn cut_off() -> AgentEvent {
    AgentEvent::Final(TurnOutcome {
        text: TEXT.into(),
        messages: vec![ChatMessage::assistant(TEXT)],
        usage: Usage::default(),
        finish_reason: FinishReason::Incomplete,
        unused_steer: Vec::new(),
    })
}

fn assert_no_internals(shown: &str, internals: &[&str]) {
    for internal in internals.iter().chain(&["os error", "http://", "/home/"]) {
        assert!(!shown.contains(internal), "{internal:?} shown: {shown}");
    }
}

#[tokio::test]
async fn an_unreachable_model_is_reported_without_its_address() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("db"),
        &format!("http://127.0.0.1:{port}/v1"),
    )
    .await;
    let (status, body) = json_of(s.post(&user("hi")).send().await.unwrap()).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["type"], "upstream_error");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    assert_no_internals(&body.to_string(), &["127.0.0.1", &port.to_string()]);
    let (status, body) = json_of(s.post(&streamed(user("hi"))).send().await.unwrap()).await;
    assert_eq!(status, 502);
    assert_no_internals(&body.to_string(), &["127.0.0.1", &port.to_string()]);
    s.stop().await;
}

#[tokio::test]
async fn a_failure_after_the_first_words_is_reported_without_internals() {
    fn failed() -> AgentEvent {
        AgentEvent::Failed(AgentError::Protocol(
            "cannot parse /home/op/.hermod/cache/chunk.json: expected value at line 1".into(),
        ))
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(
        &dir.path().join("db"),
        Setup::agent(Arc::new(Ending(failed))),
    )
    .await;
    let payloads = sse_payloads(s.post(&streamed(user("hi"))).send().await.unwrap()).await;
    let last: Value = serde_json::from_str(payloads.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_protocol");
    assert_no_internals(&payloads.concat(), &[".hermod", "chunk.json"]);
    s.stop().await;
}

#[tokio::test]
async fn a_cut_off_answer_is_an_error_not_a_completion() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::with(
        &dir.path().join("db"),
        Setup::agent(Arc::new(Ending(cut_off))),
    )
    .await;
    let (status, body) = json_of(s.post(&user("hi")).send().await.unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "incomplete_response");
    assert_eq!(body["error"]["type"], "upstream_error");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("retry"),
        "{body}"
    );

    // Streamed: the words already sent stay, then an error frame ends the
    // stream; no finish_reason chunk, no [DONE].
    let response = s.post(&streamed(user("hi"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let payloads = sse_payloads(response).await;
    assert!(!payloads.iter().any(|p| p == "[DONE]"), "{payloads:?}");
    let frames: Vec<Value> = payloads
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    let (last, chunks) = frames.split_last().unwrap();
    assert_eq!(last["error"]["code"], "incomplete_response", "{last}");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, TEXT);
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null()),
        "{chunks:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_upstream_rate_limit_is_a_429_with_retry_after_in_plain_words() {
    let llm = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    // Longer than hermod waits: it gives up at once and passes it on; a
    // fraction is rounded up to whole seconds; none gets a default.
    let cases = [
        (Reply::status(429).retry_after(120), "120"),
        (Reply::status(429).retry_after(0.05), "1"),
        (Reply::status(429), "10"),
    ];
    for (reply, retry_after) in cases {
        llm.set_default(reply);
        for body in [user("hi"), streamed(user("hi"))] {
            let response = s.post(&body).send().await.unwrap();
            let header = response.headers().get("retry-after").cloned();
            let (status, error) = json_of(response).await;
            assert_eq!(status, 429, "{error}");
            assert_eq!(header.unwrap(), retry_after);
            assert_eq!(error["error"]["code"], "rate_limit_exceeded");
            let message = error["error"]["message"].as_str().unwrap();
            assert_eq!(
                message,
                format!(
                    "The model provider is rate limiting requests; retry after {retry_after} seconds."
                )
            );
            assert_plain(&error.to_string());
        }
    }
    s.stop().await;
}

/// No Rust value (`Some(..)`, a `Duration`'s Debug form) in what a client sees.
fn assert_plain(shown: &str) {
    for rust in ["Some(", "None", "Duration", "ms)", "s)", "{:?}"] {
        assert!(!shown.contains(rust), "{rust:?} shown: {shown}");
    }
}
