//! [`speakable`]: a Markdown reply as text to read aloud.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// What a code block becomes: code read aloud is noise.
const CODE_OMITTED: &str = "(code omitted)";

/// `markdown` as plain text for a speech endpoint: emphasis, heading,
/// list and quote markers dropped; links as their text; images as their
/// alt text; code blocks as "(code omitted)", inline code as its text;
/// table cells separated by commas; HTML, footnote definitions and front
/// matter dropped. Paragraphs stay separated by a blank line, so the
/// speaker pauses between them.
pub fn speakable(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut out = String::new();
    // Depth inside what is not spoken (code, HTML blocks, footnotes).
    let mut skip = 0_usize;
    // Depth of nested lists: the outermost one ends a block.
    let mut lists = 0_usize;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => {
                if skip == 0 {
                    block(&mut out);
                    out.push_str(CODE_OMITTED);
                }
                skip += 1;
            }
            Event::Start(Tag::HtmlBlock | Tag::FootnoteDefinition(_) | Tag::MetadataBlock(_)) => {
                skip += 1;
            }
            Event::End(
                TagEnd::CodeBlock
                | TagEnd::HtmlBlock
                | TagEnd::FootnoteDefinition
                | TagEnd::MetadataBlock(_),
            ) => {
                skip = skip.saturating_sub(1);
                if skip == 0 {
                    block(&mut out);
                }
            }
            _ if skip > 0 => {}
            Event::Text(text) | Event::Code(text) => out.push_str(&text),
            // `<br>` and other inline tags: a word boundary at most.
            Event::SoftBreak | Event::InlineHtml(_) => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::List(_)) => {
                lists += 1;
                line(&mut out);
            }
            Event::End(TagEnd::List(_)) => {
                lists = lists.saturating_sub(1);
                if lists == 0 {
                    block(&mut out);
                }
            }
            Event::Start(Tag::Item) => line(&mut out),
            Event::Start(Tag::TableCell) if !out.is_empty() && !out.ends_with('\n') => {
                out.push_str(", ");
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::BlockQuote(_) | TagEnd::Table,
            )
            | Event::Rule => block(&mut out),
            Event::End(TagEnd::Item | TagEnd::TableHead | TagEnd::TableRow) => line(&mut out),
            _ => {}
        }
    }
    tidy(&out)
}

/// Ends the current line.
fn line(out: &mut String) {
    out.truncate(out.trim_end_matches([' ', '\t']).len());
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Ends the current block with a blank line.
fn block(out: &mut String) {
    out.truncate(out.trim_end().len());
    if !out.is_empty() {
        out.push_str("\n\n");
    }
}

/// Lines trimmed, runs of spaces and of blank lines collapsed.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_and_headings_lose_their_markers() {
        assert_eq!(
            speakable("# Plan\n\nThis is **very** _important_ and ~~not~~ `urgent`."),
            "Plan\n\nThis is very important and not urgent."
        );
    }

    #[test]
    fn links_are_their_text_and_images_their_alt_text() {
        assert_eq!(
            speakable("See [the docs](https://example.com/a?b=c \"t\") and ![a cat](cat.png)."),
            "See the docs and a cat."
        );
        assert_eq!(speakable("Mail <me@example.com>"), "Mail me@example.com");
    }

    #[test]
    fn code_blocks_are_omitted_and_say_so() {
        let text =
            "Run this:\n\n```rust\nfn main() {\n    println!(\"*hi*\");\n}\n```\n\nThen check.";
        assert_eq!(
            speakable(text),
            "Run this:\n\n(code omitted)\n\nThen check."
        );
        assert_eq!(speakable("    indented code\n"), "(code omitted)");
    }

    #[test]
    fn lists_quotes_and_tables_read_line_by_line() {
        assert_eq!(
            speakable("Steps:\n\n1. *first*\n2. second\n   - nested\n\n> quoted **text**\n"),
            "Steps:\n\nfirst\nsecond\nnested\n\nquoted text"
        );
        assert_eq!(speakable("| a | b |\n|---|---|\n| 1 | 2 |\n"), "a, b\n1, 2");
        assert_eq!(speakable("- [x] done\n- [ ] todo"), "done\ntodo");
    }

    #[test]
    fn html_rules_and_footnotes_are_dropped() {
        assert_eq!(
            speakable(
                "Before<br>after\n\n<div>\nhidden\n</div>\n\n---\n\nEnd[^1].\n\n[^1]: a note"
            ),
            "Before after\n\nEnd."
        );
    }

    #[test]
    fn plain_text_is_unchanged_and_blank_text_is_empty() {
        assert_eq!(
            speakable("Hello there. How are you?"),
            "Hello there. How are you?"
        );
        assert_eq!(speakable("Line one\nline two"), "Line one line two");
        assert_eq!(speakable(""), "");
        assert_eq!(speakable("```\nonly code\n```"), "(code omitted)");
        assert_eq!(speakable("   \n\n "), "");
    }
}
