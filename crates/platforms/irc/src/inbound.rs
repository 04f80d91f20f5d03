//! A PRIVMSG → what the gateway gets ([`InboundEvent`]), or why nothing.
//!
//! - Private messages (the target is our nick): the chat is the sender,
//!   its id their nick folded to lower case under the server's case
//!   mapping, so `Alice` and `alice` are one conversation.
//! - Channel messages: only when they address us at the start (`nick:`,
//!   `nick,`, `nick ` — as Hermes), the address taken off; the chat is the
//!   channel, its id folded the same way.
//! - `/me` (CTCP ACTION) becomes `* nick does something`, as Hermes;
//!   other CTCP requests are answered politely in private (VERSION, PING,
//!   TIME is not ours to tell) and never reach the gateway.
//! - Formatting codes (bold, colours, ...) are stripped.
//!
//! The user id is the nick as written, with the folded nick as the
//! stable id (`user_id_alt`): sessions and pairings follow the folded
//! one, and `IRC_ALLOWED_USERS` matches either. The message id carries
//! the sender's nick (`nick!<id>`), so a reply in a channel knows whom to
//! address.

use crate::proto::Message;
use crate::text::{Body, CaseMapping, addressed, is_channel, matches_mask, strip_formatting};
use hermod_model::{ChatType, InboundEvent, Source};

/// The CTCP VERSION answer.
pub const VERSION: &str = concat!("hermod ", env!("CARGO_PKG_VERSION"));

/// Who we are on the server now, and whom we vouch for.
#[derive(Debug, Clone)]
pub struct Me<'a> {
    pub nick: &'a str,
    pub mapping: CaseMapping,
    /// `IRC_ALLOWED_MASKS`: senders matching one are vouched for.
    pub masks: &'a [String],
}

/// What a PRIVMSG is for us.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// Not for the gateway (ours, not addressed, empty...): why.
    Ignored(&'static str),
    /// A CTCP request to answer with a NOTICE to `nick`.
    Ctcp { nick: String, answer: String },
    /// A message for the gateway, recorded under `key`.
    Event {
        event: Box<InboundEvent>,
        key: String,
    },
}

/// Reads a PRIVMSG; `fresh_id` gives a unique id when the server tags no
/// `msgid`.
pub fn read(msg: &Message, me: &Me<'_>, fresh_id: impl FnOnce() -> String) -> Received {
    let (Some(nick), [target, text, ..]) = (msg.nick(), msg.params.as_slice()) else {
        return Received::Ignored("a PRIVMSG without sender, target or text");
    };
    if me.mapping.eq(nick, me.nick) {
        return Received::Ignored("our own message");
    }
    let channel = is_channel(target);
    let text = match crate::text::body(text) {
        Body::Text(text) => strip_formatting(text),
        Body::Action(action) => format!("* {nick} {}", strip_formatting(action)),
        Body::Ctcp(command, args) => {
            if channel {
                return Received::Ignored("a CTCP request to a channel");
            }
            return match ctcp_answer(command, args) {
                Some(answer) => Received::Ctcp {
                    nick: nick.to_owned(),
                    answer,
                },
                None => Received::Ignored("a CTCP request we do not answer"),
            };
        }
    };
    let text = if channel {
        match addressed(&text, me.nick, me.mapping) {
            Some(rest) => rest.to_owned(),
            None => return Received::Ignored("a channel message not addressed to us"),
        }
    } else {
        text
    };
    if text.trim().is_empty() {
        return Received::Ignored("an empty message");
    }
    let folded_nick = me.mapping.fold(nick);
    let (chat_type, chat_id, chat_name) = if channel {
        (ChatType::Group, me.mapping.fold(target), target.clone())
    } else {
        (ChatType::Dm, folded_nick.clone(), nick.to_owned())
    };
    let key = msg
        .tag("msgid")
        .filter(|id| !id.is_empty())
        .map_or_else(fresh_id, str::to_owned);
    let source = Source {
        platform: crate::PLATFORM,
        chat_type,
        chat_id: Some(chat_id),
        chat_name: Some(chat_name),
        user_id: Some(nick.to_owned()),
        user_id_alt: Some(folded_nick),
        user_name: Some(nick.to_owned()),
        thread_id: None,
        is_bot: false,
    };
    let mut event = InboundEvent::text(source, text);
    event.message_id = Some(format!("{nick}!{key}"));
    if let Some(prefix) = &msg.prefix {
        let full = prefix.mask();
        event.vouched = me
            .masks
            .iter()
            .any(|mask| matches_mask(mask, &full, me.mapping));
    }
    Received::Event {
        event: Box::new(event),
        key,
    }
}

/// The nick a reply in a channel addresses: the sender named in the
/// message id it answers (see the module docs).
pub fn asker(reply_to: Option<&str>) -> Option<&str> {
    let (nick, _) = reply_to?.split_once('!')?;
    (!nick.is_empty() && !nick.contains(' ')).then_some(nick)
}

