//! Matrix `formatted_body` HTML (`format: org.matrix.custom.html`).
//!
//! Standard HTML from the tags the Matrix client-server spec recommends:
//! `<p> <h1>`–`<h6> <strong> <em> <del> <code> <pre><code class="language-x">
//! <a href> <ul> <ol start> <li> <blockquote> <hr> <br> <table>`. Images
//! become links (Matrix `<img>` only takes `mxc://` URIs), raw HTML in the
//! Markdown is escaped, and line breaks inside a paragraph become `<br>` so
//! the agent's line structure survives. The plain `body` is
//! [`crate::to_plain`].

use crate::text::{self, escape_html};
use pulldown_cmark::{CodeBlockKind, Event, LinkType, Tag, TagEnd};

/// Renders `markdown` as Matrix HTML.
pub(crate) fn render(markdown: &str) -> String {
    let mut html = Html::default();
    for event in crate::parser(markdown) {
        html.event(event);
    }
    html.finish()
}

#[derive(Debug, Default)]
struct Html {
    out: String,
    /// Outer buffers while link text is captured.
    saved: Vec<String>,
    /// Open links and images: their URL, and whether they are nested in
    /// another link (then only their text is written).
    links: Vec<(String, bool)>,
    images: usize,
    code: Option<(Option<String>, String)>,
    in_table_head: bool,
    table_body_open: bool,
}

impl Html {
    fn finish(mut self) -> String {
        while let Some(outer) = self.saved.pop() {
            let inner = std::mem::replace(&mut self.out, outer);
            self.out.push_str(&inner);
        }
        let trimmed = self.out.trim_end_matches('\n').len();
        self.out.truncate(trimmed);
        self.out
    }

