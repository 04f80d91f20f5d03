//! Message objects (Message, "Message Object"), built the same way for
//! users' and the bot's messages: `mentions` and `mention_roles` read from
//! the content (`<@id>`, `<@!id>`, `<@&id>`), replies typed 19 with
//! `message_reference` and `referenced_message`, and the gateway-only
//! extras of MESSAGE_CREATE (`guild_id`, `member`, members in `mentions`,
//! `channel_type`).

use super::gateway::dispatch_message;
use super::state::{MessageRec, Shared, State};
use serde_json::{Map, Value, json};

/// Message types used here.
pub(crate) const DEFAULT: u64 = 0;
pub(crate) const REPLY: u64 = 19;
pub(crate) const CHAT_INPUT_COMMAND: u64 = 20;

/// What a new message holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub(crate) channel_id: u64,
    pub(crate) author_id: u64,
    pub(crate) content: String,
    pub(crate) kind: u64,
    /// The message it replies to.
    pub(crate) reply_to: Option<u64>,
    /// Add the replied-to author to `mentions` (a reply that pings).
    pub(crate) reply_ping: bool,
    pub(crate) attachments: Vec<Value>,
    pub(crate) embeds: Vec<Value>,
    pub(crate) components: Vec<Value>,
    pub(crate) flags: u64,
    pub(crate) nonce: Option<Value>,
    pub(crate) tts: bool,
    /// Further fields (`interaction_metadata`, `webhook_id`, ...).
    pub(crate) extra: Map<String, Value>,
}

/// Stores a new message and returns its id (the message is not dispatched).
pub(crate) fn store(s: &mut State, draft: Draft) -> u64 {
    let id = s.snowflake();
    let timestamp = s.clock.iso_now();
    let guild_id = s.channels.get(&draft.channel_id).and_then(|c| c.guild_id);
    let mut mentions = mentioned_users(s, &draft.content);
    let mut kind = draft.kind;
    let mut reference = Value::Null;
    let mut referenced = Value::Null;
    if let Some(target) = draft.reply_to
        && let Some(original) = s.messages.get(&target)
    {
        kind = if kind == DEFAULT { REPLY } else { kind };
        reference = json!({
            "type": 0,
            "message_id": target.to_string(),
            "channel_id": original.channel_id.to_string(),
            "guild_id": guild_id.map(|g| g.to_string()),
        });
        let mut inner = original.json.clone();
        if let Some(object) = inner.as_object_mut() {
            object.remove("referenced_message");
        }
        referenced = inner;
        if draft.reply_ping && !mentions.contains(&original.author_id) {
            mentions.push(original.author_id);
        }
    }
    let mention_roles = mentioned_roles(s, guild_id, &draft.content);
    let mut message = json!({
        "id": id.to_string(),
        "channel_id": draft.channel_id.to_string(),
        "author": s.user_json(draft.author_id),
        "content": draft.content,
        "timestamp": timestamp,
        "edited_timestamp": null,
        "tts": draft.tts,
        "mention_everyone": draft.content.contains("@everyone") || draft.content.contains("@here"),
        "mentions": mentions.iter().map(|u| s.user_json(*u)).collect::<Vec<_>>(),
        "mention_roles": mention_roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "attachments": draft.attachments,
        "embeds": draft.embeds,
        "components": draft.components,
        "pinned": false,
        "type": kind,
        "flags": draft.flags,
    });
    if let Some(object) = message.as_object_mut() {
        if let Some(nonce) = draft.nonce {
            object.insert("nonce".into(), nonce);
        }
        if !reference.is_null() {
            object.insert("message_reference".into(), reference);
            object.insert("referenced_message".into(), referenced);
        }
        object.extend(draft.extra);
    }
    if let Some(channel) = s.channels.get_mut(&draft.channel_id) {
        channel.last_message_id = Some(id);
        if channel.is_thread() {
            channel.message_count += 1;
        }
    }
    s.messages.insert(
        id,
        MessageRec {
            channel_id: draft.channel_id,
            author_id: draft.author_id,
            json: message,
            deleted: false,
            thread_id: None,
        },
    );
    id
}

