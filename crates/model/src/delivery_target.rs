//! Where a reply that is not an answer to the current message should go
//! (a scheduled job's output, a forwarded result), as written in config and
//! tool arguments: `origin`, `local`, `<platform>` or
//! `<platform>:<chat_id>[:<thread_id>]`.
//!
//! # Syntax
//!
//! * Surrounding whitespace is ignored, and so is whitespace around each
//!   `:`-separated field.
//! * `origin` and `local` are keywords in any ASCII case; they win over a
//!   platform of the same name.
//! * Otherwise the text is split on its first two colons only: platform,
//!   chat id, and a thread id that takes the whole rest (so it may contain
//!   colons; a chat id cannot).
//! * The platform is matched ignoring ASCII case and stored lower-cased; it
//!   must pass the caller's known-platform check, so a typo is an error
//!   rather than a silent fallback. Ids keep their case.
//! * Every field present must be non-empty.
//!
//! [`Display`](fmt::Display) writes the same syntax back, so parsing a
//! target's text gives the target again.

use crate::source::PlatformId;
use std::fmt;

/// A parsed delivery target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeliveryTarget {
    /// The chat (and thread) the request came from.
    Origin,
    /// No chat: the output is only kept locally.
    Local,
    /// The platform's configured home chat.
    Home { platform: PlatformId },
    /// A given chat, and optionally a thread in it.
    Chat {
        platform: PlatformId,
        chat_id: String,
        thread_id: Option<String>,
    },
}

const SYNTAX: &str = "expected origin, local, <platform> or <platform>:<chat_id>[:<thread_id>]";

impl DeliveryTarget {
    /// Parses `raw` (see the module docs). `is_known_platform` receives the
    /// lower-cased platform name.
    pub fn parse(raw: &str, is_known_platform: impl Fn(&str) -> bool) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(format!("empty delivery target; {SYNTAX}"));
        }
        if text.eq_ignore_ascii_case("origin") {
            return Ok(Self::Origin);
        }
        if text.eq_ignore_ascii_case("local") {
            return Ok(Self::Local);
        }
        let mut fields = text.splitn(3, ':').map(str::trim);
        let platform = fields.next().unwrap_or_default().to_ascii_lowercase();
        let chat_id = fields.next();
        let thread_id = fields.next();
        if platform.is_empty() {
            return Err(format!(
                "delivery target {raw:?} has an empty platform; {SYNTAX}"
            ));
        }
        if !is_known_platform(&platform) {
            return Err(format!(
                "delivery target {raw:?} names platform {platform:?}, which is not a known \
                 platform; {SYNTAX}"
            ));
        }
        let platform = PlatformId::new(platform);
        let Some(chat_id) = chat_id else {
            return Ok(Self::Home { platform });
        };
        if chat_id.is_empty() {
            return Err(format!(
                "delivery target {raw:?} has an empty chat id; {SYNTAX}"
            ));
        }
        if thread_id.is_some_and(str::is_empty) {
            return Err(format!(
                "delivery target {raw:?} has an empty thread id; {SYNTAX}"
            ));
        }
        Ok(Self::Chat {
            platform,
            chat_id: chat_id.to_owned(),
            thread_id: thread_id.map(str::to_owned),
        })
    }
}

