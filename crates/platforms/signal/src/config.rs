//! [`SignalConfig`]: the `platforms.signal` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter runs when both `SIGNAL_HTTP_URL` and `SIGNAL_ACCOUNT` are
//! set, as in Hermes. `SIGNAL_ALLOWED_USERS`, `SIGNAL_ALLOW_ALL_USERS`
//! and `SIGNAL_HOME_CHANNEL` are read by core (`gateway.platforms.signal`).

use hermod_adapter_kit::config::{Env, EnvSettings, check_http_url, check_limits};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// signal-cli's default `--http` address.
pub const DEFAULT_HTTP_URL: &str = "http://127.0.0.1:8080";

#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalConfig {
    /// `SIGNAL_HTTP_URL`: the signal-cli daemon started with `--http`.
    pub http_url: Option<String>,
    /// `SIGNAL_ACCOUNT`: the account's phone number (`+4915...`), as
    /// registered or linked in signal-cli.
    pub account: Option<String>,
    /// `SIGNAL_GROUP_ALLOWED_USERS`: the groups (base64 group ids) whose
    /// messages are taken, `*` for every group; unset, groups are ignored.
    /// A sender's number or uuid listed here is allowed in groups too, and
    /// with `*` every group member is (Hermes' rule).
    #[serde(deserialize_with = "hermod_adapter_kit::config::deserialize_list")]
    pub group_allowed_users: Vec<String>,
    /// `SIGNAL_REQUIRE_MENTION`: in groups, answer only messages that
    /// mention the account.
    pub require_mention: bool,
    /// `SIGNAL_REACTIONS`: 👀 on a message while its turn runs, then ✅ or
    /// ❌.
    pub reactions: bool,
    /// `SIGNAL_IGNORE_STORIES`: stories are never answered (they carry no
    /// message to answer); kept so Hermes' `.env` reads unchanged.
    pub ignore_stories: bool,
    /// `SIGNAL_REQUEST_TIMEOUT`: seconds a JSON-RPC call, or opening the
    /// event stream, may take. Sends with attachments get more (signal-cli
    /// uploads them during the call).
    pub request_timeout_secs: u64,
    /// `SIGNAL_KEEPALIVE_TIMEOUT`: seconds without a byte on the event
    /// stream (signal-cli writes a `:` keepalive every 15 s) before it is
    /// taken for dead and opened again.
    pub keepalive_timeout_secs: u64,
    /// `SIGNAL_MAX_RECONNECT_DELAY`: cap of the backoff between attempts
    /// to open the event stream, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// `SIGNAL_MAX_ATTACHMENT_MB`: larger inbound files are not fetched.
    pub max_attachment_mb: u64,
    /// Where inbound files are saved; the gateway sets `HERMOD_HOME/media`.
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
}

impl Default for SignalConfig {
    fn default() -> Self {
        Self {
            http_url: None,
            account: None,
            group_allowed_users: Vec::new(),
            require_mention: false,
            reactions: true,
            ignore_stories: true,
            request_timeout_secs: 30,
            keepalive_timeout_secs: 60,
            max_reconnect_delay_secs: 60,
            max_attachment_mb: 100,
            media_dir: None,
        }
    }
}

impl std::fmt::Debug for SignalConfig {
    /// The account's number redacted, as in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalConfig")
            .field("http_url", &self.http_url)
            .field("account", &self.account.as_deref().map(redact_phone))
            .field("group_allowed_users", &self.group_allowed_users)
            .field("require_mention", &self.require_mention)
            .field("reactions", &self.reactions)
            .field("ignore_stories", &self.ignore_stories)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("keepalive_timeout_secs", &self.keepalive_timeout_secs)
            .field("max_reconnect_delay_secs", &self.max_reconnect_delay_secs)
            .field("max_attachment_mb", &self.max_attachment_mb)
            .field("media_dir", &self.media_dir)
            .finish()
    }
}

impl EnvSettings for SignalConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("SIGNAL_HTTP_URL", &mut self.http_url);
        env.text("SIGNAL_ACCOUNT", &mut self.account);
        env.list("SIGNAL_GROUP_ALLOWED_USERS", &mut self.group_allowed_users);
        env.flag("SIGNAL_REQUIRE_MENTION", &mut self.require_mention);
        env.flag("SIGNAL_REACTIONS", &mut self.reactions);
        env.flag("SIGNAL_IGNORE_STORIES", &mut self.ignore_stories);
        env.seconds("SIGNAL_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("SIGNAL_KEEPALIVE_TIMEOUT", &mut self.keepalive_timeout_secs).at_least(1);
        env.seconds("SIGNAL_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
        env.number("SIGNAL_MAX_ATTACHMENT_MB", &mut self.max_attachment_mb).at_least(1);
    }
}

impl SignalConfig {
    /// True when both the daemon's URL and the account are set.
    pub fn enabled(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        set(&self.http_url) && set(&self.account)
    }

    /// The daemon's URL without a trailing `/`.
    pub(crate) fn http_url(&self) -> &str {
        self.http_url
            .as_deref()
            .unwrap_or(DEFAULT_HTTP_URL)
            .trim_end_matches('/')
    }

