//! Platforms as operators see and steer them: each one's state, its
//! operator's pause and its failures in a row; pause (persisted, so it
//! outlives restarts) and resume. `/platform` and [`Operator`] both call
//! these.

use super::Operator;
use crate::error::CoreError;
use crate::health::{ComponentState, ComponentStatus};
use crate::session::WorkerDeps;
use crate::supervisor::paused_key;
use hermod_model::PlatformId;
use serde::Serialize;

/// One platform's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformRow {
    pub name: PlatformId,
    /// One word: `connected`, `connecting`, `reconnecting`, `degraded`,
    /// `failed`, `stopped`, `paused` or `not started`.
    pub state: &'static str,
    /// The state in a sentence, as `/platform list` shows it (`reconnecting
    /// in 4 s (…)`, `paused until resumed (…)`).
    pub detail: String,
    /// Why it is not running, while it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix milliseconds of the state's last change (`None`: not started).
    pub since_ms: Option<i64>,
    /// Why an operator paused it, while they have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_by_operator: Option<String>,
    /// Failures in a row, as its supervisor last reported.
    pub failures: u32,
}

/// What a pause did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseOutcome {
    Paused,
    /// An operator had paused it already; nothing changed.
    AlreadyPaused,
}

/// What a resume did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// It was paused and is connecting now.
    Resumed,
    /// It was not paused but waiting (retrying, degraded, stopped): it is
    /// started now.
    Started,
    /// It is running; nothing changed.
    AlreadyRunning,
    /// It failed for good and stays stopped until its configuration is
    /// fixed and the gateway restarts; nothing changed.
    Failed { reason: String },
}

/// The one-word state of a component's [`ComponentState`] (`None`: it has
/// not reported yet).
pub fn state_word(state: Option<&ComponentState>) -> &'static str {
    match state {
        None => "not started",
        Some(ComponentState::Connecting) => "connecting",
        Some(ComponentState::Running) => "connected",
        Some(ComponentState::Retrying { .. }) => "reconnecting",
        Some(ComponentState::Degraded { .. }) => "degraded",
        Some(ComponentState::Failed { .. }) => "failed",
        Some(ComponentState::Stopped) => "stopped",
        Some(ComponentState::Paused { .. }) => "paused",
        Some(ComponentState::Standby { .. }) => "standby",
    }
}

pub(super) fn reason_of(state: &ComponentState) -> Option<String> {
    match state {
        ComponentState::Retrying { reason, .. }
        | ComponentState::Degraded { reason }
        | ComponentState::Failed { reason }
        | ComponentState::Paused { reason, .. } => Some(reason.clone()),
        ComponentState::Standby { holder } => Some(format!("received by {holder}")),
        ComponentState::Connecting | ComponentState::Running | ComponentState::Stopped => None,
    }
}

/// The platform called `name` (ignoring case).
pub(crate) fn find(deps: &WorkerDeps, name: &str) -> Option<PlatformId> {
    deps.platforms.find(name).cloned()
}

/// Every platform's row, in name order.
pub(crate) fn rows(deps: &WorkerDeps) -> Vec<PlatformRow> {
    // The clock `Health` times are written with.
    let now = crate::clock::now_ms();
    deps.platforms
        .ids()
        .map(|id| {
            let status: Option<ComponentStatus> = deps.health.get(id.as_str());
            let state = status.as_ref().map(|s| &s.state);
            PlatformRow {
                name: id.clone(),
                state: state_word(state),
                detail: state.map_or_else(
                    || "not started".to_owned(),
                    |s| crate::commands::describe_state(s, now),
                ),
                reason: state.and_then(reason_of),
                since_ms: status.as_ref().map(|s| s.since_ms),
                paused_by_operator: deps.platforms.paused(id),
                failures: deps.platforms.failures(id),
            }
        })
        .collect()
}

/// Pauses `id`: its `run` is cancelled as at shutdown and it stays paused,
/// across restarts too, until resumed. `reason` is shown in its state.
pub(crate) async fn pause(
    deps: &WorkerDeps,
    id: &PlatformId,
    reason: String,
) -> Result<PauseOutcome, CoreError> {
    if deps.platforms.paused(id).is_some() {
        return Ok(PauseOutcome::AlreadyPaused);
    }
    // Persisted first: a pause that is shown is one that survives a restart.
    deps.store
        .set_setting(&paused_key(id), &reason, deps.clock.now_ms())
        .await?;
    deps.platforms.pause(id, reason);
    Ok(PauseOutcome::Paused)
}

/// Resumes `id`: clears an operator's or the circuit breaker's pause (or
/// a backoff's wait) and starts it now. A platform that failed for good
/// or is running is left as it is.
pub(crate) async fn resume(deps: &WorkerDeps, id: &PlatformId) -> Result<ResumeOutcome, CoreError> {
    let state = deps.health.get(id.as_str()).map(|s| s.state);
    let manual = deps.platforms.paused(id).is_some();
    let outcome = match state {
        Some(ComponentState::Failed { reason }) if !manual => {
            return Ok(ResumeOutcome::Failed { reason });
        }
        Some(ComponentState::Running | ComponentState::Connecting) if !manual => {
            return Ok(ResumeOutcome::AlreadyRunning);
        }
        Some(ComponentState::Paused { .. }) => ResumeOutcome::Resumed,
        _ => ResumeOutcome::Started,
    };
    deps.store.delete_setting(&paused_key(id)).await?;
    deps.platforms.resume(id);
    Ok(outcome)
}

impl Operator {
    /// Every platform with its state, in name order.
    pub fn platforms(&self) -> Vec<PlatformRow> {
        rows(self.deps())
    }

    /// The platform called `name` (ignoring case), if the gateway runs it.
    pub fn find_platform(&self, name: &str) -> Option<PlatformId> {
        find(self.deps(), name)
    }

    /// Pauses `platform` as `/platform pause` does; `reason` is shown in
    /// its state and kept in the store.
    pub async fn pause_platform(
        &self,
        platform: &PlatformId,
        reason: String,
    ) -> Result<PauseOutcome, CoreError> {
        pause(self.deps(), platform, reason).await
    }

    /// Resumes `platform` as `/platform resume` does.
    pub async fn resume_platform(&self, platform: &PlatformId) -> Result<ResumeOutcome, CoreError> {
        resume(self.deps(), platform).await
    }
}
