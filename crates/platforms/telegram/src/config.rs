//! [`TelegramConfig`]: the `platforms.telegram` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by setting a bot token. `TELEGRAM_ALLOWED_USERS`,
//! `TELEGRAM_ALLOW_ALL_USERS` and `TELEGRAM_HOME_CHANNEL` are read by core
//! (`gateway.platforms.telegram`), not here.

use hermod_adapter_kit::WebhookConfig;
use hermod_adapter_kit::config::{Env, EnvSettings, check_http_url, check_limits, is_set};
use hermod_model::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `TELEGRAM_REPLY_TO_MODE`: which messages of a reply are sent as a
/// Telegram reply to the user's message.
pub use hermod_adapter_kit::config::ReplyToMode;

/// The public Bot API endpoint.
pub const DEFAULT_API_BASE_URL: &str = "https://api.telegram.org";

/// The largest file the public Bot API lets a bot download (`getFile`).
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// `TELEGRAM_BOT_TOKEN` from @BotFather; the adapter runs when it is set.
    /// It is part of every request URL, so URLs are never logged.
    pub bot_token: Option<Secret>,
    /// `TELEGRAM_API_BASE_URL`: the Bot API server (a local `telegram-bot-api`
    /// server, or a fake in tests).
    pub api_base_url: String,
    /// `TELEGRAM_GROUP_ALLOWED_USERS`: when set, group messages from anyone
    /// else are dropped here (core's allowlist applies on top).
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub group_allowed_users: Vec<String>,
    /// `TELEGRAM_GROUP_ALLOWED_CHATS`: groups exempt from
    /// `group_allowed_users` (core's allowlist still applies).
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub group_allowed_chats: Vec<String>,
    /// `TELEGRAM_ALLOW_BOTS`: accept messages from other bots. Our own
    /// messages are always ignored.
    pub allow_bots: bool,
    /// `TELEGRAM_REQUIRE_MENTION`: in groups, answer only when mentioned,
    /// replied to, or sent a command meant for us.
    pub require_mention: bool,
    /// `TELEGRAM_FREE_RESPONSE_CHATS`: groups where every message is answered.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub free_response_chats: Vec<String>,
    /// `TELEGRAM_REPLY_TO_MODE`.
    pub reply_to_mode: ReplyToMode,
    /// `TELEGRAM_WEBHOOK_URL`: the public HTTPS URL Telegram posts updates
    /// to. Unset: long polling.
    pub webhook_url: Option<String>,
    /// `TELEGRAM_WEBHOOK_SECRET`: required with a webhook URL; Telegram sends
    /// it in `X-Telegram-Bot-Api-Secret-Token`.
    pub webhook_secret: Option<Secret>,
    /// `TELEGRAM_WEBHOOK_HOST`: deprecated alias of `WEBHOOK_HOST`, used
    /// only when that is not set (see [`TelegramConfig::listener`]).
    pub webhook_host: Option<String>,
    /// `TELEGRAM_WEBHOOK_PORT`: deprecated alias of `WEBHOOK_PORT`.
    pub webhook_port: Option<u16>,
    /// `WEBHOOK_HOST` and `WEBHOOK_PORT`: the listener every webhook
    /// platform shares, Telegram's route among them.
    #[serde(skip)]
    pub webhooks: WebhookConfig,
    /// `TELEGRAM_MEDIA_MAX_BYTES`: larger inbound files are not downloaded.
    pub media_max_bytes: u64,
    /// `HERMOD_MEDIA_MAX_AGE_DAYS` and `HERMOD_MEDIA_MAX_MB`: how long
    /// inbound files are kept and how much room they may take (one cleanup
    /// for every platform of the gateway).
    #[serde(skip)]
    pub media_retention: hermod_adapter_kit::MediaRetention,
    /// `TELEGRAM_IGNORE_EDITS`: edited messages are not answered.
    pub ignore_edits: bool,
    /// `TELEGRAM_POLL_TIMEOUT`: seconds a `getUpdates` long poll waits.
    pub poll_timeout_secs: u64,
    /// `TELEGRAM_REQUEST_TIMEOUT`: seconds any other request may take.
    pub request_timeout_secs: u64,
    /// `TELEGRAM_MAX_RECONNECT_DELAY`: cap of the backoff between failed
    /// polls, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// Where inbound files are saved (`HERMOD_HOME/media`), set by the
    /// runtime through [`TelegramConfig::set_media_dir`].
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
    /// The `/` menu registered with `setMyCommands` (name, description).
    #[serde(skip)]
    pub commands: Vec<(String, String)>,
}