/// The CTCP answer to `command`, as a CTCP message (`\x01...\x01`).
fn ctcp_answer(command: &str, args: &str) -> Option<String> {
    let args = crate::text::one_line(args).replace('\x01', "");
    let answer = match command.to_ascii_uppercase().as_str() {
        "VERSION" => format!("VERSION {VERSION}"),
        "PING" => format!("PING {args}").trim_end().to_owned(),
        "CLIENTINFO" => "CLIENTINFO ACTION CLIENTINFO PING VERSION".to_owned(),
        _ => return None,
    };
    Some(format!("\x01{answer}\x01"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::Content;

    const ME: Me<'static> = Me {
        nick: "hermes",
        mapping: CaseMapping::Rfc1459,
        masks: &[],
    };

    fn read_line(line: &str) -> Received {
        read(&Message::parse(line).unwrap(), &ME, || "gen-1".to_owned())
    }

    fn event(line: &str) -> (InboundEvent, String) {
        match read_line(line) {
            Received::Event { event, key } => (*event, key),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    fn text(event: &InboundEvent) -> &str {
        match &event.content {
            Content::Text(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_private_message_is_a_dm_from_its_sender() {
        let (event, key) = event(":Alice[m]!~a@host PRIVMSG hermes :\x02hello\x02 there");
        assert_eq!(key, "gen-1");
        assert_eq!(text(&event), "hello there");
        let source = &event.source;
        assert_eq!(source.chat_type, ChatType::Dm);
        assert_eq!(source.chat_id.as_deref(), Some("alice{m}"));
        assert_eq!(source.user_id.as_deref(), Some("Alice[m]"));
        assert_eq!(source.participant(), Some("alice{m}"));
        assert_eq!(event.message_id.as_deref(), Some("Alice[m]!gen-1"));
        assert_eq!(asker(event.message_id.as_deref()), Some("Alice[m]"));
    }

    #[test]
    fn a_channel_message_counts_only_when_addressed() {
        let (event, _) = event("@msgid=abc :bob!b@h PRIVMSG #Chan :Hermes: what time is it?");
        assert_eq!(text(&event), "what time is it?");
        assert_eq!(event.source.chat_type, ChatType::Group);
        assert_eq!(event.source.chat_id.as_deref(), Some("#chan"));
        assert_eq!(event.source.chat_name.as_deref(), Some("#Chan"));
        assert_eq!(event.message_id.as_deref(), Some("bob!abc"));
        assert_eq!(
            read_line(":bob!b@h PRIVMSG #chan :hermesbot: hi"),
            Received::Ignored("a channel message not addressed to us")
        );
        assert_eq!(
            read_line(":bob!b@h PRIVMSG #chan :hermes:   "),
            Received::Ignored("an empty message")
        );
    }

    #[test]
    fn our_own_messages_and_malformed_ones_are_ignored() {
        assert_eq!(
            read_line(":HERMES!h@h PRIVMSG #chan :hermes: loop"),
            Received::Ignored("our own message")
        );
        assert!(matches!(
            read_line("PRIVMSG hermes :no prefix"),
            Received::Ignored(_)
        ));
        assert!(matches!(
            read_line(":bob!b@h PRIVMSG hermes"),
            Received::Ignored(_)
        ));
    }

    #[test]
    fn ctcp_actions_are_text_and_requests_are_answered_in_private() {
        let (event, _) = event(":bob!b@h PRIVMSG hermes :\x01ACTION waves\x01");
        assert_eq!(text(&event), "* bob waves");
        assert_eq!(
            read_line(":bob!b@h PRIVMSG hermes :\x01VERSION\x01"),
            Received::Ctcp {
                nick: "bob".into(),
                answer: format!("\x01VERSION {VERSION}\x01")
            }
        );
        assert_eq!(
            read_line(":bob!b@h PRIVMSG hermes :\x01PING 12345\x01"),
            Received::Ctcp {
                nick: "bob".into(),
                answer: "\x01PING 12345\x01".into()
            }
        );
        assert!(matches!(
            read_line(":bob!b@h PRIVMSG hermes :\x01DCC SEND x\x01"),
            Received::Ignored(_)
        ));
        assert!(matches!(
            read_line(":bob!b@h PRIVMSG #c :\x01VERSION\x01"),
            Received::Ignored(_)
        ));
    }

    #[test]
    fn senders_matching_an_allowed_mask_are_vouched_for() {
        let masks = ["*!*@trusted.example".to_owned()];
        let me = Me {
            masks: &masks,
            ..ME
        };
        let read_as = |line: &str| match read(&Message::parse(line).unwrap(), &me, || "k".into()) {
            Received::Event { event, .. } => event.vouched,
            other => panic!("{other:?}"),
        };
        assert!(read_as(":dave!d@TRUSTED.example PRIVMSG hermes :hi"));
        assert!(!read_as(":dave!d@elsewhere.example PRIVMSG hermes :hi"));
    }

    #[test]
    fn the_asker_is_read_from_the_reply_to_id() {
        assert_eq!(asker(Some("carol!x-1")), Some("carol"));
        assert_eq!(asker(Some("no-bang")), None);
        assert_eq!(asker(None), None);
    }
}
