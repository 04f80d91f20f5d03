//! Several gateways on one database: each process is a node, and the
//! work is divided through leases in the store (see `hermod_store::Lease`).
//!
//! - **Sessions**: a session's worker holds `session:<key>` while it has
//!   something to do (a turn running or messages waiting) and gives it up
//!   as soon as it is idle; a worker elsewhere waits for it. So a session
//!   is worked on by one gateway at a time and its messages stay in order,
//!   and a dead gateway's sessions are free again once its leases run out.
//! - **Deliveries**: an outbox entry is delivered under `outbox:<id>`, so
//!   a reply is sent by one gateway even when several sweep the outbox.
//! - **Receivers** that must be single (a long poll, one socket per token)
//!   run under `receiver:<platform>` on one gateway; the others stand by
//!   and take over when its lease runs out.
//!
//! Leases are renewed together by the node's heartbeat (every
//! [`ClusterConfig::beat_every`]) and run out [`ClusterConfig::lease_ttl`]
//! after the last renewal, so a killed gateway's work moves within about
//! that long. The heartbeat also records the node (host, process, what it
//! runs) for `hermod gateway status`. A gateway stopping cleanly gives its
//! leases up at once.

mod view;

pub(crate) use view::describe;
pub use view::{GatewayView, cluster_view};

use crate::clock::{Clock, millis as ms};
use hermod_model::{PlatformId, SessionKey};
use hermod_store::{Lease, Node, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How gateways sharing a database work together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// A stable name for this gateway (the host name unless set): what
    /// operators see, and what per-gateway records (restart-loop guard,
    /// turns a drain cut short) are kept under.
    pub node_name: String,
    /// How long a lease lasts after its last renewal.
    pub lease_ttl: Duration,
    /// How often the node renews its leases and reports itself.
    pub beat_every: Duration,
}

impl ClusterConfig {
    /// The defaults: leases last 10 s, renewed every 2 s.
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            lease_ttl: Duration::from_secs(10),
            beat_every: Duration::from_secs(2),
        }
    }
}

/// Nodes silent this long are forgotten.
const NODE_FORGOTTEN_AFTER: Duration = Duration::from_secs(3600);
/// How often run-out leases and silent nodes are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// First and longest wait between attempts to take a lease someone holds.
const FIRST_WAIT: Duration = Duration::from_millis(50);
const LONGEST_WAIT: Duration = Duration::from_secs(1);

/// This gateway as a node of the cluster.
pub(crate) struct Cluster {
    config: ClusterConfig,
    /// Unique per process: `<name>/<pid>/<random>`.
    id: String,
    store: Arc<dyn Store>,
    clock: Clock,
    started_at_ms: i64,
    /// Cancelled when the gateway stops taking work: waits for leases end.
    stopping: CancellationToken,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The lease a session's worker holds while it works.
pub(crate) fn session_lease(key: &SessionKey) -> String {
    format!("session:{key}")
}

/// The lease an outbox entry is delivered under.
pub(crate) fn outbox_lease(id: i64) -> String {
    format!("outbox:{id}")
}

/// The lease a platform's single receiver runs under.
pub(crate) fn receiver_lease(platform: &PlatformId) -> String {
    format!("receiver:{platform}")
}

impl Cluster {
    pub(crate) fn new(config: ClusterConfig, store: Arc<dyn Store>, clock: Clock) -> Self {
        let mut random = [0u8; 4];
        let suffix = match getrandom::fill(&mut random) {
            Ok(()) => u32::from_be_bytes(random),
            // Unique enough: the process id and start time differ anyway.
            Err(_) => u32::try_from(clock.now_ms() & 0xffff_ffff).unwrap_or_default(),
        };
        let id = format!("{}/{}/{suffix:08x}", config.node_name, std::process::id());
        Self {
            started_at_ms: clock.now_ms(),
            config,
            id,
            store,
            clock,
            stopping: CancellationToken::new(),
        }
    }

