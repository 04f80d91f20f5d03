//! MESSAGE_CREATE → [`InboundEvent`]: a pure conversion that also decides
//! which messages the gateway answers at all.
//!
//! How Discord maps onto hermod's vocabulary:
//!
//! * a DM channel (a message without `guild_id`) is [`ChatType::Dm`];
//!   guild channels are [`ChatType::Group`] and known threads
//!   [`ChatType::Thread`], chat id = the channel's id (a thread is a
//!   channel of its own, so each thread is its own conversation, shared by
//!   its members unless `thread_sessions_per_user`, as in Hermes);
//! * the author's id is the user id; a member with one of
//!   `DISCORD_ALLOWED_ROLES` is vouched for (`InboundEvent::vouched`), so
//!   core allows them like an allowlisted user;
//! * mentions of the bot (`<@id>`, `<@!id>`) are removed from the text;
//! * a reply carries the replied-to text in front, each line prefixed
//!   with `> ` — except for commands, which must stay first.
//!
//! Our own messages are never answered, other bots only as
//! `DISCORD_ALLOW_BOTS` says, system messages never. In guild channels
//! only messages addressed to the bot are answered (a mention, a reply to
//! one of its messages, or a thread it started) unless the channel is
//! free-response or `DISCORD_REQUIRE_MENTION` is off; with
//! `DISCORD_ALLOWED_CHANNELS` set, only those channels (and threads in
//! them) are listened to.

use crate::config::{AllowBots, DiscordConfig};
use crate::types::{Attachment, Message};
use hermod_model::{AttachmentKind, ChatType, InboundEvent, Source};

/// Who the bot is, what it knows about channels, and the configured rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules<'a> {
    pub bot_id: &'a str,
    pub config: &'a DiscordConfig,
    /// The parent of `channel` when it is a known thread.
    pub parent: Option<&'a str>,
    /// The channel is a thread the bot started (answered without a mention).
    pub our_thread: bool,
}

/// A message to hand to the router.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Received {
    /// Attachments are added once the files are downloaded.
    pub event: InboundEvent,
    /// The dedupe key: `<channel id>:<message id>`, so a dispatch replayed
    /// on RESUME is answered once.
    pub key: String,
    pub media: Vec<Attachment>,
    /// A guild channel (not a thread, not a DM): where `DISCORD_AUTO_THREAD`
    /// starts a thread.
    pub threadable: bool,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Submit(Box<Received>),
    /// Not for the gateway; the reason is for DEBUG logs.
    Ignore(&'static str),
}

/// Converts one MESSAGE_CREATE.
pub(crate) fn convert(message: &Message, rules: &Rules<'_>) -> Decision {
    let config = rules.config;
    if message.author.id == rules.bot_id {
        return Decision::Ignore("our own message");
    }
    // 0 default, 19 reply; the rest are joins, pins, boosts and the like.
    if !matches!(message.kind, 0 | 19) {
        return Decision::Ignore("system message");
    }
    let mentioned = mentions_bot(message, rules.bot_id);
    let is_bot = message.author.bot || message.webhook_id.is_some();
    if is_bot {
        match config.allow_bots {
            AllowBots::None => return Decision::Ignore("message from a bot"),
            AllowBots::Mentions if !mentioned => {
                return Decision::Ignore("message from a bot that does not mention us");
            }
            _ => {}
        }
    }
    let text = strip_mentions(&message.content, rules.bot_id);
    if text.trim().is_empty() && message.attachments.is_empty() {
        return Decision::Ignore("no text or attachments");
    }
    let channel = message.channel_id.as_str();
    let guild = message.guild_id.is_some();
    let is_command = text.trim_start().starts_with('/');
    if guild {
        let listed = |list: &[String]| {
            list.iter()
                .any(|c| c == channel || rules.parent.is_some_and(|p| p == c))
        };
        if !config.allowed_channels.is_empty() && !listed(&config.allowed_channels) {
            return Decision::Ignore("channel not in DISCORD_ALLOWED_CHANNELS");
        }
        let free = !config.require_mention || listed(&config.free_response_channels);
        let addressed = mentioned || replies_to_bot(message, rules.bot_id) || rules.our_thread;
        if !free && !addressed {
            return Decision::Ignore("guild message not addressed to the bot");
        }
    }
    let mut content = text;
    if !is_command && let Some(quoted) = quoted_text(message) {
        content = hermod_adapter_kit::inbound::with_quote(&quoted, &content);
    }
    let role_authorized = message
        .member
        .as_ref()
        .is_some_and(|m| has_allowed_role(&m.roles, &config.allowed_roles));
    let source = Source {
        platform: crate::PLATFORM,
        chat_type: match (guild, rules.parent) {
            (false, _) => ChatType::Dm,
            (true, Some(_)) => ChatType::Thread,
            (true, None) => ChatType::Group,
        },
        chat_id: Some(channel.to_owned()),
        chat_name: None,
        user_id: Some(message.author.id.clone()),
        user_id_alt: None,
        user_name: Some(
            message
                .member
                .as_ref()
                .and_then(|m| m.nick.clone())
                .unwrap_or_else(|| message.author.display()),
        ),
        thread_id: None,
        is_bot,
    };
    let mut event = InboundEvent::text(source, content);
    event.message_id = Some(message.id.clone());
    event.vouched = role_authorized;
    Decision::Submit(Box::new(Received {
        event,
        key: format!("{channel}:{}", message.id),
        media: message.attachments.clone(),
        threadable: guild && rules.parent.is_none() && !rules.our_thread,
    }))
}

