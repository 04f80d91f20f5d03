//! [`NtfyConfig`]: the `platforms.ntfy` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by setting a topic. `NTFY_ALLOWED_USERS`,
//! `NTFY_ALLOW_ALL_USERS` and `NTFY_HOME_CHANNEL` are read by core
//! (`gateway.platforms.ntfy`), not here: ntfy has no users, so the topic
//! is the user (see the README).

use hermod_adapter_kit::config::{Env, EnvSettings, check_http_url, check_limits};
use hermod_model::Secret;
use serde::Deserialize;
use std::time::Duration;

/// The public ntfy server.
pub const DEFAULT_SERVER_URL: &str = "https://ntfy.sh";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NtfyConfig {
    /// `NTFY_SERVER_URL`: the ntfy server (ntfy.sh or a self-hosted one).
    pub server_url: String,
    /// `NTFY_TOPIC`: the topic the adapter subscribes to; it runs when set.
    /// Anyone who knows a topic on a server without access control can
    /// write to it: pick a long random name, or protect it with a token.
    pub topic: Option<String>,
    /// `NTFY_PUBLISH_TOPIC`: where replies go; unset, the topic itself.
    pub publish_topic: Option<String>,
    /// `NTFY_TOKEN`: an access token (`tk_...`) sent as
    /// `Authorization: Bearer`, for servers with access control.
    pub token: Option<Secret>,
    /// `NTFY_MARKDOWN`: replies that contain Markdown are published with
    /// `Markdown: yes`, which the web app renders (the phone apps show the
    /// text as it is).
    pub markdown: bool,
    /// `NTFY_KEEPALIVE_TIMEOUT`: seconds without a line on the stream
    /// (ntfy sends a keepalive every 45 s by default) before the stream is
    /// taken for dead and opened again.
    pub keepalive_timeout_secs: u64,
    /// `NTFY_REQUEST_TIMEOUT`: seconds a publish, or opening the stream,
    /// may take.
    pub request_timeout_secs: u64,
    /// `NTFY_MAX_RECONNECT_DELAY`: cap of the backoff between attempts to
    /// open the stream, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// `NTFY_MEDIA_MAX_MB`: the largest file attached to a message that is
    /// downloaded for the agent, in MB (ntfy.sh allows 15 MB).
    pub media_max_mb: u64,
    /// Where inbound files are saved (the gateway's media directory; not
    /// a setting of its own).
    #[serde(skip)]
    pub media_dir: Option<std::path::PathBuf>,
}

impl Default for NtfyConfig {
    fn default() -> Self {
        Self {
            server_url: DEFAULT_SERVER_URL.into(),
            topic: None,
            publish_topic: None,
            token: None,
            markdown: true,
            keepalive_timeout_secs: 120,
            request_timeout_secs: 30,
            max_reconnect_delay_secs: 300,
            media_max_mb: 15,
            media_dir: None,
        }
    }
}

impl EnvSettings for NtfyConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("NTFY_SERVER_URL", &mut self.server_url);
        env.text("NTFY_TOPIC", &mut self.topic);
        env.text("NTFY_PUBLISH_TOPIC", &mut self.publish_topic);
        env.secret("NTFY_TOKEN", &mut self.token);
        env.flag("NTFY_MARKDOWN", &mut self.markdown);
        env.seconds("NTFY_KEEPALIVE_TIMEOUT", &mut self.keepalive_timeout_secs).at_least(1);
        env.seconds("NTFY_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("NTFY_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
        env.number("NTFY_MEDIA_MAX_MB", &mut self.media_max_mb).at_least(1);
    }
}

impl NtfyConfig {
    /// Sets where inbound files are saved.
    pub fn set_media_dir(&mut self, dir: impl Into<std::path::PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    pub(crate) fn media(&self) -> hermod_adapter_kit::MediaDir {
        hermod_adapter_kit::MediaDir::new(
            hermod_adapter_kit::config::media_dir(self.media_dir.as_deref()),
            self.media_max_mb.saturating_mul(1024 * 1024),
        )
    }

    /// True when a topic is configured.
    pub fn enabled(&self) -> bool {
        self.topic.as_deref().is_some_and(|t| !t.trim().is_empty())
    }

    /// The topic subscribed to (empty when unset; `validate` refuses that).
    pub(crate) fn topic(&self) -> &str {
        self.topic.as_deref().unwrap_or_default()
    }

    /// Where a reply to `chat` (a topic) is published.
    pub(crate) fn reply_topic<'a>(&'a self, chat: &'a str) -> &'a str {
        match self.publish_topic.as_deref() {
            Some(topic) if !topic.is_empty() => topic,
            _ => chat,
        }
    }

    pub(crate) fn keepalive_timeout(&self) -> Duration {
        Duration::from_secs(self.keepalive_timeout_secs)
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
        let Some(topic) = &self.topic else {
            return Err("NTFY_TOPIC is not set".into());
        };
        check_topic(topic, "NTFY_TOPIC")?;
        if let Some(publish) = &self.publish_topic {
            check_topic(publish, "NTFY_PUBLISH_TOPIC")?;
        }
        check_http_url(&self.server_url, "NTFY_SERVER_URL")?;
        check_limits(self)
    }
}

/// ntfy's topic names: 1-64 of `A-Z a-z 0-9 _ -`.
fn check_topic(topic: &str, name: &str) -> Result<(), String> {
    let valid = !topic.is_empty()
        && topic.len() <= 64
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-' (ntfy's topic names)"
        ))
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
        let mut config = NtfyConfig::default();
        assert!(!config.enabled());
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[
                ("NTFY_SERVER_URL", "http://ntfy.local:8080"),
                ("NTFY_TOPIC", "hermod-agent"),
                ("NTFY_PUBLISH_TOPIC", "hermod-replies"),
                ("NTFY_TOKEN", "tk_secret"),
                ("NTFY_MARKDOWN", "false"),
            ]),
        )
        .unwrap();
        assert!(config.enabled());
        assert_eq!(config.server_url, "http://ntfy.local:8080");
        assert_eq!(config.topic(), "hermod-agent");
        assert_eq!(config.reply_topic("hermod-agent"), "hermod-replies");
        assert_eq!(config.token.as_ref().map(Secret::expose), Some("tk_secret"));
        assert!(!config.markdown);
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("tk_secret"));
    }

    #[test]
    fn replies_go_to_the_topic_unless_another_is_set() {
        let config = NtfyConfig {
            topic: Some("t".into()),
            ..NtfyConfig::default()
        };
        assert_eq!(config.reply_topic("t"), "t");
    }

    #[test]
    fn bad_topics_and_urls_are_refused_by_name() {
        let mut config = NtfyConfig::default();
        assert!(config.validate().unwrap_err().contains("NTFY_TOPIC"));
        config.topic = Some("has space".into());
        assert!(config.validate().unwrap_err().contains("NTFY_TOPIC"));
        config.topic = Some("x".repeat(65));
        assert!(config.validate().is_err());
        config.topic = Some("ok_topic-1".into());
        config.publish_topic = Some("a/b".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("NTFY_PUBLISH_TOPIC")
        );
        config.publish_topic = None;
        config.server_url = "ftp://x".into();
        assert!(config.validate().unwrap_err().contains("NTFY_SERVER_URL"));
    }
}
