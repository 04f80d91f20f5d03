//! What the ACP tests share: a store, an agent on a config, and a turn run
//! to its end with a hook on each event.

#![allow(dead_code, reason = "each test binary uses part of the support")]

use hermod_acp::{AcpAgent, AcpConfig};
use hermod_agent::{Agent, AgentEvent, TurnControl, TurnRequest};
use hermod_model::{ChatMessage, SessionId, TurnOptions};
use hermod_store::{SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;

/// The longest a turn may take in these tests before they give up (a
/// safety net, not a timing assertion).
pub const TURN_LIMIT: Duration = Duration::from_secs(120);

pub fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_in_memory().expect("an in-memory store opens"))
}

pub fn session(id: &str) -> SessionId {
    SessionId::parse(id).expect("a valid session id")
}

pub fn request(session_id: &str, input: ChatMessage, history: Vec<ChatMessage>) -> TurnRequest {
    TurnRequest {
        session_id: session(session_id),
        history,
        input,
        system_prompt: None,
        options: TurnOptions::default(),
        model_calls: None,
        approval_policy: None,
    }
}

/// Runs a turn to its last event, calling `on_event` on each one with the
/// turn's control (to answer approvals, interrupt or steer).
pub async fn run_turn(
    agent: &AcpAgent,
    request: TurnRequest,
    mut on_event: impl FnMut(&AgentEvent, &TurnControl),
) -> Vec<AgentEvent> {
    let mut handle = agent.run_turn(request);
    let mut events = Vec::new();
    let collect = async {
        while let Some(event) = handle.events.recv().await {
            on_event(&event, &handle.control);
            let last = matches!(event, AgentEvent::Final(_) | AgentEvent::Failed(_));
            events.push(event);
            if last {
                break;
            }
        }
    };
    tokio::time::timeout(TURN_LIMIT, collect)
        .await
        .expect("the turn ends");
    events
}

/// [`run_turn`] with a text input and no hook.
pub async fn say(agent: &AcpAgent, session_id: &str, text: &str) -> Vec<AgentEvent> {
    run_turn(
        agent,
        request(session_id, ChatMessage::user(text), Vec::new()),
        |_, _| {},
    )
    .await
}

/// The visible text of the events.
pub fn shown(events: &[AgentEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

pub fn last(events: &[AgentEvent]) -> &AgentEvent {
    events.last().expect("the turn sent events")
}

/// A config with quick restarts.
pub fn quick(mut config: AcpConfig) -> AcpConfig {
    config.restart_backoff_secs = 1;
    config.restart_backoff_max_secs = 1;
    config
}
