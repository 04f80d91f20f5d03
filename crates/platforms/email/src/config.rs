//! [`EmailConfig`]: the `platforms.email` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by `EMAIL_ADDRESS`, `EMAIL_PASSWORD`,
//! `EMAIL_IMAP_HOST` and `EMAIL_SMTP_HOST` together, as in Hermes.
//! `EMAIL_ALLOWED_USERS` and `EMAIL_ALLOW_ALL_USERS` are read by core
//! (`gateway.platforms.email`), not here.

use hermod_adapter_kit::config::{Choice, Env, EnvSettings, check_limits};
use hermod_model::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// By the port: TLS from the first byte on 993 (IMAP) and 465 (SMTP),
    /// STARTTLS on every other port — Hermes' rule.
    #[default]
    Auto,
    /// TLS from the first byte (IMAPS, SMTPS).
    Tls,
    /// A plain connection upgraded with STARTTLS, which must succeed.
    Starttls,
    /// No encryption at all: only for a server on the same machine. The
    /// password crosses the connection in the clear.
    None,
}

impl Choice for Security {
    const EXPECTED: &'static str = "auto, tls, starttls or none";

    fn from_word(word: &str) -> Option<Self> {
        match word {
            "auto" | "" => Some(Self::Auto),
            "tls" | "ssl" | "implicit" => Some(Self::Tls),
            "starttls" => Some(Self::Starttls),
            "none" | "plain" | "off" => Some(Self::None),
            _ => None,
        }
    }
}

/// How one connection is secured once `Auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Tls,
    Starttls,
    Plain,
}

impl Security {
    /// The mode for a server on `port` whose implicit-TLS port is `tls_port`.
    pub(crate) fn mode(self, port: u16, tls_port: u16) -> Mode {
        match self {
            Security::Auto if port == tls_port => Mode::Tls,
            Security::Auto | Security::Starttls => Mode::Starttls,
            Security::Tls => Mode::Tls,
            Security::None => Mode::Plain,
        }
    }
}

/// IMAP over TLS (RFC 8314).
pub const IMAPS_PORT: u16 = 993;
/// SMTP submission over TLS (RFC 8314).
pub const SMTPS_PORT: u16 = 465;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// `EMAIL_ADDRESS`: the agent's address; the IMAP and SMTP login name
    /// unless `EMAIL_USERNAME` is set, and the `From:` of every reply.
    pub address: Option<String>,
    /// `EMAIL_PASSWORD`: the mailbox password or an app password.
    pub password: Option<Secret>,
    /// `EMAIL_USERNAME`: a login name other than the address (rare).
    pub username: Option<String>,
    /// `EMAIL_IMAP_HOST`: where mail is read.
    pub imap_host: Option<String>,
    /// `EMAIL_IMAP_PORT`: 993 (TLS) by default.
    pub imap_port: u16,
    /// `EMAIL_IMAP_SECURITY`: `auto` (TLS on 993, else STARTTLS), `tls`,
    /// `starttls`, or `none` for a server on this machine.
    pub imap_security: Security,
    /// `EMAIL_SMTP_HOST`: where replies are sent.
    pub smtp_host: Option<String>,
    /// `EMAIL_SMTP_PORT`: 587 (STARTTLS) by default.
    pub smtp_port: u16,
    /// `EMAIL_SMTP_SECURITY`: `auto` (TLS on 465, else STARTTLS), `tls`,
    /// `starttls`, or `none`.
    pub smtp_security: Security,
    /// `EMAIL_CA_FILE`: a PEM file of certificates to trust besides the
    /// system's, for servers with a private or self-signed certificate.
    pub ca_file: Option<String>,
    /// `EMAIL_MAILBOX`: the folder read for new mail.
    pub mailbox: String,
    /// `EMAIL_POLL_INTERVAL`: seconds between checks when the server has
    /// no IDLE (or `EMAIL_IDLE` is off).
    pub poll_interval_secs: u64,
    /// `EMAIL_IDLE`: wait for new mail with IMAP IDLE where the server
    /// supports it, instead of polling.
    pub idle: bool,
    /// `EMAIL_SKIP_ATTACHMENTS`: files that come with mail are not saved
    /// (Hermes' `skip_attachments`).
    pub skip_attachments: bool,
    /// Mail is answered only when the receiving server authenticated its
    /// `From:` domain (`Authentication-Results`: DMARC, or aligned SPF or
    /// DKIM), while an allowlist decides who may write: `From:` alone can
    /// be forged. `EMAIL_TRUST_FROM_HEADER=true` turns this off for
    /// servers that do not stamp the header (Hermes' default and switch).
    pub require_authenticated_sender: bool,
    /// `EMAIL_AUTHSERV_ID`: only `Authentication-Results` from this server
    /// (or a subdomain) are trusted; unset, the topmost header.
    pub authserv_id: Option<String>,
    /// `EMAIL_MEDIA_MAX_MB`: the largest attachment saved, in MB.
    pub media_max_mb: u64,
    /// `EMAIL_TIMEOUT`: seconds a connection, or one command's answer, may
    /// take.
    pub timeout_secs: u64,
    /// `EMAIL_MAX_RECONNECT_DELAY`: cap of the backoff between attempts to
    /// reach the IMAP server, in seconds.
    pub max_reconnect_delay_secs: u64,
    /// Where inbound files are saved (`HERMOD_HOME/media`), set by the
    /// runtime.
    #[serde(skip)]
    pub media_dir: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            address: None,
            password: None,
            username: None,
            imap_host: None,
            imap_port: IMAPS_PORT,
            imap_security: Security::Auto,
            smtp_host: None,
            smtp_port: 587,
            smtp_security: Security::Auto,
            ca_file: None,
            mailbox: "INBOX".into(),
            poll_interval_secs: 15,
            idle: true,
            skip_attachments: false,
            require_authenticated_sender: true,
            authserv_id: None,
            media_max_mb: 25,
            timeout_secs: 30,
            max_reconnect_delay_secs: 300,
            media_dir: None,
        }
    }
}

