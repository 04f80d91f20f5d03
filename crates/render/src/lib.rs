#![doc = include_str!("../README.md")]

mod discord;
mod markdown;
mod matrix;
mod plain;
mod slack;
mod table;
mod telegram_html;
mod telegram_mdv2;
mod text;
mod walker;

use hermod_model::MarkdownDialect;
use pulldown_cmark::{Options, Parser};

/// A message rendered for one platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// What to send as the message text (for Matrix: the plain-text `body`).
    pub text: String,
    /// Matrix only: the `formatted_body` HTML.
    pub html: Option<String>,
}

impl Rendered {
    fn text(text: String) -> Self {
        Self { text, html: None }
    }
}

/// Renders the agent's Markdown in a platform's dialect.
///
/// Never fails: any input, including half-streamed Markdown with unclosed
/// emphasis or code fences, gives well-formed output for the dialect.
#[must_use]
pub fn render(markdown: &str, dialect: MarkdownDialect) -> Rendered {
    match dialect {
        MarkdownDialect::Plain => Rendered::text(to_plain(markdown)),
        MarkdownDialect::Markdown => Rendered::text(markdown::render(markdown)),
        MarkdownDialect::DiscordMarkdown => Rendered::text(discord::render(markdown)),
        MarkdownDialect::TelegramHtml => Rendered::text(telegram_html::render(markdown)),
        MarkdownDialect::TelegramMarkdownV2 => Rendered::text(telegram_mdv2::render(markdown)),
        MarkdownDialect::SlackMrkdwn => Rendered::text(slack::render(markdown)),
        MarkdownDialect::MatrixHtml => Rendered {
            text: to_plain(markdown),
            html: Some(matrix::render(markdown)),
        },
    }
}

/// Plain text for platforms without formatting and for the fallback when a
/// platform rejects formatting: markup removed, links as "text (url)", lists
/// as "• item" / "1. item", code kept verbatim, tables as aligned monospace
/// text.
#[must_use]
pub fn to_plain(markdown: &str) -> String {
    plain::render(markdown)
}

/// The parser every renderer reads: CommonMark with GitHub tables and
/// strikethrough.
fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
}