    /// This process's node id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The gateway's stable name.
    pub(crate) fn name(&self) -> &str {
        &self.config.node_name
    }

    /// How often the node renews its leases.
    pub(crate) fn beat_every(&self) -> Duration {
        self.config.beat_every
    }

    /// How long a lease lasts after its last renewal.
    pub(crate) fn lease_ttl(&self) -> Duration {
        self.config.lease_ttl
    }

    /// Stops waits for leases (the gateway is shutting down).
    pub(crate) fn stop_waiting(&self) {
        self.stopping.cancel();
    }

    fn until(&self, now: i64) -> i64 {
        now.saturating_add(ms(self.config.lease_ttl))
    }

    /// Takes (or extends) the lease `name` if nobody else holds it.
    pub(crate) async fn try_take(&self, name: &str) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        self.store
            .lease_acquire(name, &self.id, self.until(now), now)
            .await
    }

    /// Takes the lease `name`, waiting while another node holds it (and
    /// while storage fails); false when the gateway stopped first.
    pub(crate) async fn take(&self, name: &str) -> bool {
        let mut wait = FIRST_WAIT;
        let mut logged = false;
        loop {
            match self.try_take(name).await {
                Ok(true) => return true,
                Ok(false) => {
                    if !logged {
                        debug!(lease = name, "waiting for another gateway to finish");
                        logged = true;
                    }
                }
                Err(e) => warn!(lease = name, error = %e, "cannot take a lease; trying again"),
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stopping.cancelled() => return false,
            }
            wait = (wait * 2).min(LONGEST_WAIT);
        }
    }

    /// Gives the lease `name` up (a failure only lets it run out).
    pub(crate) async fn release(&self, name: &str) {
        if let Err(e) = self.store.lease_release(name, &self.id).await {
            warn!(lease = name, error = %e, "cannot give a lease up; it runs out on its own");
        }
    }

    /// A setting all gateways share (such as an operator's pause of a
    /// platform); `None` when unset or unreadable.
    pub(crate) async fn setting(&self, key: &str) -> Option<String> {
        self.store.setting(key).await.ok().flatten()
    }

