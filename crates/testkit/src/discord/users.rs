//! [`FakeUser`]: someone writing to the bot. Every message is stored as
//! Discord stores it and dispatched as MESSAGE_CREATE (the gateway's
//! intent rules decide what the bot sees); a slash command becomes
//! INTERACTION_CREATE.

use super::messages::{self, Draft};
use super::state::{FakeFile, InteractionRec, MemberRec, Shared, State};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tokio::time::Instant;

/// What a user's message holds beyond its text (see [`FakeUser::send`]).
#[derive(Debug, Clone)]
pub struct Post {
    text: String,
    mention_bot: bool,
    reply_to: Option<u64>,
    reply_ping: bool,
    attachments: Vec<FakeFile>,
    /// A voice message's recording: its length and waveform.
    voice: Option<(f64, String)>,
}

impl Post {
    pub fn text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            mention_bot: false,
            reply_to: None,
            reply_ping: true,
            attachments: Vec::new(),
            voice: None,
        }
    }

    /// A voice message, as Discord's clients send one: no content, one
    /// attachment `voice-message.ogg` (`audio/ogg`) with `duration_secs`
    /// and a base64 `waveform`, and the message flag `IS_VOICE_MESSAGE`
    /// ([`super::IS_VOICE_MESSAGE`]).
    pub fn voice_message(ogg: Vec<u8>, duration_secs: f64, waveform: &str) -> Self {
        Self {
            attachments: vec![FakeFile::new("voice-message.ogg", "audio/ogg", ogg)],
            voice: Some((duration_secs, waveform.to_owned())),
            ..Self::text("")
        }
    }

    /// Starts the content with `<@bot_id> `.
    pub fn mentioning_bot(mut self) -> Self {
        self.mention_bot = true;
        self
    }

    /// A reply to message `id` of the same channel; like Discord's client,
    /// it mentions the replied-to author unless
    /// [`Post::without_reply_ping`] is used.
    pub fn replying_to(mut self, id: u64) -> Self {
        self.reply_to = Some(id);
        self
    }

    pub fn without_reply_ping(mut self) -> Self {
        self.reply_ping = false;
        self
    }

    /// Attaches a file, served from the fake's CDN path.
    pub fn with_attachment(mut self, file: FakeFile) -> Self {
        self.attachments.push(file);
        self
    }
}

/// An interaction a user started; answer it with its id and token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInteraction {
    pub id: u64,
    pub token: String,
    pub channel_id: u64,
}

/// A Discord user (or another bot). Cheap to clone.
#[derive(Debug, Clone)]
pub struct FakeUser {
    shared: Arc<Shared>,
    id: u64,
    username: String,
}

