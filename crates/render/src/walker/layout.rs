//! Line and block layout: blank lines between blocks, line prefixes
//! (quote markers, list indentation and markers), code blocks and tables.

use super::{Container, Walker};
use crate::{table, text};

impl Walker<'_> {
    /// Starts a block: a blank line after the previous block, or just a new
    /// line inside list items; nothing for a container's first block.
    pub(super) fn block_start(&mut self) {
        if self.fresh {
            self.fresh = false;
            return;
        }
        if self.out.is_empty() && self.saved.is_empty() {
            return;
        }
        self.end_line();
        if !self.in_item() {
            let blank = self.blank_prefix();
            self.out.push_str(&blank);
            self.out.push('\n');
        }
    }

    pub(super) fn in_item(&self) -> bool {
        self.containers
            .iter()
            .any(|c| matches!(c, Container::Item { .. }))
    }

    /// Ends the current line unless it is already ended.
    pub(super) fn end_line(&mut self) {
        if !self.line_start {
            self.out.push('\n');
            self.line_start = true;
        }
    }

    /// Writes the line prefix (quote markers, list indentation or marker)
    /// if the next write starts a line.
    pub(super) fn ensure_line(&mut self) {
        self.fresh = false;
        if !self.saved.is_empty() || !self.line_start {
            return;
        }
        self.line_start = false;
        let prefix = self.prefix();
        self.out.push_str(&prefix);
        if self.reopen {
            self.reopen = false;
            for &style in &self.open_styles {
                self.target.style(&mut self.out, style, true);
            }
        }
    }

    pub(super) fn prefix(&mut self) -> String {
        self.prefix_with(true)
    }

    /// The line prefix, consuming pending list markers; without the quote
    /// markers unless `quoted`.
    pub(super) fn prefix_with(&mut self, quoted: bool) -> String {
        let target = self.target;
        let mut prefix = String::new();
        let marker_first = target.quote_marker_first();
        if quoted && marker_first && self.quote_depth > 0 {
            prefix.push_str(target.quote_marker(self.quote_depth));
        }
        // A quote written as an element starts its own indentation.
        let inside = match target.quote_tags() {
            Some(_) => self
                .containers
                .iter()
                .position(|c| matches!(c, Container::Quote))
                .map_or(0, |index| index + 1),
            None => 0,
        };
        for container in self.containers.iter_mut().skip(inside) {
            match container {
                Container::Quote if quoted && !marker_first => {
                    prefix.push_str(target.quote_marker(1));
                }
                Container::Quote => {}
                Container::Item { indent, marker } => match marker.take() {
                    Some(marker) => target.text(&mut prefix, &marker),
                    None => prefix.extend(std::iter::repeat_n(' ', *indent)),
                },
            }
        }
        prefix
    }

    /// The prefix of an empty line: quote markers only.
    pub(super) fn blank_prefix(&self) -> String {
        let target = self.target;
        let mut prefix = String::new();
        if target.quote_marker_first() {
            if self.quote_depth > 0 {
                prefix.push_str(target.quote_marker(self.quote_depth));
            }
        } else {
            for container in &self.containers {
                match container {
                    Container::Quote => prefix.push_str(target.quote_marker(1)),
                    Container::Item { indent, .. } => {
                        prefix.extend(std::iter::repeat_n(' ', *indent));
                    }
                }
            }
        }
        prefix.trim_end().to_owned()
    }

    /// Writes multi-line text line by line, each line with its prefix.
    pub(super) fn prefixed_lines(&mut self, text: &str) {
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                self.end_line();
            }
            self.ensure_line();
            if line.is_empty() {
                let trimmed = self.out.trim_end_matches(' ').len();
                self.out.truncate(trimmed);
            }
            self.out.push_str(line);
        }
    }

    /// Prepares a raw block (code, table): it starts where the line prefix
    /// would, but the prefix is only written when it shows something (a
    /// list marker, a quote marker), not mere indentation.
    pub(super) fn raw_block_start(&mut self) {
        self.fresh = false;
        if !self.line_start {
            return;
        }
        self.line_start = false;
        let prefix = self.prefix_with(self.target.quoted_raw_blocks());
        if !prefix.trim().is_empty() {
            self.out.push_str(&prefix);
        }
    }

    pub(super) fn end_code_block(&mut self) {
        let Some((language, mut code)) = self.code.take() else {
            return;
        };
        if code.ends_with('\n') {
            code.pop();
        }
        if self.target.prefixed_blocks() {
            self.prefixed_lines(&code);
        } else {
            self.raw_block_start();
            self.target
                .code_block(&mut self.out, language.as_deref(), &code);
        }
    }

    pub(super) fn end_table(&mut self) {
        let Some(frame) = self.table.take() else {
            return;
        };
        let laid_out = table::layout(&frame.alignments, &frame.rows);
        if self.target.prefixed_blocks() {
            self.prefixed_lines(&laid_out);
        } else {
            self.raw_block_start();
            self.target.table(&mut self.out, &laid_out);
        }
    }

    pub(super) fn start_item(&mut self) {
        if !self.fresh {
            self.end_line();
        }
        let marker = match self.lists.last_mut() {
            Some(Some(number)) => {
                let marker = format!("{number}. ");
                *number = number.saturating_add(1);
                marker
            }
            _ => "• ".to_owned(),
        };
        self.containers.push(Container::Item {
            indent: text::display_width(&marker),
            marker: Some(marker),
        });
        self.fresh = true;
    }
}
