//! [`Running`], a gateway started around an adapter, and [`Direct`], an
//! adapter whose `run` a test calls itself; both tell the adapter's state
//! as the gateway's [`Health`] holds it.

use super::within;
use hermod_core::{Adapter, AdapterContext, AdapterError, ComponentState, Gateway, Health};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A gateway running in a task, with the adapter under test; stopped when
/// dropped. Made by [`Launch::start`](super::Launch::start).
pub struct Running<A> {
    /// The adapter under test, for calling its own methods (a clone of the
    /// one the gateway runs).
    pub adapter: A,
    /// The gateway's view of every component.
    pub health: Health,
    /// The adapter's name in [`Running::health`].
    component: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl<A> std::fmt::Debug for Running<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> Running<A> {
    /// Runs `gateway`, whose adapters include `adapter`, in a task.
    pub(super) fn spawn(gateway: Gateway, adapter: A) -> Self {
        let health = gateway.health().clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway.run(shutdown.clone()));
        Self {
            component: adapter.id().to_string(),
            adapter,
            health,
            shutdown,
            task: Some(task),
        }
    }
}

impl<A> Running<A> {
    /// Stops the gateway and waits until it has shut down.
    ///
    /// # Panics
    /// When the gateway does not stop within [`PATIENCE`](super::PATIENCE)
    /// or its task panicked.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            within("the gateway to stop", task)
                .await
                .expect("the gateway's task ends without panicking");
        }
    }

    /// The adapter's state now, if it has reported one.
    pub fn state(&self) -> Option<ComponentState> {
        state_of(&self.health, &self.component)
    }

    /// Waits until the adapter is reported running (connected).
    ///
    /// # Panics
    /// When that does not happen within [`PATIENCE`](super::PATIENCE).
    pub async fn connected(&self) {
        let what = format!("{} to connect", self.component);
        wait_for_state(&self.health, &self.component, &what, |state| {
            matches!(state, ComponentState::Running).then_some(())
        })
        .await;
    }

    /// Waits until the adapter is marked failed; returns the reason.
    ///
    /// # Panics
    /// When that does not happen within [`PATIENCE`](super::PATIENCE).
    pub async fn failed(&self) -> String {
        let what = format!("{} to fail", self.component);
        wait_for_state(&self.health, &self.component, &what, |state| match state {
            ComponentState::Failed { reason } => Some(reason.clone()),
            _ => None,
        })
        .await
    }

    /// Why the adapter is reported degraded.
    ///
    /// # Panics
    /// When it is not degraded.
    pub fn degraded_reason(&self) -> String {
        degraded_reason(&self.health, &self.component)
    }
}

impl<A> Drop for Running<A> {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An adapter and the context to call its `run` with, from a gateway that
/// is never run (its router takes submissions). Made by
/// [`Launch::direct`](super::Launch::direct).
pub struct Direct<A> {
    /// The adapter under test (a clone of the one the gateway knows).
    pub adapter: A,
    /// The context to run it with; cancel `shutdown` to stop it.
    pub ctx: AdapterContext,
    /// The adapter's name in the gateway's health.
    component: String,
    _gateway: Gateway,
}

impl<A> std::fmt::Debug for Direct<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl<A: Adapter + Clone> Direct<A> {
    pub(super) fn new(adapter: A, ctx: AdapterContext, gateway: Gateway) -> Self {
        Self {
            component: adapter.id().to_string(),
            adapter,
            ctx,
            _gateway: gateway,
        }
    }

    /// Runs the adapter in a task; cancel `ctx.shutdown` to stop it.
    pub fn spawn(&self) -> JoinHandle<Result<(), AdapterError>> {
        let adapter = self.adapter.clone();
        let ctx = self.ctx.clone();
        tokio::spawn(async move { adapter.run(ctx).await })
    }
}

impl<A> Direct<A> {
    /// Where the adapter reports its state.
    pub fn health(&self) -> &Health {
        self.ctx.inbound.health()
    }

    /// Why the adapter is reported degraded.
    ///
    /// # Panics
    /// When it is not degraded.
    pub fn degraded_reason(&self) -> String {
        degraded_reason(self.health(), &self.component)
    }
}

fn state_of(health: &Health, component: &str) -> Option<ComponentState> {
    health.get(component).map(|status| status.state)
}

fn degraded_reason(health: &Health, component: &str) -> String {
    match state_of(health, component) {
        Some(ComponentState::Degraded { reason }) => reason,
        other => panic!("expected {component} to be degraded, got {other:?}"),
    }
}

/// Waits until `pick` finds what it looks for in `component`'s state, woken
/// by every change of `health`; returns what it found.
///
/// # Panics
/// When `pick` finds nothing within [`PATIENCE`](super::PATIENCE), naming
/// `what`.
pub async fn wait_for_state<T>(
    health: &Health,
    component: &str,
    what: &str,
    mut pick: impl FnMut(&ComponentState) -> Option<T>,
) -> T {
    // Subscribed before looking, so no change slips in between.
    let mut changes = health.subscribe();
    within(what, async {
        loop {
            if let Some(found) = state_of(health, component).as_ref().and_then(&mut pick) {
                return found;
            }
            changes
                .changed()
                .await
                .expect("the health outlives its watchers");
        }
    })
    .await
}
