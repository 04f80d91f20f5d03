//! Markdown to Signal's formatting: plain text plus style ranges
//! (`textStyle` on `send`, `start:length:STYLE`), offsets and lengths in
//! **UTF-16 code units** as Signal (and signal-cli) count them.
//!
//! The agent's Markdown goes through the shared renderer first
//! (`hermod_render`, Telegram's HTML dialect, whose handful of tags —
//! `b i s code pre a blockquote` — map one to one onto Signal's styles),
//! then the tags become ranges: bold (and headings) `BOLD`, emphasis
//! `ITALIC`, strikethrough `STRIKETHROUGH`, code spans and blocks
//! `MONOSPACE`; `||text||` outside code becomes `SPOILER` (Signal's and
//! Discord's spoiler marks). Links read `text (url)`, quotes `> ` lines,
//! lists `• ` items, as in every plain-text rendering.
//!
//! Replies longer than Signal's limit are split on the Markdown (keeping
//! code fences whole) before rendering, so each message carries its own
//! styles.

use hermod_model::text::split_message;
use hermod_model::{LengthUnit, MarkdownDialect};

/// The longest message hermod sends, in UTF-16 units (Java's
/// `String.length()`, which signal-cli counts); Hermes' 8000.
pub const MAX_MESSAGE_LEN: usize = 8000;

/// One of Signal's text styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Style {
    Bold,
    Italic,
    Strikethrough,
    Monospace,
    Spoiler,
}

impl Style {
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Bold => "BOLD",
            Style::Italic => "ITALIC",
            Style::Strikethrough => "STRIKETHROUGH",
            Style::Monospace => "MONOSPACE",
            Style::Spoiler => "SPOILER",
        }
    }
}

/// A styled range, in UTF-16 units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start: usize,
    pub length: usize,
    pub style: Style,
}

impl Range {
    /// `start:length:STYLE`, as signal-cli's `textStyle` takes it.
    pub fn to_param(self) -> String {
        format!("{}:{}:{}", self.start, self.length, self.style.as_str())
    }
}

/// Plain text and its styles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Styled {
    pub text: String,
    pub ranges: Vec<Range>,
}

/// The agent's Markdown as Signal messages, each within
/// [`MAX_MESSAGE_LEN`] UTF-16 units; empty pieces dropped.
pub fn to_messages(markdown: &str) -> Vec<Styled> {
    split_message(markdown, MAX_MESSAGE_LEN, LengthUnit::Utf16)
        .iter()
        .map(|piece| to_styled(piece))
        .flat_map(|styled| cut(styled, MAX_MESSAGE_LEN))
        .filter(|styled| !styled.text.trim().is_empty())
        .collect()
}

/// The agent's Markdown as one styled text.
pub fn to_styled(markdown: &str) -> Styled {
    let html = hermod_render::render(markdown, MarkdownDialect::TelegramHtml).text;
    let mut builder = Builder::default();
    builder.read(&html);
    builder.finish()
}

#[derive(Default)]
struct Builder {
    out: String,
    /// `out`'s length in UTF-16 units.
    units: usize,
    ranges: Vec<Range>,
    /// Open styles: the style and where it began.
    open: Vec<(Style, usize)>,
    /// Open links: their URL and where their text began in `out`.
    links: Vec<(String, usize)>,
    /// Inside `<pre>`: its `<code>` is no second range, spoilers stay text.
    in_pre: usize,
    in_code: usize,
    quote_depth: usize,
}

impl Builder {
    fn read(&mut self, html: &str) {
        let mut rest = html;
        while !rest.is_empty() {
            match rest.find('<') {
                Some(0) => {
                    let end = rest.find('>').map_or(rest.len(), |e| e + 1);
                    self.tag(&rest[..end]);
                    rest = &rest[end..];
                }
                Some(at) => {
                    self.text(&unescape(&rest[..at]));
                    rest = &rest[at..];
                }
                None => {
                    self.text(&unescape(rest));
                    rest = "";
                }
            }
        }
    }

