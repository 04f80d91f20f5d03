//! The byte stream to the server: connecting (plain TCP or TLS), and
//! reading it line by line.
//!
//! [`LineReader`] is cancel-safe — it keeps what it has read between
//! calls — so the session can wait for a line, shutdown and its timers in
//! one `select!` without losing half a line.

use crate::config::IrcConfig;
use hermod_adapter_kit::tls::{Stream, Tls};
use std::io;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// What the session reads and writes: a TCP or TLS stream, or an
/// in-memory pipe in tests.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxIo = Box<dyn Io>;

/// Longest line kept, tags included (IRCv3 allows 8191 bytes of tags
/// plus the 512 of the message); a longer one is dropped as garbage.
const MAX_READ_LINE: usize = 8191 + 512;

/// The TLS settings for `config`: `None` without TLS; the system's
/// roots plus `IRC_CA_FILE` with it. Built once, when the adapter is, so
/// a bad CA file is reported at start.
pub fn tls(config: &IrcConfig) -> Result<Option<Tls>, String> {
    if !config.use_tls {
        return Ok(None);
    }
    let ca_file = config.ca_file.as_deref().filter(|f| !f.is_empty());
    Tls::new(ca_file.map(Path::new))
        .map(Some)
        .map_err(|e| format!("IRC_CA_FILE: {e}"))
}

/// Connects to the configured server, with TLS from the first byte when
/// `tls` is given, within `IRC_CONNECT_TIMEOUT`.
pub async fn connect(config: &IrcConfig, tls: Option<&Tls>) -> Result<BoxIo, String> {
    let stream = Stream::connect(
        config.server(),
        config.port(),
        tls,
        config.connect_timeout(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Box::new(stream))
}

/// What [`LineReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A line, without its `\r\n`, decoded as UTF-8 (invalid bytes
    /// replaced: some clients still send Latin-1).
    Line(String),
    /// A line longer than any server sends, dropped.
    TooLong,
    /// The server closed the connection.
    Closed,
}

/// Reads lines from a stream.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Dropping the rest of an overlong line, up to its `\n`.
    skipping: bool,
}

impl LineReader {
    /// The next line. Cancel-safe: bytes read before a cancellation stay
    /// in the buffer for the next call.
    pub async fn next<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        reader: &mut R,
    ) -> io::Result<Read> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                if line.len() > MAX_READ_LINE {
                    return Ok(Read::TooLong);
                }
                return Ok(Read::Line(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.buf.len() > MAX_READ_LINE {
                self.buf.clear();
                if !self.skipping {
                    self.skipping = true;
                    return Ok(Read::TooLong);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = reader.read(&mut chunk).await?;
            if n == 0 {
                return Ok(Read::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn lines_split_on_crlf_or_lf_and_overlong_ones_are_dropped() {
        let (mut server, mut client) = tokio::io::duplex(64 * 1024);
        let long = "x".repeat(MAX_READ_LINE + 100);
        let sent = format!("PING :a\r\nPING :b\n{long}\r\nPING :\u{e9}\r\n");
        server.write_all(sent.as_bytes()).await.unwrap();
        server.write_all(b"\xe9t\xe9\r\n").await.unwrap();
        drop(server);
        let mut reader = LineReader::default();
        let mut got = Vec::new();
        loop {
            match reader.next(&mut client).await.unwrap() {
                Read::Closed => break,
                other => got.push(other),
            }
        }
        assert_eq!(
            got,
            [
                Read::Line("PING :a".into()),
                Read::Line("PING :b".into()),
                Read::TooLong,
                Read::Line("PING :\u{e9}".into()),
                Read::Line("\u{fffd}t\u{fffd}".into()),
            ]
        );
    }
}
