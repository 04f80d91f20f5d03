//! [`GatewayStatus`]: what a running gateway says about itself — its phase,
//! every component's state with its last error, its work in progress —
//! and [`StatusBoard`], where the process that runs the gateway publishes
//! it for whoever serves it (the API server's `/health/detailed`).
//!
//! The same value is written to `gateway_state.json` in `HERMOD_HOME`, so
//! `hermod gateway status` reads what `/health/detailed` serves.

use crate::health::{ComponentStatus, HealthReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

/// What the status file and the PID file call the process.
pub const GATEWAY_KIND: &str = "hermod-gateway";

/// The gateway process's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayPhase {
    /// Building and connecting the platforms.
    Starting,
    /// Every platform has left `connecting`.
    Running,
    /// A stop was asked for: no new input, running turns finishing.
    Draining,
    /// The turns are done; the store is being closed.
    Stopping,
    /// Stopped cleanly.
    Stopped,
    /// Stopped by an error (`exit_reason` says which).
    Failed,
}

impl GatewayPhase {
    /// Whether a process in this phase is still alive.
    pub fn is_live(self) -> bool {
        !matches!(self, GatewayPhase::Stopped | GatewayPhase::Failed)
    }
}

/// One component as the status file shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentLine {
    /// `running`, `connecting`, `retrying`, `degraded`, `failed`, `stopped`
    /// (the names `/health` uses).
    pub state: String,
    /// Why it is not running, while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix milliseconds of the last change.
    pub since_ms: i64,
    /// The last problem seen since the gateway started, kept after the
    /// component recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix milliseconds when `last_error` was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_ms: Option<i64>,
}

impl ComponentLine {
    /// The line for `status`, keeping `previous`'s last error when the
    /// component has none now.
    pub fn from_status(status: &ComponentStatus, previous: Option<&ComponentLine>) -> Self {
        // Through the serialized form, so every state (present and future)
        // is named as `/health` names it.
        let value = serde_json::to_value(&status.state).unwrap_or_default();
        let state = value
            .get("state")
            .and_then(|s| s.as_str())
            .unwrap_or("unknown")
            .to_owned();
        let reason = value
            .get("reason")
            .and_then(|s| s.as_str())
            .map(str::to_owned);
        let (last_error, last_error_ms) = match (&reason, status.state.is_healthy()) {
            (Some(reason), false) => {
                // The same problem keeps the time it was first seen.
                let same = previous.filter(|p| p.last_error.as_deref() == Some(reason.as_str()));
                (
                    Some(reason.clone()),
                    Some(
                        same.and_then(|p| p.last_error_ms)
                            .unwrap_or(status.since_ms),
                    ),
                )
            }
            _ => (
                previous.and_then(|p| p.last_error.clone()),
                previous.and_then(|p| p.last_error_ms),
            ),
        };
        Self {
            state,
            reason,
            since_ms: status.since_ms,
            last_error,
            last_error_ms,
        }
    }
}

/// Everything `hermod gateway status` and `/health/detailed` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// Always [`GATEWAY_KIND`].
    pub kind: String,
    pub pid: u32,
    pub version: String,
    /// Unix milliseconds when the process started.
    pub started_at_ms: i64,
    pub state: GatewayPhase,
    /// Why it stopped, once it has (`stopped`: the signal; `failed`: the error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_reason: Option<String>,
    /// No component is degraded, retrying or failed.
    pub healthy: bool,
    /// Each platform's and the store's state, by name.
    pub components: BTreeMap<String, ComponentLine>,
    /// Sessions with a live worker (a running turn, queued messages, or
    /// recently active).
    pub active_sessions: usize,
    /// Agent turns running now (`hermod_turns_running`). Absent from a
    /// file an older gateway wrote: read as 0.
    #[serde(default)]
    pub running_turns: usize,
    /// Outbox entries not yet delivered (`None` when the store could not
    /// be read). Counted up to [`OUTBOX_COUNT_LIMIT`].
    #[serde(default)]
    pub outbox_pending: Option<usize>,
    /// Unix milliseconds of this snapshot.
    pub updated_at_ms: i64,
}

/// Where counting the outbox backlog stops: the status is read often, and
/// "at least this many" is all an operator needs past it.
pub const OUTBOX_COUNT_LIMIT: usize = 1_000;

impl GatewayStatus {
    /// A gateway that is starting: no component has reported yet.
    pub fn starting(pid: u32, version: &str, started_at_ms: i64) -> Self {
        Self {
            kind: GATEWAY_KIND.to_owned(),
            pid,
            version: version.to_owned(),
            started_at_ms,
            state: GatewayPhase::Starting,
            exit_reason: None,
            healthy: true,
            components: BTreeMap::new(),
            active_sessions: 0,
            running_turns: 0,
            outbox_pending: None,
            updated_at_ms: started_at_ms,
        }
    }

    /// Takes the components' states from `report`, keeping each one's last
    /// error.
    pub fn apply_health(&mut self, report: &HealthReport) {
        let components = report
            .components
            .iter()
            .map(|(name, status)| {
                let line = ComponentLine::from_status(status, self.components.get(name));
                (name.clone(), line)
            })
            .collect();
        self.components = components;
        self.healthy = report.healthy;
    }
}

/// The latest [`GatewayStatus`], shared by the process that runs the
/// gateway (which publishes it) and what serves it. Cheap to clone; empty
/// until the first publication.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    latest: Arc<RwLock<Option<GatewayStatus>>>,
}

impl StatusBoard {
    pub fn publish(&self, status: GatewayStatus) {
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    /// The latest status, if one was published.
    pub fn latest(&self) -> Option<GatewayStatus> {
        self.latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{ComponentState, Health};

    #[test]
    fn a_component_keeps_its_last_error_after_it_recovers() {
        let health = Health::default();
        let mut status = GatewayStatus::starting(1, "0", 0);
        health.degraded("chat", "peer answers 502");
        status.apply_health(&health.report());
        let line = &status.components["chat"];
        assert_eq!(line.state, "degraded");
        assert_eq!(line.reason.as_deref(), Some("peer answers 502"));
        assert_eq!(line.last_error.as_deref(), Some("peer answers 502"));
        let seen = line.last_error_ms;
        assert!(!status.healthy);

        health.recovered("chat");
        status.apply_health(&health.report());
        let line = &status.components["chat"];
        assert_eq!(line.state, "running");
        assert_eq!(line.reason, None);
        assert_eq!(line.last_error.as_deref(), Some("peer answers 502"));
        assert_eq!(line.last_error_ms, seen);
        assert!(status.healthy);

        health.set(
            "chat",
            ComponentState::Failed {
                reason: "token refused".into(),
            },
        );
        status.apply_health(&health.report());
        assert_eq!(
            status.components["chat"].last_error.as_deref(),
            Some("token refused")
        );
    }

    #[test]
    fn the_board_serves_what_was_published_last() {
        let board = StatusBoard::default();
        assert_eq!(board.latest(), None);
        let mut status = GatewayStatus::starting(7, "1.0", 5);
        let clone = board.clone();
        clone.publish(status.clone());
        status.state = GatewayPhase::Running;
        board.publish(status.clone());
        assert_eq!(board.latest(), Some(status));
    }

    #[test]
    fn the_status_reads_back_what_it_wrote() {
        let mut status = GatewayStatus::starting(7, "1.0", 5);
        status.exit_reason = Some("signal".into());
        let text = serde_json::to_string(&status).unwrap();
        assert!(text.contains(r#""state":"starting""#), "{text}");
        let back: GatewayStatus = serde_json::from_str(&text).unwrap();
        assert_eq!(back, status);
    }
}
