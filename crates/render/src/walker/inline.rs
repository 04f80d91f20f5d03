//! Inline content: text, code spans, line breaks, styles and links.

use super::{LinkFrame, Style, Walker};
use crate::text;
use pulldown_cmark::LinkType;

impl Walker<'_> {
    pub(super) fn inline_text(&mut self, text: &str) {
        let target = self.inline_target();
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                self.line_break();
            }
            if !line.is_empty() {
                self.ensure_line();
                target.text(&mut self.out, line);
            }
        }
    }

    pub(super) fn code_span(&mut self, code: &str) {
        self.ensure_line();
        let target = self.inline_target();
        if self.styles_suppressed() {
            target.text(&mut self.out, code);
        } else {
            target.code_span(&mut self.out, code);
        }
    }

    pub(super) fn line_break(&mut self) {
        if !self.saved.is_empty() {
            // Link text and table cells stay on one line.
            self.out.push(' ');
            return;
        }
        if self.line_start {
            // An empty line: it still belongs to any quote it is in.
            let blank = self.blank_prefix();
            self.out.push_str(&blank);
            self.out.push('\n');
            return;
        }
        if self.target.line_scoped_styles() && !self.open_styles.is_empty() {
            for &style in self.open_styles.iter().rev() {
                self.target.style(&mut self.out, style, false);
            }
            self.reopen = true;
        }
        self.end_line();
    }

    /// Styles are not written inside image alt text, table cells, or link
    /// text on platforms whose links cannot carry them.
    pub(super) fn styles_suppressed(&self) -> bool {
        self.images > 0
            || self.table.is_some()
            || (!self.links.is_empty() && !self.target.styles_in_links())
    }

    pub(super) fn style_open(&mut self, style: Style) {
        if self.styles_suppressed() {
            return;
        }
        let depth = &mut self.style_depth[style.index()];
        *depth += 1;
        if *depth == 1 {
            self.ensure_line();
            self.target.style(&mut self.out, style, true);
            self.open_styles.push(style);
        }
    }

    pub(super) fn style_close(&mut self, style: Style) {
        if self.styles_suppressed() {
            return;
        }
        let depth = &mut self.style_depth[style.index()];
        *depth = depth.saturating_sub(1);
        if *depth == 0 {
            // After a line break the style is not reopened yet: nothing to close.
            if !(self.reopen && self.line_start) {
                self.target.style(&mut self.out, style, false);
            }
            if let Some(index) = self.open_styles.iter().rposition(|&s| s == style) {
                self.open_styles.remove(index);
            }
        }
    }

    /// Starts capturing output into a fresh buffer (link text, table cell).
    pub(super) fn capture(&mut self) {
        self.saved.push(std::mem::take(&mut self.out));
    }

    /// Ends a capture, returning what was written since.
    pub(super) fn release(&mut self) -> String {
        let outer = self.saved.pop().unwrap_or_default();
        std::mem::replace(&mut self.out, outer)
    }

    pub(super) fn start_link(&mut self, link_type: LinkType, url: &str) {
        let nested = !self.links.is_empty();
        let url = match link_type {
            LinkType::Email => format!("mailto:{url}"),
            _ => url.to_owned(),
        };
        let auto = matches!(link_type, LinkType::Autolink | LinkType::Email);
        if !nested {
            self.ensure_line();
            self.capture();
        }
        self.links.push(LinkFrame { url, auto, nested });
    }

    pub(super) fn end_link(&mut self) {
        let Some(frame) = self.links.pop() else {
            return;
        };
        if frame.nested {
            return;
        }
        let target = self.inline_target();
        let mut text = self.release();
        let url = frame.url.as_str();
        if frame.auto || text.trim().is_empty() {
            text.clear();
            target.text(&mut text, url.strip_prefix("mailto:").unwrap_or(url));
        }
        if url.is_empty() {
            self.out.push_str(&text);
        } else if text::is_absolute_url(url) {
            target.link(&mut self.out, url, &text);
        } else {
            self.out.push_str(&text);
            target.text(&mut self.out, &format!(" ({url})"));
        }
    }
}
