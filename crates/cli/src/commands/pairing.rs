//! `hermod pairing approve|list|revoke`: manage who may talk to the agent.
//! Changes go straight to the database, so a running gateway sees them at
//! the next message — no restart.

use crate::PairingAction;
use crate::commands::{out, utc};
use crate::home::{self, Create};
use crate::{config, database};
use hermod_core::{ApproveOutcome, Pairing, now_ms};
use hermod_model::PlatformId;
use hermod_store::Store;

pub async fn run(action: PairingAction) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let location = database::location(&home, &process)?;
    let db = database::open_at(&location).await?;
    let done = act(db.store().as_ref(), action).await;
    // Closed whatever the outcome: a failed approval counts its attempt.
    let closed = database::close(db, &location).await;
    done.and(closed)
}

async fn act(store: &dyn Store, action: PairingAction) -> anyhow::Result<()> {
    let pairing = Pairing::new(store);
    match action {
        PairingAction::Approve { platform, code } => {
            let platform = PlatformId::new(platform.to_ascii_lowercase());
            match pairing.approve(&platform, &code, now_ms()).await? {
                ApproveOutcome::Approved { user_id, user_name } => {
                    let name = user_name.map(|n| format!(" ({n})")).unwrap_or_default();
                    out(format_args!(
                        "Approved {user_id}{name} on {platform}. They can talk to the agent now."
                    ));
                }
                ApproveOutcome::NoMatch { failures_left } => anyhow::bail!(
                    "no pending pairing on {platform} has that code (it may have expired after an hour); \
                     {failures_left} more failed attempts lock approvals for an hour. \
                     `hermod pairing list` shows pending requests"
                ),
                ApproveOutcome::LockedOut { until_ms } => anyhow::bail!(
                    "too many failed approvals: approvals on {platform} are locked until {}",
                    utc(until_ms)
                ),
            }
        }
        PairingAction::List { platform } => {
            let platform = platform.map(|p| PlatformId::new(p.to_ascii_lowercase()));
            let (pending, approved) = pairing.list(platform.as_ref(), now_ms()).await?;
            out("Pending requests:");
            if pending.is_empty() {
                out("  (none)");
            }
            for p in &pending {
                let name = p.user_name.as_deref().unwrap_or("");
                out(format_args!(
                    "  {:<12} {:<24} {name:<20} expires {}",
                    p.platform.as_str(),
                    p.user_id,
                    utc(p.expires_at_ms)
                ));
            }
            out("Approved users:");
            if approved.is_empty() {
                out("  (none)");
            }
            for a in &approved {
                let name = a.user_name.as_deref().unwrap_or("");
                out(format_args!(
                    "  {:<12} {:<24} {name:<20} since {}",
                    a.platform.as_str(),
                    a.user_id,
                    utc(a.approved_at_ms)
                ));
            }
        }
        PairingAction::Revoke { platform, user } => {
            let platform = PlatformId::new(platform.to_ascii_lowercase());
            if pairing.revoke(&platform, &user).await? {
                out(format_args!("Revoked {user} on {platform}."));
            } else {
                anyhow::bail!(
                    "{user} is not an approved user on {platform}; `hermod pairing list` shows them"
                );
            }
        }
    }
    Ok(())
}
