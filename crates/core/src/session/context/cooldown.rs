//! After a summary fails, a session's history is trimmed rather than
//! summarized again for a while (Hermes' compression failure cool-down),
//! so a failing summarizer costs one wasted call per cool-down, not one
//! per turn. Kept in memory on tokio's clock: a restart forgets it, which
//! costs at most one more attempt.

use hermod_model::SessionId;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The sessions whose summaries failed lately, and until when.
#[derive(Debug, Default)]
pub(crate) struct Cooldowns {
    until: Mutex<HashMap<SessionId, Instant>>,
}

impl Cooldowns {
    /// Starts (or restarts) a session's cool-down; forgets ended ones, so
    /// the map holds only sessions that failed within one cool-down.
    pub(crate) fn start(&self, session: &SessionId, length: Duration) {
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until.retain(|_, end| *end > now);
        until.insert(session.clone(), now + length);
    }

    /// How much of the session's cool-down is left, if it is in one.
    pub(crate) fn remaining(&self, session: &SessionId) -> Option<Duration> {
        let until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let end = *until.get(session)?;
        let left = end.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Ends a session's cool-down (a summary made by hand succeeded).
    pub(crate) fn clear(&self, session: &SessionId) {
        self.until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(raw: &str) -> SessionId {
        SessionId::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[tokio::test(start_paused = true)]
    async fn a_cool_down_ends_on_time_and_ended_ones_are_forgotten() {
        let cooldowns = Cooldowns::default();
        let (a, b) = (sid("a"), sid("b"));
        assert_eq!(cooldowns.remaining(&a), None);
        cooldowns.start(&a, Duration::from_secs(600));
        assert_eq!(cooldowns.remaining(&a), Some(Duration::from_secs(600)));
        assert_eq!(cooldowns.remaining(&b), None);

        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(cooldowns.remaining(&a), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(cooldowns.remaining(&a), None, "over at the deadline");

        cooldowns.start(&b, Duration::from_secs(60));
        assert_eq!(cooldowns.len(), 1, "a's ended cool-down was dropped");
        cooldowns.clear(&b);
        assert_eq!(cooldowns.remaining(&b), None);
    }
}
