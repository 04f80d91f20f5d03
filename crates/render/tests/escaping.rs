//! Targeted checks of each dialect's escaping rules, and of the
//! validators the property tests rely on.

mod support;

use hermod_model::MarkdownDialect;
use hermod_render::render;
use support::{check_matrix_html, check_mdv2, check_slack, check_telegram_html};

fn telegram_html(markdown: &str) -> String {
    render(markdown, MarkdownDialect::TelegramHtml).text
}

fn mdv2(markdown: &str) -> String {
    render(markdown, MarkdownDialect::TelegramMarkdownV2).text
}

fn slack(markdown: &str) -> String {
    render(markdown, MarkdownDialect::SlackMrkdwn).text
}

fn matrix(markdown: &str) -> String {
    render(markdown, MarkdownDialect::MatrixHtml)
        .html
        .unwrap_or_default()
}

#[test]
fn mdv2_escapes_every_special_character_in_text() {
    assert_eq!(
        mdv2(r"Done. Wow! a-b=c+d #1 {x} a|b ~ > ( ) [ ]"),
        r"Done\. Wow\! a\-b\=c\+d \#1 \{x\} a\|b \~ \> \( \) \[ \]"
    );
    assert_eq!(mdv2(r"back\\slash"), r"back\\slash");
    assert_eq!(mdv2(r"snake\_case"), r"snake\_case");
}

#[test]
fn mdv2_escapes_only_backquote_and_backslash_in_code() {
    assert_eq!(mdv2("`a.b! (c) \\ d`"), r"`a.b! (c) \\ d`");
    assert_eq!(mdv2("`` a`b ``"), r"`a\`b`");
    assert_eq!(
        mdv2("```sh\necho \"done.\" && ls \\\n```"),
        "```sh\necho \"done.\" && ls \\\\\n```"
    );
}

#[test]
fn mdv2_escapes_only_paren_and_backslash_in_link_urls() {
    assert_eq!(
        mdv2("[a.b](https://x.io/a_(b).c?d=1&e)"),
        r"[a\.b](https://x.io/a_(b\).c?d=1&e)"
    );
}

