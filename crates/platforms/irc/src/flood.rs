//! [`Flood`]: the pacing of the lines we send, so the server's flood
//! protection never disconnects us.
//!
//! IRC servers count every line a client sends on its one connection
//! (RFC 1459 8.10: a client may send a burst, then about one line every
//! two seconds), so the limit is per connection, not per chat — the kit's
//! [`Pacer`](hermod_adapter_kit::Pacer) paces calls per chat and window,
//! this paces lines. A token bucket as a GCRA schedule on tokio's clock:
//! `burst` lines go back to back, then one every `interval`. Each caller
//! reserves its slot before it waits, so lines leave in the order they
//! were asked for.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Flood {
    interval: Duration,
    /// How far ahead of now the schedule may run: `burst - 1` intervals.
    slack: Duration,
    /// When the next line would be due if every line kept its interval
    /// (the theoretical arrival time).
    next: Mutex<Option<Instant>>,
}

impl Flood {
    pub fn new(burst: u32, interval: Duration) -> Self {
        Self {
            interval,
            slack: interval * burst.max(1).saturating_sub(1),
            next: Mutex::new(None),
        }
    }

    /// Reserves the next slot; the wait until it (zero within the burst).
    fn reserve(&self, now: Instant, only_if_free: bool) -> Option<Duration> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let due = next.map_or(now, |n| n.max(now));
        let earliest = due.checked_sub(self.slack).unwrap_or(now);
        let wait = earliest.saturating_duration_since(now);
        if only_if_free && !wait.is_zero() {
            return None;
        }
        *next = Some(due + self.interval);
        Some(wait)
    }

    /// Waits for this line's slot.
    pub async fn acquire(&self) {
        if let Some(wait) = self.reserve(Instant::now(), false)
            && !wait.is_zero()
        {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a slot only when one is free now (for courtesy answers such
    /// as CTCP replies, which a flood of requests must not turn into a
    /// flood of ours).
    pub fn try_acquire(&self) -> bool {
        self.reserve(Instant::now(), true).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_line_per_interval() {
        let flood = Flood::new(4, Duration::from_secs(2));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..7 {
            flood.acquire().await;
            at.push(start.elapsed().as_secs());
        }
        assert_eq!(at, [0, 0, 0, 0, 2, 4, 6]);
        assert!(!flood.try_acquire(), "no free slot right after a wait");
        tokio::time::sleep(Duration::from_secs(20)).await;
        for _ in 0..4 {
            assert!(flood.try_acquire(), "the burst refills");
        }
        assert!(!flood.try_acquire());
    }
}