/// Whether a member's roles include one of the allowed ones.
pub(crate) fn has_allowed_role(roles: &[String], allowed: &[String]) -> bool {
    roles.iter().any(|r| allowed.contains(r))
}

/// The bot is in `mentions`, or its mention markup is in the text.
fn mentions_bot(message: &Message, bot_id: &str) -> bool {
    message.mentions.iter().any(|u| u.id == bot_id)
        || message.content.contains(&format!("<@{bot_id}>"))
        || message.content.contains(&format!("<@!{bot_id}>"))
}

/// A reply to one of the bot's messages.
fn replies_to_bot(message: &Message, bot_id: &str) -> bool {
    message
        .referenced_message
        .as_ref()
        .is_some_and(|m| m.author.id == bot_id)
}

/// The text without mentions of the bot, trimmed.
fn strip_mentions(text: &str, bot_id: &str) -> String {
    text.replace(&format!("<@!{bot_id}>"), "")
        .replace(&format!("<@{bot_id}>"), "")
        .trim()
        .to_owned()
}

/// The replied-to message's text.
fn quoted_text(message: &Message) -> Option<String> {
    let reply = message.referenced_message.as_deref()?;
    let text = reply.content.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.to_owned())
}

/// The kind of an attachment, from its MIME type.
pub(crate) fn kind_of(attachment: &Attachment) -> AttachmentKind {
    let mime = attachment.content_type.as_deref().unwrap_or("");
    if mime.starts_with("image/") {
        AttachmentKind::Photo
    } else if mime.starts_with("audio/")
        && (attachment.duration_secs.is_some() || attachment.filename == "voice-message.ogg")
    {
        AttachmentKind::Voice
    } else if mime.starts_with("audio/") {
        AttachmentKind::Audio
    } else if mime.starts_with("video/") {
        AttachmentKind::Video
    } else {
        AttachmentKind::Document
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOT: &str = "1145141919810931234";

    fn message(value: serde_json::Value) -> Message {
        serde_json::from_value(value).unwrap()
    }

    /// MESSAGE_CREATE data as the Gateway Events page shows it.
    fn guild_message(content: &str) -> serde_json::Value {
        json!({
            "id": "1200000000000000001",
            "channel_id": "1100000000000000001",
            "guild_id": "1000000000000000001",
            "author": {"id": "80351110224678912", "username": "nelly", "global_name": "Nelly", "discriminator": "0", "avatar": null},
            "member": {"roles": ["41771983423143936"], "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false, "flags": 0},
            "content": content,
            "timestamp": "2017-07-11T17:27:07.299000+00:00",
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": false,
            "type": 0
        })
    }

    fn rules(config: &DiscordConfig) -> Rules<'_> {
        Rules {
            bot_id: BOT,
            config,
            parent: None,
            our_thread: false,
        }
    }

    fn submitted(decision: Decision) -> Received {
        match decision {
            Decision::Submit(r) => *r,
            Decision::Ignore(why) => panic!("ignored: {why}"),
        }
    }

    #[test]
    fn a_dm_is_answered_with_a_stable_key() {
        let config = DiscordConfig::default();
        let mut raw = guild_message("hello there");
        raw.as_object_mut().unwrap().remove("guild_id");
        raw.as_object_mut().unwrap().remove("member");
        let received = submitted(convert(&message(raw), &rules(&config)));
        assert_eq!(received.event.source.chat_type, ChatType::Dm);
        assert_eq!(received.event.content.text(), "hello there");
        assert_eq!(received.key, "1100000000000000001:1200000000000000001");
        assert_eq!(received.event.source.user_name.as_deref(), Some("Nelly"));
        assert!(!received.threadable);
    }

    #[test]
    fn guild_messages_need_a_mention_a_reply_or_a_free_channel() {
        let config = DiscordConfig::default();
        assert_eq!(
            convert(&message(guild_message("hi all")), &rules(&config)),
            Decision::Ignore("guild message not addressed to the bot")
        );
        let mut raw = guild_message(&format!("<@{BOT}> what's up?"));
        raw["mentions"] = json!([{"id": BOT, "username": "hermod", "bot": true}]);
        let received = submitted(convert(&message(raw), &rules(&config)));
        assert_eq!(received.event.content.text(), "what's up?");
        assert_eq!(received.event.source.chat_type, ChatType::Group);
        assert!(received.threadable);

        let mut reply = guild_message("and then?");
        reply["type"] = json!(19);
        reply["referenced_message"] = guild_message("earlier answer");
        reply["referenced_message"]["author"] =
            json!({"id": BOT, "username": "hermod", "bot": true});
        let received = submitted(convert(&message(reply), &rules(&config)));
        assert_eq!(
            received.event.content.text(),
            "> earlier answer\n\nand then?"
        );

        let free = DiscordConfig {
            free_response_channels: vec!["1100000000000000001".into()],
            ..DiscordConfig::default()
        };
        submitted(convert(&message(guild_message("hi all")), &rules(&free)));
        let thread = Rules {
            our_thread: true,
            ..rules(&config)
        };
        submitted(convert(&message(guild_message("more")), &thread));
    }

    #[test]
    fn own_bot_and_system_messages_are_ignored() {
        let config = DiscordConfig::default();
        let mut own = guild_message("x");
        own["author"] = json!({"id": BOT, "username": "hermod", "bot": true});
        assert_eq!(
            convert(&message(own), &rules(&config)),
            Decision::Ignore("our own message")
        );
        let mut bot = guild_message(&format!("<@{BOT}> hi"));
        bot["author"] = json!({"id": "5", "username": "other", "bot": true});
        assert_eq!(
            convert(&message(bot.clone()), &rules(&config)),
            Decision::Ignore("message from a bot")
        );
        let mentions = DiscordConfig {
            allow_bots: AllowBots::Mentions,
            ..DiscordConfig::default()
        };
        let received = submitted(convert(&message(bot), &rules(&mentions)));
        assert!(received.event.source.is_bot);
        let mut join = guild_message("");
        join["type"] = json!(7);
        assert_eq!(
            convert(&message(join), &rules(&config)),
            Decision::Ignore("system message")
        );
    }

    #[test]
    fn allowed_channels_and_roles() {
        let config = DiscordConfig {
            allowed_channels: vec!["999".into()],
            allowed_roles: vec!["41771983423143936".into()],
            require_mention: false,
            ..DiscordConfig::default()
        };
        assert_eq!(
            convert(&message(guild_message("hi")), &rules(&config)),
            Decision::Ignore("channel not in DISCORD_ALLOWED_CHANNELS")
        );
        let in_thread = Rules {
            parent: Some("999"),
            ..rules(&config)
        };
        let received = submitted(convert(&message(guild_message("hi")), &in_thread));
        assert!(received.event.vouched);
        assert!(!received.threadable);
        assert_eq!(
            received.event.source.chat_type,
            ChatType::Thread,
            "a thread is one conversation for all its members"
        );
        // The session a handoff routes a new thread to (the place
        // `create_thread` returns) is the one its members' messages reach,
        // with groups per user as by default.
        let handed_off = Source {
            chat_type: ChatType::Thread,
            ..Source::dm(
                crate::PLATFORM,
                received.event.source.chat_id.clone().unwrap(),
            )
        };
        let policy = hermod_model::SessionKeyPolicy::default();
        assert!(policy.group_sessions_per_user);
        assert_eq!(
            hermod_model::SessionKey::build(&received.event.source, &policy),
            hermod_model::SessionKey::build(&handed_off, &policy)
        );
        assert!(!has_allowed_role(&["1".into()], &["2".into()]));
    }

    #[test]
    fn commands_stay_first_and_attachments_are_kept() {
        let config = DiscordConfig::default();
        let mut raw = guild_message(&format!("<@!{BOT}> /help"));
        raw["referenced_message"] = guild_message("quoted");
        raw["attachments"] = json!([{"id": "7", "filename": "cat.png", "size": 10, "url": "https://cdn.discordapp.com/attachments/1/7/cat.png", "proxy_url": "x", "content_type": "image/png"}]);
        let received = submitted(convert(&message(raw), &rules(&config)));
        assert_eq!(received.event.content.text(), "/help");
        assert_eq!(received.media.len(), 1);
        assert_eq!(kind_of(&received.media[0]), AttachmentKind::Photo);
    }

    #[test]
    fn a_recording_with_a_duration_is_a_voice_message_and_other_audio_is_audio() {
        let config = DiscordConfig::default();
        let mut raw = guild_message(&format!("<@!{BOT}>"));
        // As Discord sends a voice message (flag IS_VOICE_MESSAGE).
        raw["flags"] = json!(8192);
        raw["attachments"] = json!([
            {"id": "8", "filename": "voice-message.ogg", "size": 9000, "url": "https://cdn.discordapp.com/attachments/1/8/voice-message.ogg", "proxy_url": "x", "content_type": "audio/ogg", "duration_secs": 3.2, "waveform": "AAAA"},
            {"id": "9", "filename": "song.mp3", "size": 9000, "url": "https://cdn.discordapp.com/attachments/1/9/song.mp3", "proxy_url": "x", "content_type": "audio/mpeg"}
        ]);
        let received = submitted(convert(&message(raw), &rules(&config)));
        let kinds: Vec<_> = received.media.iter().map(kind_of).collect();
        assert_eq!(kinds, [AttachmentKind::Voice, AttachmentKind::Audio]);
    }
}
