//! Failures: retries, auth, timeouts, broken connections, interrupts,
//! consumers going away. Streams cut mid-answer are in `truncation`.

use crate::support::*;
use hermod_agent::{AgentError, AgentEvent, FinishReason, LlmConfig, RetryPolicy, ToolRegistry};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn rate_limits_are_retried_after_the_server_delay() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::status(429).retry_after(0.2));
    // Backoff alone would wait at most 20 ms.
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let start = tokio::time::Instant::now();
    let events = run(&agent, request("x")).await;
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(outcome(&events).text, "echo: x");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn a_too_long_retry_after_gives_up_at_once() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::status(429).retry_after(3600));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(
        events.last(),
        Some(&AgentEvent::Failed(AgentError::RateLimited {
            retry_after: Some(Duration::from_secs(3600))
        }))
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn rate_limits_that_persist_are_reported_with_the_providers_delay() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::status(429).retry_after(0.01));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    let Some(AgentEvent::Failed(err)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(
        err,
        &AgentError::RateLimited {
            retry_after: Some(Duration::from_millis(10))
        }
    );
    assert_eq!(
        err.to_string(),
        "the model provider is rate limiting requests (retry after 1 s)"
    );
    assert_eq!(fake.request_count(), 3);

    // Without a Retry-After there is no delay to report, and no Rust value.
    fake.set_default(Reply::status(429));
    let events = run(&agent, request("y")).await;
    let Some(AgentEvent::Failed(err)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(err, &AgentError::RateLimited { retry_after: None });
    assert_eq!(
        err.to_string(),
        "the model provider is rate limiting requests"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_surface_as_transient() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::status(500));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert!(
        matches!(events.last(), Some(AgentEvent::Failed(AgentError::Transient(m))) if m.contains("500"))
    );
    assert_eq!(fake.request_count(), 3);

    let fake = FakeLlm::start().await;
    fake.push_all([Reply::status(502), Reply::status(503)]);
    let recovering = new_agent(config(&fake), ToolRegistry::new());
    assert_eq!(
        outcome(&run(&recovering, request("y")).await).text,
        "echo: y"
    );
}

#[tokio::test]
async fn bad_credentials_fail_without_retry() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::status(401));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(
        events.last(),
        Some(&AgentEvent::Failed(AgentError::Auth { status: 401 }))
    );
    assert_eq!(fake.request_count(), 1);
    assert!(!format!("{events:?}").contains("sk-test-key"));
}

#[tokio::test]
async fn other_client_errors_are_rejections_with_the_message() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::status(400).body(r#"{"error":{"message":"unknown model foo"}}"#));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(
        events.last(),
        Some(&AgentEvent::Failed(AgentError::Rejected {
            status: 400,
            message: "unknown model foo".into()
        }))
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_silent_provider_times_out() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::hang());
    let config = LlmConfig {
        request_timeout: Duration::from_millis(150),
        retry: RetryPolicy::none(),
        ..config(&fake)
    };
    let agent = new_agent(config, ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert!(
        matches!(events.last(), Some(AgentEvent::Failed(AgentError::Transient(m))) if m.contains("within 150 ms")),
        "{events:?}"
    );
    fake.wait_for_disconnects(1).await;
}

#[tokio::test]
async fn a_connection_dropped_before_text_is_retried() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::text("lost").drop_after_chunks(1),
        Reply::text("second try"),
    ]);
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let events = run(&agent, request("x")).await;
    assert_eq!(streamed_text(&events), "second try");
    assert_eq!(fake.request_count(), 2);
}

#[tokio::test]
async fn interrupt_mid_stream_keeps_the_text_so_far() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::raw_stream([
            r#"data: {"choices":[{"delta":{"role":"assistant","content":"Partial"}}]}"#.to_owned()
                + "\n\n",
            r#"data: {"choices":[{"delta":{"content":" never"}}]}"#.to_owned() + "\n\n",
        ])
        .token_delay(Duration::from_secs(3600)),
    );
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let mut handle = hermod_agent::Agent::run_turn(&agent, request("x"));
    assert_eq!(
        next(&mut handle).await,
        AgentEvent::TextDelta("Partial".into())
    );
    handle.control.interrupt();
    let events = collect(&mut handle).await;
    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::Interrupted);
    assert_eq!(outcome.text, "Partial");
    assert_eq!(outcome.messages.len(), 1);
    fake.wait_for_disconnects(1).await;
}

#[tokio::test]
async fn interrupt_before_any_text_fails_as_cancelled() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::hang());
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let mut handle = hermod_agent::Agent::run_turn(&agent, request("x"));
    fake.wait_for_requests(1).await;
    handle.control.interrupt();
    let events = collect(&mut handle).await;
    assert_eq!(events, [AgentEvent::Failed(AgentError::Cancelled)]);
    fake.wait_for_disconnects(1).await;
}

#[tokio::test]
async fn interrupt_during_a_tool_stops_the_loop() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::tool_calls([("gate", json!({})), ("gate", json!({}))]).with_text("Working."));
    let gate = Arc::new(Gate::default());
    let agent = new_agent(config(&fake), registry_with(gate.clone()));
    let mut handle = hermod_agent::Agent::run_turn(&agent, request("x"));
    gate.started.notified().await;
    handle.control.interrupt();
    let events = collect(&mut handle).await;
    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::Interrupted);
    assert_eq!(outcome.text, "Working.");
    // The assistant message and one result per call keep the history valid.
    assert_eq!(outcome.messages.len(), 3);
    assert!(outcome.messages[2].text().contains("interrupted"));
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn dropping_the_receiver_aborts_the_request() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::hang());
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let handle = hermod_agent::Agent::run_turn(&agent, request("x"));
    fake.wait_for_requests(1).await;
    drop(handle);
    fake.wait_for_disconnects(1).await;
    assert_eq!(fake.in_flight(), 0);
}

#[tokio::test]
async fn dropping_the_receiver_mid_stream_aborts_the_stream() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("a b c d e f g").token_delay(Duration::from_secs(3600)));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let mut handle = hermod_agent::Agent::run_turn(&agent, request("x"));
    fake.wait_for_requests(1).await;
    // The role chunk is immediate; the first word waits an hour.
    handle.events.close();
    fake.wait_for_disconnects(1).await;
}

/// Records what the agent reports of its model calls.
#[derive(Debug, Default)]
struct Calls(std::sync::Mutex<Vec<Option<&'static str>>>);

impl hermod_agent::ModelCallObserver for Calls {
    fn model_call(&self, _took: Duration, error: Option<&AgentError>) {
        self.0
            .lock()
            .expect("not poisoned")
            .push(error.map(AgentError::kind));
    }
}

#[tokio::test]
async fn each_model_call_is_reported_with_its_failure_kind() {
    let fake = FakeLlm::start().await;
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let calls = Arc::new(Calls::default());
    let mut ok = request("x");
    ok.model_calls = Some(calls.clone());
    assert_eq!(outcome(&run(&agent, ok).await).text, "echo: x");

    fake.push(Reply::status(401));
    let mut refused = request("y");
    refused.model_calls = Some(calls.clone());
    let events = run(&agent, refused).await;
    assert!(
        matches!(
            events.last(),
            Some(AgentEvent::Failed(AgentError::Auth { .. }))
        ),
        "{events:?}"
    );
    assert_eq!(*calls.0.lock().expect("not poisoned"), [None, Some("auth")]);
}
