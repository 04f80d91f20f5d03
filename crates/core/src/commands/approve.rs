//! `/approve [all|session|always]` and `/deny [all] [reason]`: answer the
//! agent's pending approval requests, oldest first. `session` also
//! approves later requests of the same key in this conversation without
//! asking; `always` remembers the key for the user (listed and revoked by
//! `/approvals`).

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::tools::ApprovalChoice;
use async_trait::async_trait;
use hermod_agent::{ApprovalDecision, TurnControl};
use hermod_store::Owner;

pub(crate) struct Approve;
pub(crate) struct Deny;

static APPROVE: Spec = Spec {
    name: "approve",
    aliases: &[],
    args: "[all|session|always]",
    description: "Allow what the agent asked to do (once, for this session, or always)",
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

const NOTHING: &str = "Nothing is waiting for approval.";

/// Splits a leading `all` off the arguments.
fn split_all(args: &str) -> (bool, &str) {
    let args = args.trim();
    match args.split_once(char::is_whitespace) {
        Some((first, rest)) if first.eq_ignore_ascii_case("all") => (true, rest.trim()),
        _ if args.eq_ignore_ascii_case("all") => (true, ""),
        _ => (false, args),
    }
}

/// The running turn's control, when a turn is running.
fn control(cx: &Cx<'_>) -> Option<TurnControl> {
    cx.state.running.as_ref().and_then(|r| r.slot.control())
}

/// Answers the oldest open request (or all of them) with `decision`.
fn resolve(cx: &Cx<'_>, all: bool, decision: &ApprovalDecision) -> usize {
    let Some(control) = control(cx) else {
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

/// Approves the oldest open request for the session or always.
async fn grant(cx: &Cx<'_>, choice: &ApprovalChoice) -> String {
    let Some(oldest) = control(cx).and_then(|c| c.approvals().requests().into_iter().next()) else {
        return NOTHING.to_owned();
    };
    let source = &cx.job().event.source;
    let by = Owner::of(source);
    let answered = cx
        .deps
        .approvals
        .answer(&source.platform, &oldest.id, choice, by.as_ref())
        .await;
    match answered {
        Err(e) => format!("⚠️ Not approved: {e}."),
        Ok(done) => {
            let others = match done.settled {
                1 => String::new(),
                n => format!(" ({} more waiting requests approved with it)", n - 1),
            };
            match choice {
                ApprovalChoice::Always => format!(
                    "✅ Approved always: {} runs without asking in your conversations from now \
                     on{others}. /approvals lists and revokes it.",
                    done.key
                ),
                _ => format!(
                    "✅ Approved for this session: {} runs without asking until the \
                     conversation ends{others}.",
                    done.key
                ),
            }
        }
    }
}

#[async_trait]
impl Command for Approve {
    fn spec(&self) -> &'static Spec {
        &APPROVE
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let args = cx.args.trim().to_ascii_lowercase();
        let text = match args.as_str() {
            "" | "once" | "all" => match resolve(cx, args == "all", &ApprovalDecision::Approved) {
                0 => NOTHING.to_owned(),
                1 => "✅ Approved.".to_owned(),
                n => format!("✅ Approved {n} requests."),
            },
            "session" => grant(cx, &ApprovalChoice::Session).await,
            "always" => grant(cx, &ApprovalChoice::Always).await,
            other => format!(
                "Unknown /approve option {other:?}: send /approve, /approve session, /approve \
                 always or /approve all."
            ),
        };
        Ok(Outcome::Reply(text))
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
            0 => NOTHING.to_owned(),
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
