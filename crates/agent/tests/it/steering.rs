//! Steering text is never lost: what the model did not see comes back in
//! the outcome (or from the control when the turn failed), and `steer`
//! refuses text once the turn is over.

use crate::support::*;
use hermod_agent::{Agent, AgentError, AgentEvent, FinishReason, LlmConfig, ToolRegistry};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn steering_a_turn_without_tool_calls_is_returned_unused() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("Hello."));
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let mut handle = agent.run_turn(request("hi"));
    // The turn's task has not run yet (single-threaded test runtime).
    assert!(handle.control.steer("and the weather?"));
    assert!(handle.control.steer("   "));
    assert!(handle.control.steer("in Oslo"));

    let outcome = loop {
        match next(&mut handle).await {
            AgentEvent::Final(outcome) => break outcome,
            AgentEvent::Failed(e) => panic!("the turn failed: {e}"),
            _ => {}
        }
    };
    assert!(
        !handle.control.steer("too late"),
        "refused as soon as the outcome is out"
    );
    assert_eq!(outcome.text, "Hello.");
    assert_eq!(outcome.unused_steer, ["and the weather?", "in Oslo"]);
    let sent = fake.requests()[0].body.to_string();
    assert!(!sent.contains("weather"), "{sent}");
    assert!(handle.events.recv().await.is_none());
}

#[tokio::test]
async fn steering_after_the_last_tool_round_is_returned_unused() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::tool_call("gate", json!({})));
    let gate = Arc::new(Gate::default());
    let config = LlmConfig {
        max_iterations: 1,
        ..config(&fake)
    };
    let agent = new_agent(config, registry_with(gate.clone()));
    let mut handle = agent.run_turn(request("start"));
    gate.started.notified().await;
    assert!(handle.control.steer("stop after this"));
    gate.release.notify_one();
    let events = collect(&mut handle).await;

    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::MaxIterations);
    assert_eq!(outcome.unused_steer, ["stop after this"]);
    assert_eq!(outcome.messages[1].text(), "gate opened", "not injected");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn steering_delivered_with_a_tool_result_is_not_returned() {
    let fake = FakeLlm::start().await;
    fake.push_all([Reply::tool_call("gate", json!({})), Reply::text("Noted.")]);
    let gate = Arc::new(Gate::default());
    let agent = new_agent(config(&fake), registry_with(gate.clone()));
    let mut handle = agent.run_turn(request("start"));
    gate.started.notified().await;
    assert!(handle.control.steer("check the logs"));
    gate.release.notify_one();
    let events = collect(&mut handle).await;

    assert!(outcome(&events).unused_steer.is_empty());
    assert!(handle.control.take_unused_steer().is_empty());
    let second = fake.requests()[1].messages().to_vec();
    assert!(
        second[2]["content"]
            .as_str()
            .unwrap()
            .contains("check the logs")
    );
}

#[tokio::test]
async fn a_failed_turn_leaves_its_steering_with_the_control() {
    let fake = FakeLlm::start().await;
    let agent = new_agent(config(&fake), ToolRegistry::new());
    let mut handle = agent.run_turn(request("hi"));
    assert!(handle.control.steer("one more thing"));
    handle.control.interrupt();
    let events = collect(&mut handle).await;

    assert_eq!(events, [AgentEvent::Failed(AgentError::Cancelled)]);
    assert_eq!(handle.control.take_unused_steer(), ["one more thing"]);
    assert!(handle.control.take_unused_steer().is_empty(), "taken once");
    assert!(!handle.control.steer("too late"));
    assert_eq!(fake.request_count(), 0);
}
