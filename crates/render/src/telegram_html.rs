//! Telegram Bot API "HTML style" formatting.
//!
//! Only the tags Telegram accepts are produced: `<b> <i> <s> <code> <pre>
//! <a href> <blockquote>`, with `<pre><code class="language-x">` for fenced
//! code that names a language. All other text, including any raw HTML in
//! the Markdown, has `&`, `<` and `>` escaped (and `"` inside `href`).
//! Headings become bold lines, lists `• ` / `1. ` lines, images links,
//! rules a line of `———`, and tables `<pre>` blocks with aligned columns.
//! Telegram does not nest quotes, so only the outermost one is tagged.

use crate::text::escape_html;
use crate::walker::{self, Style, Target};

#[derive(Debug, Clone, Copy)]
struct TelegramHtml;

impl Target for TelegramHtml {
    fn text(&self, out: &mut String, text: &str) {
        escape_html(out, text, false);
    }

    fn code_span(&self, out: &mut String, code: &str) {
        out.push_str("<code>");
        escape_html(out, code, false);
        out.push_str("</code>");
    }

    fn style(&self, out: &mut String, style: Style, open: bool) {
        let tag = match style {
            Style::Strong => "b",
            Style::Emphasis => "i",
            Style::Strike => "s",
        };
        out.push_str(if open { "<" } else { "</" });
        out.push_str(tag);
        out.push('>');
    }

    fn link(&self, out: &mut String, url: &str, text: &str) {
        out.push_str("<a href=\"");
        escape_html(out, url, true);
        out.push_str("\">");
        out.push_str(text);
        out.push_str("</a>");
    }

    fn code_block(&self, out: &mut String, language: Option<&str>, code: &str) {
        out.push_str("<pre>");
        match language {
            Some(language) => {
                out.push_str("<code class=\"language-");
                escape_html(out, language, true);
                out.push_str("\">");
                escape_html(out, code, false);
                out.push_str("</code>");
            }
            None => escape_html(out, code, false),
        }
        out.push_str("</pre>");
    }

    fn quote_tags(&self) -> Option<(&'static str, &'static str)> {
        Some(("<blockquote>", "</blockquote>"))
    }
}

/// Renders `markdown` as Telegram HTML.
pub(crate) fn render(markdown: &str) -> String {
    walker::render(&TelegramHtml, markdown)
}