    fn text(&mut self, text: &str) {
        escape_html(&mut self.out, text, false);
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
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) | Event::InlineMath(text) | Event::InlineHtml(text) => {
                self.text(&text);
            }
            Event::DisplayMath(text) => self.text(&text),
            Event::Html(text) => {
                // A line of an HTML block, shown as text.
                let text = text.trim_end_matches('\n');
                self.text(text);
                self.out.push_str("<br>\n");
            }
            Event::Code(code) => {
                if self.images > 0 {
                    self.text(&code);
                } else {
                    self.out.push_str("<code>");
                    self.text(&code);
                    self.out.push_str("</code>");
                }
            }
            Event::FootnoteReference(label) => self.text(&format!("[^{label}]")),
            Event::SoftBreak | Event::HardBreak => {
                if self.saved.is_empty() {
                    self.out.push_str("<br>\n");
                } else {
                    self.out.push(' ');
                }
            }
            Event::Rule => self.out.push_str("<hr>\n"),
            Event::TaskListMarker(done) => self.text(if done { "☑ " } else { "☐ " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.out.push_str("<p>"),
            Tag::Heading { level, .. } => {
                self.out.push_str(&format!("<{level}>"));
            }
            Tag::BlockQuote(_) => self.out.push_str("<blockquote>\n"),
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => text::code_language(&info),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some((language, String::new()));
            }
            Tag::HtmlBlock => self.out.push_str("<p>"),
            Tag::List(start) => {
                // A nested list starts on its own line.
                if !self.out.is_empty() && !self.out.ends_with('\n') {
                    self.out.push('\n');
                }
                match start {
                    Some(1) => self.out.push_str("<ol>\n"),
                    Some(start) => self.out.push_str(&format!("<ol start=\"{start}\">\n")),
                    None => self.out.push_str("<ul>\n"),
                }
            }
            Tag::Item => self.out.push_str("<li>"),
            Tag::FootnoteDefinition(label) => {
                self.out.push_str("<p>");
                self.text(&format!("[^{label}]: "));
            }
            Tag::DefinitionList => self.out.push_str("<dl>\n"),
            Tag::DefinitionListTitle => self.out.push_str("<dt>"),
            Tag::DefinitionListDefinition => self.out.push_str("<dd>"),
            Tag::Table(_) => self.out.push_str("<table>\n"),
            Tag::TableHead => {
                self.in_table_head = true;
                self.out.push_str("<thead>\n<tr>\n");
            }
            Tag::TableRow => {
                if !self.table_body_open {
                    self.table_body_open = true;
                    self.out.push_str("<tbody>\n");
                }
                self.out.push_str("<tr>\n");
            }
            Tag::TableCell => {
                self.out
                    .push_str(if self.in_table_head { "<th>" } else { "<td>" });
            }
            Tag::Emphasis => self.inline_tag("<em>"),
            Tag::Strong => self.inline_tag("<strong>"),
            Tag::Strikethrough => self.inline_tag("<del>"),
            Tag::Superscript => self.inline_tag("<sup>"),
            Tag::Subscript => self.inline_tag("<sub>"),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let url = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.into_string(),
                };
                self.start_link(url);
            }
            Tag::Image { dest_url, .. } => {
                self.start_link(dest_url.into_string());
                self.images += 1;
            }
            Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::FootnoteDefinition => self.out.push_str("</p>\n"),
            TagEnd::HtmlBlock => {
                if self.out.ends_with("<br>\n") {
                    self.out.truncate(self.out.len() - "<br>\n".len());
                }
                self.out.push_str("</p>\n");
            }
            TagEnd::Heading(level) => self.out.push_str(&format!("</{level}>\n")),
            TagEnd::BlockQuote(_) => self.out.push_str("</blockquote>\n"),
            TagEnd::CodeBlock => self.end_code_block(),
            TagEnd::List(true) => self.out.push_str("</ol>\n"),
            TagEnd::List(false) => self.out.push_str("</ul>\n"),
            TagEnd::Item => self.out.push_str("</li>\n"),
            TagEnd::DefinitionList => self.out.push_str("</dl>\n"),
            TagEnd::DefinitionListTitle => self.out.push_str("</dt>\n"),
            TagEnd::DefinitionListDefinition => self.out.push_str("</dd>\n"),
            TagEnd::Table => {
                if self.table_body_open {
                    self.out.push_str("</tbody>\n");
                }
                self.table_body_open = false;
                self.out.push_str("</table>\n");
            }
            TagEnd::TableHead => {
                self.in_table_head = false;
                self.out.push_str("</tr>\n</thead>\n");
            }
            TagEnd::TableRow => self.out.push_str("</tr>\n"),
            TagEnd::TableCell => {
                self.out.push_str(if self.in_table_head {
                    "</th>\n"
                } else {
                    "</td>\n"
                });
            }
            TagEnd::Emphasis => self.inline_tag("</em>"),
            TagEnd::Strong => self.inline_tag("</strong>"),
            TagEnd::Strikethrough => self.inline_tag("</del>"),
            TagEnd::Superscript => self.inline_tag("</sup>"),
            TagEnd::Subscript => self.inline_tag("</sub>"),
            TagEnd::Link => self.end_link(),
            TagEnd::Image => {
                self.images = self.images.saturating_sub(1);
                self.end_link();
            }
            TagEnd::MetadataBlock(_) => {}
        }
    }

    /// Styles are left out of image alt text.
    fn inline_tag(&mut self, tag: &str) {
        if self.images == 0 {
            self.out.push_str(tag);
        }
    }

    fn end_code_block(&mut self) {
        let Some((language, code)) = self.code.take() else {
            return;
        };
        self.out.push_str("<pre><code");
        if let Some(language) = language {
            self.out.push_str(" class=\"language-");
            escape_html(&mut self.out, &language, true);
            self.out.push('"');
        }
        self.out.push('>');
        self.text(&code);
        self.out.push_str("</code></pre>\n");
    }

    fn start_link(&mut self, url: String) {
        let nested = !self.links.is_empty();
        if !nested {
            self.saved.push(std::mem::take(&mut self.out));
        }
        self.links.push((url, nested));
    }

    fn end_link(&mut self) {
        let Some((url, nested)) = self.links.pop() else {
            return;
        };
        if nested {
            return;
        }
        let outer = self.saved.pop().unwrap_or_default();
        let text = std::mem::replace(&mut self.out, outer);
        if url.is_empty() {
            self.out.push_str(&text);
            return;
        }
        self.out.push_str("<a href=\"");
        escape_html(&mut self.out, &url, true);
        self.out.push_str("\">");
        if text.trim().is_empty() {
            self.text(url.strip_prefix("mailto:").unwrap_or(&url));
        } else {
            self.out.push_str(&text);
        }
        self.out.push_str("</a>");
    }
}
