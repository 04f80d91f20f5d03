//! When `hermod gateway run` says "ready", and what it says when a platform
//! fails.
//!
//! The gateway records every adapter's state in [`Health`]: `Connecting`
//! while its `run` starts, `Running` once the adapter reports it is
//! connected, `Degraded` while it reports it keeps failing, `Retrying` while
//! the supervisor waits to restart it, `Failed` when it cannot go on — a
//! platform whose token is refused, say.
//! [`watch`] reads it:
//!
//! - the ready line comes once every adapter has left `Connecting`, and
//!   names only those that have not failed (a degraded or retrying one with
//!   its reason: it may recover);
//! - each failure is printed on stderr as it is seen, while the other
//!   platforms keep running;
//! - when no platform is left running, the gateway is shut down and the
//!   command fails (exit 1), so a supervisor sees it.
//!
//! A refusal that comes after an adapter reported itself connected is
//! reported the same way, after the ready line. The states are read again
//! whenever one changes ([`Health::subscribe`]).

use crate::commands::{err, out};
use hermod_core::{ComponentState, Health};
use hermod_model::PlatformId;
use std::collections::BTreeSet;
use tokio_util::sync::CancellationToken;

/// An adapter as the operator knows it.
#[derive(Debug, Clone)]
pub(super) struct Watched {
    pub id: PlatformId,
    /// As in the ready line: the registry's line for the operator (the
    /// platform's name, and its address when it listens on one).
    pub description: String,
}

/// Reports readiness and failures until `shutdown`; cancels `shutdown` and
/// fails when no adapter is left running. `ready` turns the running
/// adapters' descriptions into the ready line; `on_ready` runs once, right
/// after it is printed.
pub(super) async fn watch(
    health: Health,
    adapters: Vec<Watched>,
    ready: impl Fn(&[String]) -> String,
    on_ready: impl FnOnce(),
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut announced = false;
    let mut on_ready = Some(on_ready);
    let mut reported = BTreeSet::new();
    let mut changes = health.subscribe();
    loop {
        // Marked seen before reading, so no change slips in between.
        changes.borrow_and_update();
        let states: Vec<Option<ComponentState>> = adapters
            .iter()
            .map(|a| health.get(a.id.as_str()).map(|s| s.state))
            .collect();
        let view = assess(&adapters, &states);
        let all_failed = view.all_failed();
        for &(adapter, reason) in &view.failed {
            if reported.insert(adapter.id.clone()) {
                let rest = if all_failed {
                    ""
                } else {
                    "; the other platforms keep running"
                };
                err(format_args!(
                    "error: {} ({}) failed: {reason}{rest}",
                    adapter.description, adapter.id
                ));
            }
        }
        if all_failed {
            shutdown.cancel();
            anyhow::bail!("no platform is running: every one failed (see above)");
        }
        if !announced && view.started {
            out(ready(&view.running));
            announced = true;
            if let Some(on_ready) = on_ready.take() {
                on_ready();
            }
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            changed = changes.changed() => {
                if changed.is_err() {
                    // Every handle to the gateway's health is gone.
                    return Ok(());
                }
            }
        }
    }
}

/// What the states say.
#[derive(Debug)]
struct View<'a> {
    /// Every adapter has reported, and none is still starting.
    started: bool,
    /// The descriptions of those that have not failed.
    running: Vec<String>,
    failed: Vec<(&'a Watched, &'a str)>,
}

impl View<'_> {
    /// Every adapter has failed (and there is at least one).
    fn all_failed(&self) -> bool {
        self.started && self.running.is_empty() && !self.failed.is_empty()
    }
}

/// `states[i]` is `adapters[i]`'s, `None` until it reports.
fn assess<'a>(adapters: &'a [Watched], states: &'a [Option<ComponentState>]) -> View<'a> {
    let mut view = View {
        started: true,
        running: Vec::new(),
        failed: Vec::new(),
    };
    for (adapter, state) in adapters.iter().zip(states) {
        match state {
            None | Some(ComponentState::Connecting) => view.started = false,
            Some(ComponentState::Failed { reason }) => view.failed.push((adapter, reason)),
            Some(ComponentState::Degraded { reason }) => {
                view.running
                    .push(format!("{} (degraded: {reason})", adapter.description));
            }
            Some(ComponentState::Retrying { reason, .. }) => {
                view.running
                    .push(format!("{} (retrying: {reason})", adapter.description));
            }
            Some(ComponentState::Paused { reason, .. }) => {
                view.running
                    .push(format!("{} (paused: {reason})", adapter.description));
            }
            // Ready: another gateway sharing the database receives for now.
            Some(ComponentState::Standby { holder }) => {
                view.running.push(format!(
                    "{} (standby: {holder} receives)",
                    adapter.description
                ));
            }
            Some(ComponentState::Running | ComponentState::Stopped) => {
                view.running.push(adapter.description.clone());
            }
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapters() -> Vec<Watched> {
        ["chat_a", "chat_b"]
            .into_iter()
            .map(|id| Watched {
                id: PlatformId::new(id),
                description: format!("{id} adapter"),
            })
            .collect()
    }

    fn failed(reason: &str) -> Option<ComponentState> {
        Some(ComponentState::Failed {
            reason: reason.into(),
        })
    }

    #[test]
    fn ready_waits_for_every_adapter_to_leave_starting() {
        let a = adapters();
        let running = Some(ComponentState::Running);
        for states in [
            [None, None],
            [running.clone(), None],
            [running.clone(), Some(ComponentState::Connecting)],
        ] {
            let view = assess(&a, &states);
            assert!(!view.started && !view.all_failed(), "{states:?}");
        }
        let degraded = Some(ComponentState::Degraded {
            reason: "retrying".into(),
        });
        let states = [running, degraded];
        let view = assess(&a, &states);
        assert!(view.started);
        assert_eq!(
            view.running,
            ["chat_a adapter", "chat_b adapter (degraded: retrying)"]
        );
        assert!(view.failed.is_empty());
    }

    #[test]
    fn a_failed_adapter_is_reported_and_left_out_of_the_ready_line() {
        let a = adapters();
        let states = [Some(ComponentState::Running), failed("token refused")];
        let view = assess(&a, &states);
        assert!(view.started && !view.all_failed());
        assert_eq!(view.running, ["chat_a adapter"]);
        assert_eq!(view.failed.len(), 1);
        assert_eq!(view.failed[0].0.id.as_str(), "chat_b");
        assert_eq!(view.failed[0].1, "token refused");
    }

    #[test]
    fn when_every_adapter_failed_none_is_left() {
        let a = adapters();
        let states = [failed("port"), failed("token")];
        let view = assess(&a, &states);
        assert!(view.all_failed() && view.running.is_empty());
        let states = [failed("port"), None];
        let view = assess(&a, &states);
        assert!(!view.all_failed(), "one may still start");
    }
}
