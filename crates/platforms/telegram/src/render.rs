//! Markdown → Telegram HTML, and Telegram's length rules.
//!
//! Telegram limits a message to 4096 and a caption to 1024 UTF-16 code
//! units *after entity parsing*: the markup does not count, the text it
//! shows does. Every part produced here fits twice over: the HTML's visible
//! text, and the plain-text rendering used when Telegram refuses the HTML.

use hermod_model::text::{cut, split_message};
use hermod_model::{LengthUnit, MarkdownDialect};

/// Longest message text, in UTF-16 code units after entity parsing.
pub(crate) const MAX_MESSAGE: usize = 4096;
/// Longest media caption, likewise.
pub(crate) const MAX_CAPTION: usize = 1024;
/// `parse_mode` of rendered text.
pub(crate) const PARSE_MODE: &str = "HTML";

/// One message's text, rendered both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub html: String,
    /// What is sent instead when Telegram cannot parse `html`.
    pub plain: String,
}

impl Part {
    pub(crate) fn render(markdown: &str) -> Self {
        Self {
            html: hermod_render::render(markdown, MarkdownDialect::TelegramHtml).text,
            plain: hermod_render::to_plain(markdown),
        }
    }

    /// Whether both renderings fit `limit` as Telegram counts.
    pub(crate) fn fits(&self, limit: usize) -> bool {
        visible_len(&self.html) <= limit && LengthUnit::Utf16.measure(&self.plain) <= limit
    }

    /// Nothing visible: Telegram refuses empty messages.
    pub(crate) fn is_blank(&self) -> bool {
        self.plain.trim().is_empty() && html_text_is_blank(&self.html)
    }
}

/// Renders `markdown` as parts of at most `limit`. The Markdown is split
/// first (keeping code blocks intact, numbering parts when there are
/// several); a part whose rendering still does not fit — rendering can
/// lengthen text, such as table padding — is cut again, in halves.
pub(crate) fn render_parts(markdown: &str, limit: usize) -> Vec<Part> {
    let mut parts = Vec::new();
    for piece in split_message(markdown, limit, LengthUnit::Utf16) {
        push_fitting(&piece, limit, &mut parts);
    }
    parts.retain(|p| !p.is_blank());
    parts
}

fn push_fitting(markdown: &str, limit: usize, out: &mut Vec<Part>) {
    let part = Part::render(markdown);
    let len = LengthUnit::Utf16.measure(markdown);
    if part.fits(limit) || len <= 1 {
        out.push(part);
        return;
    }
    let halves = cut(markdown, len.div_ceil(2), LengthUnit::Utf16);
    if halves.tail.is_empty() {
        out.push(part);
        return;
    }
    push_fitting(&halves.head, limit, out);
    push_fitting(&halves.tail, limit, out);
}

/// The length Telegram counts for an HTML text: tags removed, character
/// references (`&amp;`, `&#128512;`, ...) counted as the character they
/// stand for, in UTF-16 code units.
pub(crate) fn visible_len(html: &str) -> usize {
    let mut len = 0;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => {
                    len += 1;
                    rest = &rest[1..];
                }
            },
            '&' => match reference(rest) {
                Some((decoded_len, consumed)) => {
                    len += decoded_len;
                    rest = &rest[consumed..];
                }
                None => {
                    len += 1;
                    rest = &rest[1..];
                }
            },
            other => {
                len += other.len_utf16();
                rest = &rest[other.len_utf8()..];
            }
        }
    }
    len
}

/// A character reference at the start of `text`: the UTF-16 length of the
/// character it stands for and the bytes it takes.
fn reference(text: &str) -> Option<(usize, usize)> {
    let (end, _) = text.char_indices().take(12).find(|&(_, c)| c == ';')?;
    let name = &text[1..end];
    let decoded = match name {
        "amp" | "lt" | "gt" | "quot" => Some('&'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }?;
    Some((decoded.len_utf16(), end + 1))
}

fn html_text_is_blank(html: &str) -> bool {
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag && !c.is_whitespace() => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_length_ignores_markup_and_counts_utf16() {
        assert_eq!(visible_len("<b>bold</b> &amp; <a href=\"x\">y</a>"), 8);
        assert_eq!(visible_len("😀"), 2);
        assert_eq!(visible_len("&#128512;&#x41;"), 3);
        assert_eq!(visible_len("a & b"), 5);
        assert_eq!(visible_len("&unknown;"), 9);
    }

    #[test]
    fn short_text_is_one_part() {
        let parts = render_parts("**hi** <there>", MAX_MESSAGE);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].html, "<b>hi</b> &lt;there&gt;");
        assert_eq!(parts[0].plain, "hi <there>");
    }

    #[test]
    fn long_text_is_split_and_every_part_fits() {
        let line = "A line with **bold** and `code` and an emoji 😀 & more.\n";
        let markdown = line.repeat(300);
        let parts = render_parts(&markdown, MAX_MESSAGE);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.fits(MAX_MESSAGE), "{}", visible_len(&part.html));
            assert!(part.html.contains("<b>bold</b>"));
        }
        assert!(parts[0].plain.ends_with(&format!("(1/{})", parts.len())));
    }

    #[test]
    fn parts_end_at_line_boundaries_counted_in_utf16() {
        // Emoji take two UTF-16 units: a split counted in chars would overflow.
        let lines: Vec<String> = (0..200)
            .map(|i| format!("line {i:03} 😀😀😀 with **bold** & <angle> words"))
            .collect();
        let markdown = lines.join("\n\n");
        let parts = render_parts(&markdown, MAX_MESSAGE);
        assert!(parts.len() > 1);
        let mut seen = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(part.fits(MAX_MESSAGE), "{}", visible_len(&part.html));
            let marker = format!("({}/{})", i + 1, parts.len());
            let body = part.plain.trim_end().strip_suffix(&marker).unwrap();
            seen.extend(
                body.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
        let expected: Vec<String> = lines.iter().map(|l| l.replace("**", "")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn rendering_that_grows_is_cut_again() {
        // A table's padding makes the rendering longer than its Markdown.
        let mut table = String::from("| a | b |\n|---|---|\n");
        for i in 0..200 {
            table.push_str(&format!("| {i} | {} |\n", "x".repeat(i % 40)));
        }
        for part in render_parts(&table, 1000) {
            assert!(part.fits(1000));
        }
    }

    #[test]
    fn blank_text_gives_no_parts() {
        assert!(render_parts("  \n ", MAX_MESSAGE).is_empty());
    }
}
