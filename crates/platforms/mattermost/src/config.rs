//! [`MattermostConfig`]: the `platforms.mattermost` section and its
//! environment variables (the names the Hermes gateway used, so an
//! existing `.env` works unchanged).
//!
//! The adapter runs when `MATTERMOST_URL` and `MATTERMOST_TOKEN` are both
//! set. `MATTERMOST_ALLOWED_USERS` (user ids), `MATTERMOST_ALLOW_ALL_USERS`
//! and `MATTERMOST_HOME_CHANNEL` (a channel id) are read by core
//! (`gateway.platforms.mattermost`), not here.

use hermod_adapter_kit::config::{
    AllowBots, Choice, Env, EnvSettings, check_http_url, check_limits,
};
use hermod_model::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The largest inbound file downloaded by default (Mattermost's own
/// default `MaxFileSize` is 100 MB).
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// Where answers in channels go (`MATTERMOST_REPLY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// In the channel itself, unless the message was in a thread
    /// (Hermes' default).
    #[default]
    Off,
    /// In a thread under the message answered (`root_id`).
    Thread,
}

impl Choice for ReplyMode {
    const EXPECTED: &'static str = "thread or off";

    fn from_word(word: &str) -> Option<Self> {
        match word {
            "off" | "none" | "false" | "" => Some(Self::Off),
            "thread" | "threads" => Some(Self::Thread),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MattermostConfig {
    /// `MATTERMOST_URL`: the server (`https://mm.example.com`), without
    /// `/api/v4`.
    pub url: Option<String>,
    /// `MATTERMOST_TOKEN`: a bot account's access token or a personal
    /// access token, sent as `Authorization: Bearer`.
    pub token: Option<Secret>,
    /// `MATTERMOST_REPLY_MODE`: `thread` answers channel messages in a
    /// thread under them; `off` (the default) in the channel.
    pub reply_mode: ReplyMode,
    /// `MATTERMOST_REQUIRE_MENTION`: in channels (not direct messages),
    /// answer only messages that mention the bot (`@name`). On by default.
    pub require_mention: bool,
    /// `MATTERMOST_FREE_RESPONSE_CHANNELS`: channel ids where every message
    /// is answered, mention or not.
    #[serde(deserialize_with = "hermod_adapter_kit::config::deserialize_list")]
    pub free_response_channels: Vec<String>,
    /// `MATTERMOST_ALLOWED_CHANNELS`: when set, the only channels (ids)
    /// whose messages are answered; direct messages always are.
    #[serde(deserialize_with = "hermod_adapter_kit::config::deserialize_list")]
    pub allowed_channels: Vec<String>,
    /// `MATTERMOST_ALLOW_BOTS`: other bots' posts (`props.from_bot`) are
    /// ignored (`none`), answered when they mention this bot
    /// (`mentions`), or answered (`all`). The bot's own never are.
    pub allow_bots: AllowBots,
    /// `MATTERMOST_MEDIA_MAX_BYTES`: the largest inbound file downloaded.
    pub media_max_bytes: u64,
    /// `MATTERMOST_REQUEST_TIMEOUT`: seconds a REST call may take.
    pub request_timeout_secs: u64,
    /// `MATTERMOST_PING_INTERVAL`: seconds between the websocket pings
    /// that find a dead connection; two missed pongs close it.
    pub ping_interval_secs: u64,
    /// `MATTERMOST_MAX_RECONNECT_DELAY`: cap of the backoff between
    /// failed connection attempts, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// Where inbound files are saved (`HERMOD_HOME/media`), set by the
    /// runtime.
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
}

impl Default for MattermostConfig {
    fn default() -> Self {
        Self {
            url: None,
            token: None,
            reply_mode: ReplyMode::Off,
            require_mention: true,
            free_response_channels: Vec::new(),
            allowed_channels: Vec::new(),
            allow_bots: AllowBots::None,
            media_max_bytes: DEFAULT_MEDIA_MAX_BYTES,
            request_timeout_secs: 30,
            // Hermes' websocket heartbeat.
            ping_interval_secs: 30,
            max_reconnect_delay_secs: 60,
            media_dir: None,
        }
    }
}

impl EnvSettings for MattermostConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("MATTERMOST_URL", &mut self.url);
        env.secret("MATTERMOST_TOKEN", &mut self.token);
        env.choice("MATTERMOST_REPLY_MODE", &mut self.reply_mode);
        env.flag("MATTERMOST_REQUIRE_MENTION", &mut self.require_mention);
        env.list("MATTERMOST_FREE_RESPONSE_CHANNELS", &mut self.free_response_channels);
        env.list("MATTERMOST_ALLOWED_CHANNELS", &mut self.allowed_channels);
        env.choice("MATTERMOST_ALLOW_BOTS", &mut self.allow_bots);
        env.number("MATTERMOST_MEDIA_MAX_BYTES", &mut self.media_max_bytes).at_least(1);
        env.seconds("MATTERMOST_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("MATTERMOST_PING_INTERVAL", &mut self.ping_interval_secs).at_least(1);
        env.seconds("MATTERMOST_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

impl MattermostConfig {
    /// True when the server and the token are both set.
    pub fn enabled(&self) -> bool {
        self.url.as_deref().is_some_and(|u| !u.trim().is_empty())
            && hermod_adapter_kit::config::is_set(self.token.as_ref())
    }

    /// The server's URL without a trailing `/` (empty when unset).
    pub fn base_url(&self) -> &str {
        self.url
            .as_deref()
            .unwrap_or_default()
            .trim()
            .trim_end_matches('/')
    }

    /// Sets where inbound files are saved.
    pub fn set_media_dir(&mut self, dir: impl Into<PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    pub(crate) fn media_dir(&self) -> PathBuf {
        hermod_adapter_kit::config::media_dir(self.media_dir.as_deref())
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub(crate) fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }

    pub(crate) fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_delay_secs)
    }

    /// Whether messages of `channel` (not a direct one) may be answered.
    pub(crate) fn channel_allowed(&self, channel: &str) -> bool {
        self.allowed_channels.is_empty() || self.allowed_channels.iter().any(|c| c == channel)
    }

    /// Whether `channel` answers without a mention.
    pub(crate) fn free_response(&self, channel: &str) -> bool {
        !self.require_mention || self.free_response_channels.iter().any(|c| c == channel)
    }

    /// Checks an enabled configuration. Messages name the setting, never
    /// a secret's value.
    pub fn validate(&self) -> Result<(), String> {
        if self.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
            return Err(
                "MATTERMOST_URL is not set: the server's address, like https://mm.example.com"
                    .into(),
            );
        }
        if !hermod_adapter_kit::config::is_set(self.token.as_ref()) {
            return Err("MATTERMOST_TOKEN is not set: a bot account's access token".into());
        }
        check_http_url(self.base_url(), "MATTERMOST_URL")?;
        if self.base_url().ends_with("/api/v4") {
            return Err("MATTERMOST_URL is the server's address, without /api/v4".into());
        }
        check_limits(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::EnvVars;

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        let mut vars = EnvVars::new();
        for (key, value) in pairs {
            vars.set(*key, *value);
        }
        vars
    }

    #[test]
    fn hermes_variables_configure_the_adapter() {
        let mut config = MattermostConfig::default();
        assert!(!config.enabled());
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[
                ("MATTERMOST_URL", "https://mm.example.com/"),
                ("MATTERMOST_TOKEN", "secret-token-value"),
                ("MATTERMOST_REPLY_MODE", "thread"),
                ("MATTERMOST_REQUIRE_MENTION", "false"),
                ("MATTERMOST_FREE_RESPONSE_CHANNELS", "c1, c2"),
                ("MATTERMOST_ALLOWED_CHANNELS", "c1"),
            ]),
        )
        .unwrap();
        assert!(config.enabled());
        assert_eq!(config.base_url(), "https://mm.example.com");
        assert_eq!(config.reply_mode, ReplyMode::Thread);
        assert!(!config.require_mention);
        assert_eq!(config.free_response_channels, ["c1", "c2"]);
        assert!(config.channel_allowed("c1") && !config.channel_allowed("c3"));
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("secret-token-value"));
    }

    #[test]
    fn mentions_are_required_in_channels_by_default_except_free_ones() {
        let config = MattermostConfig {
            free_response_channels: vec!["free".into()],
            ..MattermostConfig::default()
        };
        assert!(config.require_mention);
        assert_eq!(config.reply_mode, ReplyMode::Off);
        assert!(config.free_response("free"));
        assert!(!config.free_response("other"));
        assert!(config.channel_allowed("anything"));
    }

    #[test]
    fn missing_or_wrong_settings_are_refused_by_name() {
        let mut config = MattermostConfig::default();
        assert!(config.validate().unwrap_err().contains("MATTERMOST_URL"));
        config.url = Some("https://mm.example.com".into());
        assert!(config.validate().unwrap_err().contains("MATTERMOST_TOKEN"));
        config.token = Some(Secret::new("t"));
        config.validate().unwrap();
        config.url = Some("mm.example.com".into());
        assert!(config.validate().unwrap_err().contains("MATTERMOST_URL"));
        config.url = Some("https://mm.example.com/api/v4".into());
        assert!(config.validate().unwrap_err().contains("/api/v4"));
        let bad = hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[("MATTERMOST_REPLY_MODE", "sideways")]),
        );
        assert!(bad.unwrap_err().contains("MATTERMOST_REPLY_MODE"));
    }
}
