//! Snapshots of a sample document, and of the edge cases, in every
//! dialect. Review changed snapshots by eye before accepting them.

use hermod_model::MarkdownDialect;
use hermod_render::{render, to_plain};
use insta::assert_snapshot;

const SAMPLE: &str = include_str!("sample/sample.md");

const DIALECTS: [(&str, MarkdownDialect); 7] = [
    ("plain", MarkdownDialect::Plain),
    ("markdown", MarkdownDialect::Markdown),
    ("discord", MarkdownDialect::DiscordMarkdown),
    ("telegram_html", MarkdownDialect::TelegramHtml),
    ("telegram_mdv2", MarkdownDialect::TelegramMarkdownV2),
    ("slack", MarkdownDialect::SlackMrkdwn),
    ("matrix", MarkdownDialect::MatrixHtml),
];

/// Every rendering of `markdown`, labelled, for one snapshot per case.
fn all_dialects(markdown: &str) -> String {
    let mut out = String::new();
    for (name, dialect) in DIALECTS {
        let rendered = render(markdown, dialect);
        out.push_str(&format!("===== {name}\n{}\n", rendered.text));
        if let Some(html) = rendered.html {
            out.push_str(&format!("===== {name} html\n{html}\n"));
        }
    }
    out
}

#[test]
fn sample_plain() {
    assert_snapshot!(to_plain(SAMPLE));
}

#[test]
fn sample_markdown_is_unchanged() {
    assert_eq!(render(SAMPLE, MarkdownDialect::Markdown).text, SAMPLE);
}

#[test]
fn sample_discord() {
    assert_snapshot!(render(SAMPLE, MarkdownDialect::DiscordMarkdown).text);
}

#[test]
fn sample_telegram_html() {
    assert_snapshot!(render(SAMPLE, MarkdownDialect::TelegramHtml).text);
}

#[test]
fn sample_telegram_mdv2() {
    assert_snapshot!(render(SAMPLE, MarkdownDialect::TelegramMarkdownV2).text);
}

#[test]
fn sample_slack() {
    assert_snapshot!(render(SAMPLE, MarkdownDialect::SlackMrkdwn).text);
}

#[test]
fn sample_matrix() {
    let rendered = render(SAMPLE, MarkdownDialect::MatrixHtml);
    assert_eq!(rendered.text, to_plain(SAMPLE));
    assert_snapshot!(rendered.html.unwrap_or_default());
}

#[test]
fn nested_emphasis() {
    assert_snapshot!(all_dialects(
        "***bold italic*** and *a **b *c* d** e* and ~~s *i*~~"
    ));
}

#[test]
fn emphasis_inside_links() {
    assert_snapshot!(all_dialects(
        "[*italic* and **bold** text](https://example.com)"
    ));
}

#[test]
fn code_spans_with_markup_characters() {
    assert_snapshot!(all_dialects(
        "`*not bold* _x_ [a](b) <b>&amp; \\ ` `` a`b ``"
    ));
}

#[test]
fn links_with_parens_and_ampersands() {
    assert_snapshot!(all_dialects(
        "[wiki](https://en.wikipedia.org/wiki/Rust_(language)) and [q](https://x.io/?a=1&b=\"2\")"
    ));
}

#[test]
fn autolinks() {
    assert_snapshot!(all_dialects(
        "<https://example.com/a_b> <mailto:a@b.c> <me@example.com>"
    ));
}

#[test]
fn raw_html_is_escaped() {
    assert_snapshot!(all_dialects(
        "Inline <b>bold?</b> <script>alert(1)</script>\n\n<table><tr><td>x</td></tr></table>"
    ));
}

#[test]
fn line_breaks() {
    assert_snapshot!(all_dialects(
        "soft\nbreak *across\nlines*\n\nhard  \nbreak\\\nagain"
    ));
}

#[test]
fn empty_input() {
    for (_, dialect) in DIALECTS {
        let rendered = render("", dialect);
        assert_eq!(rendered.text, "");
        assert!(rendered.html.is_none_or(|html| html.is_empty()));
    }
}

#[test]
fn very_long_line() {
    let line = "word ".repeat(2000);
    for (_, dialect) in DIALECTS {
        let text = render(&line, dialect).text;
        assert!(!text.contains('\n'), "{dialect:?} wrapped a long line");
        assert!(text.len() >= line.trim_end().len());
    }
}

#[test]
fn unicode_and_emoji() {
    assert_snapshot!(all_dialects("Ünïcödé **日本語** _emoji_ 🎉👍🏽 ~~😀~~ `🦀`"));
}

#[test]
fn ordered_list_starting_at_three() {
    assert_snapshot!(all_dialects("3. three\n4. four\n5. five"));
}

#[test]
fn nested_lists() {
    assert_snapshot!(all_dialects(
        "- a\n  - b\n    1. c\n    2. d\n  - e\n- f\n\n  second paragraph of f"
    ));
}

#[test]
fn table_with_inline_formatting() {
    assert_snapshot!(all_dialects(
        "| *a* | **b** | `c\\|d` |\n|---|:---:|---:|\n| [x](https://x.io) | ~~y~~ | z |"
    ));
}

#[test]
fn fenced_block_without_language() {
    assert_snapshot!(all_dialects("```\nplain *code* <x> `y` \\z\n```"));
}

#[test]
fn half_streamed_markup() {
    assert_snapshot!(all_dialects(
        "**bold never closed and _italic [link](https://ex\n\n```python\ndef f():\n    return 1"
    ));
}

#[test]
fn quotes_with_code_and_lists() {
    assert_snapshot!(all_dialects(
        "> quote\n> ```\n> code\n> ```\n> - item\n\nafter"
    ));
}

/// Discord keeps the source and rewrites only what it would misread.
fn discord(markdown: &str) -> String {
    render(markdown, MarkdownDialect::DiscordMarkdown).text
}

#[test]
fn discord_headings() {
    assert_snapshot!(discord(
        "Title\nover two lines\n===\n\n## Closed ##\n\n#### **Deep** and __deeper__\n\n> Quoted\n> ---\n\n######"
    ));
}

#[test]
fn discord_tables_in_containers() {
    assert_snapshot!(discord(
        "- item\n\n  | a | b |\n  |---|--:|\n  | 1 | 22 |\n\n> | q | r |\n> |---|---|\n> | *s* | t |\n\nend"
    ));
}

#[test]
fn discord_inline_rewrites() {
    assert_snapshot!(discord(
        "__strong__ and ~single~ and ~~double~~ and ![img](https://x.io/i.png) and **kept**"
    ));
}

#[test]
fn discord_code_blocks() {
    assert_snapshot!(discord(
        "    indented\n    code\n\n> ~~~~\n> unclosed in quote\n\nafter\n\n- ```sh\n  unclosed in item"
    ));
}
