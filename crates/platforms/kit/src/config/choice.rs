//! [`Choice`]: settings that take one of a few words, and the ones several
//! platforms share ([`ReplyToMode`], [`AllowBots`]).

use serde::Deserialize;

/// A setting that takes one of a few words (`off`, `first`, `all`), read
/// from the environment by [`Env::choice`](super::Env::choice).
pub trait Choice: Sized {
    /// The words, as an error lists them: `"off, first or all"`.
    const EXPECTED: &'static str;

    /// The value `word` names; `word` is trimmed and in lower case.
    fn from_word(word: &str) -> Option<Self>;

    /// The value `raw` names, spaces around it and case ignored.
    fn parse(raw: &str) -> Option<Self> {
        Self::from_word(&raw.trim().to_ascii_lowercase())
    }
}

/// Which messages of a reply are sent as a reply to the user's message
/// (Hermes's `<PLATFORM>_REPLY_TO_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyToMode {
    /// Never reply-thread.
    Off,
    /// Only the first message of a reply.
    First,
    /// Every message of a reply.
    All,
}

impl Choice for ReplyToMode {
    const EXPECTED: &'static str = "off, first or all";

    fn from_word(word: &str) -> Option<Self> {
        match word {
            "off" | "none" | "false" => Some(Self::Off),
            "first" => Some(Self::First),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

/// Which messages of other bots are answered (Hermes's
/// `<PLATFORM>_ALLOW_BOTS`). The bot's own messages never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowBots {
    /// None (`none`, `false`), so two bots cannot talk each other into a
    /// loop.
    #[default]
    None,
    /// Only those that mention this bot (`mentions`).
    Mentions,
    /// All of them, as if from a person (`all`, `true`); the platform's
    /// rules for group spaces still apply.
    All,
}

impl Choice for AllowBots {
    const EXPECTED: &'static str = "none, mentions or all";

    fn from_word(word: &str) -> Option<Self> {
        match word {
            "" | "none" | "off" | "false" | "no" | "0" => Some(Self::None),
            "mentions" | "mention" => Some(Self::Mentions),
            "all" | "on" | "true" | "yes" | "1" => Some(Self::All),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_to_mode_reads_hermes_words_in_any_case() {
        assert_eq!(ReplyToMode::parse(" ALL "), Some(ReplyToMode::All));
        assert_eq!(ReplyToMode::parse("First"), Some(ReplyToMode::First));
        for off in ["off", "none", "False"] {
            assert_eq!(ReplyToMode::parse(off), Some(ReplyToMode::Off), "{off}");
        }
        assert_eq!(ReplyToMode::parse("sometimes"), None);
        // YAML takes the exact names only, as before.
        let all: ReplyToMode = serde_json::from_str(r#""all""#).unwrap();
        assert_eq!(all, ReplyToMode::All);
        assert!(serde_json::from_str::<ReplyToMode>(r#""none""#).is_err());
    }

    #[test]
    fn allow_bots_reads_switch_words_as_none_or_all() {
        for (words, expected) in [
            (&["none", "off", "false", "no", "0"][..], AllowBots::None),
            (&["mentions", "Mention"][..], AllowBots::Mentions),
            (&["all", "on", "TRUE", "yes", "1"][..], AllowBots::All),
        ] {
            for word in words {
                assert_eq!(AllowBots::parse(word), Some(expected), "{word}");
            }
        }
        assert_eq!(AllowBots::parse("maybe"), None);
        assert_eq!(AllowBots::default(), AllowBots::None);
        // YAML takes the exact names only; a platform may accept more.
        let mentions: AllowBots = serde_json::from_str(r#""mentions""#).unwrap();
        assert_eq!(mentions, AllowBots::Mentions);
        assert!(serde_json::from_str::<AllowBots>("true").is_err());
    }
}
