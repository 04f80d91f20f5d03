//! What gateways sharing one database record about each other: named
//! [`Lease`]s (who works on a session, who runs a platform's single
//! receiver, who delivers an outbox entry) and [`Node`]s (each gateway
//! process and when it was last heard from).
//!
//! Times are the callers' clocks (Unix milliseconds), like everywhere in
//! the store: gateways sharing a database must keep their clocks in step
//! (NTP), and lease lifetimes are many seconds so ordinary skew does not
//! matter.

use serde::{Deserialize, Serialize};

/// A named lease, held by one owner (a [`Node`] id) until it runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    pub owner: String,
    /// When the current owner took it.
    pub acquired_at_ms: i64,
    /// When it runs out unless renewed; from then on anyone may take it.
    pub until_ms: i64,
}

/// A gateway process as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Unique per process (host, process id and a random part).
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// hermod's version.
    pub version: String,
    pub started_at_ms: i64,
    /// The last heartbeat.
    pub seen_at_ms: i64,
    /// What the node says about itself (its platforms and their state), as
    /// JSON the gateway writes and reads; the store only keeps it.
    pub info_json: String,
}
