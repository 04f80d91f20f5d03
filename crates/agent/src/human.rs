//! Durations written for people, for messages users and the model read
//! (never Rust's `Debug` form, `Some(2s)` or `1.5s`).

use std::time::Duration;

pub use hermod_http::whole_seconds;

/// `"60 s"`, `"2 min"`, `"50 ms"`: the largest unit that shows the value
/// without a fraction, seconds rounded up beyond that.
pub(crate) fn describe(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        return format!("{} ms", duration.as_millis().max(1));
    }
    let secs = whole_seconds(duration);
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(describe(Duration::from_millis(50)), "50 ms");
        assert_eq!(describe(Duration::from_micros(10)), "1 ms");
        assert_eq!(describe(Duration::from_secs(20)), "20 s");
        assert_eq!(describe(Duration::from_millis(1500)), "2 s");
        assert_eq!(describe(Duration::from_secs(120)), "2 min");
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds(Duration::ZERO), 0);
    }
}