impl fmt::Display for DeliveryTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Origin => f.write_str("origin"),
            Self::Local => f.write_str("local"),
            Self::Home { platform } => write!(f, "{platform}"),
            Self::Chat {
                platform,
                chat_id,
                thread_id,
            } => {
                write!(f, "{platform}:{chat_id}")?;
                match thread_id {
                    Some(thread) => write!(f, ":{thread}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> bool {
        matches!(name, "telegram" | "discord" | "api_server")
    }

    fn parse(raw: &str) -> Result<DeliveryTarget, String> {
        DeliveryTarget::parse(raw, known)
    }

    fn chat(platform: &'static str, chat: &str, thread: Option<&str>) -> DeliveryTarget {
        DeliveryTarget::Chat {
            platform: PlatformId::from_static(platform),
            chat_id: chat.into(),
            thread_id: thread.map(Into::into),
        }
    }

    #[test]
    fn keywords_in_any_case() {
        assert_eq!(parse("origin"), Ok(DeliveryTarget::Origin));
        assert_eq!(parse(" Origin "), Ok(DeliveryTarget::Origin));
        assert_eq!(parse("LOCAL"), Ok(DeliveryTarget::Local));
    }

    #[test]
    fn a_bare_platform_is_its_home_chat() {
        let home = DeliveryTarget::Home {
            platform: PlatformId::from_static("telegram"),
        };
        assert_eq!(parse("telegram"), Ok(home.clone()));
        assert_eq!(parse("Telegram"), Ok(home));
    }

    #[test]
    fn chats_and_threads() {
        assert_eq!(
            parse("telegram:-100123"),
            Ok(chat("telegram", "-100123", None))
        );
        assert_eq!(
            parse("DISCORD:AbC:T1"),
            Ok(chat("discord", "AbC", Some("T1")))
        );
        assert_eq!(
            parse("discord:abc:thread:with:colons"),
            Ok(chat("discord", "abc", Some("thread:with:colons")))
        );
        assert_eq!(
            parse(" telegram : 42 : 7 "),
            Ok(chat("telegram", "42", Some("7")))
        );
    }

    #[test]
    fn unknown_platforms_are_errors_naming_the_platform() {
        let err = parse("telegarm:42").unwrap_err();
        assert!(err.contains("\"telegarm\""), "{err}");
        assert!(err.contains("not a known platform"), "{err}");
        assert!(parse("slack").is_err());
    }

    #[test]
    fn empty_fields_are_errors() {
        for raw in [
            "",
            "  ",
            ":42",
            "telegram:",
            "telegram::7",
            "telegram:42:",
            " : ",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
        assert!(parse("telegram:").unwrap_err().contains("empty chat id"));
        assert!(
            parse("telegram:42:")
                .unwrap_err()
                .contains("empty thread id")
        );
    }

    #[test]
    fn display_writes_the_syntax() {
        assert_eq!(DeliveryTarget::Origin.to_string(), "origin");
        assert_eq!(DeliveryTarget::Local.to_string(), "local");
        assert_eq!(chat("telegram", "42", None).to_string(), "telegram:42");
        assert_eq!(
            chat("discord", "a", Some("b:c")).to_string(),
            "discord:a:b:c"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn platform() -> impl Strategy<Value = String> {
        // Never a keyword: those parse as `origin` / `local`.
        "[a-z][a-z0-9_]{0,10}".prop_map(|p| {
            if p == "origin" || p == "local" {
                format!("{p}_x")
            } else {
                p
            }
        })
    }

    fn target() -> impl Strategy<Value = DeliveryTarget> {
        prop_oneof![
            Just(DeliveryTarget::Origin),
            Just(DeliveryTarget::Local),
            platform().prop_map(|p| DeliveryTarget::Home {
                platform: PlatformId::new(p)
            }),
            (
                platform(),
                "[A-Za-z0-9_@.+-]{1,12}",
                proptest::option::of("[A-Za-z0-9_@.:+-]{1,12}"),
            )
                .prop_map(|(p, chat_id, thread_id)| DeliveryTarget::Chat {
                    platform: PlatformId::new(p),
                    chat_id,
                    thread_id,
                }),
        ]
    }

    proptest! {
        #[test]
        fn display_round_trips(target in target()) {
            let text = target.to_string();
            prop_assert_eq!(DeliveryTarget::parse(&text, |_| true), Ok(target));
        }

        #[test]
        fn platform_case_does_not_matter(target in target()) {
            let upper = match &target {
                DeliveryTarget::Home { platform } => platform.as_str().to_ascii_uppercase(),
                DeliveryTarget::Chat { platform, chat_id, thread_id } => {
                    let mut s = format!("{}:{chat_id}", platform.as_str().to_ascii_uppercase());
                    if let Some(t) = thread_id {
                        s.push(':');
                        s.push_str(t);
                    }
                    s
                }
                other => other.to_string().to_ascii_uppercase(),
            };
            prop_assert_eq!(DeliveryTarget::parse(&upper, |_| true), Ok(target));
        }
    }
}
