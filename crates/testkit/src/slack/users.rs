//! [`SlackUser`]: someone in the workspace writing to the bot. Each action
//! becomes the events Slack would send the app: a DM or channel message
//! (with files: `file_share`), an `app_mention` beside it when the bot is
//! mentioned in a channel, thread replies, `message_changed`,
//! `message_deleted`, slash commands and button clicks.

use super::events;
use super::socket::EnvelopeKind;
use super::state::{Author, BotMessage, Channel, Shared, State, StoredMessage};
use super::user_files::{self, NewFile};
use serde_json::json;
use std::sync::Arc;

/// Where a message was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
}

/// A user of the fake's workspace (a person, or another app's bot user).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct SlackUser {
    shared: Arc<Shared>,
    id: String,
    name: String,
}

impl SlackUser {
    pub(crate) fn new(shared: Arc<Shared>, id: String, name: String) -> Self {
        Self { shared, id, name }
    }

    /// The user id (`U…`).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<@U…>`, as a mention of this user is written in message text.
    pub fn mention(&self) -> String {
        format!("<@{}>", self.id)
    }

    /// The id of this user's DM with the bot (`D…`).
    pub fn dm_channel(&self) -> String {
        let s = self.shared.lock();
        s.users
            .get(&self.id)
            .map(|u| u.dm.clone())
            .unwrap_or_default()
    }

    /// A direct message to the bot.
    pub fn dm(&self, text: &str) -> Posted {
        let dm = self.dm_channel();
        self.write(&dm, text, None)
    }

    /// A message in `channel` (an id from [`super::FakeSlack`]). When the
    /// text holds `<@BOT>`, the app gets an `app_mention` event besides the
    /// `message` event, as at Slack.
    ///
    /// # Panics
    /// When the fake has no such channel.
    pub fn say_in(&self, channel: &str, text: &str) -> Posted {
        self.write(channel, text, None)
    }

    /// A message in `channel` that starts by mentioning the bot.
    ///
    /// # Panics
    /// When the fake has no such channel.
    pub fn mention_bot_in(&self, channel: &str, text: &str) -> Posted {
        let text = format!("<@{}> {text}", self.shared.config.bot_user_id);
        self.write(channel, &text, None)
    }

    /// A direct message to the bot sharing `files`, with `text` (which
    /// may be empty): a `file_share` message.
    pub fn dm_files(&self, text: &str, files: &[NewFile]) -> Posted {
        let dm = self.dm_channel();
        self.write_with(&dm, text, None, files)
    }

    /// A message in `channel` sharing `files`, with `text`.
    ///
    /// # Panics
    /// When the fake has no such channel.
    pub fn share_files_in(&self, channel: &str, text: &str, files: &[NewFile]) -> Posted {
        self.write_with(channel, text, None, files)
    }

    /// A reply in the thread of message `thread_ts` of `channel`.
    ///
    /// # Panics
    /// When the fake has no such channel.
    pub fn reply_in_thread(&self, channel: &str, thread_ts: &str, text: &str) -> Posted {
        self.write(channel, text, Some(thread_ts))
    }

    /// Edits this user's message: the app gets a `message_changed` event.
    ///
    /// # Panics
    /// When there is no such message of this user.
    pub fn edit(&self, posted: &Posted, text: &str) {
        let shared = self.shared.clone();
        shared.update(|s| {
            let channel = channel(s, &posted.channel);
            let edit_ts = s.next_ts();
            let stored = s
                .message_mut(&posted.channel, &posted.ts)
                .filter(|m| m.author == Author::User(self.id.clone()))
                .unwrap_or_else(|| {
                    panic!(
                        "{} has no message {} of {}",
                        posted.channel, posted.ts, self.id
                    )
                });
            let previous = stored.json.clone();
            stored.record.text = text.to_owned();
            stored.json["text"] = json!(text);
            stored.json["edited"] = json!({"user": self.id, "ts": edit_ts});
            let message = stored.json.clone();
            events::changed(&shared, s, &channel, &message, &previous);
        });
    }