    /// The lease `name` if someone holds it now, with how long it has left.
    async fn live(&self, name: &str) -> Result<Option<(Lease, Duration)>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self.store.lease(name).await?.and_then(|l| {
            let left = u64::try_from(l.until_ms - now)
                .ok()
                .filter(|&left| left > 0)?;
            Some((l, Duration::from_millis(left)))
        }))
    }

    /// How long this node's lease `name` has left; `None` when it does
    /// not hold it (any more).
    pub(crate) async fn lease_left(&self, name: &str) -> Result<Option<Duration>, StoreError> {
        let live = self.live(name).await?;
        Ok(live
            .filter(|(l, _)| l.owner == self.id)
            .map(|(_, left)| left))
    }

    /// The holder of the lease `name` when another node holds it now.
    pub(crate) async fn held_elsewhere(&self, name: &str) -> Result<Option<String>, StoreError> {
        let live = self.live(name).await?;
        Ok(live
            .filter(|(l, _)| l.owner != self.id)
            .map(|(l, _)| l.owner))
    }

    /// The heartbeat, until `stop`: records the node (with `info()`, what
    /// it says about itself), renews its leases, and now and then purges
    /// run-out leases and silent nodes. On the way out it gives up its
    /// leases and removes its node, so others take over at once.
    pub(crate) async fn run(
        self: Arc<Self>,
        stop: CancellationToken,
        info: impl Fn() -> String + Send,
    ) {
        info!(node = %self.id, "joined the cluster");
        let mut next_purge = tokio::time::Instant::now();
        let mut failing = false;
        loop {
            match self.beat(&info()).await {
                Ok(()) if failing => {
                    info!(node = %self.id, "heartbeat works again");
                    failing = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        warn!(node = %self.id, error = %e, "heartbeat failed: this gateway's leases run out unless it recovers");
                    }
                    failing = true;
                }
            }
            if tokio::time::Instant::now() >= next_purge {
                next_purge += PURGE_EVERY;
                self.purge().await;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.beat_every) => {}
                () = stop.cancelled() => break,
            }
        }
        self.leave().await;
    }

    async fn beat(&self, info: &str) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let node = Node {
            id: self.id.clone(),
            host: self.config.node_name.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at_ms: self.started_at_ms,
            seen_at_ms: now,
            info_json: info.to_owned(),
        };
        self.store.node_beat(&node).await?;
        self.store
            .lease_renew_all(&self.id, self.until(now))
            .await?;
        Ok(())
    }

    async fn purge(&self) {
        let now = self.clock.now_ms();
        if let Err(e) = self.store.lease_purge(now).await {
            debug!(error = %e, "purging run-out leases failed");
        }
        let silent = now.saturating_sub(ms(NODE_FORGOTTEN_AFTER));
        if let Err(e) = self.store.node_purge(silent).await {
            debug!(error = %e, "forgetting silent gateways failed");
        }
    }

    /// Gives up every lease and removes the node.
    async fn leave(&self) {
        match self.store.lease_release_all(&self.id).await {
            Ok(n) => info!(node = %self.id, leases = n, "left the cluster"),
            Err(e) => {
                warn!(node = %self.id, error = %e, "cannot give the leases up; they run out on their own")
            }
        }
        if let Err(e) = self.store.node_remove(&self.id).await {
            debug!(error = %e, "cannot remove this node's record");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_store::SqliteStore;

    fn cluster(store: &Arc<dyn Store>, name: &str) -> Arc<Cluster> {
        Arc::new(Cluster::new(
            ClusterConfig::new(name),
            Arc::clone(store),
            Clock::following_tokio(1_000_000),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_waits_for_its_holder_and_moves_when_it_runs_out() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let (a, b) = (cluster(&store, "a"), cluster(&store, "b"));
        assert!(a.take("session:k").await);
        assert!(a.lease_left("session:k").await.expect("read").is_some());
        assert_eq!(
            b.held_elsewhere("session:k")
                .await
                .expect("read")
                .as_deref(),
            Some(a.id())
        );
        // b waits; a gives it up a moment later.
        let waiting = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.take("session:k").await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiting.is_finished(), "held by a");
        a.release("session:k").await;
        assert!(waiting.await.expect("task"));
        assert!(b.lease_left("session:k").await.expect("read").is_some());

        // b stops renewing (killed): a takes over once the lease ran out.
        let started = tokio::time::Instant::now();
        assert!(a.take("session:k").await);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(9) && waited <= Duration::from_secs(12),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_heartbeat_keeps_leases_and_leaving_frees_them() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let (a, b) = (cluster(&store, "a"), cluster(&store, "b"));
        assert!(a.try_take("receiver:chat").await.expect("take"));
        let stop = CancellationToken::new();
        let beat = tokio::spawn(Arc::clone(&a).run(stop.clone(), || "{\"up\":1}".to_owned()));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !b.try_take("receiver:chat").await.expect("take"),
            "renewed for a minute"
        );
        let nodes = store.nodes().await.expect("nodes");
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            (nodes[0].id.as_str(), nodes[0].info_json.as_str()),
            (a.id(), "{\"up\":1}")
        );
        stop.cancel();
        beat.await.expect("heartbeat");
        assert!(
            b.try_take("receiver:chat").await.expect("take"),
            "free once a left"
        );
        assert!(store.nodes().await.expect("nodes").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_ends_when_the_gateway_stops() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let (a, b) = (cluster(&store, "a"), cluster(&store, "b"));
        assert!(a.take("session:k").await);
        let waiting = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.take("session:k").await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.stop_waiting();
        assert!(!waiting.await.expect("task"));
    }
}
