//! Schedules as Hermes parses them (`parse_schedule`, `parse_duration`),
//! and when they run.
//!
//! * `every 30m`, `every 2h`, `every 1d`: a fixed interval, first run one
//!   interval from now.
//! * A 5-field cron expression (`0 8 * * 1-5`) or a 6-field one whose sixth
//!   field is seconds, as Hermes' croniter reads it (`0 8 * * 1-5 30`),
//!   evaluated in the configured time zone: a time that a DST change skips
//!   runs at the first instant after the gap, a time that happens twice
//!   runs once (croner on jiff's zoned times).
//! * An ISO timestamp (`2026-05-01T08:00`, `2026-05-01 08:00`,
//!   `2026-05-01`, or with an offset): once. A time without an offset is a
//!   wall-clock time in the configured zone.
//! * A bare duration (`30m`, `2 hours`): once, that long from now.

use crate::clock::millis;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use hermod_store::ScheduleKind;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use std::time::Duration;

/// What every schedule error ends with: the forms that are accepted.
pub const SCHEDULE_FORMS: &str = "accepted schedules: `every 30m` / `every 2h` / `every 1d` \
     (repeating), a cron expression of 5 fields `minute hour day-of-month month day-of-week` \
     such as `0 8 * * 1-5` (8:00 on weekdays) or 6 with seconds last, an ISO time such as \
     `2026-05-01T08:00` (once; without an offset it is in the gateway's time zone), or a \
     duration such as `30m` or `2h` (once, that long from now)";

/// A schedule that does not parse, with the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}; {SCHEDULE_FORMS}")]
pub struct ScheduleError {
    reason: String,
}

impl ScheduleError {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Interval(Duration),
    Cron(Box<Cron>),
    /// Once, at this time (Unix ms).
    Once(i64),
}

/// `^(\d+)\s*(m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)$`,
/// case-insensitive, as Hermes' `parse_duration`; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let text = text.trim().to_ascii_lowercase();
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit = unit.trim_start();
    let minutes: u64 = match unit {
        "m" | "min" | "mins" | "minute" | "minutes" => 1,
        "h" | "hr" | "hrs" | "hour" | "hours" => 60,
        "d" | "day" | "days" => 24 * 60,
        _ => {
            return Err(ScheduleError::new(format!(
                "{text:?} is not a duration (a number and m, h or d)"
            )));
        }
    };
    let n: u64 = number.parse().map_err(|_| {
        ScheduleError::new(format!(
            "{text:?} is not a duration (a number and m, h or d)"
        ))
    })?;
    if n == 0 {
        return Err(ScheduleError::new("a duration must be more than zero"));
    }
    n.checked_mul(minutes * 60)
        .filter(|secs| *secs <= 366 * 24 * 3600)
        .map(Duration::from_secs)
        .ok_or_else(|| ScheduleError::new(format!("{text:?} is longer than a year")))
}

impl Schedule {
    /// Parses `text` as Hermes does (see the module docs). `now_ms` is the
    /// start of a bare duration; `tz` the zone of cron expressions and of
    /// timestamps without an offset.
    pub fn parse(text: &str, now_ms: i64, tz: &TimeZone) -> Result<Schedule, ScheduleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::new("the schedule is empty"));
        }
        let lower = trimmed.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("every ") {
            return parse_duration(rest).map(Schedule::Interval);
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        if fields.len() == 5 || fields.len() == 6 {
            return parse_cron(&fields).map(|c| Schedule::Cron(Box::new(c)));
        }
        if let Ok(d) = parse_duration(trimmed) {
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            return Ok(Schedule::Once(now_ms.saturating_add(ms)));
        }
        if let Some(at) = parse_timestamp(trimmed, tz) {
            return Ok(Schedule::Once(at));
        }
        Err(ScheduleError::new(format!("{trimmed:?} is not a schedule")))
    }

    pub fn kind(&self) -> ScheduleKind {
        match self {
            Schedule::Interval(_) => ScheduleKind::Interval,
            Schedule::Cron(_) => ScheduleKind::Cron,
            Schedule::Once(_) => ScheduleKind::Once,
        }
    }

    /// The first run of a job created (or resumed) at `now_ms`: one
    /// interval from now, the next cron time, or the one-shot's time.
    pub fn first_run(&self, now_ms: i64, tz: &TimeZone) -> Option<i64> {
        match self {
            Schedule::Interval(every) => Some(now_ms.saturating_add(millis(*every))),
            Schedule::Cron(cron) => cron_next(cron, now_ms, tz),
            Schedule::Once(at) => Some(*at),
        }
    }
}

