//! Approval requests: a tool about to do something dangerous asks the user
//! first.
//!
//! A tool calls [`crate::ToolContext::request_approval_for`] with a key
//! (what kind of action: a dangerous command's pattern name, else the
//! tool's name) and a description. A key the turn's [`ApprovalPolicy`]
//! already allows (the user approved it for the session, or for good) is
//! approved without asking; otherwise the turn emits
//! [`crate::AgentEvent::ApprovalRequested`] and the tool waits. Whoever
//! drives the turn answers through [`crate::TurnControl::resolve_approval`]
//! (the oldest open request is first in
//! [`crate::TurnControl::pending_approvals`]). A request nobody answers is
//! denied after [`crate::LlmConfig::approval_timeout`]; interrupting the turn
//! denies every open request and every later one.

use hermod_model::SessionId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// The reason given when a request was open while the turn was interrupted.
pub(crate) const INTERRUPTED_REASON: &str = "the turn was interrupted";

/// The answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalDecision {
    Approved,
    Denied {
        /// Why, when the user (or the timeout) said.
        reason: Option<String>,
    },
}

impl ApprovalDecision {
    /// A denial with a reason.
    pub fn denied(reason: impl Into<String>) -> Self {
        ApprovalDecision::Denied {
            reason: Some(reason.into()),
        }
    }

    pub fn is_approved(&self) -> bool {
        matches!(self, ApprovalDecision::Approved)
    }

    /// `Ok(())` when approved; otherwise an error text for the model, such
    /// as `the user denied this: too risky`, so a tool can write
    /// `ctx.request_approval(..).await.into_result()?`.
    pub fn into_result(self) -> Result<(), String> {
        match self {
            ApprovalDecision::Approved => Ok(()),
            ApprovalDecision::Denied { reason: None } => Err("the user denied this".to_owned()),
            ApprovalDecision::Denied {
                reason: Some(reason),
            } => Err(format!("the user denied this: {reason}")),
        }
    }
}

/// Decides which approval keys need no asking. The gateway implements it
/// with the grants a user gave ("for this session", "always"); a turn
/// without one asks every time.
#[async_trait::async_trait]
pub trait ApprovalPolicy: std::fmt::Debug + Send + Sync {
    /// Whether a request with `key` made in `session` is approved without
    /// asking. Called before every request, so it must be quick; when in
    /// doubt (its storage fails) it answers false and the user is asked.
    async fn pre_approved(&self, session: &SessionId, key: &str) -> bool;
}

/// An open approval request, as the turn's driver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// Unique in the process.
    pub id: String,
    /// The name of the tool asking.
    pub tool: String,
    /// What kind of action it is (what "for this session" and "always"
    /// answers remember).
    pub key: String,
    /// What the tool wants to do, for the user.
    pub description: String,
}

/// The open approval requests of one turn. Cheap to clone; clones share the
/// same requests. [`crate::TurnControl`] owns one; tools reach it through
/// their [`crate::ToolContext`].
#[derive(Debug, Clone, Default)]
pub struct Approvals {
    shared: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Open requests, oldest first.
    pending: Vec<(ApprovalRequest, oneshot::Sender<ApprovalDecision>)>,
    /// Set when the turn was interrupted or ended: new requests are denied
    /// with this reason.
    closed: Option<String>,
}

