//! [`Operator`]: what an operator does to a running gateway from outside a
//! chat — the same actions as `/platform` and `hermod pairing`, and the
//! gateway's recent errors and metrics as data — for an admin page (the
//! API server's dashboard). Reached through [`crate::Inbound::operator`].
//!
//! One implementation each: `/platform pause|resume` call
//! [`platforms::pause`] and [`platforms::resume`] too, and pairing goes
//! through [`crate::Pairing`].

mod errors;
mod pairing;
pub(crate) mod platforms;
mod samples;

pub use errors::{ErrorSource, RecentError};
pub use pairing::{PairingAnswer, PendingRequest};
pub use platforms::{PauseOutcome, PlatformRow, ResumeOutcome};
pub use samples::{MetricsSnapshot, Sample};

use crate::router::Shared;
use crate::session::WorkerDeps;
use std::sync::Arc;

/// The gateway's operator controls; cheap to clone.
#[derive(Debug, Clone)]
pub struct Operator {
    shared: Arc<Shared>,
}

impl Operator {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn deps(&self) -> &WorkerDeps {
        self.shared.deps()
    }

    /// The gateway's metrics (what `/metrics` renders).
    pub fn metrics(&self) -> &crate::Metrics {
        &self.deps().metrics
    }
}
