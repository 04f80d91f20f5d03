//! [`SlackConfig`]: the `platforms.slack` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by setting a bot token. How events arrive is
//! chosen by what else is set: an app-level token (`SLACK_APP_TOKEN`)
//! means Socket Mode, as in Hermes; without one, a signing secret
//! (`SLACK_SIGNING_SECRET`) means the Events API over HTTP, on the shared
//! webhook listener. `SLACK_ALLOWED_USERS`, `SLACK_ALLOW_ALL_USERS` and
//! `SLACK_HOME_CHANNEL` are read by core (`gateway.platforms.slack`), not
//! here.

use hermod_adapter_kit::WebhookConfig;
use hermod_adapter_kit::config::{Choice, Env, EnvSettings, check_http_url, check_limits};
use hermod_model::Secret;
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::time::Duration;

/// Slack's Web API.
pub const DEFAULT_API_BASE_URL: &str = "https://slack.com/api";

/// Where the Events API posts on the shared webhook listener.
pub const EVENTS_PATH: &str = "/slack/events";

/// The largest inbound file downloaded by default (as for Discord).
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// `SLACK_ALLOW_BOTS`: which other bots' messages are answered. In
/// `config.yaml`, also `true` (all) or `false` (none).
pub use hermod_adapter_kit::config::AllowBots;

/// Reads `allow_bots` from YAML: a word, as the variable takes, or a
/// boolean.
fn allow_bots_word_or_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<AllowBots, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Bool(true) => Ok(AllowBots::All),
        Raw::Bool(false) => Ok(AllowBots::None),
        Raw::Text(text) => AllowBots::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "allow_bots {text:?} must be {}",
                AllowBots::EXPECTED
            ))
        }),
    }
}

/// How events reach the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveMode {
    /// A websocket the adapter opens (`SLACK_APP_TOKEN`): no public URL.
    SocketMode,
    /// Slack POSTs to [`EVENTS_PATH`] (`SLACK_SIGNING_SECRET`).
    EventsApi,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// `SLACK_BOT_TOKEN` (`xoxb-…`): every Web API call; the adapter runs
    /// when it is set.
    pub bot_token: Option<Secret>,
    /// `SLACK_APP_TOKEN` (`xapp-…`, scope `connections:write`): Socket
    /// Mode when set.
    pub app_token: Option<Secret>,
    /// `SLACK_SIGNING_SECRET`: checks that Events API requests come from
    /// Slack. Used when there is no app token.
    pub signing_secret: Option<Secret>,
    /// `SLACK_API_BASE_URL`: the Web API (a proxy, or a fake in tests).
    pub api_base_url: String,
    /// `SLACK_ALLOWED_CHANNELS`: when set, channel messages elsewhere are
    /// dropped here (DMs are not channels; core's allowlist applies on top).
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub allowed_channels: Vec<String>,
    /// `SLACK_ALLOW_BOTS`: none, mentions or all.
    #[serde(deserialize_with = "allow_bots_word_or_bool")]
    pub allow_bots: AllowBots,
    /// `SLACK_REQUIRE_MENTION`: in channels, answer only when mentioned or
    /// in a thread the bot is in. DMs are always answered.
    pub require_mention: bool,
    /// `SLACK_REACTIONS`: 👀 on a message while its answer is being worked on.
    pub reactions: bool,
    /// `SLACK_MEDIA_MAX_BYTES`: larger inbound files are not downloaded.
    pub media_max_bytes: u64,
    /// `HERMOD_MEDIA_MAX_AGE_DAYS` and `HERMOD_MEDIA_MAX_MB`: how long
    /// inbound files are kept and how much room they may take (one cleanup
    /// for every platform of the gateway).
    #[serde(skip)]
    pub media_retention: hermod_adapter_kit::MediaRetention,
    /// `WEBHOOK_HOST` and `WEBHOOK_PORT`: the listener every webhook
    /// platform shares, where the Events API posts.
    #[serde(skip)]
    pub webhooks: WebhookConfig,
    /// `SLACK_REQUEST_TIMEOUT`: seconds a Web API call may take.
    pub request_timeout_secs: u64,
    /// `SLACK_MAX_RECONNECT_DELAY`: cap of the backoff between failed
    /// connection attempts, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// Where inbound files are saved (`HERMOD_HOME/media`), set by the
    /// runtime through [`SlackConfig::set_media_dir`].
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            app_token: None,
            signing_secret: None,
            api_base_url: DEFAULT_API_BASE_URL.into(),
            allowed_channels: Vec::new(),
            allow_bots: AllowBots::None,
            require_mention: true,
            // As in Hermes: 👀 on a message while it is being answered.
            reactions: true,
            media_max_bytes: DEFAULT_MEDIA_MAX_BYTES,
            media_retention: hermod_adapter_kit::MediaRetention::default(),
            webhooks: WebhookConfig::default(),
            request_timeout_secs: 30,
            max_reconnect_delay_secs: 60,
            media_dir: None,
        }
    }
}

