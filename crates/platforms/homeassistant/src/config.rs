//! [`HomeAssistantConfig`]: the `platforms.homeassistant` section and its
//! environment variables.
//!
//! `HASS_TOKEN` and `HASS_URL` are the Hermes gateway's names, so an
//! existing `.env` works unchanged; the adapter runs when `HASS_TOKEN` is
//! set. The event filters (`watch_domains`, `watch_entities`,
//! `ignore_entities`, `watch_all`, `cooldown_seconds`) are the keys Hermes
//! read from the section's `extra` block, with its defaults: nothing is
//! forwarded until a filter is set, and each entity is forwarded at most
//! once per 30 s. The `HASS_WATCH_*` variables are hermod's own, for
//! setups configured by environment alone.

use hermod_adapter_kit::config::{
    Env, EnvSettings, check_http_url, check_limits, deserialize_list, is_set,
};
use hermod_model::Secret;
use serde::Deserialize;
use std::time::Duration;

/// Where Hermes looked when `HASS_URL` is unset.
pub const DEFAULT_URL: &str = "http://homeassistant.local:8123";

/// The custom event automations fire to talk to the agent.
pub const DEFAULT_MESSAGE_EVENT: &str = "hermod_message";

/// The title of the notifications replies become (Hermes's).
pub const DEFAULT_NOTIFICATION_TITLE: &str = "Hermes Agent";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HomeAssistantConfig {
    /// `HASS_URL`: Home Assistant's base URL (`http://` or `https://`);
    /// the websocket is `ws(s)://<host>/api/websocket`.
    pub url: String,
    /// `HASS_TOKEN`: a long-lived access token (the user's profile page,
    /// "Long-lived access tokens"). It is the trust boundary: every event
    /// it can see is answered, with no allowlist.
    pub token: Option<Secret>,
    /// `HASS_WATCH_DOMAINS`: entity domains whose state changes are
    /// forwarded (`climate`, `binary_sensor`, ...).
    #[serde(deserialize_with = "deserialize_list")]
    pub watch_domains: Vec<String>,
    /// `HASS_WATCH_ENTITIES`: single entities whose state changes are
    /// forwarded (`sensor.front_door`).
    #[serde(deserialize_with = "deserialize_list")]
    pub watch_entities: Vec<String>,
    /// `HASS_IGNORE_ENTITIES`: entities never forwarded, whatever else
    /// matches.
    #[serde(deserialize_with = "deserialize_list")]
    pub ignore_entities: Vec<String>,
    /// `HASS_WATCH_ALL`: forward every state change when no domain or
    /// entity is listed. Off by default: a home changes state constantly.
    pub watch_all: bool,
    /// `HASS_COOLDOWN_SECONDS`: the shortest time between two forwarded
    /// changes of one entity; changes within it are dropped.
    pub cooldown_seconds: u64,
    /// `HASS_MESSAGE_EVENT`: a custom event type whose `text` (or
    /// `message`) is forwarded as it is, unfiltered — how an automation
    /// or script talks to the agent (`event: hermod_message`). Empty: not
    /// subscribed.
    pub message_event: String,
    /// The title of the persistent notifications replies become.
    pub notification_title: String,
    /// `HASS_HEARTBEAT_INTERVAL`: seconds between the `ping`s that tell a
    /// dead connection from a quiet one; an unanswered ping reconnects.
    pub heartbeat_secs: u64,
    /// `HASS_REQUEST_TIMEOUT`: seconds a REST call, connecting, or the
    /// authentication may take.
    pub request_timeout_secs: u64,
    /// `HASS_MAX_RECONNECT_DELAY`: cap of the backoff between attempts to
    /// connect, in seconds (Hermes waited 5, 10, 30, then 60 s).
    pub max_reconnect_delay_secs: u64,
}

impl Default for HomeAssistantConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.into(),
            token: None,
            watch_domains: Vec::new(),
            watch_entities: Vec::new(),
            ignore_entities: Vec::new(),
            watch_all: false,
            cooldown_seconds: 30,
            message_event: DEFAULT_MESSAGE_EVENT.into(),
            notification_title: DEFAULT_NOTIFICATION_TITLE.into(),
            heartbeat_secs: 30,
            request_timeout_secs: 30,
            max_reconnect_delay_secs: 60,
        }
    }
}

impl EnvSettings for HomeAssistantConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("HASS_URL", &mut self.url);
        env.secret("HASS_TOKEN", &mut self.token);
        env.list("HASS_WATCH_DOMAINS", &mut self.watch_domains);
        env.list("HASS_WATCH_ENTITIES", &mut self.watch_entities);
        env.list("HASS_IGNORE_ENTITIES", &mut self.ignore_entities);
        env.flag("HASS_WATCH_ALL", &mut self.watch_all);
        env.text("HASS_MESSAGE_EVENT", &mut self.message_event);
        env.seconds("HASS_COOLDOWN_SECONDS", &mut self.cooldown_seconds).at_most(86_400);
        env.seconds("HASS_HEARTBEAT_INTERVAL", &mut self.heartbeat_secs).at_least(1);
        env.seconds("HASS_REQUEST_TIMEOUT", &mut self.request_timeout_secs).at_least(1);
        env.seconds("HASS_MAX_RECONNECT_DELAY", &mut self.max_reconnect_delay_secs).at_least(1);
    }
}