/// Croner reads seconds first; Hermes (croniter) reads a sixth field as
/// seconds last. Moved to the front so a Hermes expression keeps its meaning.
fn parse_cron(fields: &[&str]) -> Result<Cron, ScheduleError> {
    let expr = match fields {
        [rest @ .., seconds] if fields.len() == 6 => format!("{seconds} {}", rest.join(" ")),
        _ => fields.join(" "),
    };
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(&expr)
        .map_err(|e| {
            ScheduleError::new(format!(
                "{:?} is not a valid cron expression ({e})",
                fields.join(" ")
            ))
        })
}

/// An ISO date-time with an offset or `Z`, a civil date-time (`T` or a
/// space, minutes or seconds), or a date (midnight), the civil forms in `tz`.
fn parse_timestamp(text: &str, tz: &TimeZone) -> Option<i64> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(zoned) = text.parse::<Zoned>() {
        return Some(zoned.timestamp().as_millisecond());
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    })?;
    // A time a DST gap skips is taken as the instant after the gap; one
    // that happens twice as the first (jiff's "compatible").
    let zoned = tz.to_ambiguous_zoned(civil).compatible().ok()?;
    Some(zoned.timestamp().as_millisecond())
}

fn zoned(ms: i64, tz: &TimeZone) -> Option<Zoned> {
    Some(Timestamp::from_millisecond(ms).ok()?.to_zoned(tz.clone()))
}

/// The first time of `cron` strictly after `after_ms`.
fn cron_next(cron: &Cron, after_ms: i64, tz: &TimeZone) -> Option<i64> {
    let from = zoned(after_ms, tz)?;
    let next = cron.find_next_occurrence(&from, false).ok()?;
    Some(next.timestamp().as_millisecond())
}

/// The last time of `cron` at or before `at_ms`.
fn cron_previous(cron: &Cron, at_ms: i64, tz: &TimeZone) -> Option<i64> {
    let from = zoned(at_ms, tz)?;
    let previous = cron.find_previous_occurrence(&from, true).ok()?;
    Some(previous.timestamp().as_millisecond())
}

/// A one-shot runs if the gateway reaches it at most this late (Hermes' 120 s).
pub const ONCE_GRACE: Duration = Duration::from_secs(120);
/// The shortest grace window of a repeating job.
const MIN_GRACE: Duration = Duration::from_secs(120);
/// The longest grace window of a repeating job.
const MAX_GRACE: Duration = Duration::from_secs(2 * 3600);

/// How late a scheduled time may be run: half the job's period, at least
/// 2 minutes and at most 2 hours; 2 minutes for a one-shot.
fn grace(period_ms: i64) -> i64 {
    (period_ms / 2).clamp(millis(MIN_GRACE), millis(MAX_GRACE))
}

/// What to do with a job whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The scheduled time this run stands for: the latest one that has
    /// passed, so several missed times make one run.
    pub scheduled_at_ms: i64,
    /// Whether that time is within the grace window (run it) or not
    /// (record it as missed).
    pub run: bool,
    /// The job's next time after this one.
    pub next_run_at_ms: Option<i64>,
}

