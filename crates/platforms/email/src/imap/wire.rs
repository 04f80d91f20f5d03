//! The IMAP connection's bytes: commands written with a tag, responses
//! read whole — a line, or a line ending in a literal `{n}` followed by n
//! bytes and the rest of the response (RFC 9051 §4.3) — and parsed with
//! `imap-proto`. A response the parser refuses is returned as
//! [`Read::Unparsed`] so the caller can log and skip it without losing the
//! connection.

use crate::error::EmailError;
use imap_proto::Response;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A response is never this large unless the server misbehaves: mail
/// bodies come as literals, whose size the connection caps separately.
const MAX_LINE: usize = 64 * 1024;

/// One response read from the server.
#[derive(Debug)]
pub(crate) enum Read {
    Response(Response<'static>),
    /// Complete, but not IMAP as `imap-proto` knows it; its first line.
    Unparsed(String),
}

/// A connection to an IMAP server, over any byte stream.
#[derive(Debug)]
pub(crate) struct Wire<S> {
    stream: S,
    buf: Vec<u8>,
    next_tag: u32,
    /// How long one read may wait.
    timeout: Duration,
    /// The largest literal accepted (a mail's size).
    max_literal: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Wire<S> {
    pub(crate) fn new(stream: S, timeout: Duration, max_literal: usize) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            next_tag: 1,
            timeout,
            max_literal,
        }
    }

    /// The stream, for a STARTTLS upgrade; nothing may be buffered.
    pub(crate) fn into_stream(self) -> S {
        self.stream
    }

    /// Writes `command` with a new tag and returns the tag.
    pub(crate) async fn command(&mut self, command: &str) -> Result<String, EmailError> {
        let tag = format!("h{}", self.next_tag);
        self.next_tag += 1;
        self.write_line(&format!("{tag} {command}")).await?;
        Ok(tag)
    }

    /// Writes one line (a continuation, `DONE`) with its CRLF.
    pub(crate) async fn write_line(&mut self, line: &str) -> Result<(), EmailError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let write = async {
            self.stream.write_all(&bytes).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| EmailError::Timeout("writing to the IMAP server"))?
            .map_err(|e| EmailError::Io(format!("writing to the IMAP server: {e}")))
    }

    /// Reads the next response, waiting at most the connection's timeout.
    pub(crate) async fn read(&mut self) -> Result<Read, EmailError> {
        self.read_within(self.timeout).await
    }

    /// Reads the next response, waiting at most `wait` for it to start
    /// (IDLE waits long) and the usual timeout for each later chunk.
    pub(crate) async fn read_within(&mut self, wait: Duration) -> Result<Read, EmailError> {
        let mut first = true;
        loop {
            match complete(&self.buf, self.max_literal)? {
                Some(end) => return Ok(self.take(end)),
                None => {
                    let limit = if first { wait } else { self.timeout };
                    first = false;
                    self.fill(limit).await?;
                }
            }
        }
    }

    /// Parses and removes the first `end` bytes of the buffer.
    fn take(&mut self, end: usize) -> Read {
        let read = match Response::parse(&self.buf[..end]) {
            Ok(([], response)) => Read::Response(response.into_owned()),
            _ => {
                let line_end = self.buf[..end]
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .unwrap_or(end);
                Read::Unparsed(String::from_utf8_lossy(&self.buf[..line_end]).into_owned())
            }
        };
        self.buf.drain(..end);
        read
    }

    async fn fill(&mut self, limit: Duration) -> Result<(), EmailError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(limit, self.stream.read(&mut chunk))
            .await
            .map_err(|_| EmailError::Timeout("waiting for the IMAP server"))?
            .map_err(|e| EmailError::Io(format!("reading from the IMAP server: {e}")))?;
        if n == 0 {
            return Err(EmailError::Closed(
                "the IMAP server closed the connection".into(),
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// The length of the first complete response in `buf`, if there is one.
fn complete(buf: &[u8], max_literal: usize) -> Result<Option<usize>, EmailError> {
    let mut at = 0;
    loop {
        let Some(eol) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            if buf.len() - at > MAX_LINE {
                return Err(EmailError::Protocol(
                    "the IMAP server sent a line longer than 64 KiB".into(),
                ));
            }
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let after = at + eol + 2;
        match literal_len(line) {
            Some(n) if n > max_literal => {
                return Err(EmailError::Protocol(format!(
                    "the IMAP server announced {n} bytes, over the {max_literal}-byte limit"
                )));
            }
            Some(n) => {
                if buf.len() < after + n {
                    return Ok(None);
                }
                at = after + n;
            }
            None => return Ok(Some(after)),
        }
    }
}

/// `n` when `line` ends with a literal's announcement `{n}` (or `{n+}`).
fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `text` as an IMAP quoted string; `None` when it cannot be one (CR, LF
/// or NUL).
pub(crate) fn quoted(text: &str) -> Option<String> {
    if text.contains(['\r', '\n', '\0']) {
        return None;
    }
    Some(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_proto::{AttributeValue, MailboxDatum, Status};

    #[test]
    fn responses_end_after_their_literals() {
        let fetch = b"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc)\r\n* 2 EXISTS\r\n";
        let end = complete(fetch, 100).unwrap().unwrap();
        assert_eq!(
            &fetch[..end],
            b"* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc)\r\n"
        );
        assert_eq!(complete(&fetch[..20], 100).unwrap(), None);
        assert_eq!(complete(&fetch[..32], 100).unwrap(), None);
        assert!(complete(fetch, 4).is_err(), "a literal over the cap");
        assert_eq!(literal_len(b"x {12+}"), Some(12));
        assert_eq!(literal_len(b"x {}"), None);
        assert_eq!(literal_len(b"x {a}"), None);
    }

    #[tokio::test]
    async fn a_fetch_split_across_reads_parses_and_junk_is_skipped() {
        let (client, mut server) = tokio::io::duplex(64);
        let mut wire = Wire::new(client, Duration::from_secs(5), 1 << 20);
        tokio::spawn(async move {
            for chunk in [
                &b"* 1 FETCH (UID 7 BODY[] {11}\r\nHello"[..],
                b" there)\r\n",
                b"* what is this\r\n* 3 EXISTS\r\n",
            ] {
                server.write_all(chunk).await.unwrap();
            }
            // Keep the stream open until the client is done.
            let mut rest = Vec::new();
            let _ = server.read_to_end(&mut rest).await;
        });
        let Read::Response(imap_proto::Response::Fetch(1, attrs)) = wire.read().await.unwrap()
        else {
            panic!("a fetch")
        };
        assert!(attrs.contains(&AttributeValue::Uid(7)));
        assert!(attrs.iter().any(|a| matches!(a,
            AttributeValue::BodySection { data: Some(d), .. } if d.as_ref() == b"Hello there"
        )));
        assert!(matches!(wire.read().await.unwrap(), Read::Unparsed(l) if l == "* what is this"));
        assert!(matches!(
            wire.read().await.unwrap(),
            Read::Response(imap_proto::Response::MailboxData(MailboxDatum::Exists(3)))
        ));
        let _ = Status::Ok;
    }

    #[test]
    fn quoting_escapes_and_refuses_line_breaks() {
        assert_eq!(quoted(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert_eq!(quoted("x\r\ny"), None);
    }
}
