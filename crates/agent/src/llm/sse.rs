//! A hand-rolled server-sent events parser: bytes in, `data` payloads out.
//!
//! Follows the SSE framing rules that matter for chat completion streams:
//! lines end with `\n`, `\r\n` or `\r` (also when split across reads);
//! `data:` lines of one event are joined with `\n`; an empty line ends the
//! event; lines starting with `:` are comments (keepalives); other fields
//! (`event:`, `id:`, `retry:`) are ignored.

/// Incremental SSE parser.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    /// The previous read ended with `\r`; a leading `\n` belongs to it.
    after_cr: bool,
}

impl SseParser {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the data of every event they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.end_line(&mut events);
                    self.after_cr = true;
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    /// The end of the stream: an event not closed by an empty line is still
    /// delivered (tolerating servers that omit the final blank line).
    pub(crate) fn finish(&mut self) -> Option<String> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.end_line(&mut events);
        events.pop()
    }

    fn end_line(&mut self, events: &mut Vec<String>) {
        if self.line.is_empty() {
            if std::mem::take(&mut self.has_data) {
                events.push(std::mem::take(&mut self.data));
            }
            return;
        }
        let line = std::mem::take(&mut self.line);
        let line = String::from_utf8_lossy(&line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(value);
            self.has_data = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(pieces: &[&[u8]]) -> Vec<String> {
        let mut parser = SseParser::new();
        let mut events: Vec<String> = pieces.iter().flat_map(|p| parser.push(p)).collect();
        events.extend(parser.finish());
        events
    }

    #[test]
    fn simple_events() {
        let events = parse_all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(events, ["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn events_split_across_reads_in_every_place() {
        let stream = b"data: first\r\n\r\n: keepalive\r\n\r\ndata:second\r\n\r\n";
        for cut in 0..stream.len() {
            for cut2 in cut..stream.len() {
                let events = parse_all(&[&stream[..cut], &stream[cut..cut2], &stream[cut2..]]);
                assert_eq!(events, ["first", "second"], "cuts at {cut}, {cut2}");
            }
        }
    }

    #[test]
    fn multi_line_data_and_other_fields() {
        let events =
            parse_all(&[b"event: message\nid: 7\ndata: line one\ndata: line two\nretry: 10\n\n"]);
        assert_eq!(events, ["line one\nline two"]);
    }

    #[test]
    fn bare_carriage_returns_end_lines() {
        assert_eq!(parse_all(&[b"data: a\r\rdata: b\r", b"\r"]), ["a", "b"]);
    }

    #[test]
    fn comments_and_empty_events_yield_nothing() {
        assert!(parse_all(&[b": ping\n\n\n\n:\n\n"]).is_empty());
        assert_eq!(parse_all(&[b"data\n\n"]), [""]);
    }

    #[test]
    fn unterminated_last_event_is_delivered() {
        assert_eq!(parse_all(&[b"data: tail"]), ["tail"]);
        assert_eq!(parse_all(&[b"data: tail\n"]), ["tail"]);
    }

    #[test]
    fn multibyte_characters_split_across_reads() {
        let bytes = "data: héllo ✓\n\n".as_bytes();
        for cut in 0..bytes.len() {
            assert_eq!(parse_all(&[&bytes[..cut], &bytes[cut..]]), ["héllo ✓"]);
        }
    }
}
