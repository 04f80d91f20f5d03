//! [`Events`]: a Server-Sent Events reader over a streamed body, as the
//! WHATWG specification parses the `text/event-stream` format: lines end
//! with LF, CRLF or CR; a blank line dispatches the event; `:` starts a
//! comment (signal-cli's keepalive); `event`, `data` (one line each,
//! joined with LF), `id` and `retry` fields, a single space after the
//! colon dropped; a field without a colon has an empty value (signal-cli
//! writes `data` alone for an event without data); a leading byte order
//! mark dropped.
//!
//! Each wait for more bytes is bounded by a read timeout on tokio's
//! clock, so keepalives, like any bytes, start it over and a stream silent
//! for longer is reported as such.

use std::future::Future;
use std::time::Duration;

/// Where the bytes come from: the response body, or a channel in tests.
pub(crate) trait Chunks: Send {
    /// The next bytes; `None` at the end of the body.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>, String>> + Send;
}

impl Chunks for reqwest::Response {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.chunk().await {
            Ok(chunk) => Ok(chunk.map(|bytes| bytes.to_vec())),
            Err(e) => Err(e.without_url().to_string()),
        }
    }
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// The `event` field; `message` when none was given.
    pub(crate) kind: String,
    /// The `data` lines joined with LF.
    pub(crate) data: String,
    /// The last event id seen on the stream so far (it carries over to
    /// later events without one, as the specification says).
    pub(crate) id: Option<String>,
}

/// What reading the stream gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Event(Event),
    /// Nothing came for the read timeout.
    Silent,
    /// The connection broke.
    Broken(String),
    /// The body ended.
    Ended,
}

/// The events of one stream.
pub(crate) struct Events<C> {
    chunks: C,
    buffer: Vec<u8>,
    timeout: Duration,
    /// The previous chunk ended with CR: an LF starting this one belongs
    /// to that line end.
    after_cr: bool,
    kind: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    /// The `retry` field's reconnection time, when the server sent one.
    retry: Option<Duration>,
    /// A first line was read (only it may start with a byte order mark).
    started: bool,
}

impl<C: Chunks> Events<C> {
    pub(crate) fn new(chunks: C, timeout: Duration, last_id: Option<String>) -> Self {
        Self {
            chunks,
            buffer: Vec::new(),
            timeout,
            after_cr: false,
            kind: String::new(),
            data: String::new(),
            has_data: false,
            last_id,
            retry: None,
            started: false,
        }
    }

    /// The reconnection time the server asked for, if it did.
    pub(crate) fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The next event, or why there is none.
    pub(crate) async fn next(&mut self) -> Read {
        loop {
            while let Some(line) = self.take_line() {
                if let Some(event) = self.process(&line) {
                    return Read::Event(event);
                }
            }
            match tokio::time::timeout(self.timeout, self.chunks.next_chunk()).await {
                Err(_) => return Read::Silent,
                Ok(Err(reason)) => return Read::Broken(reason),
                Ok(Ok(None)) => return Read::Ended,
                Ok(Ok(Some(bytes))) => {
                    let skip = usize::from(self.after_cr && bytes.first() == Some(&b'\n'));
                    self.after_cr = false;
                    self.buffer.extend_from_slice(&bytes[skip..]);
                }
            }
        }
    }

    /// The next whole line in the buffer, without its end.
    fn take_line(&mut self) -> Option<String> {
        let end = self
            .buffer
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')?;
        let mut taken = end + 1;
        if self.buffer[end] == b'\r' {
            match self.buffer.get(end + 1) {
                Some(b'\n') => taken += 1,
                Some(_) => {}
                // The LF may come in the next chunk.
                None => self.after_cr = true,
            }
        }
        let mut line = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..taken);
        if !std::mem::replace(&mut self.started, true) {
            // A byte order mark at the start of the stream is dropped.
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_owned();
            }
        }
        Some(line)
    }

    /// Applies one line; `Some` when it dispatches an event.
    fn process(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.kind),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => {
                self.last_id = (!value.is_empty()).then(|| value.to_owned());
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok().map(Duration::from_millis);
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let kind = std::mem::take(&mut self.kind);
        let mut data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        if data.ends_with('\n') {
            data.pop();
        }
        Some(Event {
            kind: if kind.is_empty() {
                "message".into()
            } else {
                kind
            },
            data,
            id: self.last_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    struct Channel(mpsc::UnboundedReceiver<Result<Vec<u8>, String>>);

    impl Chunks for Channel {
        async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, String> {
            self.0.recv().await.transpose()
        }
    }

    type Sender = mpsc::UnboundedSender<Result<Vec<u8>, String>>;

    fn events(timeout: Duration) -> (Sender, Events<Channel>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Events::new(Channel(rx), timeout, None))
    }

    fn event(kind: &str, data: &str, id: Option<&str>) -> Read {
        Read::Event(Event {
            kind: kind.into(),
            data: data.into(),
            id: id.map(str::to_owned),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn signal_clis_events_and_keepalives_are_read() {
        let (tx, mut events) = events(Duration::from_secs(60));
        tx.send(Ok(b":\nevent:receive\ndata:{\"a\":1}\n\n".to_vec()))
            .unwrap();
        tx.send(Ok(b"id:7\nevent:receive\ndata:{\"b\":2}\n\n".to_vec()))
            .unwrap();
        assert_eq!(events.next().await, event("receive", r#"{"a":1}"#, None));
        assert_eq!(
            events.next().await,
            event("receive", r#"{"b":2}"#, Some("7"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fields_follow_the_specification() {
        let (tx, mut events) = events(Duration::from_secs(60));
        // Multi-line data, a space after the colon, CRLF and CR line ends,
        // a line end split across chunks, an id carried over, retry, and
        // an event without data not dispatched.
        tx.send(Ok("\u{feff}data: one\r\ndata:two\r".as_bytes().to_vec()))
            .unwrap();
        tx.send(Ok(b"\nid: 3\rretry: 2500\n\n".to_vec())).unwrap();
        tx.send(Ok(b"event: ping\n\ndata\n\n".to_vec())).unwrap();
        tx.send(Ok(b"unknown: x\ndata:{}\n\n".to_vec())).unwrap();
        assert_eq!(events.next().await, event("message", "one\ntwo", Some("3")));
        assert_eq!(events.retry(), Some(Duration::from_millis(2500)));
        assert_eq!(events.next().await, event("message", "", Some("3")));
        assert_eq!(events.next().await, event("message", "{}", Some("3")));
        tx.send(Err("reset".into())).unwrap();
        assert_eq!(events.next().await, Read::Broken("reset".into()));
        drop(tx);
        assert_eq!(events.next().await, Read::Ended);
    }

    #[tokio::test(start_paused = true)]
    async fn keepalives_start_the_timeout_over_and_silence_ends_it() {
        let timeout = Duration::from_secs(60);
        let (tx, mut events) = events(timeout);
        // signal-cli: a keepalive every 15 s, for five minutes, then an
        // event, then silence with the connection open.
        let writer = tokio::spawn(async move {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_secs(15)).await;
                tx.send(Ok(b":\n".to_vec())).unwrap();
            }
            tx.send(Ok(b"data:x\n\n".to_vec())).unwrap();
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        let start = Instant::now();
        assert_eq!(events.next().await, event("message", "x", None));
        assert_eq!(start.elapsed(), Duration::from_secs(300));
        let last = Instant::now();
        assert_eq!(events.next().await, Read::Silent);
        assert_eq!(last.elapsed(), timeout, "silent after exactly the timeout");
        writer.abort();
    }
}