    fn tag(&mut self, tag: &str) {
        let inner = tag.trim_start_matches('<').trim_end_matches('>');
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(inner) => (true, inner),
            None => (false, inner),
        };
        let name = inner.split_whitespace().next().unwrap_or_default();
        let style = match name {
            "b" | "strong" => Some(Style::Bold),
            "i" | "em" => Some(Style::Italic),
            "s" | "del" => Some(Style::Strikethrough),
            "pre" => {
                if closing {
                    self.in_pre = self.in_pre.saturating_sub(1);
                } else {
                    self.in_pre += 1;
                }
                Some(Style::Monospace)
            }
            "code" if self.in_pre > 0 => None,
            "code" => {
                if closing {
                    self.in_code = self.in_code.saturating_sub(1);
                } else {
                    self.in_code += 1;
                }
                Some(Style::Monospace)
            }
            "a" => {
                self.link(closing, inner);
                None
            }
            "blockquote" => {
                if closing {
                    self.quote_depth = self.quote_depth.saturating_sub(1);
                } else {
                    self.quote_depth += 1;
                }
                None
            }
            _ => None,
        };
        if let Some(style) = style {
            if closing {
                self.close(style);
            } else {
                self.open.push((style, self.units));
            }
        }
    }

    fn link(&mut self, closing: bool, inner: &str) {
        if closing {
            if let Some((url, start)) = self.links.pop() {
                let shown = &self.out[start..];
                if shown != url && url.strip_prefix("mailto:") != Some(shown) {
                    self.push(&format!(" ({url})"));
                }
            }
        } else {
            let url = inner
                .split_once("href=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(url, _)| unescape(url))
                .unwrap_or_default();
            self.links.push((url, self.out.len()));
        }
    }

    fn close(&mut self, style: Style) {
        if let Some(at) = self.open.iter().rposition(|(s, _)| *s == style) {
            let (_, start) = self.open.remove(at);
            if self.units > start {
                self.ranges.push(Range {
                    start,
                    length: self.units - start,
                    style,
                });
            }
        }
    }

    /// Text between tags: spoilers marked `||...||` become ranges
    /// (outside code), the rest is written.
    fn text(&mut self, text: &str) {
        if self.in_pre > 0 || self.in_code > 0 {
            self.push(text);
            return;
        }
        let mut rest = text;
        while let Some(open) = rest.find("||") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("||").filter(|c| *c > 0) else {
                break;
            };
            self.push(&rest[..open]);
            let start = self.units;
            self.push(&after[..close]);
            self.ranges.push(Range {
                start,
                length: self.units - start,
                style: Style::Spoiler,
            });
            rest = &after[close + 2..];
        }
        self.push(rest);
    }

    /// Appends `text`, starting quoted lines with `> `.
    fn push(&mut self, text: &str) {
        for c in text.chars() {
            if self.quote_depth > 0
                && (self.out.is_empty() || self.out.ends_with('\n'))
                && c != '\n'
            {
                for _ in 0..self.quote_depth {
                    self.out.push_str("> ");
                    self.units += 2;
                }
            }
            self.out.push(c);
            self.units += c.len_utf16();
        }
    }

    fn finish(mut self) -> Styled {
        // Tags left open by a cut text close at the end.
        while let Some((style, _)) = self.open.last().copied() {
            self.close(style);
        }
        let trimmed = self.out.trim_end();
        let units: usize = trimmed.encode_utf16().count();
        let lead = self.out.len() - self.out.trim_start().len();
        let lead_units: usize = self.out[..lead].encode_utf16().count();
        let text = self.out[lead..trimmed.len()].to_owned();
        let mut ranges: Vec<Range> = self
            .ranges
            .into_iter()
            .filter_map(|r| clip(r, lead_units, units))
            .collect();
        ranges.sort();
        Styled { text, ranges }
    }
}

/// `range` within `[from, to)` units, shifted to start at `from`.
fn clip(range: Range, from: usize, to: usize) -> Option<Range> {
    let start = range.start.max(from);
    let end = (range.start + range.length).min(to);
    (end > start).then(|| Range {
        start: start - from,
        length: end - start,
        style: range.style,
    })
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Cuts a rendered text longer than `limit` units (a wide table) at line
/// ends, else anywhere, keeping each piece's styles.
fn cut(styled: Styled, limit: usize) -> Vec<Styled> {
    let mut pieces = Vec::new();
    let mut rest = styled;
    loop {
        let units: Vec<u16> = rest.text.encode_utf16().collect();
        if units.len() <= limit {
            pieces.push(rest);
            return pieces;
        }
        // The last char boundary within the limit, at a newline if any.
        let mut boundary = 0;
        let mut newline = None;
        let mut at = 0;
        for (i, c) in rest.text.char_indices() {
            let next = at + c.len_utf16();
            if next > limit {
                break;
            }
            at = next;
            boundary = i + c.len_utf8();
            if c == '\n' {
                newline = Some((boundary, at));
            }
        }
        let (byte, unit) = newline.unwrap_or((boundary, at));
        let head = Styled {
            text: rest.text[..byte].to_owned(),
            ranges: rest
                .ranges
                .iter()
                .filter_map(|r| clip(*r, 0, unit))
                .collect(),
        };
        let total = units.len();
        rest = Styled {
            text: rest.text[byte..].to_owned(),
            ranges: rest
                .ranges
                .iter()
                .filter_map(|r| clip(*r, unit, total))
                .collect(),
        };
        pieces.push(head);
    }
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
