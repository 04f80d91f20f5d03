//! Shared helpers: configurations, requests, event collection, test tools,
//! captured warnings.

use hermod_agent::{
    Agent, AgentEvent, LlmAgent, LlmConfig, RetryPolicy, Tool, ToolContext, ToolRegistry,
    TurnHandle, TurnOutcome, TurnRequest,
};
use hermod_model::{ChatMessage, Secret, SessionId, TurnOptions};
use hermod_testkit::FakeLlm;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub fn config(fake: &FakeLlm) -> LlmConfig {
    LlmConfig {
        base_url: fake.base_url(),
        api_key: Some(Secret::new("sk-test-key")),
        model: "test-model".into(),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        },
        ..LlmConfig::default()
    }
}

pub fn new_agent(config: LlmConfig, tools: ToolRegistry) -> LlmAgent {
    LlmAgent::new(config, tools)
}

pub fn request(text: &str) -> TurnRequest {
    TurnRequest {
        session_id: SessionId::parse("test-session").expect("valid id"),
        history: Vec::new(),
        input: ChatMessage::user(text),
        system_prompt: None,
        options: TurnOptions::default(),
        model_calls: None,
        approval_policy: None,
    }
}

/// Runs a turn to its end and returns every event.
pub async fn run(agent: &LlmAgent, request: TurnRequest) -> Vec<AgentEvent> {
    let mut handle = agent.run_turn(request);
    collect(&mut handle).await
}

/// Receives events until the turn's last one.
pub async fn collect(handle: &mut TurnHandle) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), handle.events.recv())
            .await
            .expect("the turn ends in time")
            .expect("the turn ends with Final or Failed");
        let last = matches!(event, AgentEvent::Final(_) | AgentEvent::Failed(_));
        events.push(event);
        if last {
            assert!(
                handle.events.recv().await.is_none(),
                "nothing follows the last event"
            );
            return events;
        }
    }
}

/// Receives the next event.
pub async fn next(handle: &mut TurnHandle) -> AgentEvent {
    tokio::time::timeout(Duration::from_secs(20), handle.events.recv())
        .await
        .expect("an event in time")
        .expect("the turn is running")
}

pub fn streamed_text(events: &[AgentEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

pub fn outcome(events: &[AgentEvent]) -> &TurnOutcome {
    match events.last() {
        Some(AgentEvent::Final(outcome)) => outcome,
        other => panic!("expected Final, got {other:?}"),
    }
}

/// A tool that records its arguments and answers `looked up <q>`.
#[derive(Default)]
pub struct Lookup {
    pub calls: Mutex<Vec<Value>>,
}

#[hermod_agent::async_trait]
impl Tool for Lookup {
    fn name(&self) -> &str {
        "lookup"
    }
    fn description(&self) -> &str {
        "Looks something up."
    }
    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
    }
    async fn call(&self, arguments: Value, _ctx: ToolContext) -> Result<String, String> {
        self.calls
            .lock()
            .expect("not poisoned")
            .push(arguments.clone());
        Ok(format!(
            "looked up {}",
            arguments["q"].as_str().unwrap_or("?")
        ))
    }
}

/// A tool that announces it started and waits until released.
#[derive(Default)]
pub struct Gate {
    pub started: Notify,
    pub release: Notify,
}

#[hermod_agent::async_trait]
impl Tool for Gate {
    fn name(&self) -> &str {
        "gate"
    }
    fn description(&self) -> &str {
        "Waits."
    }
    fn parameters(&self) -> Value {
        json!({"type": "object"})
    }
    async fn call(&self, _arguments: Value, _ctx: ToolContext) -> Result<String, String> {
        self.started.notify_one();
        self.release.notified().await;
        Ok("gate opened".into())
    }
}

pub fn registry_with(tool: Arc<dyn Tool>) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    registry.register_arc(tool);
    registry
}