#[test]
fn mdv2_keeps_adjacent_italics_apart_from_underline() {
    let text = mdv2("*a*_b_");
    assert!(!text.contains("__"), "{text:?}");
    check_mdv2(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
}

#[test]
fn mdv2_quote_lines_start_with_a_marker() {
    assert_eq!(mdv2("> one\n> two.\n\nafter"), ">one\n>two\\.\n\nafter");
}

#[test]
fn telegram_html_escapes_text_and_attributes() {
    assert_eq!(
        telegram_html(r#"a < b && c > d "q" [x](https://x.io/?a=1&b="2")"#),
        r#"a &lt; b &amp;&amp; c &gt; d "q" <a href="https://x.io/?a=1&amp;b=&quot;2&quot;">x</a>"#
    );
    assert_eq!(
        telegram_html("<b>not a tag</b> <img src=x onerror=y>"),
        "&lt;b&gt;not a tag&lt;/b&gt; &lt;img src=x onerror=y&gt;"
    );
}

#[test]
fn telegram_html_code_language() {
    assert_eq!(
        telegram_html("```c++ extra\na<b>&c\n```"),
        "<pre><code class=\"language-c++\">a&lt;b&gt;&amp;c</code></pre>"
    );
}

#[test]
fn relative_links_cannot_be_opened_so_they_show_the_url() {
    assert_eq!(telegram_html("[docs](/docs)"), "docs (/docs)");
    assert_eq!(mdv2("[docs](/docs)"), r"docs \(/docs\)");
    assert_eq!(slack("[docs](/docs)"), "docs (/docs)");
}

#[test]
fn slack_escapes_control_characters() {
    assert_eq!(
        slack("a < b & c > d <@U123> `x<y`"),
        "a &lt; b &amp; c &gt; d &lt;@U123&gt; `x&lt;y`"
    );
    assert_eq!(
        slack("[a|b](https://x.io/?q=a|b&c=<d>)"),
        "<https://x.io/?q=a%7Cb&amp;c=%3Cd%3E|a|b>"
    );
}

#[test]
fn slack_code_cannot_be_closed_early() {
    assert_eq!(slack("``a`b``"), "a`b");
    let block = slack("````\n```\n````");
    assert_eq!(block.matches("```").count(), 2, "{block:?}");
}

#[test]
fn slack_styles_are_reopened_after_line_breaks() {
    assert_eq!(slack("**one\ntwo**"), "*one*\n*two*");
    assert_eq!(slack("> *a\n> b*"), "> _a_\n> _b_");
}

#[test]
fn half_streamed_markup_stays_valid() {
    let inputs = [
        "**bold",
        "*a **b",
        "[link](https://exa",
        "```rust\nfn main() {",
        "> quote **bold\n> more",
        "| a | b |\n|---|---|\n| *c",
        "<b>raw",
        "- item `code",
        "~~gone",
    ];
    for input in inputs {
        let html = telegram_html(input);
        check_telegram_html(&html).unwrap_or_err(input, &html);
        let text = mdv2(input);
        check_mdv2(&text).unwrap_or_err(input, &text);
        let text = slack(input);
        check_slack(&text).unwrap_or_err(input, &text);
        let html = matrix(input);
        check_matrix_html(&html).unwrap_or_err(input, &html);
    }
}

#[test]
fn empty_lines_inside_quotes_stay_quoted() {
    // A line break right after a soft break leaves an empty line, which
    // must keep its `>` or Telegram ends the quote inside the strikethrough.
    let text = mdv2("> ~~a\n\\\na~~");
    assert_eq!(text, ">~a\n>\n>a~");
    check_mdv2(&text).unwrap_or_err("", &text);
}

#[test]
fn validators_reject_broken_output() {
    assert!(check_telegram_html("<b>open").is_err());
    assert!(check_telegram_html("<b><i>x</b></i>").is_err());
    assert!(check_telegram_html("<div>x</div>").is_err());
    assert!(check_telegram_html("a & b").is_err());
    assert!(check_telegram_html("a > b").is_err());
    assert!(check_telegram_html("<pre><b>x</b></pre>").is_err());
    assert!(check_telegram_html("<a href=\"x\"><a href=\"y\">z</a></a>").is_err());
    assert!(check_telegram_html("<b>x</b> &amp; <a href=\"u?a&amp;b\">y</a>").is_ok());

    assert!(check_mdv2("Done.").is_err());
    assert!(check_mdv2("*bold").is_err());
    assert!(check_mdv2("a > b").is_err());
    assert!(check_mdv2("_a_\r_b_").is_ok());
    assert!(check_mdv2("_a__b_").is_err());
    assert!(check_mdv2("`co`de`").is_err());
    assert!(check_mdv2("[a](b)c)").is_err());
    assert!(check_mdv2(">*a\nb*").is_err());
    assert!(check_mdv2(">*a\n>b*\nc").is_ok());
    assert!(check_mdv2("```\na`b\n```").is_err());
    assert!(check_mdv2("```rust\na\\`b\\\\c\n```").is_ok());
    assert!(check_mdv2(r"Done\. *bold* [a\.b](u\)v) `c\`d`").is_ok());

    assert!(check_slack("a &amp; b <https://x.io|x> <mailto:a@b.c>\n> quote").is_ok());
    assert!(check_slack("a & b").is_err());
    assert!(check_slack("a > b").is_err());
    assert!(check_slack("<@U123>").is_err());

    assert!(check_matrix_html("<p>x</p>").is_ok());
    assert!(check_matrix_html("<p>x").is_err());
    assert!(check_matrix_html("<script>x</script>").is_err());
}

trait OrErr {
    fn unwrap_or_err(self, input: &str, output: &str);
}

impl OrErr for Result<(), String> {
    fn unwrap_or_err(self, input: &str, output: &str) {
        if let Err(error) = self {
            panic!("{error}\ninput: {input:?}\noutput: {output:?}");
        }
    }
}
