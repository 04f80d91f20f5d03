//! Reading how long a server asks us to wait: `Retry-After` (delta-seconds
//! or an HTTP-date) and the non-standard `retry-after-ms`.

use http::HeaderMap;
use jiff::Timestamp;
use std::time::Duration;

/// Whole seconds, rounded up: what an HTTP `Retry-After` says, and what a
/// person waiting before a retry needs.
pub fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// `" (retry after 3 s)"` for messages people read (at least 1 s); nothing
/// when no delay was asked for.
pub fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|after| format!(" (retry after {} s)", whole_seconds(after).max(1)))
        .unwrap_or_default()
}

/// The delay a response asks for, relative to now. `retry-after-ms` wins
/// over `Retry-After` when both are valid; dates in the past give zero;
/// unparseable values are ignored.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after_at(headers, Timestamp::now())
}

/// [`parse_retry_after`] with an explicit "now", for HTTP-dates.
pub fn parse_retry_after_at(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000);
    }
    let raw = header("retry-after")?;
    parse_seconds(raw).or_else(|| parse_http_date(raw, now))
}

/// Non-negative, finite decimal seconds (`"3"`, `"1.5"`). Durations too
/// large to represent saturate.
fn parse_seconds(raw: &str) -> Option<Duration> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = raw.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

fn parse_http_date(raw: &str, now: Timestamp) -> Option<Duration> {
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(raw)
        .ok()?;
    let delta = at.as_millisecond().saturating_sub(now.as_millisecond());
    Some(Duration::from_millis(u64::try_from(delta).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn parse(pairs: &[(&'static str, &'static str)]) -> Option<Duration> {
        let now: Timestamp = "2024-01-10T10:34:40Z".parse().unwrap();
        parse_retry_after_at(&headers(pairs), now)
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse(&[("retry-after", "3")]), Some(Duration::from_secs(3)));
        assert_eq!(parse(&[("retry-after", " 0 ")]), Some(Duration::ZERO));
        assert_eq!(
            parse(&[("retry-after", "1.5")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse(&[("retry-after", "99999999999999999999999")])
                .map(|d| d > Duration::from_secs(1 << 40)),
            Some(true)
        );
    }

    #[test]
    fn http_date_relative_to_now() {
        let date = [("retry-after", "Wed, 10 Jan 2024 10:34:45 GMT")];
        assert_eq!(parse(&date), Some(Duration::from_secs(5)));
        let past = [("retry-after", "Wed, 10 Jan 2024 10:00:00 GMT")];
        assert_eq!(parse(&past), Some(Duration::ZERO));
    }

    #[test]
    fn milliseconds_header_wins() {
        assert_eq!(
            parse(&[("retry-after-ms", "250")]),
            Some(Duration::from_millis(250))
        );
        let both = [("retry-after-ms", "1500"), ("retry-after", "30")];
        assert_eq!(parse(&both), Some(Duration::from_millis(1500)));
        let bad_ms = [("retry-after-ms", "soon"), ("retry-after", "2")];
        assert_eq!(parse(&bad_ms), Some(Duration::from_secs(2)));
    }

    #[test]
    fn garbage_is_ignored() {
        for bad in [
            "",
            "soon",
            "-1",
            "1e3",
            "NaN",
            "inf",
            "1.2.3",
            "Someday, 99 Foo",
        ] {
            assert_eq!(parse(&[("retry-after", bad)]), None, "{bad:?}");
        }
        assert_eq!(parse(&[]), None);
        let mut map = HeaderMap::new();
        map.insert("retry-after", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(parse_retry_after(&map), None);
    }
}
