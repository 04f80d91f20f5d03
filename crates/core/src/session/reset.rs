//! Session reset rules: when a routed conversation is replaced by a fresh one.

use crate::config::{ResetMode, ResetPolicy};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Why a session was reset; also the `end_reason` stored for the old session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetReason {
    Idle,
    Daily,
}

impl ResetReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ResetReason::Idle => "idle",
            ResetReason::Daily => "daily",
        }
    }

    /// The one-time notice the user gets in their next reply.
    pub(crate) fn notice(self) -> &'static str {
        match self {
            ResetReason::Idle => "✨ New conversation: the previous one was idle for a while.",
            ResetReason::Daily => "✨ New conversation: conversations start fresh each day.",
        }
    }
}

/// Whether a session last active at `last_ms` must be reset at `now_ms`.
/// Idle is checked first, so `both` reports idle when both apply.
pub(crate) fn due(
    policy: &ResetPolicy,
    last_ms: i64,
    now_ms: i64,
    tz: &TimeZone,
) -> Option<ResetReason> {
    let idle = matches!(policy.mode, ResetMode::Idle | ResetMode::Both);
    let daily = matches!(policy.mode, ResetMode::Daily | ResetMode::Both);
    let idle_ms = i64::try_from(policy.idle_minutes).unwrap_or(i64::MAX / 60_000) * 60_000;
    if idle && now_ms.saturating_sub(last_ms) > idle_ms {
        return Some(ResetReason::Idle);
    }
    if daily && last_ms < last_daily_boundary(policy.at_hour, now_ms, tz)? {
        return Some(ResetReason::Daily);
    }
    None
}

/// The most recent `at_hour:00` local time at or before `now_ms`, in ms.
fn last_daily_boundary(at_hour: u8, now_ms: i64, tz: &TimeZone) -> Option<i64> {
    let now = Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned(tz.clone());
    let today = now
        .date()
        .at(i8::try_from(at_hour).ok()?, 0, 0, 0)
        .to_zoned(tz.clone())
        .ok()?;
    let boundary = if now.hour() < i8::try_from(at_hour).ok()? {
        today.checked_sub(1.day()).ok()?
    } else {
        today
    };
    Some(boundary.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn policy(mode: ResetMode) -> ResetPolicy {
        ResetPolicy {
            mode,
            idle_minutes: 30,
            at_hour: 4,
        }
    }

    #[test]
    fn none_never_resets() {
        assert_eq!(
            due(&policy(ResetMode::None), 0, 100 * 24 * HOUR, &TimeZone::UTC),
            None
        );
    }

    #[test]
    fn idle() {
        let p = policy(ResetMode::Idle);
        assert_eq!(due(&p, 0, 30 * MIN, &TimeZone::UTC), None);
        assert_eq!(
            due(&p, 0, 30 * MIN + 1, &TimeZone::UTC),
            Some(ResetReason::Idle)
        );
    }

    #[test]
    fn daily_at_the_local_hour() {
        let p = policy(ResetMode::Daily);
        let utc = TimeZone::UTC;
        // Active at 03:59, message at 04:00 the same day: reset.
        assert_eq!(
            due(
                &p,
                at("2026-11-21T03:59:00Z"),
                at("2026-11-21T04:00:00Z"),
                &utc
            ),
            Some(ResetReason::Daily)
        );
        // Active at 04:01, message at 23:00: same day, no reset.
        assert_eq!(
            due(
                &p,
                at("2026-11-21T04:01:00Z"),
                at("2026-11-21T23:00:00Z"),
                &utc
            ),
            None
        );
        // Active at 23:00, message at 03:00 next day: the boundary is yesterday 04:00.
        assert_eq!(
            due(
                &p,
                at("2026-11-21T23:00:00Z"),
                at("2026-11-22T03:00:00Z"),
                &utc
            ),
            None
        );
        // In Berlin (UTC+1 in November) 04:00 local is 03:00 UTC.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            due(
                &p,
                at("2026-11-21T02:30:00Z"),
                at("2026-11-21T03:10:00Z"),
                &berlin
            ),
            Some(ResetReason::Daily)
        );
    }

    #[test]
    fn both_reports_idle_first() {
        let p = policy(ResetMode::Both);
        assert_eq!(
            due(
                &p,
                at("2026-11-20T12:00:00Z"),
                at("2026-11-21T12:00:00Z"),
                &TimeZone::UTC
            ),
            Some(ResetReason::Idle)
        );
        let long_idle = ResetPolicy {
            idle_minutes: 10_000,
            ..p
        };
        assert_eq!(
            due(
                &long_idle,
                at("2026-11-20T12:00:00Z"),
                at("2026-11-21T12:00:00Z"),
                &TimeZone::UTC
            ),
            Some(ResetReason::Daily)
        );
    }
}