impl Schedule {
    /// The job's next run was `next_ms`, now is `now_ms >= next_ms`: which
    /// time to run (or count as missed), and the next one after it.
    pub fn due(&self, next_ms: i64, now_ms: i64, tz: &TimeZone) -> Due {
        let late = |scheduled: i64, period: i64| now_ms.saturating_sub(scheduled) <= grace(period);
        match self {
            Schedule::Once(_) => Due {
                scheduled_at_ms: next_ms,
                run: now_ms.saturating_sub(next_ms) <= millis(ONCE_GRACE),
                next_run_at_ms: None,
            },
            Schedule::Interval(every) => {
                let every = millis(*every).max(1);
                let latest = next_ms + (now_ms - next_ms) / every * every;
                Due {
                    scheduled_at_ms: latest,
                    run: late(latest, every),
                    next_run_at_ms: Some(latest.saturating_add(every)),
                }
            }
            Schedule::Cron(cron) => {
                let latest = cron_previous(cron, now_ms, tz)
                    .filter(|p| *p >= next_ms)
                    .unwrap_or(next_ms);
                let next = cron_next(cron, now_ms, tz);
                let period = cron_next(cron, latest, tz).map_or(i64::MAX, |n| n - latest);
                Due {
                    scheduled_at_ms: latest,
                    run: late(latest, period),
                    next_run_at_ms: next,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("tz")
    }

    fn at(text: &str) -> i64 {
        text.parse::<Zoned>()
            .expect("a zoned time")
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn durations_as_hermes() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2 hours"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1D"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("5 mins"), Ok(Duration::from_secs(300)));
        for bad in ["", "m", "0m", "30", "30s", "1.5h", "-5m", "10 weeks"] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.to_string().contains("every 30m"), "{err}");
        }
    }

    #[test]
    fn every_form_parses() {
        let tz = berlin();
        let now = at("2026-03-02T10:00:00+01:00[Europe/Berlin]");
        let s = Schedule::parse("every 2h", now, &tz).expect("interval");
        assert_eq!(s.kind(), ScheduleKind::Interval);
        assert_eq!(s.first_run(now, &tz), Some(now + 2 * HOUR));

        let s = Schedule::parse("0 8 * * 1-5", now, &tz).expect("cron");
        assert_eq!(s.kind(), ScheduleKind::Cron);
        assert_eq!(
            s.first_run(now, &tz),
            Some(at("2026-03-03T08:00:00+01:00[Europe/Berlin]"))
        );
        // Six fields: seconds last, as croniter.
        let s = Schedule::parse("0 8 * * 1-5 30", now, &tz).expect("cron with seconds");
        assert_eq!(
            s.first_run(now, &tz),
            Some(at("2026-03-03T08:00:30+01:00[Europe/Berlin]"))
        );

        let s = Schedule::parse("2026-05-01T08:00", now, &tz).expect("naive ISO");
        assert_eq!(s.kind(), ScheduleKind::Once);
        assert_eq!(
            s.first_run(now, &tz),
            Some(at("2026-05-01T08:00:00+02:00[Europe/Berlin]"))
        );
        let s = Schedule::parse("2026-05-01 08:00:00", now, &tz).expect("space");
        assert_eq!(
            s.first_run(now, &tz),
            Some(at("2026-05-01T08:00:00+02:00[Europe/Berlin]"))
        );
        let s = Schedule::parse("2026-05-01T06:00:00Z", now, &tz).expect("UTC");
        assert_eq!(
            s.first_run(now, &tz),
            Some(at("2026-05-01T08:00:00+02:00[Europe/Berlin]"))
        );
        let s = Schedule::parse("2026-05-01", now, &tz).expect("date");
        assert_eq!(
            s.first_run(now, &tz),
            Some(at("2026-05-01T00:00:00+02:00[Europe/Berlin]"))
        );

        let s = Schedule::parse("30m", now, &tz).expect("bare duration");
        assert_eq!(s.kind(), ScheduleKind::Once);
        assert_eq!(s.first_run(now, &tz), Some(now + HOUR / 2));
    }

