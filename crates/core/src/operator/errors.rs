//! The gateway's recent errors, from what it already keeps: every
//! component's current problem ([`crate::Health`]), each component's last
//! error after it recovered (the published [`GatewayStatus`]), and the
//! deliveries waiting for another attempt with their last failure (the
//! outbox). Nothing is recorded for this alone.

use super::Operator;
use crate::error::CoreError;
use crate::status::GatewayStatus;
use serde::Serialize;
use std::collections::BTreeSet;

/// At most this many errors are listed, newest first.
const MAX_ERRORS: usize = 50;
/// The outbox entries read for their errors: the oldest pending ones,
/// those that have waited longest.
const OUTBOX_PAGE: usize = 100;
/// A longer message is cut here: the list is for reading at a glance.
const MAX_MESSAGE_CHARS: usize = 300;

/// Where an error was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// A platform or the store (its state in `Health`).
    Component,
    /// A delivery waiting to be tried again.
    Delivery,
}

/// One error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentError {
    pub source: ErrorSource,
    /// The component, or the platform a delivery goes to.
    pub name: String,
    pub message: String,
    /// Unix milliseconds when it was seen (first seen, for a problem that
    /// lasts).
    pub at_ms: i64,
    /// Whether it is still the case (a component still in that state, a
    /// delivery still pending) rather than past.
    pub current: bool,
}

impl Operator {
    /// The recent errors, newest first. `status` is the gateway's published
    /// status, when the process that runs it publishes one: it keeps each
    /// component's last error after the component recovered. A store that
    /// cannot be read is one more error, not a failure of the list.
    pub async fn recent_errors(&self, status: Option<&GatewayStatus>) -> Vec<RecentError> {
        let deps = self.deps();
        let mut errors = Vec::new();
        let report = deps.health.report();
        let mut current = BTreeSet::new();
        for (name, component) in &report.components {
            if component.state.is_healthy() {
                continue;
            }
            if let Some(reason) = super::platforms::reason_of(&component.state) {
                current.insert((name.clone(), reason.clone()));
                errors.push(error(
                    ErrorSource::Component,
                    name,
                    &reason,
                    component.since_ms,
                    true,
                ));
            }
        }
        for (name, line) in status.map(|s| &s.components).into_iter().flatten() {
            let (Some(message), Some(at_ms)) = (&line.last_error, line.last_error_ms) else {
                continue;
            };
            if !current.contains(&(name.clone(), message.clone())) {
                errors.push(error(ErrorSource::Component, name, message, at_ms, false));
            }
        }
        match deps.store.outbox_pending(0, OUTBOX_PAGE).await {
            Ok(entries) => {
                for entry in entries {
                    if let Some(message) = &entry.error {
                        errors.push(error(
                            ErrorSource::Delivery,
                            entry.platform.as_str(),
                            message,
                            entry.updated_at_ms,
                            true,
                        ));
                    }
                }
            }
            Err(e) => {
                let e = CoreError::from(e);
                tracing::warn!(error = %e, "cannot read the outbox for the recent errors");
                errors.push(error(
                    ErrorSource::Component,
                    crate::health::STORE_COMPONENT,
                    &e.user_message(),
                    deps.clock.now_ms(),
                    true,
                ));
            }
        }
        errors.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.name.cmp(&b.name)));
        errors.truncate(MAX_ERRORS);
        errors
    }
}

fn error(source: ErrorSource, name: &str, message: &str, at_ms: i64, current: bool) -> RecentError {
    let mut message = message.to_owned();
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    RecentError {
        source,
        name: name.to_owned(),
        message,
        at_ms,
        current,
    }
}
