//! Slack events → [`InboundEvent`]s: a pure conversion, with the rules
//! for what is answered.
//!
//! - `message` (DMs, channels, threads) and `app_mention` events; plain
//!   messages and the subtypes a person writes (`thread_broadcast`,
//!   `file_share`, `me_message`). Edits, deletions, joins and the other
//!   subtypes are not answered. A message with files and no text is
//!   answered; which files are fetched is [`crate::files`]'s.
//! - Our own messages never; other bots' only as `SLACK_ALLOW_BOTS` says.
//! - In channels, with `SLACK_REQUIRE_MENTION` (the default), only a
//!   mention of the bot or a message in a thread the bot is in; DMs always.
//! - A channel message is answered in its thread: the thread it is in, or
//!   the one its answer starts under it. Each thread is its own session.
//! - The key a message is recorded under is `team:channel:ts`, the same
//!   for its `message` and `app_mention` events and for every delivery
//!   of them, so a message is answered once.
//! - Slash commands become `!command args` text, which core reads with
//!   the `!` prefix like a typed command.

use crate::config::{AllowBots, SlackConfig};
use crate::files::{self, SharedFileRef};
use crate::types::{MessageEvent, SlashCommand};
use hermod_model::{ChatType, InboundEvent, Source};

/// What the rules need to know beyond the event.
pub(crate) struct Rules<'a> {
    /// The bot's user id (`auth.test`'s `user_id`).
    pub bot_user_id: &'a str,
    /// The bot's id (`B…`), when `auth.test` gave it.
    pub bot_id: Option<&'a str>,
    pub config: &'a SlackConfig,
    /// Whether the bot is in the thread `thread_ts` of `channel`.
    pub in_thread: &'a (dyn Fn(&str, &str) -> bool + Sync),
}

/// A message to submit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Received {
    pub event: InboundEvent,
    /// The inbox key: `team:channel:ts`, or `slash:team:trigger` for a
    /// slash command.
    pub key: String,
    pub channel: String,
    /// The message's own `ts` (none for a slash command), for answering
    /// it from the adapter (a full queue).
    pub ts: Option<String>,
    /// The files shared with it, in order; downloaded (and added to the
    /// event) only for a sender core admits.
    pub files: Vec<SharedFileRef>,
}

