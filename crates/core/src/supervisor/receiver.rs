//! Receivers that must be single in a cluster (see `crate::cluster`): an
//! adapter declaring [`Receiving::Single`] runs on the one gateway holding
//! its `receiver:<platform>` lease. The others stand by, showing who
//! receives, and try for the lease every second, so one takes over within
//! about the lease's lifetime after the holder dies. A holder that finds
//! its lease gone (its heartbeat failed long enough for another to take
//! over) stops receiving at once.
//!
//! An operator's pause (`/platform pause`, a setting every gateway reads)
//! holds for the whole cluster: the holder gives the lease up as it
//! pauses, and a paused platform's lease is not taken by the others until
//! it is resumed.

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

/// How an attempt at the lease went.
enum Taken {
    Yes,
    /// Held elsewhere: what the health shows now (`None`: unchanged).
    No {
        shown: Option<String>,
    },
}

/// An adapter's receiver lease on a gateway of a cluster.
pub(super) struct ReceiverLease {
    cluster: Arc<Cluster>,
    name: String,
    /// The operator's pause setting of the platform.
    paused_key: String,
}

impl ReceiverLease {
    /// The lease `adapter` needs here: none alone on a database, or for
    /// an adapter that receives on every gateway.
    pub(super) fn of(adapter: &dyn Adapter, inbound: &Inbound) -> Option<Self> {
        let cluster = inbound.cluster()?;
        (adapter.receiving() == Receiving::Single).then(|| Self {
            cluster,
            name: receiver_lease(&adapter.id()),
            paused_key: crate::supervisor::paused_key(&adapter.id()),
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
            let now_shown = match self.cluster.setting(&self.paused_key).await {
                // Paused on another gateway: nobody here takes it either.
                Some(reason) => {
                    if shown.as_deref() != Some(reason.as_str()) {
                        info!(platform = component, %reason, "paused by an operator on another gateway; not receiving until resumed");
                        health.set(
                            component,
                            ComponentState::Paused {
                                reason: reason.clone(),
                                until_ms: None,
                                manual: true,
                            },
                        );
                    }
                    Some(reason)
                }
                None => match self.try_take(health, component, shown.as_deref()).await {
                    Taken::Yes => return Wake::Due,
                    Taken::No { shown } => shown,
                },
            };
            if now_shown.is_some() {
                shown = now_shown;
            }
            match wait(control, Some(Instant::now() + TRY_EVERY), stopping).await {
                Wake::Due => {}
                other => return other,
            }
        }
    }

    /// One attempt at the lease; when another gateway holds it, shows that
    /// (unless `shown` already says so) and returns what is shown.
    async fn try_take(&self, health: &Health, component: &str, shown: Option<&str>) -> Taken {
        match self.cluster.try_take(&self.name).await {
            Ok(true) => {
                if shown.is_some() {
                    info!(
                        platform = component,
                        "taking over receiving from a gateway that stopped"
                    );
                }
                Taken::Yes
            }
            Ok(false) => {
                let holder = self
                    .cluster
                    .held_elsewhere(&self.name)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "another gateway".to_owned());
                if shown != Some(holder.as_str()) {
                    info!(platform = component, %holder, "another gateway receives; standing by");
                    health.set(
                        component,
                        ComponentState::Standby {
                            holder: holder.clone(),
                        },
                    );
                }
                Taken::No {
                    shown: Some(holder),
                }
            }
            Err(e) => {
                warn!(platform = component, error = %e, "cannot take the receiver lease; trying again");
                Taken::No { shown: None }
            }
        }
    }

    /// Returns once this gateway no longer holds the lease (another took
    /// it), or is about to lose it: when its renewals have been failing
    /// long enough that less than two heartbeats of it are left, it stops
    /// first, so two gateways never receive at once. A lease it cannot
    /// read at all for as long as a lease lasts counts as lost too.
    pub(super) async fn lost(&self) {
        let every = self.cluster.beat_every();
        let margin = every * 2;
        // When the lease runs out at the latest, as last read: a gateway
        // that can no longer read it stops by then all the same.
        let mut runs_out = Instant::now() + self.cluster.lease_ttl();
        loop {
            tokio::time::sleep(every / 2).await;
            match self.cluster.lease_left(&self.name).await {
                Ok(Some(left)) if left > margin => runs_out = Instant::now() + left,
                Ok(Some(_)) => {
                    warn!(lease = %self.name, "the receiver lease is running out (renewals fail); stopping receiving before another gateway takes over");
                    return;
                }
                Ok(None) => return,
                Err(e) => {
                    if Instant::now() + margin >= runs_out {
                        warn!(lease = %self.name, error = %e, "cannot confirm the receiver lease; stopping receiving before it runs out");
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