impl FakeUser {
    pub(crate) fn new(shared: Arc<Shared>, id: u64, username: &str) -> Self {
        Self {
            shared,
            id,
            username: username.to_owned(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// `<@id>`, the markup that mentions this user.
    pub fn mention(&self) -> String {
        format!("<@{}>", self.id)
    }

    /// The DM channel between this user and the bot.
    pub fn dm_channel(&self) -> u64 {
        self.shared.update(|s| s.dm_channel(self.id))
    }

    /// A direct message to the bot; returns its id.
    pub fn dm(&self, text: &str) -> u64 {
        let channel = self.dm_channel();
        self.send(channel, Post::text(text))
    }

    /// A message in `channel_id`; returns its id.
    pub fn say_in(&self, channel_id: u64, text: &str) -> u64 {
        self.send(channel_id, Post::text(text))
    }

    /// A message in `channel_id` (a guild channel, thread or this user's
    /// DM channel); returns its id. Writing in a guild makes the user a
    /// member of it.
    ///
    /// # Panics
    /// When the channel is unknown, or the message replied to is not in it.
    pub fn send(&self, channel_id: u64, post: Post) -> u64 {
        let shared = &self.shared;
        shared.update(|s| {
            let guild_id = s
                .channels
                .get(&channel_id)
                .unwrap_or_else(|| panic!("no channel {channel_id}"))
                .guild_id;
            if let Some(guild_id) = guild_id {
                join(s, guild_id, self.id);
            }
            if let Some(target) = post.reply_to {
                assert!(
                    s.messages
                        .get(&target)
                        .is_some_and(|m| m.channel_id == channel_id),
                    "channel {channel_id} has no message {target} to reply to"
                );
            }
            let mut attachments: Vec<Value> = post
                .attachments
                .into_iter()
                .map(|file| s.store_attachment(&shared.http_base, channel_id, file))
                .collect();
            let mut flags = 0;
            if let Some((duration, waveform)) = &post.voice {
                flags |= super::IS_VOICE_MESSAGE;
                for attachment in &mut attachments {
                    attachment["duration_secs"] = json!(duration);
                    attachment["waveform"] = json!(waveform);
                }
            }
            let content = if post.mention_bot {
                format!("<@{}> {}", shared.bot_id, post.text)
            } else {
                post.text
            };
            let draft = Draft {
                channel_id,
                author_id: self.id,
                content,
                reply_to: post.reply_to,
                reply_ping: post.reply_ping,
                attachments,
                flags,
                nonce: Some(json!(s.clock.now_ms().to_string())),
                ..Draft::default()
            };
            let id = messages::store(s, draft);
            messages::dispatch_create(shared, s, id);
            id
        })
    }

    /// Edits this user's message; fires MESSAGE_UPDATE.
    ///
    /// # Panics
    /// When there is no such message from this user.
    pub fn edit(&self, message_id: u64, text: &str) {
        let shared = &self.shared;
        shared.update(|s| {
            let edited = s.clock.iso_now();
            let record = s
                .messages
                .get_mut(&message_id)
                .filter(|m| m.author_id == self.id && !m.deleted)
                .unwrap_or_else(|| panic!("user {} has no message {message_id}", self.id));
            record.json["content"] = json!(text);
            record.json["edited_timestamp"] = json!(edited);
            messages::dispatch_update(shared, s, message_id);
        });
    }

    /// Deletes this user's message; fires MESSAGE_DELETE.
    pub fn delete(&self, message_id: u64) {
        self.shared.update(|s| {
            let Some(record) = s
                .messages
                .get_mut(&message_id)
                .filter(|m| m.author_id == self.id)
            else {
                return;
            };
            record.deleted = true;
            let channel_id = record.channel_id;
            messages::dispatch_delete(s, channel_id, message_id);
        });
    }

    /// Uses the slash command `name` in `channel_id` with `options`
    /// (name and value; each must be an option the command was registered
    /// with, which gives its type); fires INTERACTION_CREATE.
    ///
    /// # Panics
    /// When the bot has not registered a slash command `name` usable
    /// there (globally, or in the channel's guild).
    pub fn slash_command(
        &self,
        channel_id: u64,
        name: &str,
        options: &[(&str, Value)],
    ) -> FakeInteraction {
        let shared = &self.shared;
        shared.update(|s| {
            let channel = s
                .channels
                .get(&channel_id)
                .unwrap_or_else(|| panic!("no channel {channel_id}"))
                .clone();
            let guild_commands = channel.guild_id.and_then(|g| s.guild_commands.get(&g));
            let command = guild_commands
                .into_iter()
                .flatten()
                .chain(s.commands.iter())
                .find(|c| c["name"] == name && c["type"] == 1)
                .cloned()
                .unwrap_or_else(|| panic!("the bot registered no slash command /{name}"));
            if let Some(guild_id) = channel.guild_id {
                join(s, guild_id, self.id);
            }
            let (options, resolved) = interaction_options(s, channel.guild_id, &command, options);
            let id = s.snowflake();
            let token = format!("aW50ZXJhY3Rpb246{id}{}", super::ids::hex_token(id, 120));
            let mut data = json!({
                "id": command["id"],
                "name": name,
                "type": 1,
                "options": options,
            });
            if !resolved.is_empty() {
                data["resolved"] = Value::Object(resolved);
            }
            if let Some(guild_id) = command["guild_id"].as_str() {
                data["guild_id"] = json!(guild_id);
            }
            let mut partial_channel = channel.json(&s.users);
            partial_channel["permissions"] = json!(ALL_PERMISSIONS);
            let mut interaction = json!({
                "id": id.to_string(),
                "application_id": shared.application_id.to_string(),
                "type": 2,
                "data": data,
                "channel": partial_channel,
                "channel_id": channel_id.to_string(),
                "token": token,
                "version": 1,
                "app_permissions": ALL_PERMISSIONS,
                "locale": "en-US",
                "entitlements": [],
                "attachment_size_limit": 10_485_760,
            });
            match channel.guild_id.and_then(|g| s.guilds.get(&g)) {
                Some(guild) => {
                    let mut member = guild.member_json(self.id).unwrap_or_else(|| json!({}));
                    member["user"] = s.user_json(self.id);
                    member["permissions"] = json!(ALL_PERMISSIONS);
                    interaction["member"] = member;
                    interaction["guild_id"] = json!(guild.id.to_string());
                    interaction["guild"] =
                        json!({"id": guild.id.to_string(), "locale": "en-US", "features": []});
                    interaction["guild_locale"] = json!("en-US");
                    interaction["context"] = json!(0);
                    interaction["authorizing_integration_owners"] =
                        json!({"0": guild.id.to_string()});
                }
                None => {
                    interaction["user"] = s.user_json(self.id);
                    interaction["context"] = json!(1);
                    interaction["authorizing_integration_owners"] = json!({"0": "0"});
                }
            }
            s.interactions.insert(
                id,
                InteractionRec {
                    id,
                    token: token.clone(),
                    channel_id,
                    guild_id: channel.guild_id,
                    user_id: self.id,
                    command_name: name.to_owned(),
                    command_type: 1,
                    created: Instant::now(),
                    reply: None,
                },
            );
            s.gateway.dispatch("INTERACTION_CREATE", interaction, 0);
            FakeInteraction {
                id,
                token,
                channel_id,
            }
        })
    }
}

/// Every permission bit a guild owner holds, as a string.
const ALL_PERMISSIONS: &str = "2248473465835073";

/// Makes `user_id` a member of `guild_id` without roles, if not one yet.
pub(crate) fn join(s: &mut State, guild_id: u64, user_id: u64) {
    let joined_at = s.clock.iso_now();
    if let Some(guild) = s.guilds.get_mut(&guild_id) {
        guild.members.entry(user_id).or_insert(MemberRec {
            roles: Vec::new(),
            joined_at,
        });
    }
}

/// The interaction's `options` with the registered types, and the
/// `resolved` users of USER options.
fn interaction_options(
    s: &State,
    guild_id: Option<u64>,
    command: &Value,
    given: &[(&str, Value)],
) -> (Vec<Value>, Map<String, Value>) {
    let mut options = Vec::new();
    let mut users = Map::new();
    let mut members = Map::new();
    for (name, value) in given {
        let kind = command["options"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["name"] == *name)
            .and_then(|o| o["type"].as_u64())
            .unwrap_or_else(|| panic!("/{} has no option {name}", command["name"]));
        options.push(json!({"name": name, "type": kind, "value": value}));
        let user_id = value
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| value.as_u64());
        if kind == 6
            && let Some(user_id) = user_id
        {
            users.insert(user_id.to_string(), s.user_json(user_id));
            if let Some(member) = guild_id.and_then(|g| s.guilds.get(&g)?.member_json(user_id)) {
                members.insert(user_id.to_string(), member);
            }
        }
    }
    let mut resolved = Map::new();
    if !users.is_empty() {
        resolved.insert("users".into(), Value::Object(users));
    }
    if !members.is_empty() {
        resolved.insert("members".into(), Value::Object(members));
    }
    (options, resolved)
}
