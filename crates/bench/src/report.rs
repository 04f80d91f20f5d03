//! Results: named figures printed as a table and written as JSON, so runs
//! can be compared over time.

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// What was measured, e.g. `overhead_p50`.
    pub name: String,
    pub value: f64,
    /// `ms`, `us`, `turns/s`, `MB`, `KB/session`, `count`...
    pub unit: String,
    /// The goal from the benchmarks document, when there is one (`<= 1 ms`).
    pub goal: Option<String>,
}

impl Metric {
    pub fn new(name: &str, value: f64, unit: &str) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            goal: None,
        }
    }

    pub fn goal(mut self, goal: &str) -> Self {
        self.goal = Some(goal.to_owned());
        self
    }
}

/// The figures of one scenario against one target (hermod or hermes).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    /// The parameters the scenario ran with (turns, clients, seconds...).
    pub parameters: serde_json::Value,
    pub metrics: Vec<Metric>,
    /// What went wrong when the scenario checks correctness (lost or
    /// duplicated replies...): `hermod-bench` prints the table, then exits
    /// with these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// Percentile `p` (0..=100) of `samples` (nearest rank); 0 when empty.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize;
    samples[rank.min(samples.len()) - 1]
}