impl EnvSettings for SlackConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.secret("SLACK_BOT_TOKEN", &mut self.bot_token);
        env.secret("SLACK_APP_TOKEN", &mut self.app_token);
        env.secret("SLACK_SIGNING_SECRET", &mut self.signing_secret);
        env.text("SLACK_API_BASE_URL", &mut self.api_base_url);
        env.list("SLACK_ALLOWED_CHANNELS", &mut self.allowed_channels);
        env.choice("SLACK_ALLOW_BOTS", &mut self.allow_bots);
        env.flag("SLACK_REQUIRE_MENTION", &mut self.require_mention);
        env.flag("SLACK_REACTIONS", &mut self.reactions);
        env.number("SLACK_MEDIA_MAX_BYTES", &mut self.media_max_bytes).at_least(1);
        env.nested(&mut self.media_retention);
        env.nested(&mut self.webhooks);
        env.seconds("SLACK_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("SLACK_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

/// Whether a secret is set and not blank.
fn set(secret: Option<&Secret>) -> bool {
    secret.is_some_and(|s| !s.expose().trim().is_empty())
}

impl SlackConfig {
    /// True when a bot token is configured.
    pub fn enabled(&self) -> bool {
        set(self.bot_token.as_ref())
    }

    /// Socket Mode with an app token, else the Events API with a signing
    /// secret; `None` when neither is set.
    pub fn mode(&self) -> Option<ReceiveMode> {
        if set(self.app_token.as_ref()) {
            Some(ReceiveMode::SocketMode)
        } else if set(self.signing_secret.as_ref()) {
            Some(ReceiveMode::EventsApi)
        } else {
            None
        }
    }

    /// Sets where inbound files are saved.
    pub fn set_media_dir(&mut self, dir: impl Into<PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    /// Where inbound files are saved ([`hermod_adapter_kit::config::media_dir`]).
    pub fn media_dir(&self) -> PathBuf {
        hermod_adapter_kit::config::media_dir(self.media_dir.as_deref())
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub(crate) fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_delay_secs)
    }

    /// Checks an enabled configuration. Messages name the setting, never
    /// a secret's value.
    pub fn validate(&self) -> Result<(), String> {
        let Some(token) = self.bot_token.as_ref().filter(|t| !t.is_empty()) else {
            return Err(
                "SLACK_BOT_TOKEN is not set; copy the Bot User OAuth Token (xoxb-…) \
                 from the app's OAuth & Permissions page"
                    .into(),
            );
        };
        check_token(
            token,
            "SLACK_BOT_TOKEN",
            "xoxb-",
            "a bot token (the Bot User OAuth Token from OAuth & Permissions)",
        )?;
        if let Some(app) = self.app_token.as_ref().filter(|t| !t.is_empty()) {
            check_token(
                app,
                "SLACK_APP_TOKEN",
                "xapp-",
                "an app-level token with the connections:write scope (Basic Information → App-Level Tokens)",
            )?;
        }
        if let Some(secret) = self.signing_secret.as_ref().filter(|s| !s.is_empty())
            && secret.expose().chars().any(char::is_whitespace)
        {
            return Err(
                "SLACK_SIGNING_SECRET holds spaces; copy the Signing Secret again from the \
                 app's Basic Information page"
                    .into(),
            );
        }
        match self.mode() {
            None => {
                return Err(format!(
                    "Slack has no way to receive messages: set SLACK_APP_TOKEN (an app-level \
                     xapp- token with connections:write) for Socket Mode, or \
                     SLACK_SIGNING_SECRET for the Events API at {EVENTS_PATH} on \
                     WEBHOOK_HOST:WEBHOOK_PORT"
                ));
            }
            Some(ReceiveMode::EventsApi) => self.webhooks.validate()?,
            Some(ReceiveMode::SocketMode) => {}
        }
        check_http_url(&self.api_base_url, "SLACK_API_BASE_URL")?;
        check_limits(self)
    }

    /// How it receives, for `config check`.
    pub fn describe(&self) -> String {
        match self.mode() {
            Some(ReceiveMode::SocketMode) | None => "Socket Mode".to_owned(),
            Some(ReceiveMode::EventsApi) => {
                format!("Events API at {EVENTS_PATH} on {}", self.webhooks.addr())
            }
        }
    }
}

/// A token goes into an `Authorization` header: it must have its kind's
/// prefix and nothing a header cannot hold.
fn check_token(token: &Secret, name: &str, prefix: &str, what: &str) -> Result<(), String> {
    let raw = token.expose();
    if !raw.starts_with(prefix) {
        return Err(format!("{name} must start with {prefix}: it takes {what}"));
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{name} holds spaces or other characters a token cannot have; copy it again"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_core::PlatformConfig;
    use hermod_model::EnvVars;

    const BOT: &str = "xoxb-1-2-very_secret_bot_value";
    const APP: &str = "xapp-1-A1-3-very_secret_app_value";

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn defaults_follow_hermes() {
        let c = SlackConfig::default();
        assert!(!c.enabled());
        assert_eq!(c.api_base_url, "https://slack.com/api");
        assert!(c.require_mention);
        // SLACK_REACTIONS defaults to "true" in Hermes.
        assert!(c.reactions);
        assert_eq!(c.allow_bots, AllowBots::None);
        assert_eq!(c.mode(), None);
        assert_eq!(c.media_max_bytes, 25 * 1024 * 1024);
        assert_eq!(c.media_dir, None);
    }

    #[test]
    fn an_app_token_means_socket_mode_else_a_signing_secret_the_events_api() {
        let mut c = SlackConfig::default();
        c.apply_env(&env(&[
            ("SLACK_BOT_TOKEN", BOT),
            ("SLACK_SIGNING_SECRET", "abc123"),
            ("WEBHOOK_PORT", "9000"),
        ]))
        .unwrap();
        assert!(c.enabled());
        assert_eq!(c.mode(), Some(ReceiveMode::EventsApi));
        c.validate().unwrap();
        assert_eq!(
            c.describe(),
            "Events API at /slack/events on 127.0.0.1:9000"
        );
        c.apply_env(&env(&[("SLACK_APP_TOKEN", APP)])).unwrap();
        assert_eq!(c.mode(), Some(ReceiveMode::SocketMode));
        c.validate().unwrap();
        assert_eq!(c.describe(), "Socket Mode");
    }

    #[test]
    fn environment_overrides() {
        let mut c = SlackConfig::default();
        c.apply_env(&env(&[
            ("SLACK_BOT_TOKEN", BOT),
            ("SLACK_APP_TOKEN", APP),
            ("SLACK_API_BASE_URL", "http://127.0.0.1:9/api"),
            ("SLACK_ALLOWED_CHANNELS", "C1, C2"),
            ("SLACK_ALLOW_BOTS", "mentions"),
            ("SLACK_REQUIRE_MENTION", "false"),
            ("SLACK_REACTIONS", "true"),
            ("SLACK_REQUEST_TIMEOUT", "5"),
            ("SLACK_MAX_RECONNECT_DELAY", "7"),
            ("SLACK_MEDIA_MAX_BYTES", "1000"),
        ]))
        .unwrap();
        assert_eq!(c.allowed_channels, ["C1", "C2"]);
        assert_eq!(c.allow_bots, AllowBots::Mentions);
        assert!(!c.require_mention && c.reactions);
        assert_eq!(c.request_timeout(), Duration::from_secs(5));
        assert_eq!(c.max_reconnect_delay(), Duration::from_secs(7));
        assert_eq!(c.media_max_bytes, 1000);
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_variable_not_the_secret() {
        let mut c = SlackConfig::default();
        let err = c
            .apply_env(&env(&[("SLACK_ALLOW_BOTS", "sometimes")]))
            .unwrap_err();
        assert!(err.contains("SLACK_ALLOW_BOTS"), "{err}");

        let err = SlackConfig::default().validate().unwrap_err();
        assert!(err.contains("SLACK_BOT_TOKEN"), "{err}");

        c.bot_token = Some(Secret::new("xoxp-user-token-secretvalue"));
        c.app_token = Some(Secret::new(APP));
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("SLACK_BOT_TOKEN") && err.contains("xoxb-"),
            "{err}"
        );
        assert!(!err.contains("secretvalue"), "{err}");

        c.bot_token = Some(Secret::new(BOT));
        c.app_token = Some(Secret::new("xoxb-wrong-kind-secretvalue"));
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("SLACK_APP_TOKEN") && err.contains("xapp-"),
            "{err}"
        );
        assert!(!err.contains("secretvalue"), "{err}");
    }

    #[test]
    fn a_media_cap_of_zero_is_refused_by_name() {
        let mut c = SlackConfig::default();
        c.apply_env(&env(&[
            ("SLACK_BOT_TOKEN", BOT),
            ("SLACK_APP_TOKEN", APP),
            ("SLACK_MEDIA_MAX_BYTES", "0"),
        ]))
        .unwrap();
        let err = c.validate().unwrap_err();
        assert!(err.contains("SLACK_MEDIA_MAX_BYTES"), "{err}");
        let mut c = SlackConfig::default();
        let err = c
            .apply_env(&env(&[("SLACK_MEDIA_MAX_BYTES", "lots")]))
            .unwrap_err();
        assert!(err.contains("SLACK_MEDIA_MAX_BYTES"), "{err}");
    }

    #[test]
    fn the_runtime_sets_the_media_dir() {
        let mut c = SlackConfig::default();
        c.set_media_dir("/srv/hermod/media");
        assert_eq!(c.media_dir(), std::path::Path::new("/srv/hermod/media"));
    }

    #[test]
    fn without_a_way_to_receive_it_says_what_to_set() {
        let c = SlackConfig {
            bot_token: Some(Secret::new(BOT)),
            ..SlackConfig::default()
        };
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("SLACK_APP_TOKEN") && err.contains("SLACK_SIGNING_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn yaml_is_strict_and_reads_lists_and_bot_switches() {
        // JSON is YAML, and both go through the same serde derive.
        let c: SlackConfig = serde_json::from_str(
            r#"{"allowed_channels": "C1,C2", "allow_bots": true, "reactions": true}"#,
        )
        .unwrap();
        assert_eq!(c.allowed_channels, ["C1", "C2"]);
        assert_eq!(c.allow_bots, AllowBots::All);
        let c: SlackConfig = serde_json::from_str(r#"{"allow_bots": "mentions"}"#).unwrap();
        assert_eq!(c.allow_bots, AllowBots::Mentions);
        let err = serde_json::from_str::<SlackConfig>(r#"{"bot_tokn": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("bot_token"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = SlackConfig {
            bot_token: Some(Secret::new(BOT)),
            app_token: Some(Secret::new(APP)),
            signing_secret: Some(Secret::new("signing-secret-value")),
            ..SlackConfig::default()
        };
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("very_secret") && !debug.contains("signing-secret-value"),
            "{debug}"
        );
    }
}
