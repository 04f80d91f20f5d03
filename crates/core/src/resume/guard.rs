//! The restart-loop guard: a gateway started [`LOOP_STARTS`] times within
//! [`LOOP_WINDOW`] is restarting in a loop (a supervisor reviving a process
//! that dies, perhaps on the very work it takes up), so it does not take up
//! unfinished work from earlier runs until a start outside the loop.
//!
//! The start times are kept in the store's settings ([`STARTS_SETTING`]),
//! as Unix milliseconds.

use std::time::Duration;

/// Starts within [`LOOP_WINDOW`] that make a loop.
pub const LOOP_STARTS: usize = 3;
/// The window [`LOOP_STARTS`] are counted in.
pub const LOOP_WINDOW: Duration = Duration::from_secs(60);
/// The setting holding the recent start times (JSON list of Unix ms).
pub(crate) const STARTS_SETTING: &str = "gateway.recent_starts";

/// The recent starts of a gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartLog {
    starts: Vec<i64>,
}

/// A restart loop was detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartLoop {
    /// Starts within the window, this one included.
    pub starts: usize,
    pub window: Duration,
}

impl std::fmt::Display for RestartLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the gateway started {} times within {} s, so unfinished work from earlier runs is not \
             taken up now; find why it stops (the log of the earlier runs), then restart it once \
             it runs steadily",
            self.starts,
            self.window.as_secs()
        )
    }
}

impl StartLog {
    /// Reads the stored list; anything unreadable counts as no starts.
    pub fn parse(json: &str) -> Self {
        Self {
            starts: serde_json::from_str(json).unwrap_or_default(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.starts).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Records a start at `now_ms`, forgetting starts outside the window
    /// (and any in the future: a clock set back), and says whether the
    /// gateway is restarting in a loop.
    pub fn record(&mut self, now_ms: i64) -> Option<RestartLoop> {
        let window = i64::try_from(LOOP_WINDOW.as_millis()).unwrap_or(i64::MAX);
        self.starts
            .retain(|&at| at <= now_ms && now_ms - at < window);
        self.starts.push(now_ms);
        (self.starts.len() >= LOOP_STARTS).then_some(RestartLoop {
            starts: self.starts.len(),
            window: LOOP_WINDOW,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn three_starts_within_a_minute_are_a_loop() {
        let mut log = StartLog::default();
        assert_eq!(log.record(T0), None);
        assert_eq!(log.record(T0 + 10_000), None);
        let found = log.record(T0 + 59_999).expect("a loop");
        assert_eq!(found.starts, 3);
        assert!(found.to_string().contains("started 3 times within 60 s"));
    }

    #[test]
    fn starts_spread_over_more_than_a_minute_are_not() {
        let mut log = StartLog::default();
        assert_eq!(log.record(T0), None);
        assert_eq!(log.record(T0 + 30_000), None);
        // The first start is 60 s old now: out of the window.
        assert_eq!(log.record(T0 + 60_000), None);
        assert_eq!(log.record(T0 + 200_000), None);
    }

    #[test]
    fn the_log_survives_a_round_trip_and_forgets_old_starts() {
        let mut log = StartLog::default();
        log.record(T0);
        log.record(T0 + 1_000);
        let mut again = StartLog::parse(&log.to_json());
        assert_eq!(again, log);
        assert!(again.record(T0 + 2_000).is_some());
        // A quiet minute later the loop is over.
        assert_eq!(again.record(T0 + 70_000), None);
        assert_eq!(again.to_json(), format!("[{}]", T0 + 70_000));
    }

    #[test]
    fn an_unreadable_log_and_a_clock_set_back_count_as_no_starts() {
        let mut log = StartLog::parse("not json");
        assert_eq!(log, StartLog::default());
        log.record(T0 + 50_000);
        log.record(T0 + 40_000);
        // Starts "in the future" of a clock set back are forgotten.
        assert_eq!(log.record(T0), None);
    }
}
