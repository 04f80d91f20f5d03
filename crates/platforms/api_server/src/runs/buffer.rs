//! [`EventBuffer`]: a run's events, kept so that a subscriber who comes
//! late (or reconnects) is sent everything from the start, in order.
//!
//! Memory is bounded two ways. Text deltas nobody has read yet are merged
//! into the `message.delta` event before them, so a run nobody watches
//! keeps one event per stretch of text instead of one per token; a
//! subscriber that reads as the run goes still gets each delta as it came.
//! And the buffer holds at most `cap` bytes (counted as the events'
//! serialized size): past that the oldest events are dropped, and a
//! subscriber that had not read them is told how many it missed. The last
//! event (the run's end) is never dropped.

use serde_json::Value;
use std::collections::VecDeque;

/// The event name whose text merges.
const DELTA: &str = "message.delta";

/// What a subscriber reads from its cursor on.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Batch {
    /// Events dropped (buffer full) before the subscriber could read them.
    pub(crate) missed: u64,
    /// The events, serialized.
    pub(crate) events: Vec<String>,
    /// The cursor to read from next time.
    pub(crate) next: u64,
    /// The run has ended and this batch holds its last event.
    pub(crate) ended: bool,
}

#[derive(Debug)]
pub(crate) struct EventBuffer {
    events: VecDeque<Value>,
    /// The sequence number of `events[0]`.
    first: u64,
    /// Events before this number were handed to a subscriber: they may not
    /// change any more.
    read_upto: u64,
    bytes: usize,
    cap: usize,
    closed: bool,
}

impl EventBuffer {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            events: VecDeque::new(),
            first: 0,
            read_upto: 0,
            bytes: 0,
            cap,
            closed: false,
        }
    }

    /// Appends `event` (an object with an `event` name). Nothing is added
    /// once the buffer is closed.
    pub(crate) fn push(&mut self, event: Value) {
        if self.closed {
            return;
        }
        let end = self.first + self.events.len() as u64;
        if event["event"] == DELTA
            && end > self.read_upto
            && let Some(last) = self.events.back_mut()
            && last["event"] == DELTA
            && let (Some(Value::String(text)), Some(more)) =
                (last.get_mut("delta"), event["delta"].as_str())
        {
            text.push_str(more);
            // The event grows by the text as serialized: escaped quotes,
            // newlines and control characters take more than their bytes.
            self.bytes += escaped_len(more);
        } else {
            self.bytes += size(&event);
            self.events.push_back(event);
        }
        self.trim();
    }

    /// Appends the run's last event; nothing follows it.
    pub(crate) fn close(&mut self, event: Value) {
        self.push(event);
        self.closed = true;
    }

    /// Drops the oldest events until the buffer fits its cap, keeping the
    /// newest one whatever its size.
    fn trim(&mut self) {
        while self.bytes > self.cap && self.events.len() > 1 {
            if let Some(dropped) = self.events.pop_front() {
                let dropped = size(&dropped);
                debug_assert!(dropped <= self.bytes, "the byte count is exact");
                self.bytes = self.bytes.saturating_sub(dropped);
                self.first += 1;
            }
        }
    }

    /// The events from sequence number `from` on; marks them read.
    pub(crate) fn read(&mut self, from: u64) -> Batch {
        let missed = self.first.saturating_sub(from);
        let start = from.max(self.first);
        let skip = usize::try_from(start - self.first).unwrap_or(usize::MAX);
        let events: Vec<String> = self
            .events
            .iter()
            .skip(skip)
            .map(Value::to_string)
            .collect();
        let next = start + events.len() as u64;
        self.read_upto = self.read_upto.max(next);
        Batch {
            missed,
            events,
            next,
            ended: self.closed && next == self.first + self.events.len() as u64,
        }
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// An event's size as sent.
fn size(event: &Value) -> usize {
    event.to_string().len()
}

/// The length of `text` inside a JSON string: JSON escapes each character
/// on its own, so this is what appending `text` adds to an event.
fn escaped_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use serde_json::json;

    fn delta(text: &str) -> Value {
        json!({"event": DELTA, "delta": text})
    }

    fn parsed(batch: &Batch) -> Vec<Value> {
        batch
            .events
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect()
    }

    #[test]
    fn unread_deltas_merge_and_read_ones_stay_as_they_were() {
        let mut buffer = EventBuffer::new(1 << 20);
        buffer.push(delta("Hel"));
        buffer.push(delta("lo"));
        let first = buffer.read(0);
        assert_eq!(parsed(&first), [delta("Hello")]);
        // Read: the next delta is an event of its own.
        buffer.push(delta(", world"));
        buffer.push(json!({"event": "tool.started", "tool": "x"}));
        buffer.push(delta("!"));
        buffer.close(json!({"event": "run.completed"}));
        let rest = buffer.read(first.next);
        assert_eq!(rest.missed, 0);
        assert!(rest.ended);
        assert_eq!(rest.events.len(), 4);
        // A late subscriber reads everything from the start.
        let all = buffer.read(0);
        let texts: Vec<_> = parsed(&all)
            .iter()
            .filter_map(|e| e["delta"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(texts, ["Hello", ", world", "!"]);
        assert!(all.ended);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_events_but_never_the_end() {
        let mut buffer = EventBuffer::new(200);
        for i in 0..50 {
            buffer.push(json!({"event": "tool.started", "tool": format!("t{i}")}));
        }
        assert!(buffer.bytes() <= 200, "{}", buffer.bytes());
        buffer.close(json!({"event": "run.completed", "output": "x".repeat(500)}));
        let batch = buffer.read(0);
        assert_eq!(batch.missed, 50, "only the end fits");
        assert!(batch.ended);
        assert_eq!(parsed(&batch)[0]["event"], "run.completed");
        // Nothing is added after the end.
        buffer.push(delta("late"));
        assert!(buffer.read(batch.next).events.is_empty());
    }

    /// The buffer's events as serialized, counted afresh.
    fn serialized(buffer: &EventBuffer) -> usize {
        buffer.events.iter().map(size).sum()
    }

    #[test]
    fn merged_deltas_full_of_escapes_keep_the_buffer_within_its_cap() {
        let cap = 4096;
        let mut buffer = EventBuffer::new(cap);
        let hostile = "\"\n\\\t\u{1}\u{1f}\u{7f}é\r\u{8}\u{c}";
        assert_eq!(
            escaped_len(hostile),
            serde_json::to_string(hostile).unwrap().len() - 2
        );
        for round in 0..20 {
            buffer.push(json!({"event": "tool.started", "tool": format!("t{round}")}));
            for _ in 0..50 {
                buffer.push(delta(hostile));
                assert_eq!(buffer.bytes(), serialized(&buffer), "the count is exact");
                assert!(
                    serialized(&buffer) <= cap,
                    "{} bytes over a cap of {cap}",
                    serialized(&buffer)
                );
            }
        }
        let batch = buffer.read(0);
        assert!(batch.missed > 0, "the oldest events were dropped");
        assert_eq!(
            batch.events.iter().map(String::len).sum::<usize>(),
            serialized(&buffer)
        );
    }

    #[test]
    fn an_open_buffer_is_not_ended_even_when_read_to_its_end() {
        let mut buffer = EventBuffer::new(1 << 20);
        buffer.push(delta("a"));
        let batch = buffer.read(0);
        assert!(!batch.ended);
        let again = buffer.read(batch.next);
        assert_eq!(
            again,
            Batch {
                next: 1,
                ..Batch::default()
            }
        );
    }
}
