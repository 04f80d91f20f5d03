//! [`MatrixConfig`]: the `platforms.matrix` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by a homeserver and either an access token or a
//! user id and password. `MATRIX_ALLOWED_USERS`, `MATRIX_ALLOW_ALL_USERS`
//! and `MATRIX_HOME_CHANNEL` are read by core (`gateway.platforms.matrix`),
//! not here.

use hermod_adapter_kit::config::{Env, EnvSettings, check_http_url, check_limits, is_set};
use hermod_model::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Hermes' default message length for Matrix, in characters.
pub const DEFAULT_MAX_MESSAGE_LENGTH: usize = 16_000;

/// The most `MATRIX_MAX_MESSAGE_LENGTH` may be: an event is at most 64 KiB
/// on the wire, and the HTML copy travels beside the text.
pub const MAX_MESSAGE_LENGTH_CEILING: usize = 65_535;

/// Files larger than this are not downloaded (Hermes' default, 100 MB).
pub const DEFAULT_MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixConfig {
    /// `MATRIX_HOMESERVER`: the homeserver's client-server API base URL
    /// (`https://matrix.example.org`).
    pub homeserver: String,
    /// `MATRIX_ACCESS_TOKEN`: the bot account's access token. Wins over a
    /// password when both are set.
    pub access_token: Option<Secret>,
    /// `MATRIX_USER_ID`: the bot's user id (`@bot:example.org`), needed for
    /// a password login.
    pub user_id: Option<String>,
    /// `MATRIX_PASSWORD`: the bot account's password; hermod logs in once
    /// and keeps the token and device in its store.
    pub password: Option<Secret>,
    /// `MATRIX_DEVICE_ID`: the device a password login reuses.
    pub device_id: Option<String>,
    /// `MATRIX_ALLOWED_ROOMS`: when set, group rooms other than these are
    /// ignored (direct chats are not affected).
    #[serde(deserialize_with = "hermod_adapter_kit::config::deserialize_list")]
    pub allowed_rooms: Vec<String>,
    /// `MATRIX_FREE_RESPONSE_ROOMS`: rooms where every message is answered,
    /// mentioned or not.
    #[serde(deserialize_with = "hermod_adapter_kit::config::deserialize_list")]
    pub free_response_rooms: Vec<String>,
    /// `MATRIX_REQUIRE_MENTION`: in group rooms, answer only messages that
    /// mention the bot (or follow up in a thread it is in).
    pub require_mention: bool,
    /// `MATRIX_THREAD_REQUIRE_MENTION`: follow-ups in a thread the bot is
    /// in need a mention too (for rooms with several bots).
    pub thread_require_mention: bool,
    /// `MATRIX_AUTO_THREAD`: in group rooms, answer a message outside a
    /// thread in a new thread rooted at it.
    pub auto_thread: bool,
    /// `MATRIX_DM_AUTO_THREAD`: the same in direct chats.
    pub dm_auto_thread: bool,
    /// `MATRIX_PROCESS_NOTICES`: also answer `m.notice` messages, which
    /// Matrix reserves for bots (off, so two bots cannot loop).
    pub process_notices: bool,
    /// `MATRIX_SEND_NOTICES`: send replies as `m.notice`, the Matrix
    /// convention for automated messages (other bots ignore them); off,
    /// they are `m.text` as Hermes sent them.
    pub send_notices: bool,
    /// `MATRIX_REACTIONS`: 👀 on a message while its turn runs, then ✅
    /// or ❌, as Hermes does.
    pub reactions: bool,
    /// `MATRIX_MAX_MESSAGE_LENGTH`: the longest message sent, in
    /// characters; longer replies are split.
    pub max_message_length: usize,
    /// `MATRIX_MAX_MEDIA_BYTES`: inbound files larger than this are not
    /// downloaded.
    pub max_media_bytes: u64,
    /// `MATRIX_SYNC_TIMEOUT`: seconds the homeserver holds a `/sync` open
    /// while nothing happens.
    pub sync_timeout_secs: u64,
    /// `MATRIX_REQUEST_TIMEOUT`: seconds any other call may take.
    pub request_timeout_secs: u64,
    /// `MATRIX_MAX_RECONNECT_DELAY`: cap of the backoff between failed
    /// syncs, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// Where inbound files are saved (`HERMOD_HOME/media`), set by the
    /// runtime.
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        Self {
            homeserver: String::new(),
            access_token: None,
            user_id: None,
            password: None,
            device_id: None,
            allowed_rooms: Vec::new(),
            free_response_rooms: Vec::new(),
            require_mention: true,
            thread_require_mention: false,
            auto_thread: true,
            dm_auto_thread: false,
            process_notices: false,
            send_notices: true,
            reactions: true,
            max_message_length: DEFAULT_MAX_MESSAGE_LENGTH,
            max_media_bytes: DEFAULT_MAX_MEDIA_BYTES,
            sync_timeout_secs: 30,
            request_timeout_secs: 30,
            max_reconnect_delay_secs: 300,
            media_dir: None,
        }
    }
}

