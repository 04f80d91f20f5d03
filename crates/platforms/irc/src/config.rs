//! [`IrcConfig`]: the `platforms.irc` section and its environment
//! variables (the names the Hermes gateway used, so an existing `.env`
//! works unchanged).
//!
//! The adapter is enabled by setting a server. `IRC_ALLOWED_USERS`,
//! `IRC_ALLOW_ALL_USERS` and `IRC_HOME_CHANNEL` are read by core
//! (`gateway.platforms.irc`), not here.

use hermod_adapter_kit::config::{Env, EnvSettings, check_limits};
use hermod_model::Secret;
use serde::Deserialize;
use std::time::Duration;

/// The nick Hermes used when none is set.
pub const DEFAULT_NICKNAME: &str = "hermes-bot";

/// IRC over TLS (RFC 7194).
pub const TLS_PORT: u16 = 6697;

/// Plain-text IRC.
pub const PLAIN_PORT: u16 = 6667;

#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IrcConfig {
    /// `IRC_SERVER`: the server's host name; the adapter runs when set.
    pub server: Option<String>,
    /// `IRC_PORT`: unset, 6697 with TLS and 6667 without.
    pub port: Option<u16>,
    /// `IRC_USE_TLS`: TLS from the first byte (default on, as Hermes).
    pub use_tls: bool,
    /// `IRC_CA_FILE`: a PEM file of certificates trusted beside the
    /// system's, for a server with a private or self-signed certificate.
    pub ca_file: Option<String>,
    /// `IRC_NICKNAME`: the bot's nick; when taken, `_` is appended (a
    /// few times) until the server accepts one.
    pub nickname: String,
    /// `IRC_CHANNEL` (or `IRC_CHANNELS`): the channels joined, separated
    /// by commas; a channel with a key is written `#channel key`.
    /// (`channel`, Hermes' key, is read as well.)
    #[serde(
        alias = "channel",
        deserialize_with = "hermod_adapter_kit::config::deserialize_list"
    )]
    pub channels: Vec<String>,
    /// `IRC_SERVER_PASSWORD`: sent with `PASS` before registering.
    pub server_password: Option<Secret>,
    /// `IRC_NICKSERV_PASSWORD`: the account's password, used for SASL
    /// PLAIN when the server offers it, else sent to NickServ with
    /// `IDENTIFY` after registering.
    pub nickserv_password: Option<Secret>,
    /// `IRC_SASL_USERNAME`: the account name for SASL (unset, the nick).
    pub sasl_username: Option<String>,
    /// `IRC_ALLOWED_MASKS`: `nick!user@host` masks (`*` and `?` as
    /// wildcards) whose senders may talk to the bot, vouched for by the
    /// adapter — stronger than nicks, which anyone can take.
    #[serde(deserialize_with = "hermod_adapter_kit::config::deserialize_list")]
    pub allowed_masks: Vec<String>,
    /// `IRC_MAX_MESSAGE_LENGTH`: the longest part of a reply, in bytes
    /// (Hermes' 450): a longer reply is split into parts marked `(i/N)`.
    /// Each line of a part is one PRIVMSG, cut shorter still where the
    /// 512-byte limit of the line as the server relays it demands.
    pub max_message_length: usize,
    /// `IRC_FLOOD_BURST`: lines sent back to back before pacing starts.
    pub flood_burst: u32,
    /// `IRC_FLOOD_INTERVAL_MS`: the spacing of lines beyond the burst,
    /// in milliseconds (servers' flood protection allows about one line
    /// every two seconds).
    pub flood_interval_ms: u64,
    /// `IRC_PING_TIMEOUT`: seconds without a line from the server before
    /// we PING it; as long again without an answer and the connection is
    /// taken for dead and opened again.
    pub ping_timeout_secs: u64,
    /// `IRC_CONNECT_TIMEOUT`: seconds connecting and registering may take.
    pub connect_timeout_secs: u64,
    /// `IRC_MAX_RECONNECT_DELAY`: cap of the backoff between connection
    /// attempts, in seconds.
    pub max_reconnect_delay_secs: u64,
}

