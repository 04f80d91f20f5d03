//! Markdown → Slack mrkdwn, within Slack's length rule.
//!
//! Slack recommends keeping a message's `text` under 4,000 characters:
//! `chat.postMessage` truncates text beyond 40,000, and `chat.update`
//! refuses more than 4,000 with `msg_too_long`. Every part produced here
//! is at most [`MAX_MESSAGE`] characters *as sent* — the mrkdwn, whose
//! `&amp;`, `&lt;` and `&gt;` escapes count — so any message can later
//! be edited.

use hermod_model::text::{cut, split_message};
use hermod_model::{LengthUnit, MarkdownDialect};

/// Longest message text, in characters of the mrkdwn sent.
pub(crate) const MAX_MESSAGE: usize = 4_000;

/// Markdown rendered as mrkdwn.
pub(crate) fn mrkdwn(markdown: &str) -> String {
    hermod_render::render(markdown, MarkdownDialect::SlackMrkdwn).text
}

/// The length Slack counts.
pub(crate) fn measure(text: &str) -> usize {
    LengthUnit::Chars.measure(text)
}

/// Renders `markdown` as mrkdwn parts of at most `limit` characters. The
/// Markdown is split at line boundaries (keeping code blocks intact,
/// numbering parts when there are several); when escapes make a part's
/// rendering too long, the whole text is split again with a tenth less
/// room, so parts still end at lines and their numbers stay right. Only
/// text that will not fit even so (a single huge line) is cut in halves.
/// Blank parts are dropped: Slack refuses empty messages.
pub(crate) fn render_parts(markdown: &str, limit: usize) -> Vec<String> {
    let mut budget = limit;
    let mut parts = loop {
        let rendered: Vec<String> = split_message(markdown, budget, LengthUnit::Chars)
            .iter()
            .map(|piece| mrkdwn(piece))
            .collect();
        if rendered.iter().all(|p| measure(p) <= limit) || budget <= limit / 4 {
            break rendered;
        }
        budget = budget * 9 / 10;
    };
    if parts.iter().any(|p| measure(p) > limit) {
        parts = Vec::new();
        for piece in split_message(markdown, budget, LengthUnit::Chars) {
            push_fitting(&piece, limit, &mut parts);
        }
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

fn push_fitting(markdown: &str, limit: usize, out: &mut Vec<String>) {
    let rendered = mrkdwn(markdown);
    let len = measure(markdown);
    if measure(&rendered) <= limit || len <= 1 {
        out.push(rendered);
        return;
    }
    let halves = cut(markdown, len.div_ceil(2), LengthUnit::Chars);
    if halves.tail.is_empty() {
        out.push(rendered);
        return;
    }
    push_fitting(&halves.head, limit, out);
    push_fitting(&halves.tail, limit, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_mrkdwn() {
        let parts = render_parts("**bold** and _it_ & <x> [a](https://e.com)", MAX_MESSAGE);
        assert_eq!(parts, ["*bold* and _it_ &amp; &lt;x&gt; <https://e.com|a>"]);
    }

    #[test]
    fn long_text_is_split_at_lines_and_every_part_fits_as_sent() {
        // Escapes make the mrkdwn longer than the Markdown.
        let lines: Vec<String> = (0..400)
            .map(|i| format!("line {i:03} with **bold** & <angle> words"))
            .collect();
        let markdown = lines.join("\n");
        let parts = render_parts(&markdown, MAX_MESSAGE);
        assert!(parts.len() > 1);
        let mut seen = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(measure(part) <= MAX_MESSAGE, "{}", measure(part));
            // Each part ends with its `(i/N)` marker.
            let marker = format!("({}/{})", i + 1, parts.len());
            let body = part.trim_end().strip_suffix(&marker).unwrap();
            seen.extend(
                body.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
        let expected: Vec<String> = lines
            .iter()
            .map(|l| {
                l.replace("**bold**", "*bold*")
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            })
            .collect();
        assert!(seen == expected, "a line was cut or lost");
    }

    #[test]
    fn one_huge_line_is_cut_to_fit() {
        let parts = render_parts(&"&".repeat(3_000), MAX_MESSAGE);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| measure(p) <= MAX_MESSAGE));
    }

    #[test]
    fn blank_text_gives_no_parts() {
        assert!(render_parts(" \n ", MAX_MESSAGE).is_empty());
    }
}
