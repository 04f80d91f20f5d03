//! [`RateLimit`]: at most N requests per route in any 60 seconds (Hermes'
//! `rate_limit`, 30 by default), counted only for requests whose
//! signature passed, on tokio's clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The window requests are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The requests each route took within the last [`WINDOW`].
#[derive(Debug)]
pub struct RateLimit {
    per_window: usize,
    taken: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimit {
    pub fn new(per_window: u32) -> Self {
        Self {
            per_window: usize::try_from(per_window).unwrap_or(usize::MAX).max(1),
            taken: Mutex::default(),
        }
    }

    /// Counts a request to `route` now; false when the route already took
    /// its share of the window (the request is not counted then).
    pub fn admit(&self, route: &str) -> bool {
        let now = Instant::now();
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let times = taken.entry(route.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.per_window {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_route_takes_its_share_per_minute_and_routes_are_counted_apart() {
        let limit = RateLimit::new(3);
        for _ in 0..3 {
            assert!(limit.admit("a"));
        }
        assert!(!limit.admit("a"));
        assert!(limit.admit("b"));
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(!limit.admit("a"));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(limit.admit("a"));
        assert!(limit.admit("a"));
        assert!(limit.admit("a"));
        assert!(!limit.admit("a"));
    }
}