impl EnvSettings for MatrixConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("MATRIX_HOMESERVER", &mut self.homeserver);
        env.secret("MATRIX_ACCESS_TOKEN", &mut self.access_token);
        env.text("MATRIX_USER_ID", &mut self.user_id);
        env.secret("MATRIX_PASSWORD", &mut self.password);
        env.text("MATRIX_DEVICE_ID", &mut self.device_id);
        env.list("MATRIX_ALLOWED_ROOMS", &mut self.allowed_rooms);
        env.list("MATRIX_FREE_RESPONSE_ROOMS", &mut self.free_response_rooms);
        env.flag("MATRIX_REQUIRE_MENTION", &mut self.require_mention);
        env.flag("MATRIX_THREAD_REQUIRE_MENTION", &mut self.thread_require_mention);
        env.flag("MATRIX_AUTO_THREAD", &mut self.auto_thread);
        env.flag("MATRIX_DM_AUTO_THREAD", &mut self.dm_auto_thread);
        env.flag("MATRIX_PROCESS_NOTICES", &mut self.process_notices);
        env.flag("MATRIX_SEND_NOTICES", &mut self.send_notices);
        env.flag("MATRIX_REACTIONS", &mut self.reactions);
        env.number("MATRIX_MAX_MESSAGE_LENGTH", &mut self.max_message_length).at_least(100).at_most(MAX_MESSAGE_LENGTH_CEILING);
        env.number("MATRIX_MAX_MEDIA_BYTES", &mut self.max_media_bytes).at_least(1);
        env.seconds("MATRIX_SYNC_TIMEOUT", &mut self.sync_timeout_secs).at_least(1).at_most(300);
        env.seconds("MATRIX_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("MATRIX_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

/// How the adapter proves who it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Credentials {
    Token(Secret),
    Password { user_id: String, password: Secret },
}

impl MatrixConfig {
    /// True when a homeserver and a way to log in are configured.
    pub fn enabled(&self) -> bool {
        !self.homeserver.trim().is_empty() && self.credentials().is_some()
    }

    pub(crate) fn credentials(&self) -> Option<Credentials> {
        if let Some(token) = self.access_token.as_ref().filter(|t| !t.is_empty()) {
            return Some(Credentials::Token(token.clone()));
        }
        match (&self.user_id, &self.password) {
            (Some(user), Some(password)) if !user.is_empty() && is_set(Some(password)) => {
                Some(Credentials::Password {
                    user_id: user.clone(),
                    password: password.clone(),
                })
            }
            _ => None,
        }
    }

    /// Sets where inbound files are saved.
    pub fn set_media_dir(&mut self, dir: impl Into<PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    pub(crate) fn media_dir(&self) -> PathBuf {
        hermod_adapter_kit::config::media_dir(self.media_dir.as_deref())
    }

    pub(crate) fn sync_timeout(&self) -> Duration {
        Duration::from_secs(self.sync_timeout_secs)
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
        if self.homeserver.trim().is_empty() {
            return Err("MATRIX_HOMESERVER is not set".into());
        }
        check_http_url(&self.homeserver, "MATRIX_HOMESERVER")?;
        if self.credentials().is_none() {
            return Err(
                "set MATRIX_ACCESS_TOKEN, or MATRIX_USER_ID and MATRIX_PASSWORD for a password login"
                    .into(),
            );
        }
        if let Some(user) = self.user_id.as_deref().filter(|u| !u.is_empty())
            && !is_user_id(user)
        {
            return Err(format!(
                "MATRIX_USER_ID={user:?} is not a Matrix user id; write it whole, like @bot:example.org"
            ));
        }
        check_limits(self)
    }
}

/// `@localpart:server`.
pub(crate) fn is_user_id(id: &str) -> bool {
    id.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
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
        let mut config = MatrixConfig::default();
        assert!(!config.enabled());
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[
                ("MATRIX_HOMESERVER", "https://matrix.example.org"),
                ("MATRIX_USER_ID", "@hermod:example.org"),
                ("MATRIX_PASSWORD", "hunter2-secret"),
                ("MATRIX_ALLOWED_ROOMS", "!a:example.org, !b:example.org"),
                ("MATRIX_REQUIRE_MENTION", "false"),
                ("MATRIX_AUTO_THREAD", "no"),
                ("MATRIX_MAX_MESSAGE_LENGTH", "8000"),
            ]),
        )
        .unwrap();
        assert!(config.enabled());
        config.validate().unwrap();
        assert_eq!(config.allowed_rooms, ["!a:example.org", "!b:example.org"]);
        assert!(!config.require_mention);
        assert!(!config.auto_thread);
        assert_eq!(config.max_message_length, 8000);
        assert!(matches!(
            config.credentials(),
            Some(Credentials::Password { .. })
        ));
        assert!(!format!("{config:?}").contains("hunter2-secret"));
    }

    #[test]
    fn a_token_wins_over_a_password() {
        let config = MatrixConfig {
            homeserver: "http://localhost:8008".into(),
            access_token: Some(Secret::new("syt_token")),
            user_id: Some("@bot:localhost".into()),
            password: Some(Secret::new("pw")),
            ..MatrixConfig::default()
        };
        assert!(matches!(config.credentials(), Some(Credentials::Token(_))));
    }

    #[test]
    fn problems_are_named_by_their_variable() {
        let mut config = MatrixConfig::default();
        assert!(config.validate().unwrap_err().contains("MATRIX_HOMESERVER"));
        config.homeserver = "matrix.org".into();
        assert!(config.validate().unwrap_err().contains("MATRIX_HOMESERVER"));
        config.homeserver = "https://matrix.org".into();
        assert!(config.validate().unwrap_err().contains("MATRIX_PASSWORD"));
        config.user_id = Some("bot".into());
        config.password = Some(Secret::new("pw"));
        assert!(config.validate().unwrap_err().contains("MATRIX_USER_ID"));
        config.user_id = Some("@bot:matrix.org".into());
        config.max_message_length = 70_000;
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("MATRIX_MAX_MESSAGE_LENGTH")
        );
    }
}
