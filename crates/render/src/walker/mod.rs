//! The line-oriented renderer shared by the Telegram, Slack and plain-text
//! dialects.
//!
//! [`render`] walks pulldown-cmark's event stream and does everything the
//! dialects have in common: separating blocks with blank lines, numbering
//! and indenting lists (`• item`, `3. item`), prefixing quoted lines,
//! collapsing nested emphasis of one kind, buffering link text and table
//! cells, and laying tables out with [`crate::table`]. A [`Target`] supplies
//! only what differs: how text is escaped and how each piece of markup is
//! spelled.
//!
//! Because every piece of markup is emitted from a balanced pair of events,
//! the output is balanced too, even for half-streamed input with unclosed
//! emphasis or code fences.

mod inline;
mod layout;

use crate::{plain::Plain, text};
use pulldown_cmark::{Alignment, CodeBlockKind, Event, LinkType, Tag, TagEnd};

/// The horizontal rule every line-oriented dialect draws for `---`.
pub(crate) const RULE: &str = "———";

/// An inline style whose markers a [`Target`] spells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Strong,
    Emphasis,
    Strike,
}

impl Style {
    fn index(self) -> usize {
        match self {
            Style::Strong => 0,
            Style::Emphasis => 1,
            Style::Strike => 2,
        }
    }
}

/// How one dialect spells text and markup.
pub(crate) trait Target {
    /// Appends inline text, escaped as the dialect needs.
    fn text(&self, out: &mut String, text: &str);
    /// Appends an inline code span.
    fn code_span(&self, out: &mut String, code: &str);
    /// Appends the opening or closing marker of a style.
    fn style(&self, out: &mut String, style: Style, open: bool);
    /// Appends a link to an absolute `url` whose visible `text` is already
    /// rendered in this dialect.
    fn link(&self, out: &mut String, url: &str, text: &str);
    /// Appends a code block (`code` has no trailing newline).
    fn code_block(&self, out: &mut String, language: Option<&str>, code: &str);
    /// Appends a table already laid out as monospace lines.
    fn table(&self, out: &mut String, table: &str) {
        self.code_block(out, None, table);
    }
    /// The marker starting every line inside `depth` nested quotes, for
    /// dialects that mark quotes per line.
    fn quote_marker(&self, _depth: usize) -> &'static str {
        ""
    }
    /// Tags wrapped around the outermost quote, for dialects that mark
    /// quotes as elements.
    fn quote_tags(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// Whether the quote marker goes first on a line whatever the nesting
    /// (the platform only recognises it there); otherwise each quote level
    /// adds its marker where it sits among the list indentation.
    fn quote_marker_first(&self) -> bool {
        true
    }
    /// Whether link text may carry styles.
    fn styles_in_links(&self) -> bool {
        true
    }
    /// Whether styles end at a line break and must be reopened after it.
    fn line_scoped_styles(&self) -> bool {
        false
    }
    /// Whether code blocks and tables are written line by line with the
    /// quote and list prefixes (plain text) rather than as one raw block.
    fn prefixed_blocks(&self) -> bool {
        false
    }
    /// Whether a raw block's first line carries the quote marker, putting
    /// the block inside the quote; otherwise the block leaves the quote.
    fn quoted_raw_blocks(&self) -> bool {
        true
    }
}

/// Renders `markdown` for `target`.
pub(crate) fn render(target: &dyn Target, markdown: &str) -> String {
    render_events(target, crate::parser(markdown))
}

/// Renders an event stream for `target`.
pub(crate) fn render_events<'a>(
    target: &dyn Target,
    events: impl IntoIterator<Item = Event<'a>>,
) -> String {
    let mut walker = Walker::new(target);
    for event in events {
        walker.event(event);
    }
    walker.finish()
}

#[derive(Debug)]
enum Container {
    Quote,
    /// A list item: its content's indentation, and the marker (`• `,
    /// `3. `) while its first line has not been written.
    Item {
        indent: usize,
        marker: Option<String>,
    },
}

#[derive(Debug)]
struct LinkFrame {
    url: String,
    /// The text of an autolink is its URL.
    auto: bool,
    /// An image inside a link: only its alt text is written.
    nested: bool,
}

#[derive(Debug)]
struct TableFrame {
    alignments: Vec<Alignment>,
    rows: Vec<Vec<String>>,
}

struct Walker<'t> {
    target: &'t dyn Target,
    out: String,
    /// Outer buffers while link text or a table cell is captured.
    saved: Vec<String>,
    containers: Vec<Container>,
    quote_depth: usize,
    /// Next number of each open list; `None` for bullet lists.
    lists: Vec<Option<u64>>,
    /// The next write starts a line and needs the line prefix.
    line_start: bool,
    /// Nothing was written since the innermost container opened.
    fresh: bool,
    /// Styles whose markers are open, outermost first.
    open_styles: Vec<Style>,
    /// Nesting depth of each style, open markers or not.
    style_depth: [usize; 3],
    /// Styles were closed at a line break and are reopened with the next
    /// write.
    reopen: bool,
    links: Vec<LinkFrame>,
    /// Images (alt text only, no styles) being written.
    images: usize,
    code: Option<(Option<String>, String)>,
    html: Option<String>,
    table: Option<TableFrame>,
}