/// `<@id>` and `<@!id>` of known users in `content`, in order, once each.
fn mentioned_users(s: &State, content: &str) -> Vec<u64> {
    let mut found = Vec::new();
    for id in tags(content, &["<@!", "<@"]) {
        if s.users.contains_key(&id) && !found.contains(&id) {
            found.push(id);
        }
    }
    found
}

/// `<@&id>` of the guild's roles in `content`.
fn mentioned_roles(s: &State, guild_id: Option<u64>, content: &str) -> Vec<u64> {
    let Some(guild) = guild_id.and_then(|g| s.guilds.get(&g)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for id in tags(content, &["<@&"]) {
        if guild.roles.iter().any(|r| r.id == id) && !found.contains(&id) {
            found.push(id);
        }
    }
    found
}

/// The ids of `<prefix><digits>>` tags, trying `prefixes` in order.
fn tags(content: &str, prefixes: &[&str]) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        let matched = prefixes.iter().find_map(|p| {
            let after = rest.strip_prefix(p)?;
            let end = after.find('>')?;
            after[..end]
                .parse::<u64>()
                .ok()
                .map(|id| (id, p.len() + end + 1))
        });
        match matched {
            Some((id, len)) => {
                ids.push(id);
                rest = &rest[len..];
            }
            None => rest = &rest[1..],
        }
    }
    ids
}

/// The message as MESSAGE_CREATE carries it: with `guild_id`, the
/// author's `member`, members in `mentions` and `channel_type`.
pub(crate) fn gateway_view(s: &State, id: u64) -> Value {
    let Some(record) = s.messages.get(&id) else {
        return Value::Null;
    };
    let mut message = record.json.clone();
    let channel = s.channels.get(&record.channel_id);
    if let Some(kind) = channel.map(|c| c.kind) {
        message["channel_type"] = json!(kind);
    }
    let Some(guild) = channel
        .and_then(|c| c.guild_id)
        .and_then(|g| s.guilds.get(&g))
    else {
        return message;
    };
    message["guild_id"] = json!(guild.id.to_string());
    if message["webhook_id"].is_null()
        && let Some(member) = guild.member_json(record.author_id)
    {
        message["member"] = member;
    }
    if let Some(mentions) = message["mentions"].as_array_mut() {
        for user in mentions {
            let user_id = user["id"]
                .as_str()
                .and_then(|i| i.parse().ok())
                .unwrap_or(0);
            if let Some(member) = guild.member_json(user_id) {
                user["member"] = member;
            }
        }
    }
    message
}

/// Sends MESSAGE_CREATE for a stored message.
pub(crate) fn dispatch_create(shared: &Shared, s: &mut State, id: u64) {
    let message = gateway_view(s, id);
    dispatch_message(shared, s, "MESSAGE_CREATE", message);
}

/// Sends MESSAGE_UPDATE for a stored message.
pub(crate) fn dispatch_update(shared: &Shared, s: &mut State, id: u64) {
    let message = gateway_view(s, id);
    dispatch_message(shared, s, "MESSAGE_UPDATE", message);
}

/// Sends MESSAGE_DELETE for a message.
pub(crate) fn dispatch_delete(s: &mut State, channel_id: u64, id: u64) {
    let guild_id = s.channels.get(&channel_id).and_then(|c| c.guild_id);
    let mut data = json!({"id": id.to_string(), "channel_id": channel_id.to_string()});
    let needs = match guild_id {
        Some(guild) => {
            data["guild_id"] = json!(guild.to_string());
            super::session::intents::GUILD_MESSAGES
        }
        None => super::session::intents::DIRECT_MESSAGES,
    };
    s.gateway.dispatch("MESSAGE_DELETE", data, needs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_tags_are_found() {
        assert_eq!(
            tags("hi <@12> and <@!34>, <@&56> <@x> <@", &["<@!", "<@"]),
            [12, 34]
        );
        assert_eq!(tags("<@&56> <@78>", &["<@&"]), [56]);
    }
}
