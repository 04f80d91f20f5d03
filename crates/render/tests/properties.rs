//! Property tests: for any input, no renderer panics, Telegram HTML uses
//! only Telegram's tags and closes them all, MarkdownV2 leaves no special
//! character unescaped outside entities, Slack's control characters are
//! escaped, and Matrix HTML is balanced.

mod support;

use hermod_model::MarkdownDialect;
use hermod_render::{render, to_plain};
use proptest::prelude::*;
use support::{check_matrix_html, check_mdv2, check_slack, check_telegram_html};

const DIALECTS: [MarkdownDialect; 7] = [
    MarkdownDialect::Plain,
    MarkdownDialect::Markdown,
    MarkdownDialect::DiscordMarkdown,
    MarkdownDialect::TelegramHtml,
    MarkdownDialect::TelegramMarkdownV2,
    MarkdownDialect::SlackMrkdwn,
    MarkdownDialect::MatrixHtml,
];

/// Markdown-heavy text: markup fragments, line structure and odd
/// characters, concatenated in any order.
fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z ]{0,6}",
        any::<char>().prop_map(String::from),
        prop::sample::select(vec![
            "*",
            "**",
            "***",
            "_",
            "__",
            "~",
            "~~",
            "`",
            "``",
            "```",
            "```rust\n",
            "~~~",
            "\n",
            "\n\n",
            "  \n",
            "\\\n",
            "> ",
            ">> ",
            "- ",
            "* ",
            "+ ",
            "1. ",
            "3) ",
            "    ",
            "\t",
            "# ",
            "#### ",
            "===\n",
            "---\n",
            "|",
            "| a | b |\n|---|:-:|\n",
            "[",
            "]",
            "(",
            ")",
            "[t](https://x.io/a_(b)?c=1&d)",
            "![i](u.png)",
            "<https://x.io>",
            "<a@b.co>",
            "<b>",
            "</i>",
            "<!--",
            "&amp;",
            "&",
            "<",
            ">",
            "\"",
            "\\",
            "\r",
            "\u{200d}",
            "🎉",
            ".",
            "!",
            "#",
            "+",
            "=",
            "{",
            "}",
            "\r\n",
            "*a*_b_",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

fn check_all(markdown: &str) -> Result<(), TestCaseError> {
    for dialect in DIALECTS {
        let rendered = render(markdown, dialect);
        match dialect {
            MarkdownDialect::TelegramHtml => {
                check_telegram_html(&rendered.text).map_err(TestCaseError::fail)?;
            }
            MarkdownDialect::TelegramMarkdownV2 => {
                check_mdv2(&rendered.text).map_err(TestCaseError::fail)?;
            }
            MarkdownDialect::SlackMrkdwn => {
                check_slack(&rendered.text).map_err(TestCaseError::fail)?;
            }
            MarkdownDialect::MatrixHtml => {
                prop_assert_eq!(&rendered.text, &to_plain(markdown));
                let html = rendered.html.unwrap_or_default();
                check_matrix_html(&html).map_err(TestCaseError::fail)?;
            }
            MarkdownDialect::Markdown => prop_assert_eq!(&rendered.text, markdown),
            _ => prop_assert!(rendered.html.is_none()),
        }
    }
    Ok(())
}

/// An autolink whose scheme has a dot (RFC 3986 allows `+`, `-`, `.`).
#[test]
fn an_autolink_with_a_dotted_scheme_renders_validly() {
    check_all("<a.:!> ").unwrap();
    check_all("see <svn+ssh://host/repo> and <x-y.z:1>").unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_render_validly(markdown in any::<String>()) {
        check_all(&markdown)?;
    }

    #[test]
    fn markdown_fragments_render_validly(markdown in markdownish()) {
        check_all(&markdown)?;
    }
}
