//! Plain text turns: streaming and not, and what the request looks like.

use crate::support::*;
use hermod_agent::{AgentEvent, FinishReason, ToolRegistry};
use hermod_model::{ChatMessage, TurnOptions, Usage};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;

#[tokio::test]
async fn streaming_text_arrives_in_deltas() {
    let fake = FakeLlm::start().await;
    let usage = Usage {
        prompt_tokens: 11,
        completion_tokens: 5,
        total_tokens: 16,
    };
    fake.push(Reply::text("Hello there, world").chunk_size(4).usage(usage));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("hi")).await;

    let deltas: Vec<&AgentEvent> = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::TextDelta(_)))
        .collect();
    assert_eq!(deltas.len(), 5, "{events:?}");
    assert_eq!(streamed_text(&events), "Hello there, world");
    assert!(events.contains(&AgentEvent::Usage(usage)));
    let outcome = outcome(&events);
    assert_eq!(outcome.text, "Hello there, world");
    assert_eq!(outcome.finish_reason, FinishReason::Stop);
    assert_eq!(outcome.usage, usage);
    assert_eq!(
        outcome.messages,
        [ChatMessage::assistant("Hello there, world")]
    );
}

#[tokio::test]
async fn non_streaming_text() {
    let fake = FakeLlm::start().await;
    let agent = new_agent(
        hermod_agent::LlmConfig {
            stream: false,
            ..config(&fake)
        },
        ToolRegistry::new(),
    );
    let events = run(&agent, request("ping")).await;
    assert_eq!(streamed_text(&events), "echo: ping");
    assert_eq!(outcome(&events).text, "echo: ping");
    assert!(outcome(&events).usage.total_tokens > 0);
    let sent = &fake.requests()[0];
    assert!(!sent.is_stream());
    assert!(sent.body.get("stream_options").is_none());
    assert!(
        sent.body.get("reasoning_effort").is_none(),
        "no reasoning effort unless one was chosen"
    );
}

#[tokio::test]
async fn request_carries_prompt_history_options_and_key() {
    let fake = FakeLlm::start().await;
    let config = hermod_agent::LlmConfig {
        system_prompt: Some("You are terse.".into()),
        ..config(&fake)
    };
    let agent = new_agent(config, ToolRegistry::new());
    let mut turn = request("third");
    turn.history = vec![ChatMessage::user("first"), ChatMessage::assistant("second")];
    turn.system_prompt = Some("Answer in French.".into());
    turn.options = TurnOptions {
        model: Some("other-model".into()),
        temperature: Some(0.5),
        max_tokens: Some(64),
        reasoning_effort: Some("high".into()),
    };
    run(&agent, turn).await;

    let sent = &fake.requests()[0];
    assert_eq!(sent.authorization(), Some("Bearer sk-test-key"));
    assert!(
        sent.header("user-agent")
            .is_some_and(|ua| ua.starts_with("hermod/"))
    );
    assert_eq!(sent.model(), Some("other-model"));
    assert_eq!(sent.body["temperature"], 0.5);
    assert_eq!(sent.body["max_tokens"], 64);
    assert_eq!(sent.body["reasoning_effort"], "high");
    assert!(sent.is_stream());
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
    assert!(
        sent.body.get("tools").is_none(),
        "no tools offered when there are none"
    );
    assert_eq!(
        sent.messages(),
        [
            json!({"role": "system", "content": "You are terse.\n\nAnswer in French."}),
            json!({"role": "user", "content": "first"}),
            json!({"role": "assistant", "content": "second"}),
            json!({"role": "user", "content": "third"}),
        ]
    );
}

#[tokio::test]
async fn configured_model_and_no_key() {
    let fake = FakeLlm::start().await;
    let config = hermod_agent::LlmConfig {
        api_key: None,
        base_url: format!("{}/", fake.base_url()),
        ..config(&fake)
    };
    let agent = new_agent(config, ToolRegistry::new());
    run(&agent, request("x")).await;
    let sent = &fake.requests()[0];
    assert_eq!(sent.model(), Some("test-model"));
    assert_eq!(sent.authorization(), None);
    assert!(sent.body.get("temperature").is_none());
}

#[tokio::test]
async fn length_finish_reason_is_reported() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("cut sh").finish_reason("length"));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(outcome(&events).finish_reason, FinishReason::Length);
}

#[tokio::test]
async fn debug_output_hides_the_key() {
    let fake = FakeLlm::start().await;
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let shown = format!("{agent:?}");
    assert!(!shown.contains("sk-test-key"), "{shown}");
    let handle = hermod_agent::Agent::run_turn(&agent, request("x"));
    assert!(!format!("{handle:?}").contains("sk-test-key"));
}