/// What to do with an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Submit(Box<Received>),
    /// Not for us (a reason for the DEBUG log).
    Ignore(&'static str),
    /// Cannot be read: logged at WARN and skipped.
    Malformed(&'static str),
}

/// The subtypes of messages a person writes; every other subtype is an
/// event about a message (edited, deleted) or the channel (joins, topic).
const ANSWERED_SUBTYPES: &[&str] = &["thread_broadcast", "file_share", "me_message"];

/// Converts a `message` or `app_mention` event of workspace `team`.
pub(crate) fn convert_message(team: &str, event: &MessageEvent, rules: &Rules<'_>) -> Decision {
    if event.kind != "message" && event.kind != "app_mention" {
        return Decision::Ignore("not a message event");
    }
    if let Some(subtype) = event.subtype.as_deref()
        && !ANSWERED_SUBTYPES.contains(&subtype)
    {
        return Decision::Ignore("a message subtype that is not a new message");
    }
    let (Some(channel), Some(ts)) = (nonempty(&event.channel), nonempty(&event.ts)) else {
        return Decision::Malformed("a message event without channel or ts");
    };
    let own = event.user.as_deref() == Some(rules.bot_user_id)
        || (event.bot_id.is_some() && event.bot_id.as_deref() == rules.bot_id);
    if own {
        return Decision::Ignore("our own message");
    }
    let text = event.text.clone().unwrap_or_default();
    let mentioned = event.kind == "app_mention" || mentions(&text, rules.bot_user_id);
    let is_bot = event.bot_id.is_some();
    if is_bot {
        match rules.config.allow_bots {
            AllowBots::None => return Decision::Ignore("another bot's message"),
            AllowBots::Mentions if !mentioned => {
                return Decision::Ignore("another bot's message without a mention");
            }
            _ => {}
        }
    }
    let Some(user) = nonempty(&event.user) else {
        return Decision::Ignore("a message without a user");
    };
    let dm = is_dm(event.channel_type.as_deref(), channel);
    let thread_ts = nonempty(&event.thread_ts);
    if !dm {
        let allowed = &rules.config.allowed_channels;
        if !allowed.is_empty() && !allowed.iter().any(|c| c == channel) {
            return Decision::Ignore("a channel not in SLACK_ALLOWED_CHANNELS");
        }
        let in_our_thread = thread_ts.is_some_and(|thread| {
            event.parent_user_id.as_deref() == Some(rules.bot_user_id)
                || (rules.in_thread)(channel, thread)
        });
        if rules.config.require_mention && !mentioned && !in_our_thread {
            return Decision::Ignore("a channel message that does not mention the bot");
        }
    }
    let content = plain_text(strip_leading_mention(&text, rules.bot_user_id));
    let files: Vec<SharedFileRef> = event
        .files
        .iter()
        .map(|file| files::classify(file, &rules.config.api_base_url))
        .collect();
    if content.trim().is_empty() && files.is_empty() {
        return Decision::Ignore("an empty message");
    }
    let source = Source {
        platform: crate::PLATFORM,
        chat_type: if dm { ChatType::Dm } else { ChatType::Group },
        chat_id: Some(channel.to_owned()),
        chat_name: None,
        user_id: Some(user.to_owned()),
        user_id_alt: None,
        user_name: event.bot_profile.as_ref().and_then(|p| p.name.clone()),
        // In channels the answer goes to the message's thread, and a
        // message at the top starts one under itself.
        thread_id: if dm {
            thread_ts.map(str::to_owned)
        } else {
            Some(thread_ts.unwrap_or(ts).to_owned())
        },
        is_bot,
    };
    let mut inbound = InboundEvent::text(source, content);
    inbound.message_id = Some(ts.to_owned());
    let team = nonempty(&event.team).unwrap_or(team);
    Decision::Submit(Box::new(Received {
        event: inbound,
        key: format!("{team}:{channel}:{ts}"),
        channel: channel.to_owned(),
        ts: Some(ts.to_owned()),
        files,
    }))
}

/// Converts a slash command: `/name args` becomes `!name args`.
pub(crate) fn convert_command(
    team: &str,
    command: &SlashCommand,
    unique: &str,
    rules: &Rules<'_>,
) -> Decision {
    let name = command.command.trim().trim_start_matches('/');
    if name.is_empty() || command.channel_id.trim().is_empty() || command.user_id.is_empty() {
        return Decision::Malformed("a slash command without command, channel or user");
    }
    let channel = command.channel_id.trim();
    let dm = command.channel_name.as_deref() == Some("directmessage") || channel.starts_with('D');
    if !dm {
        let allowed = &rules.config.allowed_channels;
        if !allowed.is_empty() && !allowed.iter().any(|c| c == channel) {
            return Decision::Ignore("a channel not in SLACK_ALLOWED_CHANNELS");
        }
    }
    let text = plain_text(command.text.trim());
    let line = if text.is_empty() {
        format!("!{name}")
    } else {
        format!("!{name} {text}")
    };
    let source = Source {
        platform: crate::PLATFORM,
        chat_type: if dm { ChatType::Dm } else { ChatType::Group },
        chat_id: Some(channel.to_owned()),
        chat_name: command
            .channel_name
            .clone()
            .filter(|n| n != "directmessage"),
        user_id: Some(command.user_id.clone()),
        user_id_alt: None,
        user_name: command.user_name.clone(),
        thread_id: None,
        is_bot: false,
    };
    let team = command.team_id.as_deref().unwrap_or(team);
    let trigger = command.trigger_id.as_deref().unwrap_or(unique);
    Decision::Submit(Box::new(Received {
        event: InboundEvent::text(source, line),
        key: format!("slash:{team}:{trigger}"),
        channel: channel.to_owned(),
        ts: None,
        files: Vec::new(),
    }))
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A DM: `channel_type: im`, or a `D…` conversation (`app_mention`
/// events carry no channel type).
fn is_dm(channel_type: Option<&str>, channel: &str) -> bool {
    match channel_type {
        Some(kind) => kind == "im",
        None => channel.starts_with('D'),
    }
}

/// Whether `text` mentions `user` (`<@U…>` or `<@U…|name>`).
pub(crate) fn mentions(text: &str, user: &str) -> bool {
    let plain = format!("<@{user}>");
    let named = format!("<@{user}|");
    text.contains(&plain) || text.contains(&named)
}

/// `text` without a leading mention of the bot (and the `:` or `,` after it).
fn strip_leading_mention<'t>(text: &'t str, bot: &str) -> &'t str {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix("<@") else {
        return text;
    };
    let Some(end) = rest.find('>') else {
        return text;
    };
    let id = rest[..end].split('|').next().unwrap_or_default();
    if id != bot {
        return text;
    }
    rest[end + 1..].trim_start_matches([':', ',']).trim_start()
}

/// Slack's message text as a person reads it: `&amp;`, `&lt;` and `&gt;`
/// decoded; `<url|label>` as `label (url)`, `<url>` as the URL; user and
/// channel mentions as `@U…` and `#name`.
pub(crate) fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&decode(&rest[..start]));
        let Some(len) = rest[start..].find('>') else {
            out.push_str(&decode(&rest[start..]));
            return out;
        };
        let inner = &rest[start + 1..start + len];
        let (target, label) = match inner.split_once('|') {
            Some((target, label)) => (target, Some(label)),
            None => (inner, None),
        };
        if let Some(user) = target.strip_prefix('@') {
            out.push('@');
            out.push_str(&decode(label.unwrap_or(user)));
        } else if let Some(channel) = target.strip_prefix('#') {
            out.push('#');
            out.push_str(&decode(label.unwrap_or(channel)));
        } else if let Some(special) = target.strip_prefix('!') {
            // `<!here>`, `<!channel>`, `<!subteam^ID|@team>`.
            out.push_str(&decode(label.unwrap_or(&format!("@{special}"))));
        } else {
            let url = decode(target);
            match label.map(decode) {
                Some(label) if label != url => out.push_str(&format!("{label} ({url})")),
                _ => out.push_str(&url),
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(&decode(rest));
    out
}

fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
