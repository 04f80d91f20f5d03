//! [`Logs`]: captures the log events of the current thread (where a
//! `#[tokio::test]` runs every task), so a test can check what was logged
//! at which level, and that no secret ever was.

use std::sync::{Arc, Mutex, PoisonError};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Metadata, Subscriber};

/// One captured event: its level, target and every field as `name=value`.
#[derive(Debug, Clone)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

/// Captures events until dropped.
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
        self.lines()
            .into_iter()
            .filter(|line| line.level == level)
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
        let mut text = format!("{}:", event.metadata().target());
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
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}
