//! The context budget of a turn: token estimates (about four characters a
//! token, a flat cost per image, as Hermes estimates before the provider
//! reports real counts) and the thresholds derived from the configuration.

use crate::config::ContextConfig;
use hermod_model::{ChatMessage, Content, ContentPart};

/// Characters per token in the estimates.
const CHARS_PER_TOKEN: u64 = 4;
/// What an image in a message is counted as (Hermes' ceiling estimate).
const IMAGE_TOKENS: u64 = 1_600;
/// A message's role and framing.
const MESSAGE_OVERHEAD: u64 = 4;
/// The recent messages always kept verbatim, even past the tail's share
/// (fewer when `protect_last_n` is smaller).
pub(crate) const TAIL_FLOOR: usize = 8;
/// A summary is asked to be about this share of what it replaces,
/// within [`SUMMARY_MIN_TOKENS`] and [`SUMMARY_MAX_TOKENS`] (Hermes'
/// figures).
const SUMMARY_RATIO: f64 = 0.20;
const SUMMARY_MIN_TOKENS: u64 = 2_000;
const SUMMARY_MAX_TOKENS: u64 = 10_000;

/// The estimated tokens of `chars` characters.
pub(crate) fn chars_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(CHARS_PER_TOKEN)
}

/// The estimated tokens of one message: its text, its images, its tool
/// calls and its framing.
pub(crate) fn message_tokens(message: &ChatMessage) -> u64 {
    let content = match &message.content {
        None => 0,
        Some(Content::Text(text)) => chars_tokens(text.chars().count()),
        Some(Content::Parts(parts)) => parts
            .iter()
            .map(|part| match part {
                ContentPart::Text { text } => chars_tokens(text.chars().count()),
                ContentPart::ImageUrl { .. } => IMAGE_TOKENS,
            })
            .sum(),
    };
    let calls: u64 = message
        .tool_calls
        .iter()
        .map(|c| chars_tokens(c.id.len() + c.name.len() + c.arguments.chars().count()) + 8)
        .sum();
    content + calls + MESSAGE_OVERHEAD
}

pub(crate) fn messages_tokens(messages: &[ChatMessage]) -> u64 {
    messages.iter().map(message_tokens).sum()
}

/// The budget of one model's turns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Budget {
    /// The model's context window.
    pub(crate) context_length: u64,
    /// The fraction of the window at which history is compressed.
    pub(crate) threshold: f64,
    /// `threshold` of the window, in tokens: a request estimated above it
    /// is compressed first.
    pub(crate) threshold_tokens: u64,
    /// The recent history kept verbatim after a compression.
    pub(crate) tail_tokens: u64,
    /// At most this many recent messages are kept verbatim.
    pub(crate) protect_last_n: usize,
}

impl Budget {
    pub(crate) fn for_model(config: &ContextConfig, model: &str) -> Self {
        let context_length = config.context_length(model);
        let threshold = config.threshold(model);
        let threshold_tokens = (context_length as f64 * threshold) as u64;
        Self {
            context_length,
            threshold,
            threshold_tokens,
            tail_tokens: (threshold_tokens as f64 * config.compression.target_ratio) as u64,
            protect_last_n: config.compression.protect_last_n,
        }
    }

    /// How long a summary of `tokens` tokens of messages should be.
    pub(crate) fn summary_target(tokens: u64) -> u64 {
        ((tokens as f64 * SUMMARY_RATIO) as u64).clamp(SUMMARY_MIN_TOKENS, SUMMARY_MAX_TOKENS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{ImageUrl, ToolCall};

    #[test]
    fn estimates_count_text_images_calls_and_framing() {
        assert_eq!(chars_tokens(0), 0);
        assert_eq!(chars_tokens(1), 1);
        assert_eq!(chars_tokens(8), 2);
        assert_eq!(chars_tokens(9), 3);
        // Characters, not bytes.
        assert_eq!(message_tokens(&ChatMessage::user("éééé")), 1 + 4);
        let image = ChatMessage::user(Content::Parts(vec![
            ContentPart::Text {
                text: "look".into(),
            },
            ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: "data:image/png;base64,AAAA".repeat(1000),
                    detail: None,
                },
            },
        ]));
        assert_eq!(
            message_tokens(&image),
            1 + 1_600 + 4,
            "an image costs a flat rate"
        );
        let call = ChatMessage {
            tool_calls: vec![ToolCall {
                id: "c1".into(),
                name: "ls".into(),
                arguments: "{}".into(),
            }],
            ..ChatMessage::assistant("")
        };
        assert_eq!(message_tokens(&call), 2 + 8 + 4);
    }

    #[test]
    fn the_budget_follows_the_configuration() {
        let config = ContextConfig::default();
        let budget = Budget::for_model(&config, "m");
        assert_eq!(budget.context_length, 128_000);
        assert_eq!(budget.threshold_tokens, 64_000);
        assert_eq!(budget.tail_tokens, 12_800);
        assert_eq!(budget.protect_last_n, 20);
        let mut small = ContextConfig {
            context_length: Some(10_000),
            ..ContextConfig::default()
        };
        small.compression.threshold = 0.8;
        small.compression.target_ratio = 0.25;
        let budget = Budget::for_model(&small, "m");
        assert_eq!(
            (budget.threshold_tokens, budget.tail_tokens),
            (8_000, 2_000)
        );
    }

    #[test]
    fn summaries_are_a_fifth_of_what_they_replace_within_bounds() {
        assert_eq!(Budget::summary_target(1_000), 2_000);
        assert_eq!(Budget::summary_target(20_000), 4_000);
        assert_eq!(Budget::summary_target(1_000_000), 10_000);
    }
}
