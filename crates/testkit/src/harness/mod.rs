//! The harness every platform's end-to-end tests run a gateway in.
//!
//! - [`TestHome`]: a temporary `HERMOD_HOME` with a SQLite store whose
//!   operations can be made to fail ([`FlakyStore`](crate::FlakyStore)),
//!   which outlives the gateways started on it, so a test can stop one
//!   gateway and start another on the same state.
//! - [`Launch`]: a gateway around an adapter, with a given agent,
//!   [`GatewayConfig`] and streaming settings, either started
//!   ([`Running`]) or only built, to call the adapter's `run` directly
//!   with a context whose router takes submissions ([`Direct`]).
//! - [`World`]: a platform's fake beside a home. A platform describes
//!   itself once, through [`PlatformUnderTest`] (its fake, its
//!   configuration pointing at that fake, its adapter); its tests then
//!   keep only what speaks its protocol.
//! - [`within`] and [`within_for`]: bounded waits; waits for a
//!   component's state ([`Running::connected`], [`Running::failed`]);
//!   outbound messages and the predicates that find a reply finished.
//!
//! Timing: every wait is woken by a change (the gateway's health, the
//! fakes' state) or, where nothing announces the change (the store),
//! looks again after a short pause; each is bounded by [`PATIENCE`], which
//! only turns a hang into a readable failure. Nothing here waits a fixed
//! time for something to happen.

mod home;
mod messages;
mod running;
mod world;

pub use home::{Launch, TestHome};
pub use messages::{edit, finished, message_ref, outbound, target, texts};
pub use running::{Direct, Running, wait_for_state};
pub use world::{PlatformUnderTest, World};

use hermod_core::GatewayConfig;
use std::future::Future;
use std::time::Duration;

/// Longest any single wait may take before the test fails: far above what
/// a working gateway needs, on any machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
///
/// # Panics
/// When `future` is not ready within [`PATIENCE`], naming `what`.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_for(PATIENCE, what, future).await
}

/// Awaits `future`, failing the test if it takes longer than `patience`
/// (tokio time: with paused time, backoffs of minutes pass at once).
///
/// # Panics
/// When `future` is not ready within `patience`, naming `what`.
pub async fn within_for<T>(patience: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(patience, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {patience:?} waiting for {what}"),
    }
}

/// A gateway anyone may talk to (`allow_all_users`), otherwise default.
pub fn allow_all() -> GatewayConfig {
    GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    }
}

#[cfg(test)]
mod tests;