impl Default for IrcConfig {
    fn default() -> Self {
        Self {
            server: None,
            port: None,
            use_tls: true,
            ca_file: None,
            nickname: DEFAULT_NICKNAME.into(),
            channels: Vec::new(),
            server_password: None,
            nickserv_password: None,
            sasl_username: None,
            allowed_masks: Vec::new(),
            max_message_length: 450,
            flood_burst: 4,
            flood_interval_ms: 2000,
            ping_timeout_secs: 120,
            connect_timeout_secs: 30,
            max_reconnect_delay_secs: 300,
        }
    }
}

impl EnvSettings for IrcConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("IRC_SERVER", &mut self.server);
        env.number("IRC_PORT", &mut self.port).at_least(1);
        env.flag("IRC_USE_TLS", &mut self.use_tls);
        env.text("IRC_CA_FILE", &mut self.ca_file);
        env.text("IRC_NICKNAME", &mut self.nickname);
        env.list("IRC_CHANNEL", &mut self.channels);
        env.list("IRC_CHANNELS", &mut self.channels);
        env.secret("IRC_SERVER_PASSWORD", &mut self.server_password);
        env.secret("IRC_NICKSERV_PASSWORD", &mut self.nickserv_password);
        env.text("IRC_SASL_USERNAME", &mut self.sasl_username);
        env.list("IRC_ALLOWED_MASKS", &mut self.allowed_masks);
        env.number("IRC_MAX_MESSAGE_LENGTH", &mut self.max_message_length).at_least(16).at_most(65536);
        env.number("IRC_FLOOD_BURST", &mut self.flood_burst).at_least(1);
        env.number("IRC_FLOOD_INTERVAL_MS", &mut self.flood_interval_ms);
        env.seconds("IRC_PING_TIMEOUT", &mut self.ping_timeout_secs).at_least(1);
        env.seconds("IRC_CONNECT_TIMEOUT", &mut self.connect_timeout_secs).at_least(1);
        env.seconds("IRC_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

impl std::fmt::Debug for IrcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Channel keys are secrets: channels are shown by name alone.
        let channels: Vec<String> = self.channels().into_iter().map(|c| c.name).collect();
        f.debug_struct("IrcConfig")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("use_tls", &self.use_tls)
            .field("ca_file", &self.ca_file)
            .field("nickname", &self.nickname)
            .field("channels", &channels)
            .field("server_password", &self.server_password)
            .field("nickserv_password", &self.nickserv_password)
            .field("sasl_username", &self.sasl_username)
            .field("allowed_masks", &self.allowed_masks)
            .field("max_message_length", &self.max_message_length)
            .field("flood_burst", &self.flood_burst)
            .field("flood_interval_ms", &self.flood_interval_ms)
            .field("ping_timeout_secs", &self.ping_timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("max_reconnect_delay_secs", &self.max_reconnect_delay_secs)
            .finish()
    }
}

/// A channel to join, with its key when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub key: Option<Secret>,
}

impl IrcConfig {
    /// True when a server is configured.
    pub fn enabled(&self) -> bool {
        self.server.as_deref().is_some_and(|s| !s.trim().is_empty())
    }

    /// The server's host name (empty when unset; `validate` refuses that).
    pub(crate) fn server(&self) -> &str {
        self.server.as_deref().unwrap_or_default()
    }

