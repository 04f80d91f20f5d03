//! What a platform can do, declared as data by its adapter and read by core.

use std::time::Duration;

/// How a platform counts message length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// Unicode scalar values.
    Chars,
    /// UTF-16 code units (Telegram).
    Utf16,
    /// UTF-8 bytes.
    Bytes,
}

impl LengthUnit {
    pub fn measure(self, text: &str) -> usize {
        match self {
            LengthUnit::Chars => text.chars().count(),
            LengthUnit::Utf16 => text.encode_utf16().count(),
            LengthUnit::Bytes => text.len(),
        }
    }
}

/// The Markdown flavour a platform renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkdownDialect {
    /// Text is shown as sent; no formatting.
    Plain,
    /// CommonMark with tables (Mattermost, HTTP API clients).
    Markdown,
    /// Discord's Markdown: no tables (they become code blocks).
    DiscordMarkdown,
    TelegramHtml,
    TelegramMarkdownV2,
    SlackMrkdwn,
    MatrixHtml,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub max_message_len: usize,
    pub length_unit: LengthUnit,
    pub can_edit: bool,
    pub can_delete: bool,
    pub min_edit_interval: Duration,
    pub threads: bool,
    pub reactions: bool,
    pub typing: bool,
    pub markdown: MarkdownDialect,
    pub command_prefix: char,
    pub files: bool,
    /// The platform authenticates its callers itself (the HTTP API's key),
    /// so core does not check users against allowlists or pairing.
    pub authenticates_callers: bool,
    /// A reply longer than one message may be sent as several messages;
    /// when false, long scheduled output is truncated with a note instead.
    pub multi_message: bool,
    /// The longest text a file may carry as its caption (in `length_unit`);
    /// 0 when files have no captions.
    pub caption_len: usize,
    /// A send repeated with the same `Outbound::idempotency_key` within
    /// this long is recognised by the platform and creates no second
    /// message; `None` when the platform has no such guarantee. Core
    /// resends a file whose upload a crash interrupted only inside this
    /// window, and otherwise tells the chat it may be missing.
    pub idempotency_window: Option<Duration>,
    /// User ids are addresses (`name@domain`) whose domain is part of who
    /// the user is, as in email: an allowlist entry then matches the whole
    /// address, ignoring case, and never its part before `@` alone (which
    /// would let `jane` in from any domain).
    pub user_ids_are_addresses: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            max_message_len: 4096,
            length_unit: LengthUnit::Chars,
            can_edit: false,
            can_delete: false,
            min_edit_interval: Duration::from_millis(800),
            threads: false,
            reactions: false,
            typing: false,
            markdown: MarkdownDialect::Markdown,
            command_prefix: '/',
            files: false,
            authenticates_callers: false,
            multi_message: true,
            caption_len: 0,
            idempotency_window: None,
            user_ids_are_addresses: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_units() {
        let s = "a😀é";
        assert_eq!(LengthUnit::Chars.measure(s), 3);
        assert_eq!(LengthUnit::Utf16.measure(s), 4);
        assert_eq!(LengthUnit::Bytes.measure(s), 7);
    }
}
