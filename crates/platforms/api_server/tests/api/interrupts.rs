//! Replies an interrupt stops — a newer message to the same session (busy
//! input in interrupt mode), or `/stop` — end with `finish_reason`
//! `interrupted` and the text they had, streamed or not, and are stored
//! marked partial.

use crate::support::{Server, Setup, json_of, sse_payloads, streamed, user};
use hermod_agent::{Agent, AgentError, AgentEvent, TurnControl, TurnHandle, TurnRequest};
use hermod_model::{Role, SessionId};
use hermod_store::Store;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

const SESSION: &str = "X-Hermod-Session-Id";

/// A long answer, streamed slowly: an interrupt always comes first.
fn long_answer() -> (Reply, String) {
    let text = "word ".repeat(200);
    let reply = Reply::text(text.clone())
        .chunk_size(5)
        .token_delay(Duration::from_millis(50));
    (reply, text)
}

#[tokio::test]
async fn a_stream_cut_by_a_newer_message_ends_interrupted_and_is_stored_partial() {
    let llm = FakeLlm::start().await;
    let (reply, full) = long_answer();
    llm.push_all([reply, Reply::text("The newer answer.")]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let mut first = s
        .post(&streamed(user("tell me a long story")))
        .header(SESSION, "talk")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let mut received = String::new();
    while !received.contains(r#""content":"word"#) {
        let chunk = first.chunk().await.unwrap().expect("the stream is running");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }

    let (status, second) = json_of(
        s.post(&user("never mind, something else"))
            .header(SESSION, "talk")
            .send()
            .await
            .unwrap(),
    )
    .await;
    while let Some(chunk) = first.chunk().await.unwrap() {
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["choices"][0]["message"]["content"],
        "The newer answer."
    );

    let payloads: Vec<&str> = received
        .split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .collect();
    assert_eq!(payloads.last(), Some(&"[DONE]"), "{received}");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    let finish = &chunks.last().unwrap()["choices"][0]["finish_reason"];
    assert_eq!(finish, "interrupted", "{received}");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty() && text.len() < full.len(), "{text}");
    assert!(full.starts_with(&text));

    let id = SessionId::parse("talk").unwrap();
    let stored: Vec<(Role, String)> = s
        .store
        .messages(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.message.role, m.message.text()))
        .collect();
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(stored[1].0, Role::Assistant);
    assert!(stored[1].1.starts_with(text.trim_end()), "{stored:?}");
    assert!(
        stored[1]
            .1
            .ends_with("[reply interrupted: it was stopped before it was complete]"),
        "{stored:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_plain_request_cut_by_stop_says_it_was_interrupted() {
    let llm = FakeLlm::start().await;
    let (reply, full) = long_answer();
    llm.push(reply);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("db"), &llm.base_url()).await;
    let first = tokio::spawn(
        s.post(&user("tell me a long story"))
            .header(SESSION, "quiet")
            .send(),
    );
    llm.wait_for_requests(1).await;
    let (status, stop) = json_of(
        s.post(&user("/stop"))
            .header(SESSION, "quiet")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{stop}");
    assert_eq!(stop["choices"][0]["message"]["content"], "⏹ Stopped.");

    let (status, body) = json_of(first.await.unwrap().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "interrupted", "{body}");
    // Whatever was written before the stop (the stop may come before the
    // first word): never the whole answer.
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(full.starts_with(text) && text.len() < full.len(), "{text}");
    s.stop().await;
}

/// An agent that writes nothing until it is interrupted (a model still
/// thinking), then ends as the LLM agent does when nothing was shown.
/// `started` gets a permit for each turn.
#[derive(Default)]
struct Thinking {
    started: Arc<Notify>,
}

impl Agent for Thinking {
    fn run_turn(&self, _request: TurnRequest) -> TurnHandle {
        let (control, cancel, _steer) = TurnControl::new();
        let (events, rx) = mpsc::channel(8);
        self.started.notify_one();
        tokio::spawn(async move {
            cancel.cancelled().await;
            let _ = events.send(AgentEvent::Failed(AgentError::Cancelled)).await;
        });
        TurnHandle {
            events: rx,
            control,
        }
    }
}

#[tokio::test]
async fn an_interrupt_before_any_text_is_an_empty_interrupted_answer() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Thinking::default();
    let started = Arc::clone(&agent.started);
    let s = Server::with(&dir.path().join("db"), Setup::agent(Arc::new(agent))).await;
    for (i, body) in [user("think hard"), streamed(user("think hard"))]
        .into_iter()
        .enumerate()
    {
        let session = format!("thinking-{i}");
        let waiting = tokio::spawn(s.post(&body).header(SESSION, session.as_str()).send());
        started.notified().await;
        let (_, stop) = json_of(
            s.post(&user("/stop"))
                .header(SESSION, session.as_str())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(stop["choices"][0]["message"]["content"], "⏹ Stopped.");
        let response = waiting.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        let (text, finish) = if i == 0 {
            let body: Value = response.json().await.unwrap();
            (
                body["choices"][0]["message"]["content"].clone(),
                body["choices"][0]["finish_reason"].clone(),
            )
        } else {
            let payloads = sse_payloads(response).await;
            assert_eq!(payloads.last().unwrap(), "[DONE]");
            let last: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
            (Value::from(""), last["choices"][0]["finish_reason"].clone())
        };
        assert_eq!(text, "");
        assert_eq!(finish, "interrupted");
    }
    s.stop().await;
}
