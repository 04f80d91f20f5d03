//! The cluster as operators see it (`/platform list`, `hermod gateway
//! status`): each gateway sharing the database, when it was last heard
//! from, which single receivers it runs and how many sessions it works on.

use hermod_store::{Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

/// A gateway is shown as gone when silent this long (several heartbeats).
const GONE_AFTER_MS: i64 = 15_000;

/// One gateway of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayView {
    /// The node id (`<name>/<pid>/<random>`).
    pub id: String,
    /// Its stable name.
    pub name: String,
    pub pid: u32,
    pub version: String,
    pub started_at_ms: i64,
    pub seen_at_ms: i64,
    /// Heard from within the last few heartbeats.
    pub alive: bool,
    /// The platforms whose single receiver it runs.
    pub receives: Vec<String>,
    /// Sessions it is working on now.
    pub sessions: usize,
    /// Each platform's state on it, in a word (`connected`, `standby`, ...).
    pub platforms: BTreeMap<String, String>,
}

impl GatewayView {
    /// What it does now, in words: `receives <platform>; 3 sessions now`.
    pub fn summary(&self) -> String {
        let receives = if self.receives.is_empty() {
            "no single receiver".to_owned()
        } else {
            format!("receives {}", self.receives.join(", "))
        };
        let plural = if self.sessions == 1 { "" } else { "s" };
        format!("{receives}; {} session{plural} now", self.sessions)
    }
}

/// Every gateway recorded in the store, by name then id.
pub async fn cluster_view(store: &dyn Store, now_ms: i64) -> Result<Vec<GatewayView>, StoreError> {
    let nodes = store.nodes().await?;
    let receivers = store.leases("receiver:", now_ms).await?;
    let sessions = store.leases("session:", now_ms).await?;
    let mut views: Vec<GatewayView> = nodes
        .into_iter()
        .map(|node| {
            let receives = receivers
                .iter()
                .filter(|l| l.owner == node.id)
                .filter_map(|l| l.name.strip_prefix("receiver:"))
                .map(str::to_owned)
                .collect();
            let sessions = sessions.iter().filter(|l| l.owner == node.id).count();
            GatewayView {
                alive: now_ms - node.seen_at_ms < GONE_AFTER_MS,
                platforms: platform_states(&node.info_json),
                id: node.id,
                name: node.host,
                pid: node.pid,
                version: node.version,
                started_at_ms: node.started_at_ms,
                seen_at_ms: node.seen_at_ms,
                receives,
                sessions,
            }
        })
        .collect();
    views.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(views)
}

/// The platform states a node reported (its health report, as
/// `crate::Health::report` serializes it), in a word each.
fn platform_states(info_json: &str) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Report {
        components: BTreeMap<String, serde_json::Value>,
    }
    let Ok(report) = serde_json::from_str::<Report>(info_json) else {
        return BTreeMap::new();
    };
    report
        .components
        .into_iter()
        .filter_map(|(name, status)| {
            let state = status.get("state")?.as_str()?.to_owned();
            Some((name, state))
        })
        .collect()
}

/// Lines describing the cluster for people, the first naming `this` node.
pub(crate) fn describe(views: &[GatewayView], this: &str, now_ms: i64) -> Vec<String> {
    let mut lines = vec![format!(
        "Gateways sharing the database: {}",
        views.iter().filter(|v| v.alive).count()
    )];
    for view in views {
        let mut line = format!("• {}", view.name);
        if view.id == this {
            line.push_str(" (this one)");
        }
        if !view.alive {
            let secs = (now_ms - view.seen_at_ms).max(0) / 1000;
            line.push_str(&format!(": silent for {secs} s"));
            lines.push(line);
            continue;
        }
        line.push_str(&format!(": {}", view.summary()));
        lines.push(line);
    }
    lines
}
