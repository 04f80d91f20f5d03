//! The metrics as data: [`Metrics::samples`] reads back what
//! [`Metrics::render`] writes (the Prometheus text format is the one place
//! every series is listed, and `prometheus-client` offers no other way to
//! read a histogram), and [`Metrics::snapshot`] sums the series an admin
//! page shows into named numbers.

use crate::metrics::Metrics;
use serde::Serialize;

/// One series' value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// The series' name as exposed (`hermod_turns_total`,
    /// `hermod_turn_duration_seconds_sum`, ...).
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The gateway's numbers since it started, summed over platforms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    pub turns_answered: u64,
    pub turns_failed: u64,
    pub turns_stopped: u64,
    /// Turns running now.
    pub turns_running: u64,
    /// Sessions with a live worker now.
    pub session_workers: u64,
    /// Mean time of a turn, in seconds (`None` before the first).
    pub turn_seconds_avg: Option<f64>,
    /// Mean time to the model's first visible text, in seconds.
    pub first_token_seconds_avg: Option<f64>,
    pub model_calls: u64,
    /// Mean time of a model call (retries included), in seconds.
    pub model_call_seconds_avg: Option<f64>,
    pub model_call_errors: u64,
    /// Deliveries not yet made, as the latest sweep counted them.
    pub outbox_pending: u64,
    pub outbox_retried: u64,
    pub outbox_failed: u64,
    pub rate_limited: u64,
    pub inbound_duplicates: u64,
}

impl Metrics {
    /// Every series with its current value, in the order rendered.
    pub fn samples(&self) -> Vec<Sample> {
        parse(&self.render())
    }

    /// The numbers an admin page shows.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let samples = self.samples();
        let sum = |name: &str| -> f64 {
            samples
                .iter()
                .filter(|s| s.name == name)
                .map(|s| s.value)
                .sum()
        };
        let count = |name: &str| whole(sum(name));
        let turns = |outcome: &str| {
            whole(
                samples
                    .iter()
                    .filter(|s| s.name == "hermod_turns_total")
                    .filter(|s| s.label("outcome") == Some(outcome))
                    .map(|s| s.value)
                    .sum(),
            )
        };
        let mean = |histogram: &str| {
            let n = sum(&format!("{histogram}_count"));
            (n > 0.0).then(|| sum(&format!("{histogram}_sum")) / n)
        };
        MetricsSnapshot {
            turns_answered: turns("answered"),
            turns_failed: turns("failed"),
            turns_stopped: turns("stopped"),
            turns_running: count("hermod_turns_running"),
            session_workers: count("hermod_session_workers"),
            turn_seconds_avg: mean("hermod_turn_duration_seconds"),
            first_token_seconds_avg: mean("hermod_turn_first_token_seconds"),
            model_calls: count("hermod_model_call_duration_seconds_count"),
            model_call_seconds_avg: mean("hermod_model_call_duration_seconds"),
            model_call_errors: count("hermod_model_call_errors_total"),
            outbox_pending: count("hermod_outbox_pending"),
            outbox_retried: count("hermod_outbox_retried_total"),
            outbox_failed: count("hermod_outbox_failed_total"),
            rate_limited: count("hermod_rate_limited_total"),
            inbound_duplicates: count("hermod_inbound_duplicates_total"),
        }
    }
}

/// A counter's or gauge's value as a count (a negative or non-finite one,
/// which these series never hold, as 0).
fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // Counts stay far below 2^53, where f64 is exact.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "finite, positive and rounded: the cast is exact for any count"
        )]
        let n = value.round() as u64;
        n
    } else {
        0
    }
}

/// The samples of a text exposition: `name{label="value",...} value
/// [timestamp]` lines; comments and lines that do not parse are skipped.
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (Vec::new(), &line[name_end..])
    };
    let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `a="x",b="y"}` and returns the labels and what follows the `}`.
fn parse_labels(mut rest: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = rest.find('=')?;
        let name = rest[..eq].trim().to_owned();
        rest = rest[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name, value));
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_reads_back_with_escapes() {
        let text = "# HELP x help\n# TYPE x counter\n\
                    hermod_turns_total{platform=\"a\\\"b\",outcome=\"answered\"} 3\n\
                    hermod_outbox_pending 7\n\
                    hermod_turn_duration_seconds_bucket{le=\"+Inf\",platform=\"a\"} 2 1700000000\n\
                    broken{line 1\n# EOF\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 3, "{samples:?}");
        assert_eq!(samples[0].name, "hermod_turns_total");
        assert_eq!(samples[0].label("platform"), Some("a\"b"));
        assert_eq!(samples[0].label("outcome"), Some("answered"));
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(samples[1].labels, Vec::new());
        assert_eq!(samples[1].value, 7.0);
        assert_eq!(samples[2].label("le"), Some("+Inf"));
    }

    #[test]
    fn a_snapshot_sums_over_platforms() {
        let metrics = Metrics::new();
        let (a, b) = (
            hermod_model::PlatformId::from_static("a"),
            hermod_model::PlatformId::from_static("b"),
        );
        assert_eq!(metrics.snapshot(), MetricsSnapshot::default());
        let second = std::time::Duration::from_secs(1);
        metrics.turn_ended(&a, crate::TurnEnded::Answered, second);
        metrics.turn_ended(&b, crate::TurnEnded::Answered, 3 * second);
        metrics.turn_ended(&b, crate::TurnEnded::Failed, 2 * second);
        metrics.outbox_failed(&a);
        metrics.outbox_pending(4);
        let _running = metrics.turn_running();
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.turns_answered, 2);
        assert_eq!(snapshot.turns_failed, 1);
        assert_eq!(snapshot.turns_stopped, 0);
        assert_eq!(snapshot.turn_seconds_avg, Some(2.0));
        assert_eq!(snapshot.first_token_seconds_avg, None);
        assert_eq!(snapshot.outbox_failed, 1);
        assert_eq!(snapshot.outbox_pending, 4);
        assert_eq!(snapshot.turns_running, 1);
    }
}
