//! [`Logs`]: captures the log events of the current thread (where a
//! `#[tokio::test]` runs every task), so a test can check what was logged
//! at which level, and that no secret ever was.
//!
//! Each event becomes one line: its message, then ` name=value` for every
//! other field. Spans are not captured.

use std::sync::{Arc, Mutex, PoisonError};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Metadata, Subscriber};

/// One captured event: its level and its text.
#[derive(Debug, Clone)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

/// Captures events until dropped.
#[derive(Debug)]
pub struct Logs {
    lines: Arc<Mutex<Vec<Line>>>,
    _guard: DefaultGuard,
}

impl Logs {
    pub fn capture() -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let guard = tracing::subscriber::set_default(Capture {
            lines: lines.clone(),
        });
        Self {
            lines,
            _guard: guard,
        }
    }

    pub fn lines(&self) -> Vec<Line> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The lines at `level`.
    pub fn at(&self, level: Level) -> Vec<String> {
        self.matching(|l| l == level)
    }

    /// The lines at `level` or more severe (`at_least(Level::WARN)`: the
    /// warnings and errors).
    pub fn at_least(&self, level: Level) -> Vec<String> {
        // More verbose levels compare greater.
        self.matching(|l| l <= level)
    }

    fn matching(&self, keep: impl Fn(Level) -> bool) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|line| keep(line.level))
            .map(|line| line.text)
            .collect()
    }

    /// Fails the test when any line contains `secret`.
    pub fn assert_never_shows(&self, secret: &str) {
        for line in self.lines() {
            assert!(
                !line.text.contains(secret),
                "a log line shows a secret: {}",
                line.text
            );
        }
    }
}

struct Capture {
    lines: Arc<Mutex<Vec<Line>>>,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not captured; every one gets the same (non-zero) id.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = String::new();
        event.record(&mut Fields(&mut text));
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Line {
                level: *event.metadata().level(),
                text,
            });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}
