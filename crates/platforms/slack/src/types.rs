//! The payloads Slack sends an app, as its documentation shows them: the
//! `event_callback` wrapper of the Events API, the `message` and
//! `app_mention` events inside it, and slash command payloads. Fields
//! this adapter does not use are left out; unknown ones are ignored, so
//! new fields from Slack never break reading.

use serde::Deserialize;

/// The outer body of an Events API delivery (also the `payload` of a
/// Socket Mode `events_api` envelope).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Callback {
    /// `event_callback`, `url_verification`, `app_rate_limited`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub team_id: Option<String>,
    /// Unique per event, the same on every retry of it.
    #[serde(default)]
    pub event_id: Option<String>,
    /// The event, read on its own so one unreadable event is only that.
    #[serde(default)]
    pub event: Option<serde_json::Value>,
}

/// The profile a bot's messages carry.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct BotProfile {
    #[serde(default)]
    pub name: Option<String>,
}

/// A `message` or `app_mention` event.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MessageEvent {
    #[serde(rename = "type")]
    pub kind: String,
    /// `message_changed`, `message_deleted`, `bot_message`,
    /// `channel_join`, ...; none for a plain message.
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    /// `im`, `mpim`, `channel` or `group` (`message` events only).
    #[serde(default)]
    pub channel_type: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// Set on messages posted by an app's bot, ours included.
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub bot_profile: Option<BotProfile>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub ts: Option<String>,
    /// The thread's parent message, on replies (and on the parent itself
    /// once it has replies).
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// Who wrote the thread's parent message.
    #[serde(default)]
    pub parent_user_id: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    /// The files shared with the message (`file_share`).
    #[serde(default)]
    pub files: Vec<SharedFile>,
}

/// A file object in a message's `files` (Slack's file type, as events
/// carry it). A file from another organization (Slack Connect) comes as
/// a stub: its id, `mode: "file_access"` and `file_access:
/// "check_file_info"`, without name, type or address.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SharedFile {
    #[serde(default)]
    pub id: String,
    /// The sender's file name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    /// Slack's short type name (`png`, `html`, `text`).
    #[serde(default)]
    pub filetype: Option<String>,
    /// In bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// `hosted`, `snippet`, `post`, `email`: stored by Slack; `external`:
    /// a link to another service; `tombstone`: deleted;
    /// `hidden_by_limit`: hidden by a free workspace's storage limit;
    /// `file_access`: a stub to look up with `files.info`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `check_file_info` on Slack Connect stubs.
    #[serde(default)]
    pub file_access: Option<String>,
    #[serde(default)]
    pub is_external: Option<bool>,
    /// The file itself, behind the bot token.
    #[serde(default)]
    pub url_private: Option<String>,
    /// The same with `Content-Disposition: attachment`.
    #[serde(default)]
    pub url_private_download: Option<String>,
}

/// A slash command, as Slack sends it (a form over HTTP, the `payload`
/// of a `slash_commands` envelope in Socket Mode).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SlashCommand {
    /// With its `/`.
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    pub channel_id: String,
    #[serde(default)]
    pub channel_name: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    /// Unique per invocation.
    #[serde(default)]
    pub trigger_id: Option<String>,
}