impl HomeAssistantConfig {
    /// True when a token is configured (Hermes's rule).
    pub fn enabled(&self) -> bool {
        is_set(self.token.as_ref())
    }

    /// The base URL without a trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        self.url.trim_end_matches('/')
    }

    /// `ws(s)://<host>/api/websocket` for the base URL.
    pub(crate) fn websocket_url(&self) -> String {
        let base = self.base_url();
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        format!("{ws}/api/websocket")
    }

    /// Whether no filter lets a state change through (Hermes warned
    /// about it).
    pub(crate) fn forwards_no_changes(&self) -> bool {
        self.watch_domains.is_empty() && self.watch_entities.is_empty() && !self.watch_all
    }

    /// The custom message event, when one is subscribed.
    pub(crate) fn message_event(&self) -> Option<&str> {
        Some(self.message_event.trim()).filter(|e| !e.is_empty())
    }

    pub(crate) fn cooldown(&self) -> Duration {
        Duration::from_secs(self.cooldown_seconds)
    }

    pub(crate) fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
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
        if !self.enabled() {
            return Err("HASS_TOKEN is not set (a long-lived access token from your Home Assistant profile)".into());
        }
        check_http_url(&self.url, "HASS_URL")?;
        if let Some(event) = self.message_event()
            && !event
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(format!(
                "HASS_MESSAGE_EVENT={event:?} is not an event type (letters, digits, '_' and '.')"
            ));
        }
        if self.notification_title.trim().is_empty() {
            return Err("platforms.homeassistant.notification_title must not be empty".into());
        }
        for entity in self.watch_entities.iter().chain(&self.ignore_entities) {
            if !entity.contains('.') {
                return Err(format!(
                    "{entity:?} is not an entity id (domain.object_id, e.g. sensor.front_door) \
                     in HASS_WATCH_ENTITIES or HASS_IGNORE_ENTITIES"
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
        let mut config = HomeAssistantConfig::default();
        assert!(!config.enabled());
        hermod_adapter_kit::config::apply_env(
            &mut config,
            &env(&[
                ("HASS_URL", "https://ha.example.org:8123/"),
                ("HASS_TOKEN", "eyJsecret"),
                ("HASS_WATCH_DOMAINS", "climate, binary_sensor"),
                ("HASS_COOLDOWN_SECONDS", "0"),
            ]),
        )
        .unwrap();
        assert!(config.enabled());
        assert_eq!(config.base_url(), "https://ha.example.org:8123");
        assert_eq!(
            config.websocket_url(),
            "wss://ha.example.org:8123/api/websocket"
        );
        assert_eq!(config.watch_domains, ["climate", "binary_sensor"]);
        assert_eq!(config.cooldown(), Duration::ZERO);
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("eyJsecret"));
    }

    #[test]
    fn hermes_defaults() {
        let config = HomeAssistantConfig::default();
        assert_eq!(
            config.websocket_url(),
            "ws://homeassistant.local:8123/api/websocket"
        );
        assert_eq!(config.cooldown(), Duration::from_secs(30));
        assert!(config.forwards_no_changes());
        assert_eq!(config.message_event(), Some("hermod_message"));
        assert_eq!(config.notification_title, "Hermes Agent");
    }

    #[test]
    fn the_yaml_section_takes_hermes_extra_keys() {
        let yaml = r#"{"url": "http://10.0.0.2:8123", "token": "t0k",
            "watch_domains": ["light"], "watch_entities": ["sensor.door"],
            "ignore_entities": ["light.noisy"], "watch_all": false, "cooldown_seconds": 5}"#;
        let config: HomeAssistantConfig = serde_json::from_str(yaml).unwrap();
        config.validate().unwrap();
        assert_eq!(config.cooldown(), Duration::from_secs(5));
        assert!(serde_json::from_str::<HomeAssistantConfig>(r#"{"watch_domain": []}"#).is_err());
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let mut config = HomeAssistantConfig::default();
        assert!(config.validate().unwrap_err().contains("HASS_TOKEN"));
        config.token = Some(Secret::new("t"));
        config.url = "homeassistant.local".into();
        assert!(config.validate().unwrap_err().contains("HASS_URL"));
        config.url = DEFAULT_URL.into();
        config.watch_entities = vec!["front_door".into()];
        assert!(config.validate().unwrap_err().contains("entity id"));
    }
}