    /// Deletes this user's message: the app gets a `message_deleted` event.
    ///
    /// # Panics
    /// When there is no such message of this user.
    pub fn delete(&self, posted: &Posted) {
        let shared = self.shared.clone();
        shared.update(|s| {
            let channel = channel(s, &posted.channel);
            let stored = s
                .message_mut(&posted.channel, &posted.ts)
                .filter(|m| m.author == Author::User(self.id.clone()))
                .unwrap_or_else(|| {
                    panic!(
                        "{} has no message {} of {}",
                        posted.channel, posted.ts, self.id
                    )
                });
            stored.record.deleted = true;
            let previous = stored.json.clone();
            events::deleted(&shared, s, &channel, &previous);
        });
    }

    /// Runs the slash command `command` (`/ask`) with `text` in `channel`.
    ///
    /// # Panics
    /// When the fake has no such channel.
    pub fn slash_command(&self, channel: &str, command: &str, text: &str) {
        let shared = self.shared.clone();
        shared.update(|s| {
            let channel = self::channel(s, channel);
            let payload = events::slash_command(&shared, s, &self.id, &channel, command, text);
            events::send_payload(&shared, s, EnvelopeKind::SlashCommands, payload);
        });
    }

    /// Clicks the button `action_id` (with `value`) on message `ts` of
    /// `channel`: a `block_actions` interactive payload.
    ///
    /// # Panics
    /// When the fake has no such channel or message.
    pub fn click_button(&self, channel: &str, ts: &str, action_id: &str, value: &str) {
        let shared = self.shared.clone();
        shared.update(|s| {
            let channel = self::channel(s, channel);
            let message = s
                .message(&channel.id, ts)
                .map(|m| m.json.clone())
                .unwrap_or_else(|| panic!("{} has no message {ts}", channel.id));
            let payload =
                events::block_action(&shared, s, &self.id, &channel, &message, action_id, value);
            events::send_payload(&shared, s, EnvelopeKind::Interactive, payload);
        });
    }

    fn write(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> Posted {
        self.write_with(channel, text, thread_ts, &[])
    }

    fn write_with(
        &self,
        channel: &str,
        text: &str,
        thread_ts: Option<&str>,
        files: &[NewFile],
    ) -> Posted {
        let shared = self.shared.clone();
        shared.update(|s| {
            let channel = self::channel(s, channel);
            let parent = thread_ts.map(|thread_ts| {
                let parent_user = s
                    .message(&channel.id, thread_ts)
                    .map(|m| match &m.author {
                        Author::User(id) => id.clone(),
                        Author::Bot | Author::Integration => shared.config.bot_user_id.clone(),
                    })
                    .unwrap_or_default();
                (thread_ts.to_owned(), parent_user)
            });
            let ts = s.next_ts();
            let thread = parent.as_ref().map(|(t, u)| (t.as_str(), u.as_str()));
            let mut message = events::user_message(&shared, s, &self.id, text, &ts, thread);
            let mut ids = Vec::new();
            if !files.is_empty() {
                let objects: Vec<_> = files
                    .iter()
                    .map(|file| user_files::share(&shared, s, &self.id, file))
                    .collect();
                ids = objects
                    .iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_owned))
                    .collect();
                message["subtype"] = json!("file_share");
                message["files"] = json!(objects);
                message["upload"] = json!(true);
                message["display_as_bot"] = json!(false);
                if let Some(fields) = message.as_object_mut().filter(|_| text.is_empty()) {
                    fields.remove("blocks");
                }
            }
            let record = BotMessage {
                channel: channel.id.clone(),
                ts: ts.clone(),
                thread_ts: thread_ts.map(str::to_owned),
                text: text.to_owned(),
                blocks: message.get("blocks").cloned(),
                mrkdwn: true,
                edits: Vec::new(),
                deleted: false,
                reactions: Vec::new(),
                files: ids,
            };
            let stored = StoredMessage {
                author: Author::User(self.id.clone()),
                record,
                json: message,
            };
            events::post(&shared, s, &channel, stored);
            Posted {
                channel: channel.id.clone(),
                ts,
                thread_ts: thread_ts.map(str::to_owned),
            }
        })
    }
}

fn channel(s: &State, id: &str) -> Channel {
    s.channels
        .get(id)
        .cloned()
        .unwrap_or_else(|| panic!("the fake Slack has no channel {id}: make it with FakeSlack::public_channel or private_channel"))
}
