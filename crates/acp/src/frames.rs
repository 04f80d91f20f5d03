//! Newline-delimited frames with a length cap: ACP puts one JSON-RPC
//! message per line on the agent's stdout, and a line that never ends must
//! not grow hermod's memory without bound.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest frame hermod reads (16 MiB): far above any real message
/// (images travel base64 in prompts, not in the agent's answers).
pub(crate) const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("a frame from the agent exceeded {max} bytes without a line end")]
    TooLong { max: usize },
    #[error("reading the agent's output failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the next line into `out` (without its `\n`). `Ok(false)` at the
/// end of the stream; a last line without `\n` still counts as a frame.
pub(crate) async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
    max: usize,
) -> Result<bool, FrameError> {
    out.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(!out.is_empty());
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        let line = if done {
            &available[..taken - 1]
        } else {
            available
        };
        if out.len() + line.len() > max {
            return Err(FrameError::TooLong { max });
        }
        out.extend_from_slice(line);
        reader.consume(taken);
        if done {
            if out.last() == Some(&b'\r') {
                out.pop();
            }
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use tokio::io::BufReader;

    async fn frames(input: &[u8], max: usize) -> (Vec<String>, Option<String>) {
        // A tiny buffer so lines span several reads.
        let mut reader = BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        loop {
            match read_frame(&mut reader, &mut out, max).await {
                Ok(true) => seen.push(String::from_utf8(out.clone()).unwrap()),
                Ok(false) => return (seen, None),
                Err(err) => return (seen, Some(err.to_string())),
            }
        }
    }

    #[tokio::test]
    async fn lines_are_split_across_reads() {
        let (seen, err) = frames(b"{\"a\":1}\n\n{\"b\":22}\r\nlast", 64).await;
        assert_eq!(seen, ["{\"a\":1}", "", "{\"b\":22}", "last"]);
        assert!(err.is_none());
    }

    #[tokio::test]
    async fn a_frame_over_the_cap_is_an_error() {
        let (seen, err) = frames(b"12345\n1234567890\nok\n", 8).await;
        assert_eq!(seen, ["12345"]);
        assert!(err.unwrap().contains("exceeded 8 bytes"));
        let (seen, err) = frames(b"12345678\n", 8).await;
        assert_eq!(seen, ["12345678"], "exactly the cap is fine");
        assert!(err.is_none());
    }
}
