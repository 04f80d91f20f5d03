//! [`DiscordConfig`]: the `platforms.discord` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by setting a bot token. `DISCORD_ALLOWED_USERS`,
//! `DISCORD_ALLOW_ALL_USERS` and `DISCORD_HOME_CHANNEL` are read by core
//! (`gateway.platforms.discord`), not here.

use hermod_adapter_kit::config::{Env, EnvSettings, check_http_url, check_limits, is_set};
use hermod_model::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `DISCORD_REPLY_TO_MODE`: which messages of a reply are sent as a
/// Discord reply to the user's message.
pub use hermod_adapter_kit::config::ReplyToMode;

/// `DISCORD_ALLOW_BOTS`: which messages of other bots are answered. In
/// `config.yaml`, `none`, `mentions` or `all`.
pub use hermod_adapter_kit::config::AllowBots;

/// Discord's REST API, version 10 (the gateway version the adapter speaks).
pub const DEFAULT_API_BASE_URL: &str = "https://discord.com/api/v10";

/// The largest inbound attachment downloaded by default.
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 25 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// `DISCORD_BOT_TOKEN` from the Developer Portal (Bot → Token); the
    /// adapter runs when it is set.
    pub bot_token: Option<Secret>,
    /// `DISCORD_API_BASE_URL`: the REST API (a proxy, or a fake in tests).
    /// The gateway's address is asked from it (`GET /gateway/bot`).
    pub api_base_url: String,
    /// `DISCORD_ALLOWED_ROLES`: role ids whose members may talk to the bot
    /// in guilds.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub allowed_roles: Vec<String>,
    /// `DISCORD_ALLOWED_CHANNELS`: when set, guild messages in any other
    /// channel are ignored (DMs are not affected).
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub allowed_channels: Vec<String>,
    /// `DISCORD_ALLOW_BOTS`: none, mentions or all.
    pub allow_bots: AllowBots,
    /// `DISCORD_REQUIRE_MENTION`: in guild channels, answer only when
    /// mentioned or replied to.
    pub require_mention: bool,
    /// `DISCORD_FREE_RESPONSE_CHANNELS`: guild channels where every
    /// message is answered.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub free_response_channels: Vec<String>,
    /// `DISCORD_REPLY_TO_MODE`: off, first or all.
    pub reply_to_mode: ReplyToMode,
    /// `DISCORD_AUTO_THREAD`: in guild channels, start a thread from the
    /// message that addressed the bot and answer there.
    pub auto_thread: bool,
    /// `DISCORD_REACTIONS`: 👀 on a message while its answer is being
    /// worked on.
    pub reactions: bool,
    /// `DISCORD_MEDIA_MAX_BYTES`: larger inbound files are not downloaded.
    pub media_max_bytes: u64,
    /// `HERMOD_MEDIA_MAX_AGE_DAYS` and `HERMOD_MEDIA_MAX_MB`: how long
    /// inbound files are kept and how much room they may take (one cleanup
    /// for every platform of the gateway).
    #[serde(skip)]
    pub media_retention: hermod_adapter_kit::MediaRetention,
    /// `DISCORD_REQUEST_TIMEOUT`: seconds a REST request may take.
    pub request_timeout_secs: u64,
    /// `DISCORD_MAX_RECONNECT_DELAY`: cap of the backoff between failed
    /// gateway connections, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// Where inbound files are saved (`HERMOD_HOME/media`), set by the
    /// runtime through [`DiscordConfig::set_media_dir`].
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
    /// The slash commands registered (name, description).
    #[serde(skip)]
    pub commands: Vec<(String, String)>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            api_base_url: DEFAULT_API_BASE_URL.into(),
            allowed_roles: Vec::new(),
            allowed_channels: Vec::new(),
            allow_bots: AllowBots::None,
            require_mention: true,
            free_response_channels: Vec::new(),
            reply_to_mode: ReplyToMode::First,
            // Hermes' defaults: a thread per conversation in guild
            // channels, and the 👀 reaction while working.
            auto_thread: true,
            reactions: true,
            media_max_bytes: DEFAULT_MEDIA_MAX_BYTES,
            media_retention: hermod_adapter_kit::MediaRetention::default(),
            request_timeout_secs: 30,
            max_reconnect_delay_secs: 60,
            media_dir: None,
            commands: hermod_core::command_menu(),
        }
    }
}