/// The gateway's commands as Telegram's menu takes them: a command is
/// 1-32 lower-case letters, digits and underscores, so `/reload-mcp` is
/// listed as `/reload_mcp` (which the gateway knows as its alias).
fn menu() -> Vec<(String, String)> {
    hermod_core::command_menu()
        .into_iter()
        .map(|(name, description)| (name.replace('-', "_"), description))
        .filter(|(name, _)| {
            !name.is_empty()
                && name.len() <= 32
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .collect()
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            api_base_url: DEFAULT_API_BASE_URL.into(),
            group_allowed_users: Vec::new(),
            group_allowed_chats: Vec::new(),
            allow_bots: false,
            require_mention: true,
            free_response_chats: Vec::new(),
            reply_to_mode: ReplyToMode::First,
            webhook_url: None,
            webhook_secret: None,
            webhook_host: None,
            webhook_port: None,
            webhooks: WebhookConfig::default(),
            media_max_bytes: DEFAULT_MEDIA_MAX_BYTES,
            media_retention: hermod_adapter_kit::MediaRetention::default(),
            ignore_edits: true,
            poll_timeout_secs: 25,
            request_timeout_secs: 30,
            max_reconnect_delay_secs: 60,
            media_dir: None,
            commands: menu(),
        }
    }
}