impl<'t> Walker<'t> {
    fn new(target: &'t dyn Target) -> Self {
        Self {
            target,
            out: String::new(),
            saved: Vec::new(),
            containers: Vec::new(),
            quote_depth: 0,
            lists: Vec::new(),
            line_start: true,
            fresh: true,
            open_styles: Vec::new(),
            style_depth: [0; 3],
            reopen: false,
            links: Vec::new(),
            images: 0,
            code: None,
            html: None,
            table: None,
        }
    }

    /// The target inline content is written for: table cells are plain
    /// text, laid out later.
    fn inline_target(&self) -> &'t dyn Target {
        if self.table.is_some() {
            &Plain
        } else {
            self.target
        }
    }

    fn finish(mut self) -> String {
        while let Some(outer) = self.saved.pop() {
            let inner = std::mem::replace(&mut self.out, outer);
            self.out.push_str(&inner);
        }
        let trimmed = self.out.trim_end_matches([' ', '\n']).len();
        self.out.truncate(trimmed);
        self.out
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some((_, code)) = &mut self.code {
            match event {
                Event::Text(text) => code.push_str(&text),
                Event::End(TagEnd::CodeBlock) => self.end_code_block(),
                _ => {}
            }
            return;
        }
        if let Some(html) = &mut self.html {
            match event {
                Event::Html(text) | Event::Text(text) => html.push_str(&text),
                Event::End(TagEnd::HtmlBlock) => {
                    let html = self.html.take().unwrap_or_default();
                    self.inline_text(html.trim_end());
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text)
            | Event::Html(text)
            | Event::InlineHtml(text) => self.inline_text(&text),
            Event::Code(code) => self.code_span(&code),
            Event::FootnoteReference(label) => self.inline_text(&format!("[^{label}]")),
            Event::SoftBreak | Event::HardBreak => self.line_break(),
            Event::Rule => {
                self.block_start();
                self.inline_text(RULE);
            }
            Event::TaskListMarker(done) => self.inline_text(if done { "☑ " } else { "☐ " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.block_start(),
            Tag::Heading { .. } => {
                self.block_start();
                self.style_open(Style::Strong);
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                if self.quote_depth == 0
                    && let Some((open, _)) = self.target.quote_tags()
                {
                    self.ensure_line();
                    self.out.push_str(open);
                    // Lines inside the quote start afresh, without the
                    // indentation of containers outside it.
                    self.line_start = true;
                }
                self.quote_depth += 1;
                self.containers.push(Container::Quote);
                self.fresh = true;
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                let language = match kind {
                    CodeBlockKind::Fenced(info) => text::code_language(&info),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some((language, String::new()));
            }
            Tag::HtmlBlock => {
                self.block_start();
                self.html = Some(String::new());
            }
            Tag::List(start) => {
                self.block_start();
                self.lists.push(start);
                self.fresh = true;
            }
            Tag::Item => self.start_item(),
            Tag::FootnoteDefinition(label) => {
                self.block_start();
                self.inline_text(&format!("[^{label}]: "));
            }
            Tag::DefinitionList => {}
            Tag::Table(alignments) => {
                self.block_start();
                self.table = Some(TableFrame {
                    alignments,
                    rows: Vec::new(),
                });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.capture(),
            Tag::Emphasis => self.style_open(Style::Emphasis),
            Tag::Strong => self.style_open(Style::Strong),
            Tag::Strikethrough => self.style_open(Style::Strike),
            Tag::Superscript | Tag::Subscript => {}
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.start_link(link_type, &dest_url),
            Tag::Image { dest_url, .. } => {
                self.start_link(LinkType::Inline, &dest_url);
                self.images += 1;
            }
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => self.style_close(Style::Strong),
            TagEnd::BlockQuote(_) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                self.containers.pop();
                if self.quote_depth == 0
                    && let Some((_, close)) = self.target.quote_tags()
                {
                    self.out.push_str(close);
                }
                self.fresh = false;
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.fresh = false;
            }
            TagEnd::Item => {
                if matches!(
                    self.containers.last(),
                    Some(Container::Item {
                        marker: Some(_),
                        ..
                    })
                ) {
                    self.ensure_line();
                }
                self.containers.pop();
                self.fresh = false;
            }
            TagEnd::Table => self.end_table(),
            TagEnd::TableCell => {
                let cell = self.release();
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell.trim().to_owned());
                }
            }
            TagEnd::Emphasis => self.style_close(Style::Emphasis),
            TagEnd::Strong => self.style_close(Style::Strong),
            TagEnd::Strikethrough => self.style_close(Style::Strike),
            TagEnd::Link => self.end_link(),
            TagEnd::Image => {
                self.images = self.images.saturating_sub(1);
                self.end_link();
            }
            TagEnd::Paragraph
            | TagEnd::CodeBlock
            | TagEnd::HtmlBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::TableHead
            | TagEnd::TableRow
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::MetadataBlock(_) => {}
        }
    }
}