impl EnvSettings for DiscordConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.secret("DISCORD_BOT_TOKEN", &mut self.bot_token);
        env.text("DISCORD_API_BASE_URL", &mut self.api_base_url);
        env.list("DISCORD_ALLOWED_ROLES", &mut self.allowed_roles);
        env.list("DISCORD_ALLOWED_CHANNELS", &mut self.allowed_channels);
        env.list("DISCORD_FREE_RESPONSE_CHANNELS", &mut self.free_response_channels);
        env.choice("DISCORD_ALLOW_BOTS", &mut self.allow_bots);
        env.flag("DISCORD_REQUIRE_MENTION", &mut self.require_mention);
        env.choice("DISCORD_REPLY_TO_MODE", &mut self.reply_to_mode);
        env.flag("DISCORD_AUTO_THREAD", &mut self.auto_thread);
        env.flag("DISCORD_REACTIONS", &mut self.reactions);
        env.number("DISCORD_MEDIA_MAX_BYTES", &mut self.media_max_bytes).at_least(1);
        env.nested(&mut self.media_retention);
        env.seconds("DISCORD_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("DISCORD_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

impl DiscordConfig {
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
            return Err("DISCORD_BOT_TOKEN is not set".into());
        };
        let token = token.expose();
        if token.starts_with("Bot ") || token.starts_with("Bearer ") {
            return Err(
                "DISCORD_BOT_TOKEN starts with \"Bot \"; set the token alone, without the prefix"
                    .into(),
            );
        }
        if !token_looks_valid(token) {
            return Err(
                "DISCORD_BOT_TOKEN does not look like a bot token (three parts of letters, digits, \
                 '-' and '_' joined by dots); copy it again from the Developer Portal (Bot → Reset Token)"
                    .into(),
            );
        }
        check_http_url(&self.api_base_url, "DISCORD_API_BASE_URL")?;
        for (name, list) in [
            ("DISCORD_ALLOWED_ROLES", &self.allowed_roles),
            ("DISCORD_ALLOWED_CHANNELS", &self.allowed_channels),
            (
                "DISCORD_FREE_RESPONSE_CHANNELS",
                &self.free_response_channels,
            ),
        ] {
            if let Some(bad) = list.iter().find(|id| !is_snowflake(id)) {
                return Err(format!(
                    "{name} holds {bad:?}, which is not a Discord id; use the numeric ids \
                     (Developer Mode on, then right-click → Copy ID)"
                ));
            }
        }
        check_limits(self)?;
        if self.commands.len() > crate::commands::MAX_COMMANDS {
            return Err(format!(
                "{} slash commands are configured; Discord takes at most {}",
                self.commands.len(),
                crate::commands::MAX_COMMANDS
            ));
        }
        Ok(())
    }
}

