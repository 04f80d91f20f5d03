//! [`Clock`]: wall-clock time for stored timestamps and calendar rules
//! (daily resets). Timers use tokio's clock; a gateway under test uses
//! [`Clock::following_tokio`], whose wall time advances with tokio's
//! (paused) clock, so calendar rules are tested with paused time too.

use hermod_model::SessionId;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub enum Clock {
    /// The system's wall clock.
    System,
    /// Wall time that starts at a given instant and advances with tokio's clock.
    FollowingTokio { start_ms: i64, start: Instant },
}

impl Clock {
    /// A clock that reads `start_ms` now and advances with tokio's clock.
    pub fn following_tokio(start_ms: i64) -> Self {
        Clock::FollowingTokio {
            start_ms,
            start: Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => now_ms(),
            Clock::FollowingTokio { start_ms, start } => {
                let elapsed = i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX);
                start_ms.saturating_add(elapsed)
            }
        }
    }

    /// A fresh session id stamped with this clock's time.
    pub fn new_session_id(&self) -> SessionId {
        session_id_at(self.now_ms())
    }
}

/// A duration in milliseconds, for stored times (saturating).
pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A fresh gateway session id, `YYYYmmdd_HHMMSS_<8 hex>` in UTC.
pub fn new_session_id() -> SessionId {
    session_id_at(now_ms())
}

fn session_id_at(ms: i64) -> SessionId {
    let stamp = jiff::Timestamp::from_millisecond(ms)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .strftime("%Y%m%d_%H%M%S")
        .to_string();
    let mut bytes = [0u8; 4];
    // The OS RNG failing is not recoverable in any useful way; fall back to
    // the clock's nanoseconds so ids stay unique enough to make progress.
    let random = match getrandom::fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes),
        Err(_) => jiff::Timestamp::now().subsec_nanosecond().unsigned_abs(),
    };
    SessionId::from_parts(&stamp, random)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn session_ids_have_the_gateway_format_and_differ() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        let s = a.as_str();
        assert_eq!(s.len(), "20261121_045332_ed0abc54".len());
        assert_eq!(&s[8..9], "_");
        assert!(SessionId::parse(s).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn following_clock_moves_with_tokio_time() {
        let clock = Clock::following_tokio(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.now_ms(), 91_000);
        assert!(
            clock
                .new_session_id()
                .as_str()
                .starts_with("19700101_000131_")
        );
    }
}
