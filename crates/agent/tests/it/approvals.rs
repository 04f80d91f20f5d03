//! Approval requests in whole turns: a tool asks, the test answers through
//! the turn's control, and the model sees what came of it.

use crate::support::*;
use hermod_agent::{
    Agent, AgentError, AgentEvent, ApprovalDecision, LlmConfig, Tool, ToolContext, TurnHandle,
};
use hermod_testkit::{FakeLlm, Reply};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Deletes a path, but only after the user approved it.
#[derive(Default)]
struct DeleteFile {
    deleted: AtomicBool,
    decisions: Mutex<Vec<ApprovalDecision>>,
}

#[hermod_agent::async_trait]
impl Tool for DeleteFile {
    fn name(&self) -> &str {
        "delete_file"
    }
    fn description(&self) -> &str {
        "Deletes a file."
    }
    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string"}}})
    }
    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let path = arguments["path"].as_str().unwrap_or("?");
        let decision = ctx.request_approval(format!("delete {path}")).await;
        self.decisions
            .lock()
            .expect("not poisoned")
            .push(decision.clone());
        decision.into_result()?;
        self.deleted.store(true, Ordering::SeqCst);
        Ok(format!("deleted {path}"))
    }
}

/// Starts a turn that calls `delete_file` once and then answers "Done.".
async fn start(config: LlmConfig, fake: &FakeLlm) -> (Arc<DeleteFile>, TurnHandle) {
    fake.push_all([
        Reply::tool_call("delete_file", json!({"path": "/tmp/x"})),
        Reply::text("Done."),
    ]);
    let tool = Arc::new(DeleteFile::default());
    let agent = new_agent(config, registry_with(tool.clone()));
    let handle = agent.run_turn(request("clean up"));
    (tool, handle)
}

/// Reads events up to the approval request; returns its id.
async fn approval_request(handle: &mut TurnHandle) -> String {
    loop {
        match next(handle).await {
            AgentEvent::ApprovalRequested {
                request_id,
                tool,
                key,
                description,
                ..
            } => {
                assert_eq!(tool, "delete_file");
                assert_eq!(key, "delete_file", "the tool's name is the default key");
                assert_eq!(description, "delete /tmp/x");
                return request_id;
            }
            AgentEvent::Final(_) | AgentEvent::Failed(_) => panic!("no approval was requested"),
            _ => {}
        }
    }
}

/// The result of the one tool call, as the model received it.
fn tool_result_sent(fake: &FakeLlm) -> String {
    let second = fake.requests()[1].messages().to_vec();
    assert_eq!(second[2]["role"], "tool");
    second[2]["content"]
        .as_str()
        .expect("a text result")
        .to_owned()
}

#[tokio::test]
async fn an_approved_tool_proceeds_and_its_result_reaches_the_model() {
    let fake = FakeLlm::start().await;
    let (tool, mut handle) = start(config(&fake), &fake).await;
    let id = approval_request(&mut handle).await;
    assert_eq!(handle.control.pending_approvals(), [id.as_str()]);
    assert!(!tool.deleted.load(Ordering::SeqCst), "waits for the answer");

    assert!(
        handle
            .control
            .resolve_approval(&id, ApprovalDecision::Approved)
    );
    assert!(
        !handle
            .control
            .resolve_approval(&id, ApprovalDecision::Approved),
        "answered once"
    );
    assert!(
        !handle
            .control
            .resolve_approval("nope", ApprovalDecision::Approved)
    );
    let events = collect(&mut handle).await;
    assert!(events.contains(&AgentEvent::ToolFinished {
        call_id: "call_fake_0".into(),
        name: "delete_file".into(),
        result: "deleted /tmp/x".into(),
        is_error: false,
    }));
    assert_eq!(outcome(&events).text, "Done.");
    assert!(tool.deleted.load(Ordering::SeqCst));
    assert_eq!(tool_result_sent(&fake), "deleted /tmp/x");
    assert!(handle.control.pending_approvals().is_empty());
}

#[tokio::test]
async fn a_denial_and_its_reason_reach_the_model() {
    let fake = FakeLlm::start().await;
    let (tool, mut handle) = start(config(&fake), &fake).await;
    let id = approval_request(&mut handle).await;
    let denial = ApprovalDecision::denied("not on a Friday");
    assert_eq!(
        handle.control.resolve_oldest_approval(denial.clone()),
        Some(id)
    );
    assert_eq!(
        handle
            .control
            .resolve_oldest_approval(ApprovalDecision::Approved),
        None
    );
    let events = collect(&mut handle).await;

    assert!(!tool.deleted.load(Ordering::SeqCst));
    assert_eq!(*tool.decisions.lock().unwrap(), [denial]);
    let expected = "error: the user denied this: not on a Friday";
    assert!(events.contains(&AgentEvent::ToolFinished {
        call_id: "call_fake_0".into(),
        name: "delete_file".into(),
        result: expected.into(),
        is_error: true,
    }));
    assert_eq!(tool_result_sent(&fake), expected);
    assert_eq!(outcome(&events).text, "Done.");
}

#[tokio::test]
async fn an_unanswered_request_is_denied_after_the_configured_timeout() {
    let fake = FakeLlm::start().await;
    let config = LlmConfig {
        approval_timeout: Duration::from_millis(50),
        ..config(&fake)
    };
    let (tool, mut handle) = start(config, &fake).await;
    let id = approval_request(&mut handle).await;
    let events = collect(&mut handle).await;

    assert!(!tool.deleted.load(Ordering::SeqCst));
    assert_eq!(
        tool_result_sent(&fake),
        "error: the user denied this: nobody answered within 50 ms"
    );
    assert_eq!(outcome(&events).text, "Done.");
    assert!(
        !handle
            .control
            .resolve_approval(&id, ApprovalDecision::Approved)
    );
}

#[tokio::test]
async fn interrupting_the_turn_denies_open_requests() {
    let fake = FakeLlm::start().await;
    let (tool, mut handle) = start(config(&fake), &fake).await;
    let id = approval_request(&mut handle).await;
    handle.control.interrupt();
    assert!(handle.control.pending_approvals().is_empty());
    assert!(
        !handle
            .control
            .resolve_approval(&id, ApprovalDecision::Approved)
    );
    let events = collect(&mut handle).await;

    assert_eq!(
        events.last(),
        Some(&AgentEvent::Failed(AgentError::Cancelled))
    );
    assert!(!tool.deleted.load(Ordering::SeqCst));
    assert_eq!(fake.request_count(), 1, "the model is not called again");
}