/// A bot token is three base64url parts joined by dots; it goes into a
/// header, so nothing else is accepted.
fn token_looks_valid(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A Discord id (a snowflake: digits).
pub(crate) fn is_snowflake(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_core::PlatformConfig;
    use hermod_model::EnvVars;

    const TOKEN: &str = "MTE0NTE0MTkxOTgxMDkzMTIzNA.GhAbCd.very_secret-token_value";

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().copied().collect()
    }

    #[test]
    fn defaults_follow_hermes() {
        let c = DiscordConfig::default();
        assert!(!c.enabled());
        assert_eq!(c.api_base_url, DEFAULT_API_BASE_URL);
        assert!(c.require_mention);
        assert_eq!(c.allow_bots, AllowBots::None);
        assert_eq!(c.reply_to_mode, ReplyToMode::First);
        // DISCORD_REACTIONS and DISCORD_AUTO_THREAD default to "true" in Hermes.
        assert!(c.reactions && c.auto_thread);
        assert!(c.commands.iter().any(|(name, _)| name == "help"));
    }

    #[test]
    fn environment_overrides() {
        let mut c = DiscordConfig::default();
        c.apply_env(&env(&[
            ("DISCORD_BOT_TOKEN", TOKEN),
            ("DISCORD_API_BASE_URL", "http://127.0.0.1:9/api/v10"),
            ("DISCORD_ALLOWED_ROLES", "11, 12"),
            ("DISCORD_ALLOWED_CHANNELS", "21"),
            ("DISCORD_FREE_RESPONSE_CHANNELS", "31,32"),
            ("DISCORD_ALLOW_BOTS", "mentions"),
            ("DISCORD_REQUIRE_MENTION", "false"),
            ("DISCORD_REPLY_TO_MODE", "ALL"),
            ("DISCORD_AUTO_THREAD", "true"),
            ("DISCORD_REACTIONS", "yes"),
            ("DISCORD_MEDIA_MAX_BYTES", "1000"),
        ]))
        .unwrap();
        assert!(c.enabled());
        assert_eq!(c.allowed_roles, ["11", "12"]);
        assert_eq!(c.allowed_channels, ["21"]);
        assert_eq!(c.free_response_channels, ["31", "32"]);
        assert_eq!(c.allow_bots, AllowBots::Mentions);
        assert!(!c.require_mention && c.auto_thread && c.reactions);
        assert_eq!(c.reply_to_mode, ReplyToMode::All);
        assert_eq!(c.media_max_bytes, 1000);
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_variable_not_the_secret() {
        let mut c = DiscordConfig::default();
        let err = c
            .apply_env(&env(&[("DISCORD_REPLY_TO_MODE", "sometimes")]))
            .unwrap_err();
        assert!(err.contains("DISCORD_REPLY_TO_MODE"), "{err}");
        let err = c
            .apply_env(&env(&[("DISCORD_ALLOW_BOTS", "maybe")]))
            .unwrap_err();
        assert!(err.contains("DISCORD_ALLOW_BOTS"), "{err}");
        assert!(DiscordConfig::default().validate().is_err());
        c.bot_token = Some(Secret::new("not a token with secretword"));
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("DISCORD_BOT_TOKEN") && !err.contains("secretword"),
            "{err}"
        );
        c.bot_token = Some(Secret::new(format!("Bot {TOKEN}")));
        assert!(c.validate().unwrap_err().contains("without the prefix"));
        c.bot_token = Some(Secret::new(TOKEN));
        c.allowed_channels = vec!["#general".into()];
        let err = c.validate().unwrap_err();
        assert!(err.contains("DISCORD_ALLOWED_CHANNELS"), "{err}");
    }

    #[test]
    fn yaml_is_strict_and_takes_numeric_ids() {
        let c: DiscordConfig = serde_json::from_str(
            r#"{"free_response_channels": [123, "456"], "allowed_roles": "7,8", "allow_bots": "mentions"}"#,
        )
        .unwrap();
        assert_eq!(c.free_response_channels, ["123", "456"]);
        assert_eq!(c.allowed_roles, ["7", "8"]);
        assert_eq!(c.allow_bots, AllowBots::Mentions);
        assert_eq!(c.commands, DiscordConfig::default().commands);
        let err = serde_json::from_str::<DiscordConfig>(r#"{"bot_tokn": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("bot_token"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = DiscordConfig {
            bot_token: Some(Secret::new(TOKEN)),
            ..DiscordConfig::default()
        };
        assert!(!format!("{c:?}").contains("very_secret"));
    }
}
