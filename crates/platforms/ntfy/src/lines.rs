//! [`Lines`]: the lines of a streamed body (ntfy's JSON stream, one
//! object a line), each wait for more bytes bounded by a read timeout on
//! tokio's clock — so keepalives, like any bytes, start it over, and a
//! stream silent for longer is reported as such.

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

/// What reading the stream gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// A line, trimmed and not empty.
    Line(String),
    /// Nothing came for the read timeout.
    Silent,
    /// The connection broke.
    Broken(String),
    /// The body ended.
    Ended,
}

/// The lines of one stream.
pub(crate) struct Lines<C> {
    chunks: C,
    buffer: Vec<u8>,
    timeout: Duration,
}

impl<C: Chunks> Lines<C> {
    pub(crate) fn new(chunks: C, timeout: Duration) -> Self {
        Self {
            chunks,
            buffer: Vec::new(),
            timeout,
        }
    }

    /// The next line, or why there is none.
    pub(crate) async fn next(&mut self) -> Read {
        loop {
            while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                if !line.is_empty() {
                    return Read::Line(line);
                }
            }
            match tokio::time::timeout(self.timeout, self.chunks.next_chunk()).await {
                Err(_) => return Read::Silent,
                Ok(Err(reason)) => return Read::Broken(reason),
                Ok(Ok(None)) => return Read::Ended,
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
            }
        }
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

    fn lines(
        timeout: Duration,
    ) -> (
        mpsc::UnboundedSender<Result<Vec<u8>, String>>,
        Lines<Channel>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Lines::new(Channel(rx), timeout))
    }

    const KEEPALIVE: &str = r#"{"id":"ka","time":1,"event":"keepalive","topic":"t"}"#;

    #[tokio::test(start_paused = true)]
    async fn keepalives_start_the_timeout_over_and_silence_ends_it() {
        let timeout = Duration::from_secs(120);
        let (tx, mut lines) = lines(timeout);
        // ntfy's default: a keepalive every 45 s, for ten minutes.
        let writer = tokio::spawn(async move {
            for _ in 0..14 {
                tokio::time::sleep(Duration::from_secs(45)).await;
                tx.send(Ok(format!("{KEEPALIVE}\n").into_bytes())).unwrap();
            }
            // Then silence, with the connection still open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        for _ in 0..14 {
            assert_eq!(lines.next().await, Read::Line(KEEPALIVE.into()));
        }
        let last = Instant::now();
        assert_eq!(lines.next().await, Read::Silent);
        assert_eq!(last.elapsed(), timeout, "silent after exactly the timeout");
        writer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn lines_are_put_together_across_chunks() {
        let (tx, mut lines) = lines(Duration::from_secs(5));
        tx.send(Ok(b"{\"a\":1}\n\n{\"b\"".to_vec())).unwrap();
        tx.send(Ok(b":2}\r\n{\"c\":3}\n".to_vec())).unwrap();
        assert_eq!(lines.next().await, Read::Line(r#"{"a":1}"#.into()));
        assert_eq!(lines.next().await, Read::Line(r#"{"b":2}"#.into()));
        assert_eq!(lines.next().await, Read::Line(r#"{"c":3}"#.into()));
        tx.send(Err("reset".into())).unwrap();
        assert_eq!(lines.next().await, Read::Broken("reset".into()));
        drop(tx);
        assert_eq!(lines.next().await, Read::Ended);
    }
}
