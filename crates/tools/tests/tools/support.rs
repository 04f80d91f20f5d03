//! Contexts for tool calls, with or without someone to ask.

use hermod_agent::{AgentEvent, ApprovalDecision, Approvals, ToolContext};
use hermod_model::SessionId;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A context that cannot ask for approval.
pub fn ctx() -> ToolContext {
    ToolContext::new(
        SessionId::parse("s").unwrap(),
        "call",
        CancellationToken::new(),
    )
}

/// A context whose approval requests arrive on the returned receiver and
/// are answered through the returned [`Approvals`].
pub fn asking(tool: &str) -> (ToolContext, Approvals, mpsc::Receiver<AgentEvent>) {
    let approvals = Approvals::new();
    let (events, rx) = mpsc::channel(8);
    let ctx = ctx().with_approvals(tool, approvals.clone(), events, Duration::from_secs(600));
    (ctx, approvals, rx)
}

/// Waits for the next approval request, returns its description and
/// answers it with `decision`.
pub async fn answer(
    approvals: &Approvals,
    events: &mut mpsc::Receiver<AgentEvent>,
    decision: ApprovalDecision,
) -> String {
    match events.recv().await {
        Some(AgentEvent::ApprovalRequested {
            request_id,
            description,
            ..
        }) => {
            assert!(approvals.resolve(&request_id, decision));
            description
        }
        other => panic!("expected an approval request, got {other:?}"),
    }
}
