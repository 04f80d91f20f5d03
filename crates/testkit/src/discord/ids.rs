//! Snowflakes and timestamps, both following the tokio clock so tests on
//! paused time see ids and dates move with it.
//!
//! A snowflake is `(ms since the Discord epoch) << 22 | worker | process |
//! increment` (Reference, "Snowflakes"); the fake keeps them strictly
//! increasing, as ids minted by one process are. Ids are always strings
//! in JSON ("always returned as strings in the HTTP API").

use tokio::time::Instant;

/// The first second of 2015, in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The wall-clock time the fake starts at (Unix milliseconds,
/// 2023-11-14T22:13:20Z); later times add the tokio time elapsed since.
const START_MS: u64 = 1_700_000_000_000;

/// Mints ids and reads the fake's clock.
#[derive(Debug)]
pub(crate) struct Clock {
    started: Instant,
    last_id: u64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            last_id: 0,
        }
    }

    /// Unix milliseconds now.
    pub(crate) fn now_ms(&self) -> u64 {
        START_MS + u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX / 2)
    }

    /// The next snowflake: the current time in its top bits, worker 1 and
    /// process 0, and the increment in the low 12 bits.
    pub(crate) fn snowflake(&mut self) -> u64 {
        let timestamp = (self.now_ms() - DISCORD_EPOCH_MS) << 22;
        let id = (timestamp | (1 << 17)).max(self.last_id + 1);
        self.last_id = id;
        id
    }

    /// ISO8601 with microseconds and an offset, as Discord writes
    /// `timestamp` fields (`2017-07-11T17:27:07.299000+00:00`).
    pub(crate) fn iso_now(&self) -> String {
        iso8601(self.now_ms())
    }
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub(crate) fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        (ms % 1000) * 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A snowflake's creation time in Unix milliseconds.
#[cfg(test)]
fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// A lowercase hex string of `n` pseudo-random digits derived from
/// `seed` (session ids, interaction tokens, CDN signatures): unique per
/// seed, stable across runs, never secret.
pub(crate) fn hex_token(seed: u64, n: usize) -> String {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = String::with_capacity(n);
    while out.len() < n {
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_discords_shape() {
        assert_eq!(
            iso8601(1_700_000_000_000),
            "2023-11-14T22:13:20.000000+00:00"
        );
        assert_eq!(
            iso8601(1_499_794_027_299),
            "2017-07-11T17:27:07.299000+00:00"
        );
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000000+00:00");
    }

    #[tokio::test]
    async fn snowflakes_increase_and_carry_their_time() {
        let mut clock = Clock::new();
        let a = clock.snowflake();
        let b = clock.snowflake();
        assert!(b > a);
        assert_eq!(snowflake_ms(a), clock.now_ms());
        assert_eq!(hex_token(7, 32).len(), 32);
        assert_ne!(hex_token(7, 32), hex_token(8, 32));
    }
}