impl EnvSettings for EmailConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("EMAIL_ADDRESS", &mut self.address);
        env.secret("EMAIL_PASSWORD", &mut self.password);
        env.text("EMAIL_USERNAME", &mut self.username);
        env.text("EMAIL_IMAP_HOST", &mut self.imap_host);
        env.number("EMAIL_IMAP_PORT", &mut self.imap_port).at_least(1);
        env.choice("EMAIL_IMAP_SECURITY", &mut self.imap_security);
        env.text("EMAIL_SMTP_HOST", &mut self.smtp_host);
        env.number("EMAIL_SMTP_PORT", &mut self.smtp_port).at_least(1);
        env.choice("EMAIL_SMTP_SECURITY", &mut self.smtp_security);
        env.text("EMAIL_CA_FILE", &mut self.ca_file);
        env.text("EMAIL_MAILBOX", &mut self.mailbox);
        env.seconds("EMAIL_POLL_INTERVAL", &mut self.poll_interval_secs).at_least(1);
        env.flag("EMAIL_IDLE", &mut self.idle);
        env.flag("EMAIL_SKIP_ATTACHMENTS", &mut self.skip_attachments);
        let mut trust_from = !self.require_authenticated_sender;
        env.flag("EMAIL_TRUST_FROM_HEADER", &mut trust_from);
        self.require_authenticated_sender = !trust_from;
        env.text("EMAIL_AUTHSERV_ID", &mut self.authserv_id);
        env.number("EMAIL_MEDIA_MAX_MB", &mut self.media_max_mb).at_least(1);
        env.seconds("EMAIL_TIMEOUT", &mut self.timeout_secs).at_least(1);
        env.seconds("EMAIL_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

fn filled(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl EmailConfig {
    /// True when the address, password and both hosts are set (Hermes:
    /// empty `EMAIL_*` keys do not enable the platform).
    pub fn enabled(&self) -> bool {
        filled(self.address.as_deref()).is_some()
            && self.password.as_ref().is_some_and(|p| !p.is_empty())
            && filled(self.imap_host.as_deref()).is_some()
            && filled(self.smtp_host.as_deref()).is_some()
    }

    /// The agent's address, in lower case (empty when unset; `validate`
    /// refuses that).
    pub fn address(&self) -> String {
        filled(self.address.as_deref())
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    /// The login name.
    pub(crate) fn login(&self) -> String {
        filled(self.username.as_deref()).map_or_else(
            || {
                filled(self.address.as_deref())
                    .unwrap_or_default()
                    .to_owned()
            },
            str::to_owned,
        )
    }

    pub(crate) fn password(&self) -> Secret {
        self.password.clone().unwrap_or_else(|| Secret::new(""))
    }

    pub(crate) fn imap_host(&self) -> &str {
        filled(self.imap_host.as_deref()).unwrap_or_default()
    }

    pub(crate) fn smtp_host(&self) -> &str {
        filled(self.smtp_host.as_deref()).unwrap_or_default()
    }

    pub(crate) fn imap_mode(&self) -> Mode {
        self.imap_security.mode(self.imap_port, IMAPS_PORT)
    }

    pub(crate) fn smtp_mode(&self) -> Mode {
        self.smtp_security.mode(self.smtp_port, SMTPS_PORT)
    }

    /// The domain of our address, for the Message-IDs we make.
    pub(crate) fn domain(&self) -> String {
        let address = self.address();
        match address.rsplit_once('@') {
            Some((_, domain)) if !domain.is_empty() => domain.to_owned(),
            _ => "localhost".to_owned(),
        }
    }

    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub(crate) fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_delay_secs)
    }

    pub(crate) fn media_max_bytes(&self) -> u64 {
        self.media_max_mb.saturating_mul(1024 * 1024)
    }

    /// Where inbound files are saved.
    pub fn media_dir(&self) -> PathBuf {
        hermod_adapter_kit::config::media_dir(self.media_dir.as_deref())
    }

    /// Sets where inbound files are saved (the gateway's media directory).
    pub fn set_media_dir(&mut self, dir: impl Into<PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    /// Checks an enabled configuration. Messages name the setting, never
    /// a secret's value.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("EMAIL_ADDRESS", self.address.as_deref()),
            ("EMAIL_IMAP_HOST", self.imap_host.as_deref()),
            ("EMAIL_SMTP_HOST", self.smtp_host.as_deref()),
        ] {
            if filled(value).is_none() {
                return Err(format!("{name} is not set"));
            }
        }
        if self.password.as_ref().is_none_or(Secret::is_empty) {
            return Err("EMAIL_PASSWORD is not set".into());
        }
        if !self.address().contains('@') {
            return Err("EMAIL_ADDRESS must be an address like agent@example.com".into());
        }
        if self.mailbox.trim().is_empty() || self.mailbox.contains(['"', '\\', '\r', '\n']) {
            return Err("EMAIL_MAILBOX must be a folder name without quotes".into());
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

    fn hermes_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("EMAIL_ADDRESS", "Agent@Example.com"),
            ("EMAIL_PASSWORD", "app-password-1"),
            ("EMAIL_IMAP_HOST", "imap.example.com"),
            ("EMAIL_SMTP_HOST", "smtp.example.com"),
        ]
    }

    #[test]
    fn hermes_variables_configure_the_adapter_with_its_defaults() {
        let mut config = EmailConfig::default();
        assert!(!config.enabled());
        hermod_adapter_kit::config::apply_env(&mut config, &env(&hermes_env())).unwrap();
        assert!(config.enabled());
        config.validate().unwrap();
        assert_eq!(config.address(), "agent@example.com");
        assert_eq!(config.login(), "Agent@Example.com");
        assert_eq!(config.imap_port, 993);
        assert_eq!(config.imap_mode(), Mode::Tls);
        assert_eq!(config.smtp_port, 587);
        assert_eq!(config.smtp_mode(), Mode::Starttls);
        assert_eq!(config.poll_interval(), Duration::from_secs(15));
        assert_eq!(config.domain(), "example.com");
        assert!(config.require_authenticated_sender);
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[("EMAIL_TRUST_FROM_HEADER", "true")]),
        )
        .unwrap();
        assert!(!config.require_authenticated_sender);
        assert!(!format!("{config:?}").contains("app-password-1"));
    }

    #[test]
    fn ports_choose_the_mode_unless_it_is_forced() {
        let mut vars = hermes_env();
        vars.extend([("EMAIL_IMAP_PORT", "143"), ("EMAIL_SMTP_PORT", "465")]);
        let mut config = EmailConfig::default();
        hermod_adapter_kit::config::apply_env(&mut config, &env(&vars)).unwrap();
        assert_eq!(config.imap_mode(), Mode::Starttls);
        assert_eq!(config.smtp_mode(), Mode::Tls);
        vars.extend([
            ("EMAIL_IMAP_SECURITY", "none"),
            ("EMAIL_SMTP_SECURITY", "STARTTLS"),
        ]);
        hermod_adapter_kit::config::apply_env(&mut config, &env(&vars)).unwrap();
        assert_eq!(config.imap_mode(), Mode::Plain);
        assert_eq!(config.smtp_mode(), Mode::Starttls);
        let bad = hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[("EMAIL_SMTP_SECURITY", "maybe")]),
        )
        .unwrap_err();
        assert!(bad.contains("EMAIL_SMTP_SECURITY"), "{bad}");
    }

    #[test]
    fn empty_keys_do_not_enable_and_missing_ones_are_named() {
        let mut config = EmailConfig::default();
        let mut vars = hermes_env();
        vars[2] = ("EMAIL_IMAP_HOST", "  ");
        hermod_adapter_kit::config::apply_env(&mut config, &env(&vars)).unwrap();
        assert!(!config.enabled());
        assert!(config.validate().unwrap_err().contains("EMAIL_IMAP_HOST"));
        config.imap_host = Some("imap".into());
        config.address = Some("no-at-sign".into());
        assert!(config.validate().unwrap_err().contains("EMAIL_ADDRESS"));
    }
}