/// Request ids are unique in the process, so an answer meant for one turn
/// can never resolve another turn's request.
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("approval-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Approvals {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every update is a single push, remove or drain, so the registry
        // stays consistent even if a holder panicked.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a request: its id and where its decision arrives. Fails with
    /// the denial reason when the registry is closed.
    pub(crate) fn open(
        &self,
        tool: &str,
        key: &str,
        description: &str,
    ) -> Result<(ApprovalRequest, oneshot::Receiver<ApprovalDecision>), String> {
        let mut registry = self.lock();
        if let Some(reason) = &registry.closed {
            return Err(reason.clone());
        }
        let request = ApprovalRequest {
            id: next_request_id(),
            tool: tool.to_owned(),
            key: key.to_owned(),
            description: description.to_owned(),
        };
        let (tx, rx) = oneshot::channel();
        registry.pending.push((request.clone(), tx));
        Ok((request, rx))
    }

    /// Withdraws a request without deciding it; false when it was no longer
    /// open (it was decided meanwhile).
    pub(crate) fn withdraw(&self, request_id: &str) -> bool {
        let mut registry = self.lock();
        let before = registry.pending.len();
        registry
            .pending
            .retain(|(request, _)| request.id != request_id);
        registry.pending.len() != before
    }

    /// Delivers a decision to the tool waiting on `request_id`. False when
    /// no such request is open (unknown, already decided, timed out).
    pub fn resolve(&self, request_id: &str, decision: ApprovalDecision) -> bool {
        let sender = {
            let mut registry = self.lock();
            let Some(index) = registry
                .pending
                .iter()
                .position(|(request, _)| request.id == request_id)
            else {
                return false;
            };
            registry.pending.remove(index).1
        };
        // The tool may have stopped waiting an instant ago (its task was
        // aborted); the request was open until now, so this still counts.
        let _ = sender.send(decision);
        true
    }

    /// Delivers a decision to the oldest open request; returns its id, or
    /// `None` when no request is open.
    pub fn resolve_oldest(&self, decision: ApprovalDecision) -> Option<String> {
        let (request, sender) = {
            let mut registry = self.lock();
            if registry.pending.is_empty() {
                return None;
            }
            registry.pending.remove(0)
        };
        let _ = sender.send(decision);
        Some(request.id)
    }

    /// The ids of the open requests, oldest first.
    pub fn pending(&self) -> Vec<String> {
        self.lock()
            .pending
            .iter()
            .map(|(request, _)| request.id.clone())
            .collect()
    }

    /// The open requests, oldest first.
    pub fn requests(&self) -> Vec<ApprovalRequest> {
        self.lock()
            .pending
            .iter()
            .map(|(request, _)| request.clone())
            .collect()
    }

    /// Denies every open request with `reason` and every later one too.
    /// Idempotent; the first reason is kept for later requests.
    pub fn close(&self, reason: &str) {
        let pending = {
            let mut registry = self.lock();
            registry.closed.get_or_insert_with(|| reason.to_owned());
            std::mem::take(&mut registry.pending)
        };
        for (_, sender) in pending {
            let _ = sender.send(ApprovalDecision::denied(reason));
        }
    }

    /// Whether [`Approvals::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }
}

/// Withdraws a request when the asking future is dropped (its tool was
/// aborted), so it does not linger in [`Approvals::pending`].
pub(crate) struct WithdrawOnDrop<'a> {
    pub(crate) approvals: &'a Approvals,
    pub(crate) request_id: &'a str,
}