    /// The port: `IRC_PORT`, else 6697 with TLS and 6667 without.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.use_tls { TLS_PORT } else { PLAIN_PORT })
    }

    /// The channels joined, each with its key.
    pub fn channels(&self) -> Vec<Channel> {
        self.channels
            .iter()
            .filter_map(|entry| {
                let mut words = entry.split_whitespace();
                let name = words.next()?.to_owned();
                let key = words.next().map(Secret::new);
                Some(Channel { name, key })
            })
            .collect()
    }

    /// The SASL account and password, when a password is set.
    pub(crate) fn sasl(&self) -> Option<(&str, &Secret)> {
        let password = self.nickserv_password.as_ref().filter(|p| !p.is_empty())?;
        let account = self
            .sasl_username
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(&self.nickname);
        Some((account, password))
    }

    /// Every secret, to keep out of logs and health reasons.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let keys = self.channels().into_iter().filter_map(|c| c.key);
        self.server_password
            .iter()
            .chain(self.nickserv_password.iter())
            .cloned()
            .chain(keys)
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub(crate) fn flood_interval(&self) -> Duration {
        Duration::from_millis(self.flood_interval_ms)
    }

    pub(crate) fn ping_timeout(&self) -> Duration {
        Duration::from_secs(self.ping_timeout_secs)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub(crate) fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_delay_secs)
    }

    /// Checks an enabled configuration. Messages name the setting, never
    /// a secret's value.
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled() {
            return Err("IRC_SERVER is not set".into());
        }
        if self.server().contains([' ', '/', ':']) && !self.server().starts_with('[') {
            return Err(format!(
                "IRC_SERVER={:?} must be a host name alone, like irc.libera.chat (the port goes in IRC_PORT)",
                self.server()
            ));
        }
        let nick_ok = !self.nickname.is_empty()
            && !self
                .nickname
                .starts_with(|c: char| c.is_ascii_digit() || c == '-')
            && !self
                .nickname
                .contains([' ', ',', '*', '?', '!', '@', ':', '#', '&']);
        if !nick_ok {
            return Err(format!(
                "IRC_NICKNAME={:?} is not a valid nick: letters, digits and -[]\\`_^{{|}}, not starting with a digit or '-'",
                self.nickname
            ));
        }
        for channel in self.channels() {
            if !crate::text::is_channel(&channel.name) || channel.name.contains([',', '\x07']) {
                return Err(format!(
                    "IRC_CHANNEL: {:?} is not a channel name (it starts with '#', like #hermes)",
                    channel.name
                ));
            }
        }
        for mask in &self.allowed_masks {
            if !mask.contains('!') || !mask.contains('@') {
                return Err(format!(
                    "IRC_ALLOWED_MASKS: {mask:?} is not a mask like nick!user@host (wildcards * and ?); plain nicks go in IRC_ALLOWED_USERS"
                ));
            }
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
        let mut config = IrcConfig::default();
        assert!(!config.enabled());
        assert_eq!(config.port(), 6697, "TLS on 6697 by default, as Hermes");
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[
                ("IRC_SERVER", "irc.libera.chat"),
                ("IRC_CHANNEL", "#hermes, #secret sesame"),
                ("IRC_NICKNAME", "hermod-bot"),
                ("IRC_SERVER_PASSWORD", "serverpass"),
                ("IRC_NICKSERV_PASSWORD", "nickpass"),
            ]),
        )
        .unwrap();
        assert!(config.enabled());
        config.validate().unwrap();
        assert_eq!(config.port(), 6697);
        let channels = config.channels();
        assert_eq!(channels[0].name, "#hermes");
        assert_eq!(channels[1].name, "#secret");
        assert_eq!(channels[1].key.as_ref().map(Secret::expose), Some("sesame"));
        let (account, password) = config.sasl().unwrap();
        assert_eq!((account, password.expose()), ("hermod-bot", "nickpass"));
        let shown = format!("{config:?}");
        for secret in ["serverpass", "nickpass", "sesame"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(config.secrets().len(), 3);
    }

    #[test]
    fn plain_text_uses_6667_unless_a_port_is_set() {
        let mut config = IrcConfig::default();
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[("IRC_SERVER", "localhost"), ("IRC_USE_TLS", "false")]),
        )
        .unwrap();
        assert_eq!(config.port(), 6667);
        config.port = Some(7000);
        assert_eq!(config.port(), 7000);
        config.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let mut config = IrcConfig::default();
        assert!(config.validate().unwrap_err().contains("IRC_SERVER"));
        config.server = Some("irc.example.net:6697".into());
        assert!(config.validate().unwrap_err().contains("IRC_PORT"));
        config.server = Some("irc.example.net".into());
        config.nickname = "9lives".into();
        assert!(config.validate().unwrap_err().contains("IRC_NICKNAME"));
        config.nickname = "bot".into();
        config.channels = vec!["hermes".into()];
        assert!(config.validate().unwrap_err().contains("IRC_CHANNEL"));
        config.channels = vec!["#hermes".into()];
        config.allowed_masks = vec!["alice".into()];
        assert!(config.validate().unwrap_err().contains("IRC_ALLOWED_MASKS"));
        config.allowed_masks = vec!["alice!*@*".into()];
        config.validate().unwrap();
        config.max_message_length = 10;
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("IRC_MAX_MESSAGE_LENGTH")
        );
    }
}
