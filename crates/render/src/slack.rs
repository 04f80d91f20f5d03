//! Slack mrkdwn.
//!
//! `*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ``` ```` blocks
//! (mrkdwn has no code language), `<url|text>` links and `> ` quote lines.
//! `&`, `<` and `>` are escaped as HTML entities everywhere; nothing else
//! can be. Headings become bold lines, lists `• ` / `1. ` lines and tables
//! code blocks. Slack styles do not span lines, so they are closed before
//! a line break and reopened after it; link text carries no styles.

use crate::walker::{self, Style, Target};

#[derive(Debug, Clone, Copy)]
struct Slack;

fn escape(out: &mut String, text: &str) {
    crate::text::escape_html(out, text, false);
}

impl Target for Slack {
    fn text(&self, out: &mut String, text: &str) {
        escape(out, text);
    }

    fn code_span(&self, out: &mut String, code: &str) {
        // A backquote would end the span early and mrkdwn cannot escape it.
        if code.contains('`') {
            escape(out, code);
        } else {
            out.push('`');
            escape(out, code);
            out.push('`');
        }
    }

    fn style(&self, out: &mut String, style: Style, _open: bool) {
        out.push(match style {
            Style::Strong => '*',
            Style::Emphasis => '_',
            Style::Strike => '~',
        });
    }

    fn link(&self, out: &mut String, url: &str, text: &str) {
        let start = out.len();
        out.push('<');
        for c in url.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("%3C"),
                '>' => out.push_str("%3E"),
                '|' => out.push_str("%7C"),
                ' ' => out.push_str("%20"),
                _ => out.push(c),
            }
        }
        if out[start + 1..] != *text {
            out.push('|');
            out.push_str(text);
        }
        out.push('>');
    }

    fn code_block(&self, out: &mut String, _language: Option<&str>, code: &str) {
        out.push_str("```\n");
        // A fence inside the block would end it and mrkdwn cannot escape
        // it: break up runs of backquotes with a zero-width space.
        if code.contains("```") {
            escape(out, &code.replace("``", "`\u{200B}`"));
        } else {
            escape(out, code);
        }
        out.push_str("\n```");
    }

    fn quote_marker(&self, _depth: usize) -> &'static str {
        "> "
    }

    fn quoted_raw_blocks(&self) -> bool {
        false
    }

    fn styles_in_links(&self) -> bool {
        false
    }

    fn line_scoped_styles(&self) -> bool {
        true
    }
}

/// Renders `markdown` as Slack mrkdwn.
pub(crate) fn render(markdown: &str) -> String {
    walker::render(&Slack, markdown)
}