impl Drop for WithdrawOnDrop<'_> {
    fn drop(&mut self) {
        self.approvals.withdraw(self.request_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentEvent, ToolContext};
    use std::time::Duration;
    use tokio::sync::mpsc;
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    /// A context that can ask, the registry it asks and its event stream.
    fn asking(timeout: Duration) -> (ToolContext, Approvals, mpsc::Receiver<AgentEvent>) {
        let approvals = Approvals::new();
        let (events, rx) = mpsc::channel(4);
        let ctx = ToolContext::new(
            SessionId::parse("s").unwrap(),
            "call-1",
            CancellationToken::new(),
        )
        .with_approvals("rm", approvals.clone(), events, timeout);
        (ctx, approvals, rx)
    }

    /// Starts a request and returns its task and id once it is announced.
    async fn ask(
        ctx: &ToolContext,
        events: &mut mpsc::Receiver<AgentEvent>,
    ) -> (tokio::task::JoinHandle<ApprovalDecision>, String) {
        let asking = ctx.clone();
        let task = tokio::spawn(async move { asking.request_approval("delete /tmp/x").await });
        match events.recv().await {
            Some(AgentEvent::ApprovalRequested {
                request_id,
                tool,
                key,
                description,
                timeout,
            }) => {
                assert_eq!(
                    (tool.as_str(), key.as_str(), description.as_str()),
                    ("rm", "rm", "delete /tmp/x")
                );
                assert_eq!(timeout, Duration::from_secs(60));
                (task, request_id)
            }
            other => panic!("expected ApprovalRequested, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_request_is_denied_after_the_timeout() {
        let (ctx, approvals, mut events) = asking(Duration::from_secs(60));
        let start = Instant::now();
        let (task, id) = ask(&ctx, &mut events).await;
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!task.is_finished());
        assert_eq!(approvals.pending(), [id.as_str()]);

        let decision = task.await.unwrap();
        assert_eq!(
            decision,
            ApprovalDecision::denied("nobody answered within 1 min")
        );
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        assert!(approvals.pending().is_empty());
        assert!(
            !approvals.resolve(&id, ApprovalDecision::Approved),
            "too late"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_time_is_delivered() {
        let (ctx, approvals, mut events) = asking(Duration::from_secs(60));
        let start = Instant::now();
        let (task, id) = ask(&ctx, &mut events).await;
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(approvals.resolve(&id, ApprovalDecision::Approved));
        assert_eq!(task.await.unwrap(), ApprovalDecision::Approved);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_the_tool_denies_and_withdraws() {
        let (ctx, approvals, mut events) = asking(Duration::from_secs(60));
        let start = Instant::now();
        let (task, id) = ask(&ctx, &mut events).await;
        ctx.cancel.cancel();
        assert_eq!(
            task.await.unwrap(),
            ApprovalDecision::denied(INTERRUPTED_REASON)
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(!approvals.resolve(&id, ApprovalDecision::Approved));
    }

    #[tokio::test(start_paused = true)]
    async fn an_aborted_tool_withdraws_its_request() {
        let (ctx, approvals, mut events) = asking(Duration::from_secs(60));
        let (task, id) = ask(&ctx, &mut events).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(approvals.pending().is_empty());
        assert!(!approvals.resolve(&id, ApprovalDecision::Approved));
    }

    #[tokio::test]
    async fn requests_are_denied_without_anyone_to_ask() {
        let ctx = ToolContext::new(
            SessionId::parse("s").unwrap(),
            "c",
            CancellationToken::new(),
        );
        assert!(!ctx.request_approval("x").await.is_approved());

        let (ctx, approvals, events) = asking(Duration::from_secs(60));
        drop(events);
        assert_eq!(
            ctx.request_approval("x").await,
            ApprovalDecision::denied("nobody is listening for approval requests")
        );
        assert!(approvals.pending().is_empty());

        let (ctx, approvals, _events) = asking(Duration::from_secs(60));
        approvals.close("the turn is over");
        assert_eq!(
            ctx.request_approval("x").await,
            ApprovalDecision::denied("the turn is over")
        );
    }

    /// Allows the keys it holds.
    #[derive(Debug)]
    struct Allow(&'static [&'static str]);

    #[async_trait::async_trait]
    impl ApprovalPolicy for Allow {
        async fn pre_approved(&self, session: &SessionId, key: &str) -> bool {
            assert_eq!(session.as_str(), "s");
            self.0.contains(&key)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_granted_key_is_approved_without_asking() {
        let (ctx, approvals, mut events) = asking(Duration::from_secs(60));
        let ctx = ctx.with_approval_policy(Some(Arc::new(Allow(&["recursive_delete"]))));
        assert_eq!(
            ctx.request_approval_for("recursive_delete", "rm -rf /tmp/x")
                .await,
            ApprovalDecision::Approved
        );
        assert!(events.try_recv().is_err(), "nothing was asked");
        assert!(approvals.pending().is_empty());

        // Another key, and the default key (the tool's name), are asked.
        let asking = ctx.clone();
        let task = tokio::spawn(async move {
            asking
                .request_approval_for("curl_pipe_sh", "curl x | sh")
                .await
        });
        match events.recv().await {
            Some(AgentEvent::ApprovalRequested {
                key, request_id, ..
            }) => {
                assert_eq!(key, "curl_pipe_sh");
                assert_eq!(approvals.requests()[0].key, "curl_pipe_sh");
                assert!(approvals.resolve(&request_id, ApprovalDecision::Approved));
            }
            other => panic!("expected a request, got {other:?}"),
        }
        assert!(task.await.unwrap().is_approved());
        let (task, _) = ask(&ctx, &mut events).await;
        task.abort();
    }

    #[tokio::test]
    async fn a_policy_without_anyone_to_ask_changes_nothing() {
        let ctx = ToolContext::new(
            SessionId::parse("s").unwrap(),
            "c",
            CancellationToken::new(),
        )
        .with_approval_policy(Some(Arc::new(Allow(&["x"]))));
        assert!(!ctx.request_approval_for("x", "x").await.is_approved());
    }

    #[test]
    fn resolve_delivers_once_and_in_order() {
        let approvals = Approvals::new();
        let (first, mut first_rx) = approvals.open("t", "k", "d").unwrap();
        let (second, mut second_rx) = approvals.open("t", "k2", "d2").unwrap();
        assert_eq!(approvals.requests(), [first.clone(), second.clone()]);
        assert_eq!(second.key, "k2");
        let (first, second) = (first.id, second.id);
        assert_ne!(first, second);
        assert_eq!(approvals.pending(), [first.as_str(), second.as_str()]);

        assert!(approvals.resolve(&second, ApprovalDecision::denied("no")));
        assert!(!approvals.resolve(&second, ApprovalDecision::Approved));
        assert!(!approvals.resolve("approval-unknown", ApprovalDecision::Approved));
        assert_eq!(second_rx.try_recv(), Ok(ApprovalDecision::denied("no")));
        assert_eq!(approvals.pending(), [first.as_str()]);

        assert!(approvals.withdraw(&first));
        assert!(!approvals.withdraw(&first));
        assert!(first_rx.try_recv().is_err());
        assert!(approvals.pending().is_empty());
    }

    #[test]
    fn the_oldest_request_is_resolved_first() {
        let approvals = Approvals::new();
        assert_eq!(approvals.resolve_oldest(ApprovalDecision::Approved), None);
        let (first, mut first_rx) = approvals.open("t", "k", "d").unwrap();
        let (second, mut second_rx) = approvals.open("t", "k", "d").unwrap();
        let (first, second) = (first.id, second.id);
        assert_eq!(
            approvals.resolve_oldest(ApprovalDecision::Approved),
            Some(first)
        );
        assert_eq!(first_rx.try_recv(), Ok(ApprovalDecision::Approved));
        assert!(second_rx.try_recv().is_err());
        assert_eq!(approvals.pending(), [second.as_str()]);
    }

    #[test]
    fn close_denies_open_and_later_requests() {
        let approvals = Approvals::new();
        let (_, mut rx) = approvals.open("t", "k", "d").unwrap();
        approvals.close("stop");
        approvals.close("ignored");
        assert!(approvals.is_closed());
        assert_eq!(rx.try_recv(), Ok(ApprovalDecision::denied("stop")));
        assert_eq!(approvals.open("t", "k", "d").unwrap_err(), "stop");
        assert!(approvals.pending().is_empty());
    }

    #[test]
    fn decisions_as_results() {
        assert_eq!(ApprovalDecision::Approved.into_result(), Ok(()));
        assert!(ApprovalDecision::Approved.is_approved());
        assert_eq!(
            ApprovalDecision::Denied { reason: None }.into_result(),
            Err("the user denied this".into())
        );
        assert_eq!(
            ApprovalDecision::denied("too risky").into_result(),
            Err("the user denied this: too risky".into())
        );
    }
}