impl EnvSettings for TelegramConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.secret("TELEGRAM_BOT_TOKEN", &mut self.bot_token);
        env.text("TELEGRAM_API_BASE_URL", &mut self.api_base_url);
        env.list("TELEGRAM_GROUP_ALLOWED_USERS", &mut self.group_allowed_users);
        env.list("TELEGRAM_GROUP_ALLOWED_CHATS", &mut self.group_allowed_chats);
        env.list("TELEGRAM_FREE_RESPONSE_CHATS", &mut self.free_response_chats);
        env.flag("TELEGRAM_ALLOW_BOTS", &mut self.allow_bots);
        env.flag("TELEGRAM_REQUIRE_MENTION", &mut self.require_mention);
        env.flag("TELEGRAM_IGNORE_EDITS", &mut self.ignore_edits);
        env.choice("TELEGRAM_REPLY_TO_MODE", &mut self.reply_to_mode);
        env.text("TELEGRAM_WEBHOOK_URL", &mut self.webhook_url);
        env.secret("TELEGRAM_WEBHOOK_SECRET", &mut self.webhook_secret);
        env.text("TELEGRAM_WEBHOOK_HOST", &mut self.webhook_host);
        env.number("TELEGRAM_WEBHOOK_PORT", &mut self.webhook_port);
        env.nested(&mut self.webhooks);
        env.number("TELEGRAM_MEDIA_MAX_BYTES", &mut self.media_max_bytes).at_least(1);
        env.nested(&mut self.media_retention);
        env.seconds("TELEGRAM_POLL_TIMEOUT", &mut self.poll_timeout_secs).at_most(300);
        env.seconds("TELEGRAM_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("TELEGRAM_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

impl TelegramConfig {
    /// True when a bot token is configured.
    pub fn enabled(&self) -> bool {
        is_set(self.bot_token.as_ref())
    }

    /// Sets where inbound files are saved.
    pub fn set_media_dir(&mut self, dir: impl Into<PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    /// Where inbound files are saved ([`hermod_adapter_kit::config::media_dir`]).
    pub fn media_dir(&self) -> PathBuf {
        hermod_adapter_kit::config::media_dir(self.media_dir.as_deref())
    }

    pub(crate) fn poll_timeout(&self) -> Duration {
        Duration::from_secs(self.poll_timeout_secs)
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
        let Some(token) = &self.bot_token else {
            return Err("TELEGRAM_BOT_TOKEN is not set".into());
        };
        if !token_looks_valid(token.expose()) {
            return Err(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (<digits>:<letters, digits, - and _>); \
                 copy it again from @BotFather"
                    .into(),
            );
        }
        check_http_url(&self.api_base_url, "TELEGRAM_API_BASE_URL")?;
        if let Some(url) = &self.webhook_url {
            check_http_url(url, "TELEGRAM_WEBHOOK_URL")?;
            match &self.webhook_secret {
                None => {
                    return Err(
                        "TELEGRAM_WEBHOOK_URL is set without TELEGRAM_WEBHOOK_SECRET; set a random \
                         secret of 1-256 letters, digits, '_' or '-' so forged updates are refused"
                            .into(),
                    );
                }
                Some(secret) if !webhook_secret_valid(secret.expose()) => {
                    return Err(
                        "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, '_' or '-'"
                            .into(),
                    );
                }
                Some(_) => {}
            }
            self.listener().0.validate()?;
        }
        check_limits(self)
    }

    /// The path part of the webhook URL, where the listener accepts updates.
    pub(crate) fn webhook_path(&self) -> Option<String> {
        hermod_adapter_kit::config::url_path(self.webhook_url.as_deref()?)
    }

    /// The shared listener's settings: `WEBHOOK_HOST`/`WEBHOOK_PORT`, with
    /// the deprecated `TELEGRAM_WEBHOOK_HOST`/`_PORT` filling in whichever
    /// is not set. The second value names an alias that was ignored
    /// because it differs from the shared setting, for a warning.
    pub fn listener(&self) -> (WebhookConfig, Option<String>) {
        let mut config = self.webhooks.clone();
        let mut ignored = Vec::new();
        match (&config.host, &self.webhook_host) {
            (None, Some(alias)) => config.host = Some(alias.clone()),
            (Some(shared), Some(alias)) if shared != alias => {
                ignored.push(format!(
                    "TELEGRAM_WEBHOOK_HOST={alias} (WEBHOOK_HOST={shared} is used)"
                ));
            }
            _ => {}
        }
        match (config.port, self.webhook_port) {
            (None, Some(alias)) => config.port = Some(alias),
            (Some(shared), Some(alias)) if shared != alias => {
                ignored.push(format!(
                    "TELEGRAM_WEBHOOK_PORT={alias} (WEBHOOK_PORT={shared} is used)"
                ));
            }
            _ => {}
        }
        let note = (!ignored.is_empty()).then(|| ignored.join(", "));
        (config, note)
    }
}

/// A bot token is `<bot id>:<secret>`; it goes into URL paths, so nothing
/// outside the token alphabet is accepted.
fn token_looks_valid(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !secret.is_empty()
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Telegram's rule for `secret_token`.
fn webhook_secret_valid(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_core::PlatformConfig;
    use hermod_model::EnvVars;

    const TOKEN: &str = "123456:AAH-very_secret_token_value";

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn the_menu_holds_only_names_telegram_accepts() {
        let menu = menu();
        let names: Vec<&str> = menu.iter().map(|(name, _)| name.as_str()).collect();
        assert!(names.contains(&"reload_mcp"), "{names:?}");
        assert!(names.contains(&"new"), "{names:?}");
        assert_eq!(
            names.len(),
            hermod_core::command_menu().len(),
            "none is lost"
        );
        assert!(names.iter().all(|n| !n.contains('-')), "{names:?}");
    }

    #[test]
    fn defaults_follow_hermes() {
        let c = TelegramConfig::default();
        assert!(!c.enabled());
        assert_eq!(c.api_base_url, DEFAULT_API_BASE_URL);
        assert!(c.require_mention);
        assert!(!c.allow_bots);
        assert!(c.ignore_edits);
        assert_eq!(c.reply_to_mode, ReplyToMode::First);
        assert_eq!(c.media_max_bytes, 20 * 1024 * 1024);
        assert!(c.commands.iter().any(|(name, _)| name == "new"));
    }

    #[test]
    fn environment_overrides() {
        let mut c = TelegramConfig::default();
        c.apply_env(&env(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/"),
            ("TELEGRAM_GROUP_ALLOWED_USERS", "1, 2"),
            ("TELEGRAM_FREE_RESPONSE_CHATS", "-100"),
            ("TELEGRAM_ALLOW_BOTS", "yes"),
            ("TELEGRAM_REQUIRE_MENTION", "false"),
            ("TELEGRAM_REPLY_TO_MODE", "ALL"),
            ("TELEGRAM_IGNORE_EDITS", "0"),
            ("TELEGRAM_MEDIA_MAX_BYTES", "1000"),
        ]))
        .unwrap();
        assert!(c.enabled());
        assert_eq!(c.group_allowed_users, ["1", "2"]);
        assert_eq!(c.free_response_chats, ["-100"]);
        assert!(c.allow_bots && !c.require_mention && !c.ignore_edits);
        assert_eq!(c.reply_to_mode, ReplyToMode::All);
        assert_eq!(c.media_max_bytes, 1000);
        c.validate().unwrap();
    }

    #[test]
    fn the_shared_media_retention_is_read_with_the_platform() {
        let mut c = TelegramConfig::default();
        c.apply_env(&env(&[
            ("HERMOD_MEDIA_MAX_AGE_DAYS", "7"),
            ("HERMOD_MEDIA_MAX_MB", "5"),
        ]))
        .unwrap();
        assert_eq!(
            c.media_retention.max_age,
            Duration::from_secs(7 * 24 * 3600)
        );
        assert_eq!(c.media_retention.max_total_bytes, 5 * 1024 * 1024);
        assert!(TelegramConfig::env_vars().contains(&"HERMOD_MEDIA_MAX_MB"));
    }

    #[test]
    fn bad_values_name_the_variable_not_the_secret() {
        let mut c = TelegramConfig::default();
        let err = c
            .apply_env(&env(&[("TELEGRAM_REPLY_TO_MODE", "sometimes")]))
            .unwrap_err();
        assert!(err.contains("TELEGRAM_REPLY_TO_MODE"), "{err}");
        c.bot_token = Some(Secret::new("not a token/with-slash"));
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("TELEGRAM_BOT_TOKEN") && !err.contains("slash"),
            "{err}"
        );
        assert!(TelegramConfig::default().validate().is_err());
    }

    #[test]
    fn a_webhook_needs_a_secret() {
        let mut c = TelegramConfig {
            bot_token: Some(Secret::new(TOKEN)),
            webhook_url: Some("https://bot.example.com/telegram/hook".into()),
            ..TelegramConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .contains("TELEGRAM_WEBHOOK_SECRET")
        );
        c.webhook_secret = Some(Secret::new("has spaces"));
        assert!(
            c.validate()
                .unwrap_err()
                .contains("TELEGRAM_WEBHOOK_SECRET")
        );
        c.webhook_secret = Some(Secret::new("s3cret_-value"));
        c.validate().unwrap();
        assert_eq!(c.webhook_path().as_deref(), Some("/telegram/hook"));
    }

    #[test]
    fn the_telegram_webhook_address_is_an_alias_of_the_shared_one() {
        let mut c = TelegramConfig::default();
        assert_eq!(c.listener(), (WebhookConfig::default(), None));
        assert_eq!(c.listener().0.addr(), "127.0.0.1:8644");
        c.apply_env(&env(&[("TELEGRAM_WEBHOOK_PORT", "8443")]))
            .unwrap();
        assert_eq!(c.listener().0.addr(), "127.0.0.1:8443");
        assert_eq!(c.listener().1, None);
        c.apply_env(&env(&[
            ("WEBHOOK_PORT", "9000"),
            ("WEBHOOK_HOST", "0.0.0.0"),
        ]))
        .unwrap();
        let (listener, ignored) = c.listener();
        assert_eq!(listener.addr(), "0.0.0.0:9000");
        let ignored = ignored.unwrap();
        assert!(
            ignored.contains("TELEGRAM_WEBHOOK_PORT=8443") && ignored.contains("WEBHOOK_PORT=9000"),
            "{ignored}"
        );
        c.apply_env(&env(&[("TELEGRAM_WEBHOOK_PORT", "9000")]))
            .unwrap();
        assert_eq!(c.listener().1, None, "the same value is no conflict");
    }

    #[test]
    fn yaml_is_strict_and_takes_numeric_ids() {
        // JSON is YAML, and both go through the same serde derive.
        let c: TelegramConfig = serde_json::from_str(
            r#"{"free_response_chats": [-1001, "-1002"], "group_allowed_users": "5,6"}"#,
        )
        .unwrap();
        assert_eq!(c.free_response_chats, ["-1001", "-1002"]);
        assert_eq!(c.group_allowed_users, ["5", "6"]);
        // Fields the runtime sets keep their defaults.
        assert_eq!(c.commands, TelegramConfig::default().commands);
        assert_eq!(c.media_dir, None);
        let err = serde_json::from_str::<TelegramConfig>(r#"{"bot_tokn": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("bot_token"), "{err}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = TelegramConfig {
            bot_token: Some(Secret::new(TOKEN)),
            webhook_secret: Some(Secret::new("hook-secret-value")),
            ..TelegramConfig::default()
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains("very_secret") && !debug.contains("hook-secret"));
    }
}
