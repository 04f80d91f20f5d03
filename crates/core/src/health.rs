//! [`Health`]: what the gateway knows about its own state — every adapter's
//! and the store's — so `/health`, the start line and later `status` never
//! say "ok" while something is broken.
//!
//! Components report themselves. The supervisor (`supervisor.rs`) marks an
//! adapter connecting each time it starts its `run`, retrying (with the time
//! of the next attempt) when `run` failed in a way that may pass, and failed
//! when it cannot go on; the adapter reports itself running once it is
//! connected ([`Health::recovered`]), degraded while its platform keeps
//! failing, and running again when it recovers. The supervisor also marks
//! an adapter paused, by an operator or by its circuit breaker. Core marks the store
//! degraded on a storage error and healthy on the next success.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// The name under which the store reports.
pub const STORE_COMPONENT: &str = "store";

/// The state of one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ComponentState {
    /// Started or restarting, not yet known to work (an adapter connecting).
    #[serde(alias = "starting")]
    Connecting,
    /// Working (an adapter connected).
    Running,
    /// Stopped by a failure that may pass; the next attempt is at
    /// `next_attempt_ms` (Unix milliseconds).
    Retrying {
        reason: String,
        next_attempt_ms: i64,
    },
    /// Working with problems (a peer failing, retries in progress).
    Degraded { reason: String },
    /// Stopped and will not recover without a restart or a configuration change.
    Failed { reason: String },
    /// Stopped on purpose (shutdown).
    Stopped,
    /// Not running and not restarted until `until_ms` (Unix milliseconds;
    /// `None`: until an operator resumes it). `manual`: an operator paused
    /// it (`/platform pause`, kept across restarts); otherwise the circuit
    /// breaker did, after too many failures, and tries it again at
    /// `until_ms`.
    Paused {
        reason: String,
        until_ms: Option<i64>,
        manual: bool,
    },
    /// Ready to receive, while another gateway sharing the database does
    /// (`holder`, its node id); takes over when that gateway stops.
    Standby { holder: String },
}

impl ComponentState {
    /// Whether this state counts as healthy. A platform an operator
    /// paused is, as one stopped on purpose is; one the circuit breaker
    /// paused is not.
    pub fn is_healthy(&self) -> bool {
        matches!(
            self,
            ComponentState::Connecting
                | ComponentState::Running
                | ComponentState::Stopped
                | ComponentState::Standby { .. }
                | ComponentState::Paused { manual: true, .. }
        )
    }
}

/// One component's state and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    #[serde(flatten)]
    pub state: ComponentState,
    /// Unix milliseconds of the last change.
    pub since_ms: i64,
}

/// A snapshot of every component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// True when no component is degraded or failed.
    pub healthy: bool,
    pub components: BTreeMap<String, ComponentStatus>,
}

impl HealthReport {
    /// The reasons of every unhealthy component, one per line as `name: reason`.
    pub fn problems(&self) -> Vec<String> {
        self.components
            .iter()
            .filter_map(|(name, status)| match &status.state {
                ComponentState::Degraded { reason }
                | ComponentState::Failed { reason }
                | ComponentState::Retrying { reason, .. }
                | ComponentState::Paused {
                    reason,
                    manual: false,
                    ..
                } => Some(format!("{name}: {reason}")),
                _ => None,
            })
            .collect()
    }
}

/// Shared, cheap to clone.
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<Mutex<BTreeMap<String, ComponentStatus>>>,
    /// Bumped on every change, for [`Health::subscribe`].
    changes: Arc<watch::Sender<u64>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            changes: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl Health {
    /// Records a component's state (its time is the wall clock's now).
    pub fn set(&self, component: &str, state: ComponentState) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(component).is_some_and(|s| s.state == state) {
            return;
        }
        self.insert(&mut map, component, state);
    }

    /// Marks a component degraded with a reason.
    pub fn degraded(&self, component: &str, reason: impl Into<String>) {
        self.set(
            component,
            ComponentState::Degraded {
                reason: reason.into(),
            },
        );
    }

    /// Marks a component running, unless it has failed for good or is
    /// paused (a late report from a run that was stopped).
    pub fn recovered(&self, component: &str) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(component).map(|s| &s.state) {
            Some(
                ComponentState::Running
                | ComponentState::Failed { .. }
                | ComponentState::Paused { .. },
            ) => {}
            _ => self.insert(&mut map, component, ComponentState::Running),
        }
    }

    fn insert(
        &self,
        map: &mut BTreeMap<String, ComponentStatus>,
        component: &str,
        state: ComponentState,
    ) {
        map.insert(
            component.to_owned(),
            ComponentStatus {
                state,
                since_ms: crate::clock::now_ms(),
            },
        );
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes (`changed().await`) whenever a component's
    /// state changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The state of one component, if it has reported.
    pub fn get(&self, component: &str) -> Option<ComponentStatus> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(component)
            .cloned()
    }

    /// A snapshot of every component.
    pub fn report(&self) -> HealthReport {
        let components = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        HealthReport {
            healthy: components.values().all(|s| s.state.is_healthy()),
            components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_or_degraded_component_makes_the_report_unhealthy() {
        let health = Health::default();
        health.set("store", ComponentState::Running);
        health.set("chat", ComponentState::Running);
        assert!(health.report().healthy);

        health.degraded("store", "disk full");
        let report = health.report();
        assert!(!report.healthy);
        assert_eq!(report.problems(), vec!["store: disk full".to_owned()]);

        health.recovered("store");
        assert!(health.report().healthy);

        health.set(
            "chat",
            ComponentState::Failed {
                reason: "token refused".into(),
            },
        );
        health.recovered("chat");
        assert!(!health.report().healthy, "failed is final until restart");
    }

    #[test]
    fn a_breaker_pause_is_a_problem_and_an_operator_pause_is_not() {
        let health = Health::default();
        let paused = |manual: bool| ComponentState::Paused {
            reason: "5 failures in a row".into(),
            until_ms: (!manual).then_some(1),
            manual,
        };
        health.set("chat", paused(false));
        let report = health.report();
        assert!(!report.healthy);
        assert_eq!(
            report.problems(),
            vec!["chat: 5 failures in a row".to_owned()]
        );
        health.recovered("chat");
        assert_eq!(
            health.get("chat").unwrap().state,
            paused(false),
            "a stopped run's late report"
        );

        health.set("chat", paused(true));
        assert!(health.report().healthy);
        assert!(health.report().problems().is_empty());
        let json = serde_json::to_value(health.get("chat").unwrap()).unwrap();
        assert_eq!(json["state"], "paused");
        assert_eq!(json["manual"], true);
        assert_eq!(json["reason"], "5 failures in a row");
    }

    #[tokio::test]
    async fn subscribers_wake_on_changes_only() {
        let health = Health::default();
        let mut changes = health.subscribe();
        health.set("store", ComponentState::Running);
        changes.changed().await.expect("woken by a change");
        health.set("store", ComponentState::Running);
        health.recovered("store");
        assert!(
            !changes.has_changed().expect("open"),
            "no change, no wake-up"
        );
        health.degraded("store", "disk full");
        assert!(changes.has_changed().expect("open"));
    }
}
