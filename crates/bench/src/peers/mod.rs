//! Idle peers: the least of each protocol that keeps an adapter connected
//! and idle, for platforms whose tests run against real servers (Matrix,
//! IRC, IMAP, Home Assistant) rather than a fake in the testkit. The
//! memory benchmark enables every chat platform at once; starting
//! Synapse, Dovecot, ngircd and Home Assistant for it would cost a minute
//! and a gigabyte, and measure nothing more about hermod.
//!
//! Each answers what its adapter says while connecting and while idle,
//! and counts the connections that got that far, so the benchmark can
//! tell an adapter that connected from one that kept retrying.

mod hass;
mod imap;
mod irc;
mod matrix;

pub use hass::IdleHass;
pub use imap::IdleImap;
pub use irc::IdleIrc;
pub use matrix::IdleMatrix;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many clients got through a peer's handshake.
#[derive(Debug, Clone, Default)]
pub struct Connected(Arc<AtomicUsize>);

impl Connected {
    fn mark(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether any client got through.
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// A listener on a free loopback port.
async fn listen() -> anyhow::Result<(tokio::net::TcpListener, u16)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}
