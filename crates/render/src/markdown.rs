//! CommonMark for platforms that render it themselves (Mattermost, the
//! HTTP API): Markdown is the agent's own dialect, so the text is passed
//! through exactly as written, tables included.

/// Renders `markdown` for a CommonMark platform: unchanged.
pub(crate) fn render(markdown: &str) -> String {
    markdown.to_owned()
}