    #[test]
    fn errors_name_the_accepted_forms() {
        let tz = berlin();
        for bad in [
            "",
            "tomorrow",
            "every",
            "every 30x",
            "61 * * * *",
            "a b c d e",
            "2026-13-01",
            "* * * *",
        ] {
            let err = Schedule::parse(bad, 0, &tz).expect_err(bad).to_string();
            assert!(
                err.contains("every 30m") && err.contains("0 8 * * 1-5") && err.contains("ISO"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn cron_keeps_wall_time_across_spring_forward() {
        // Berlin skips 02:00–03:00 on 2026-03-29.
        let tz = berlin();
        let daily_8 = Schedule::parse("0 8 * * *", 0, &tz).expect("cron");
        let before = at("2026-03-28T09:00:00+01:00[Europe/Berlin]");
        let next = daily_8.first_run(before, &tz).expect("next");
        assert_eq!(next, at("2026-03-29T08:00:00+02:00[Europe/Berlin]"));
        // 23 hours later in absolute time, the same wall-clock time.
        assert_eq!(
            next - at("2026-03-28T08:00:00+01:00[Europe/Berlin]"),
            23 * HOUR
        );

        // 02:30 does not exist that day: it runs once, right after the gap.
        let skipped = Schedule::parse("30 2 * * *", 0, &tz).expect("cron");
        let night = at("2026-03-29T00:00:00+01:00[Europe/Berlin]");
        let next = skipped.first_run(night, &tz).expect("next");
        assert_eq!(next, at("2026-03-29T03:00:00+02:00[Europe/Berlin]"));
        let after = skipped.first_run(next, &tz).expect("after");
        assert_eq!(after, at("2026-03-30T02:30:00+02:00[Europe/Berlin]"));
    }

    #[test]
    fn cron_runs_once_on_fall_back() {
        // Berlin has 02:00–03:00 twice on 2026-10-25.
        let tz = berlin();
        let night = Schedule::parse("30 2 * * *", 0, &tz).expect("cron");
        let start = at("2026-10-25T00:00:00+02:00[Europe/Berlin]");
        let first = night.first_run(start, &tz).expect("first");
        assert_eq!(first, at("2026-10-25T02:30:00+02:00[Europe/Berlin]"));
        let second = night.first_run(first, &tz).expect("second");
        assert_eq!(
            second,
            at("2026-10-26T02:30:00+01:00[Europe/Berlin]"),
            "the repeated hour does not run the job again"
        );
        let daily_8 = Schedule::parse("0 8 * * *", 0, &tz).expect("cron");
        let next = daily_8.first_run(start, &tz).expect("next");
        assert_eq!(next, at("2026-10-25T08:00:00+01:00[Europe/Berlin]"));
    }

    #[test]
    fn naive_times_are_in_the_configured_zone() {
        let ny = TimeZone::get("America/New_York").expect("tz");
        let s = Schedule::parse("2026-07-04T09:00", 0, &ny).expect("ISO");
        assert_eq!(
            s.first_run(0, &ny),
            Some(at("2026-07-04T09:00:00-04:00[America/New_York]"))
        );
    }

    #[test]
    fn due_runs_the_latest_missed_time_within_grace() {
        let tz = TimeZone::UTC;
        let hourly = Schedule::Interval(Duration::from_secs(3600));
        // Down for 5 h 20 min: the latest time was 20 min ago, within
        // half an hour: one run for it, next an hour after it.
        let due = hourly.due(0, 5 * HOUR + HOUR / 3, &tz);
        assert_eq!(
            due,
            Due {
                scheduled_at_ms: 5 * HOUR,
                run: true,
                next_run_at_ms: Some(6 * HOUR)
            }
        );
        // 40 min late: beyond the grace window, counted as missed.
        let due = hourly.due(0, 5 * HOUR + 2 * HOUR / 3, &tz);
        assert!(!due.run);
        assert_eq!(due.next_run_at_ms, Some(6 * HOUR));

        let daily = Schedule::parse("0 8 * * *", 0, &tz).expect("cron");
        let eight = at("2026-01-05T08:00:00+00:00[UTC]");
        let due = daily.due(eight - 3 * 24 * HOUR, eight + HOUR, &tz);
        assert_eq!(due.scheduled_at_ms, eight);
        assert!(due.run, "an hour late is within a daily job's 2 h");
        assert_eq!(due.next_run_at_ms, Some(eight + 24 * HOUR));
        assert!(!daily.due(eight, eight + 3 * HOUR, &tz).run);

        let once = Schedule::Once(1_000);
        assert!(once.due(1_000, 1_000 + 120_000, &tz).run);
        assert!(!once.due(1_000, 1_000 + 120_001, &tz).run);
        assert_eq!(once.due(1_000, 1_000, &tz).next_run_at_ms, None);
    }
}
