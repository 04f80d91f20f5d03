//! Telegram Bot API "MarkdownV2 style" formatting.
//!
//! `*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ```lang ```` pre
//! blocks, `[text](url)` links and `>` quote lines. Outside entities every
//! one of `_ * [ ] ( ) ~ ` > # + - = | { } . !` and `\` is escaped with a
//! backslash; inside code and pre only `` ` `` and `\`; inside a link's
//! `(...)` only `)` and `\`. Lists, headings, rules and tables are spelled
//! as for Telegram HTML, tables inside a pre block. Telegram has one level
//! of quote, so nested quotes share the single `>` marker.

use crate::walker::{self, Style, Target};

#[derive(Debug, Clone, Copy)]
struct TelegramMarkdownV2;

/// Characters that must be escaped in MarkdownV2 text outside entities.
pub(crate) const SPECIAL: &[char] = &[
    '_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!', '\\',
];

fn escape(out: &mut String, text: &str, special: impl Fn(char) -> bool) {
    for c in text.chars() {
        if special(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

fn escape_text(out: &mut String, text: &str) {
    escape(out, text, |c| SPECIAL.contains(&c));
}

fn escape_code(out: &mut String, code: &str) {
    escape(out, code, |c| matches!(c, '`' | '\\'));
}

impl Target for TelegramMarkdownV2 {
    fn text(&self, out: &mut String, text: &str) {
        escape_text(out, text);
    }

    fn code_span(&self, out: &mut String, code: &str) {
        out.push('`');
        escape_code(out, code);
        out.push('`');
    }

    fn style(&self, out: &mut String, style: Style, _open: bool) {
        let marker = match style {
            Style::Strong => '*',
            Style::Emphasis => '_',
            Style::Strike => '~',
        };
        // `__` would read as underline: Telegram ignores a `\r` between.
        if marker == '_' && out.ends_with('_') {
            out.push('\r');
        }
        out.push(marker);
    }

    fn link(&self, out: &mut String, url: &str, text: &str) {
        out.push('[');
        out.push_str(text);
        out.push_str("](");
        escape(out, url, |c| matches!(c, ')' | '\\'));
        out.push(')');
    }

    fn code_block(&self, out: &mut String, language: Option<&str>, code: &str) {
        out.push_str("```");
        out.push_str(language.unwrap_or_default());
        out.push('\n');
        escape_code(out, code);
        out.push_str("\n```");
    }

    fn quote_marker(&self, _depth: usize) -> &'static str {
        ">"
    }
}

/// Renders `markdown` as Telegram MarkdownV2.
pub(crate) fn render(markdown: &str) -> String {
    walker::render(&TelegramMarkdownV2, markdown)
}
