//! `/approve [all]` and `/deny [all] [reason]`: answer the agent's pending
//! approval requests, oldest first.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_agent::ApprovalDecision;

pub(crate) struct Approve;
pub(crate) struct Deny;

static APPROVE: Spec = Spec {
    name: "approve",
    aliases: &[],
    args: "[all]",
    description: "Allow what the agent asked to do",
    category: Category::Control,
    while_busy: true,
};

static DENY: Spec = Spec {
    name: "deny",
    aliases: &[],
    args: "[all] [reason]",
    description: "Refuse what the agent asked to do",
    category: Category::Control,
    while_busy: true,
};

/// Splits a leading `all` off the arguments.
fn split_all(args: &str) -> (bool, &str) {
    let args = args.trim();
    match args.split_once(char::is_whitespace) {
        Some((first, rest)) if first.eq_ignore_ascii_case("all") => (true, rest.trim()),
        _ if args.eq_ignore_ascii_case("all") => (true, ""),
        _ => (false, args),
    }
}

fn resolve(cx: &Cx<'_>, all: bool, decision: &ApprovalDecision) -> usize {
    let Some(control) = cx.state.running.as_ref().and_then(|r| r.slot.control()) else {
        return 0;
    };
    let pending = control.pending_approvals();
    let take = if all {
        pending.len()
    } else {
        pending.len().min(1)
    };
    pending
        .iter()
        .take(take)
        .filter(|id| control.resolve_approval(id, decision.clone()))
        .count()
}

#[async_trait]
impl Command for Approve {
    fn spec(&self) -> &'static Spec {
        &APPROVE
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let (all, _) = split_all(&cx.args);
        Ok(Outcome::Reply(
            match resolve(cx, all, &ApprovalDecision::Approved) {
                0 => "Nothing is waiting for approval.".to_owned(),
                1 => "✅ Approved.".to_owned(),
                n => format!("✅ Approved {n} requests."),
            },
        ))
    }
}

#[async_trait]
impl Command for Deny {
    fn spec(&self) -> &'static Spec {
        &DENY
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let (all, reason) = split_all(&cx.args);
        let decision = if reason.is_empty() {
            ApprovalDecision::Denied { reason: None }
        } else {
            ApprovalDecision::denied(reason)
        };
        Ok(Outcome::Reply(match resolve(cx, all, &decision) {
            0 => "Nothing is waiting for approval.".to_owned(),
            1 => "🚫 Denied.".to_owned(),
            n => format!("🚫 Denied {n} requests."),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_and_reason() {
        assert_eq!(split_all(""), (false, ""));
        assert_eq!(split_all("all"), (true, ""));
        assert_eq!(split_all("ALL too risky"), (true, "too risky"));
        assert_eq!(split_all("too risky"), (false, "too risky"));
        assert_eq!(split_all("allow me"), (false, "allow me"));
    }
}
