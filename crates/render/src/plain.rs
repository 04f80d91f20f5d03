//! Plain text: every piece of markup removed, for platforms without
//! formatting and as the fallback when a platform rejects formatted text.
//!
//! Links read `text (url)` (an autolink just `url`), lists keep `• ` and
//! `1. ` markers with nested items indented, quotes keep `> `, code is kept
//! verbatim, and tables become aligned monospace columns.

use crate::walker::{self, Style, Target};

/// The plain-text [`Target`]; also used for table cells in every dialect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plain;

impl Target for Plain {
    fn text(&self, out: &mut String, text: &str) {
        out.push_str(text);
    }

    fn code_span(&self, out: &mut String, code: &str) {
        out.push_str(code);
    }

    fn style(&self, _out: &mut String, _style: Style, _open: bool) {}

    fn link(&self, out: &mut String, url: &str, text: &str) {
        out.push_str(text);
        if text != url && url.strip_prefix("mailto:") != Some(text) {
            out.push_str(" (");
            out.push_str(url);
            out.push(')');
        }
    }

    fn code_block(&self, out: &mut String, _language: Option<&str>, code: &str) {
        out.push_str(code);
    }

    fn quote_marker(&self, _depth: usize) -> &'static str {
        "> "
    }

    fn quote_marker_first(&self) -> bool {
        false
    }

    fn prefixed_blocks(&self) -> bool {
        true
    }
}

/// Renders `markdown` as plain text.
pub(crate) fn render(markdown: &str) -> String {
    walker::render(&Plain, markdown)
}
