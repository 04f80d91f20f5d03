//! [`FakeGuild`]: a server the bot is in, with channels, roles and
//! members. Changes made while a session is live reach the bot as the
//! events Discord sends for them (GUILD_CREATE, CHANNEL_CREATE,
//! GUILD_ROLE_CREATE, GUILD_MEMBER_ADD, THREAD_CREATE).

use super::gateway::guild_create;
use super::session::intents;
use super::state::{
    ChannelRec, GUILD_ANNOUNCEMENT, GUILD_TEXT, GuildRec, MemberRec, PUBLIC_THREAD, RoleRec,
    Shared, State,
};
use super::users::FakeUser;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A guild of the fake. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FakeGuild {
    shared: Arc<Shared>,
    id: u64,
}

impl FakeGuild {
    /// A new guild owned by `owner_id` with the bot as a member; fires
    /// GUILD_CREATE if a session is live (the bot "joins a new Guild").
    pub(crate) fn create(shared: Arc<Shared>, name: &str, owner_id: u64) -> Self {
        let id = shared.update(|s| {
            let id = s.snowflake();
            let created = s.clock.iso_now();
            let mut members = BTreeMap::new();
            for user in [owner_id, shared.bot_id] {
                members.insert(
                    user,
                    MemberRec {
                        roles: Vec::new(),
                        joined_at: created.clone(),
                    },
                );
            }
            s.guilds.insert(
                id,
                GuildRec {
                    id,
                    name: name.to_owned(),
                    owner_id,
                    roles: vec![RoleRec {
                        id,
                        name: "@everyone".to_owned(),
                        position: 0,
                    }],
                    members,
                    created,
                },
            );
            if let Some(wanted) = s.gateway.session.as_ref().map(|s| s.intents) {
                let guild = guild_create(&shared, s, id, wanted);
                s.gateway.dispatch("GUILD_CREATE", guild, intents::GUILDS);
            }
            id
        });
        Self { shared, id }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// A new text channel; returns its id.
    pub fn text_channel(&self, name: &str) -> u64 {
        self.channel(name, GUILD_TEXT)
    }

    /// A new announcement channel; returns its id.
    pub fn announcement_channel(&self, name: &str) -> u64 {
        self.channel(name, GUILD_ANNOUNCEMENT)
    }

    fn channel(&self, name: &str, kind: u64) -> u64 {
        let guild_id = self.id;
        self.shared.update(|s| {
            let id = s.snowflake();
            let position = s
                .channels
                .values()
                .filter(|c| c.guild_id == Some(guild_id))
                .count() as u64;
            let record = new_channel(s, id, kind, guild_id, name, None, None, position);
            let json = record.json(&s.users);
            s.channels.insert(id, record);
            s.gateway.dispatch("CHANNEL_CREATE", json, intents::GUILDS);
            id
        })
    }

    /// A public thread `owner` started in `parent_id` without a starter
    /// message; fires THREAD_CREATE (sent to the bot for public threads
    /// in channels it can see).
    pub fn thread(&self, parent_id: u64, name: &str, owner: &FakeUser) -> u64 {
        let guild_id = self.id;
        let owner_id = owner.id();
        self.shared.update(|s| {
            let id = s.snowflake();
            super::users::join(s, guild_id, owner_id);
            let record = new_channel(
                s,
                id,
                PUBLIC_THREAD,
                guild_id,
                name,
                Some(parent_id),
                Some(owner_id),
                0,
            );
            let mut json = record.json(&s.users);
            s.channels.insert(id, record);
            json["newly_created"] = json!(true);
            s.gateway.dispatch("THREAD_CREATE", json, intents::GUILDS);
            id
        })
    }

    /// A new role; returns its id.
    pub fn role(&self, name: &str) -> u64 {
        let guild_id = self.id;
        self.shared.update(|s| {
            let id = s.snowflake();
            let Some(guild) = s.guilds.get_mut(&guild_id) else {
                return id;
            };
            let role = RoleRec {
                id,
                name: name.to_owned(),
                position: guild.roles.len() as u64,
            };
            let json = json!({"guild_id": guild_id.to_string(), "role": role.json()});
            guild.roles.push(role);
            s.gateway
                .dispatch("GUILD_ROLE_CREATE", json, intents::GUILDS);
            id
        })
    }

    /// Makes `user` a member with `roles` (replacing the roles of an
    /// existing member); fires GUILD_MEMBER_ADD for a new member.
    pub fn add_member(&self, user: &FakeUser, roles: &[u64]) {
        let guild_id = self.id;
        let user_id = user.id();
        self.shared.update(|s| {
            let joined_at = s.clock.iso_now();
            let Some(guild) = s.guilds.get_mut(&guild_id) else {
                return;
            };
            let new = !guild.members.contains_key(&user_id);
            let member = guild.members.entry(user_id).or_insert(MemberRec {
                roles: Vec::new(),
                joined_at,
            });
            member.roles = roles.to_vec();
            if new {
                let mut json = guild.member_json(user_id).unwrap_or_default();
                json["user"] = s.user_json(user_id);
                json["guild_id"] = json!(guild_id.to_string());
                s.gateway
                    .dispatch("GUILD_MEMBER_ADD", json, intents::GUILD_MEMBERS);
            }
        });
    }
}

#[expect(clippy::too_many_arguments, reason = "a plain record constructor")]
fn new_channel(
    s: &mut State,
    id: u64,
    kind: u64,
    guild_id: u64,
    name: &str,
    parent_id: Option<u64>,
    owner_id: Option<u64>,
    position: u64,
) -> ChannelRec {
    ChannelRec {
        id,
        kind,
        guild_id: Some(guild_id),
        name: Some(name.to_owned()),
        parent_id,
        recipients: Vec::new(),
        owner_id,
        last_message_id: None,
        bot_joined: false,
        created: s.clock.iso_now(),
        position,
        message_count: 0,
    }
}
