//! The tool loop: calls executed, results fed back, iteration bound, steering.

use crate::support::*;
use hermod_agent::{AgentEvent, FinishReason, LlmConfig};
use hermod_model::Role;
use hermod_testkit::{FakeLlm, Reply};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn split_tool_call_runs_and_the_loop_reaches_an_answer() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::tool_call("lookup", json!({"q": "weather in Oslo"})).chunk_size(3),
        Reply::text("It is sunny."),
    ]);
    let lookup = Arc::new(Lookup::default());
    let agent = new_agent(config(&fake), registry_with(lookup.clone()));
    let events = run(&agent, request("weather?")).await;

    assert_eq!(
        *lookup.calls.lock().unwrap(),
        [json!({"q": "weather in Oslo"})]
    );
    let started = events.iter().find_map(|e| match e {
        AgentEvent::ToolStarted {
            call_id,
            name,
            arguments,
        } => Some((call_id, name, arguments)),
        _ => None,
    });
    let (call_id, name, arguments) = started.expect("ToolStarted");
    assert_eq!(call_id, "call_fake_0");
    assert_eq!(name, "lookup");
    assert_eq!(arguments, r#"{"q":"weather in Oslo"}"#);
    assert!(events.contains(&AgentEvent::ToolFinished {
        call_id: "call_fake_0".into(),
        name: "lookup".into(),
        result: "looked up weather in Oslo".into(),
        is_error: false,
    }));
    assert!(
        !events.contains(&AgentEvent::SegmentBreak),
        "no text before the tool call"
    );
    let usages = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::Usage(_)))
        .count();
    assert_eq!(usages, 2);

    let outcome = outcome(&events);
    assert_eq!(outcome.text, "It is sunny.");
    assert_eq!(outcome.finish_reason, FinishReason::Stop);
    let roles: Vec<Role> = outcome.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::Assistant, Role::Tool, Role::Assistant]);
    assert!(outcome.usage.total_tokens > 0);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].tool_names(), ["lookup"]);
    assert_eq!(
        requests[0].body["tools"][0]["function"]["parameters"]["required"],
        json!(["q"])
    );
    let second = requests[1].messages();
    assert_eq!(second.len(), 3);
    assert_eq!(
        second[1],
        json!({"role": "assistant", "tool_calls": [{"id": "call_fake_0", "type": "function",
            "function": {"name": "lookup", "arguments": "{\"q\":\"weather in Oslo\"}"}}]})
    );
    assert_eq!(
        second[2],
        json!({"role": "tool", "content": "looked up weather in Oslo", "tool_call_id": "call_fake_0", "name": "lookup"})
    );
}

#[tokio::test]
async fn text_before_tool_calls_makes_a_segment_break() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::tool_calls([("lookup", json!({"q": "a"})), ("lookup", json!({"q": "b"}))])
            .with_text("Let me check."),
        Reply::text("Done."),
    ]);
    let agent = new_agent(config(&fake), registry_with(Arc::new(Lookup::default())));
    let events = run(&agent, request("x")).await;
    let shape: Vec<&str> = events
        .iter()
        .map(|e| match e {
            AgentEvent::TextDelta(_) => "text",
            AgentEvent::SegmentBreak => "break",
            AgentEvent::ToolStarted { .. } => "started",
            AgentEvent::ToolFinished { .. } => "finished",
            AgentEvent::ApprovalRequested { .. } => "approval",
            AgentEvent::Usage(_) => "usage",
            AgentEvent::Final(_) => "final",
            AgentEvent::Failed(_) => "failed",
        })
        .collect();
    let mut deduped = shape.clone();
    deduped.dedup_by(|a, b| a == b && *a == "text");
    assert_eq!(
        deduped,
        [
            "text", "usage", "break", "started", "finished", "started", "finished", "text",
            "usage", "final"
        ]
    );
    let outcome = outcome(&events);
    assert_eq!(outcome.text, "Let me check.\n\nDone.");
    assert_eq!(outcome.messages[0].text(), "Let me check.");
    assert_eq!(outcome.messages[0].tool_calls.len(), 2);
    assert_eq!(fake.requests()[1].messages().len(), 4);
}

#[tokio::test]
async fn unknown_tools_and_bad_arguments_are_reported_to_the_model() {
    let fake = FakeLlm::start().await;
    fake.push_all([
        Reply::tool_calls([
            ("nonexistent", json!({})),
            ("lookup", json!("not an object")),
        ]),
        Reply::text("Sorry."),
    ]);
    let lookup = Arc::new(Lookup::default());
    let agent = new_agent(config(&fake), registry_with(lookup.clone()));
    let events = run(&agent, request("x")).await;
    assert_eq!(outcome(&events).text, "Sorry.");
    assert!(lookup.calls.lock().unwrap().is_empty());
    let errors = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ToolFinished { is_error: true, .. }))
        .count();
    assert_eq!(errors, 2);
    let second = fake.requests()[1].messages().to_vec();
    assert!(
        second[2]["content"]
            .as_str()
            .unwrap()
            .contains("unknown tool")
    );
    assert!(
        second[3]["content"]
            .as_str()
            .unwrap()
            .contains("not a valid JSON object")
    );
}

#[tokio::test]
async fn the_loop_stops_at_max_iterations() {
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::tool_call("lookup", json!({"q": "again"})));
    let config = LlmConfig {
        max_iterations: 3,
        ..config(&fake)
    };
    let agent = new_agent(config, registry_with(Arc::new(Lookup::default())));
    let events = run(&agent, request("loop forever")).await;
    let outcome = outcome(&events);
    assert_eq!(outcome.finish_reason, FinishReason::MaxIterations);
    assert_eq!(fake.request_count(), 3);
    assert_eq!(
        outcome.messages.len(),
        6,
        "three assistant calls, three results"
    );
}

#[tokio::test]
async fn steering_text_is_appended_to_the_last_tool_result() {
    let fake = FakeLlm::start().await;
    fake.push_all([Reply::tool_call("gate", json!({})), Reply::text("Noted.")]);
    let gate = Arc::new(Gate::default());
    let agent = new_agent(config(&fake), registry_with(gate.clone()));
    let mut handle = hermod_agent::Agent::run_turn(&agent, request("start"));
    gate.started.notified().await;
    assert!(handle.control.steer("also check the logs"));
    gate.release.notify_one();
    let events = collect(&mut handle).await;
    assert_eq!(outcome(&events).text, "Noted.");

    let second = fake.requests()[1].messages().to_vec();
    let result = second[2]["content"].as_str().unwrap();
    assert!(result.starts_with("gate opened"), "{result}");
    assert!(result.contains("also check the logs"), "{result}");
    let recorded = &outcome(&events).messages[1];
    assert!(recorded.text().contains("also check the logs"));
    assert!(outcome(&events).unused_steer.is_empty());
    assert!(!handle.control.steer("too late"), "the turn is over");
}
