//! Receivers that must be single in a cluster (see `crate::cluster`): an
//! adapter declaring [`Receiving::Single`] runs on the one gateway holding
//! its `receiver:<platform>` lease. The others stand by, showing who
//! receives, and try for the lease every second, so one takes over within
//! about the lease's lifetime after the holder dies. A holder that finds
//! its lease gone (its heartbeat failed long enough for another to take
//! over) stops receiving at once.

use super::{Wake, wait};
use crate::adapter::{Adapter, Receiving};
use crate::cluster::{Cluster, receiver_lease};
use crate::health::{ComponentState, Health};
use crate::router::Inbound;
use crate::supervisor::Control;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often a standing-by gateway tries for the lease.
const TRY_EVERY: Duration = Duration::from_secs(1);

/// An adapter's receiver lease on a gateway of a cluster.
pub(super) struct ReceiverLease {
    cluster: Arc<Cluster>,
    name: String,
}

impl ReceiverLease {
    /// The lease `adapter` needs here: none alone on a database, or for
    /// an adapter that receives on every gateway.
    pub(super) fn of(adapter: &dyn Adapter, inbound: &Inbound) -> Option<Self> {
        let cluster = inbound.cluster()?;
        (adapter.receiving() == Receiving::Single).then(|| Self {
            cluster,
            name: receiver_lease(&adapter.id()),
        })
    }

    /// Waits until this gateway holds the lease, showing who receives
    /// meanwhile; returns early for an operator's request or the stop.
    pub(super) async fn stand_by(
        &self,
        health: &Health,
        component: &str,
        control: &mut Control,
        stopping: &CancellationToken,
    ) -> Wake {
        let mut shown: Option<String> = None;
        loop {
            match self.cluster.try_take(&self.name).await {
                Ok(true) => {
                    if shown.is_some() {
                        info!(
                            platform = component,
                            "taking over receiving from a gateway that stopped"
                        );
                    }
                    return Wake::Due;
                }
                Ok(false) => {
                    let holder = self
                        .cluster
                        .held_elsewhere(&self.name)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "another gateway".to_owned());
                    if shown.as_deref() != Some(holder.as_str()) {
                        info!(platform = component, %holder, "another gateway receives; standing by");
                        health.set(
                            component,
                            ComponentState::Standby {
                                holder: holder.clone(),
                            },
                        );
                        shown = Some(holder);
                    }
                }
                Err(e) => {
                    warn!(platform = component, error = %e, "cannot take the receiver lease; trying again")
                }
            }
            match wait(control, Some(Instant::now() + TRY_EVERY), stopping).await {
                Wake::Due => {}
                other => return other,
            }
        }
    }

    /// Returns once this gateway no longer holds the lease: another took
    /// it, or it could not be confirmed for as long as a lease lasts.
    pub(super) async fn lost(&self) {
        let every = self.cluster.beat_every();
        let mut unconfirmed = Duration::ZERO;
        loop {
            tokio::time::sleep(every).await;
            match self.cluster.holds(&self.name).await {
                Ok(true) => unconfirmed = Duration::ZERO,
                Ok(false) => return,
                Err(e) => {
                    unconfirmed += every;
                    if unconfirmed >= self.cluster.lease_ttl() {
                        warn!(lease = %self.name, error = %e, "cannot confirm the receiver lease; stopping receiving");
                        return;
                    }
                }
            }
        }
    }

    pub(super) async fn release(&self) {
        self.cluster.release(&self.name).await;
    }
}