    /// The account (empty when unset; `validate` refuses that).
    pub(crate) fn account(&self) -> &str {
        self.account.as_deref().unwrap_or_default()
    }

    /// Whether messages of group `group_id` are taken.
    pub(crate) fn group_allowed(&self, group_id: &str) -> bool {
        self.group_allowed_users
            .iter()
            .any(|g| g == "*" || g == group_id)
    }

    /// Whether `ids` (a sender's number and uuid) are vouched for in
    /// groups by `SIGNAL_GROUP_ALLOWED_USERS`.
    pub(crate) fn group_vouches(&self, ids: &[&str]) -> bool {
        self.group_allowed_users
            .iter()
            .any(|g| g == "*" || ids.contains(&g.as_str()))
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub(crate) fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs)
    }

    pub(crate) fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_delay_secs)
    }

    pub(crate) fn max_attachment_bytes(&self) -> u64 {
        self.max_attachment_mb.saturating_mul(1024 * 1024)
    }

    /// Where inbound files are saved ([`hermod_adapter_kit::config::media_dir`]).
    pub(crate) fn media_dir(&self) -> PathBuf {
        hermod_adapter_kit::config::media_dir(self.media_dir.as_deref())
    }

    /// Checks an enabled configuration; messages name the setting.
    pub fn validate(&self) -> Result<(), String> {
        let Some(url) = self.http_url.as_deref() else {
            return Err(format!(
                "SIGNAL_HTTP_URL is not set; start signal-cli with `daemon --http` and set it (usually {DEFAULT_HTTP_URL})"
            ));
        };
        check_http_url(url, "SIGNAL_HTTP_URL")?;
        let account = self.account();
        if account.trim().is_empty() {
            return Err(
                "SIGNAL_ACCOUNT is not set; set it to the account's number, like +4915712345678"
                    .into(),
            );
        }
        if account.contains(char::is_whitespace) {
            return Err(format!(
                "SIGNAL_ACCOUNT {:?} has spaces; write the number as +4915712345678",
                redact_phone(account)
            ));
        }
        check_limits(self)
    }
}

/// A phone number for logs: country code and the last two digits only
/// (`+49•••••78`), as Hermes' `redact_phone`; anything else as it is.
pub(crate) fn redact_phone(value: &str) -> String {
    let is_phone =
        value.starts_with('+') && value.len() > 6 && value[1..].bytes().all(|b| b.is_ascii_digit());
    if !is_phone {
        return value.to_owned();
    }
    let keep_head = 3.min(value.len());
    let keep_tail = value.len() - 2;
    format!(
        "{}{}{}",
        &value[..keep_head],
        "•".repeat(keep_tail.saturating_sub(keep_head)),
        &value[keep_tail..]
    )
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
        let mut config = SignalConfig::default();
        assert!(!config.enabled());
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[
                ("SIGNAL_HTTP_URL", "http://127.0.0.1:8080/"),
                ("SIGNAL_ACCOUNT", "+4915712345678"),
                ("SIGNAL_GROUP_ALLOWED_USERS", "Z3JvdXA=, +4915700000001"),
                ("SIGNAL_REQUIRE_MENTION", "true"),
                ("SIGNAL_REACTIONS", "false"),
                ("SIGNAL_IGNORE_STORIES", "true"),
            ]),
        )
        .unwrap();
        assert!(config.enabled());
        assert_eq!(config.http_url(), "http://127.0.0.1:8080");
        assert_eq!(config.account(), "+4915712345678");
        assert!(config.group_allowed("Z3JvdXA="));
        assert!(!config.group_allowed("b3RoZXI="));
        assert!(config.group_vouches(&["+4915700000001", "uuid"]));
        assert!(!config.group_vouches(&["+4915700000002"]));
        assert!(config.require_mention);
        assert!(!config.reactions);
        config.validate().unwrap();
    }

    #[test]
    fn a_star_allows_every_group_and_member() {
        let config = SignalConfig {
            group_allowed_users: vec!["*".into()],
            ..SignalConfig::default()
        };
        assert!(config.group_allowed("anything"));
        assert!(config.group_vouches(&["+1"]));
        assert!(!SignalConfig::default().group_allowed("anything"));
    }

    #[test]
    fn missing_or_bad_settings_are_named() {
        let mut config = SignalConfig::default();
        assert!(config.validate().unwrap_err().contains("SIGNAL_HTTP_URL"));
        config.http_url = Some("localhost:8080".into());
        assert!(config.validate().unwrap_err().contains("SIGNAL_HTTP_URL"));
        config.http_url = Some(DEFAULT_HTTP_URL.into());
        assert!(config.validate().unwrap_err().contains("SIGNAL_ACCOUNT"));
        config.account = Some("+49 157".into());
        assert!(config.validate().unwrap_err().contains("SIGNAL_ACCOUNT"));
    }

    #[test]
    fn phone_numbers_are_redacted_in_logs_and_debug() {
        assert_eq!(redact_phone("+4915712345678"), "+49•••••••••78");
        assert_eq!(redact_phone("some-uuid"), "some-uuid");
        let config = SignalConfig {
            account: Some("+4915712345678".into()),
            ..SignalConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("+4915712345678"), "{shown}");
        assert!(shown.contains("+49•••••••••78"), "{shown}");
    }
}
