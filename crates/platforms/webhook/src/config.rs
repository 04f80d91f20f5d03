//! [`WebhookPlatformConfig`]: the `platforms.webhook` section, read in
//! Hermes' spellings (its `platforms.webhook.extra` keys land here; the
//! config loader moves them), and its checked form, one [`Route`] per
//! `routes.<name>`.
//!
//! ```yaml
//! platforms:
//!   webhook:
//!     enabled: true              # WEBHOOK_ENABLED
//!     secret: "..."              # WEBHOOK_SECRET: routes without their own
//!     rate_limit: 30             # requests per minute per route
//!     max_body_bytes: 1048576
//!     routes:
//!       github:
//!         events: [push, pull_request]
//!         secret: "..."
//!         prompt: "{pusher.name} pushed to {repository.full_name}"
//!         deliver: telegram      # or telegram:-100123:7, local, a list
//!         deliver_only: false
//! ```
//!
//! Hermes keys hermod does not implement (`skills`, `script`, `filters`
//! of a route; `github_comment` delivery) are notices, never silently
//! different behaviour: the loader reports unknown Hermes keys, and
//! [`Route::unsupported`] lists the rest for `config check` and the log.

use crate::signature::{INSECURE_NO_AUTH, RouteSecret};
use hermod_adapter_kit::WebhookConfig;
use hermod_adapter_kit::config::{Env, EnvSettings, check_limits};
use hermod_model::{DeliveryTarget, PlatformId, Secret};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Requests a route takes per minute unless configured (Hermes').
pub const DEFAULT_RATE_LIMIT: u32 = 30;

/// The largest body a route takes unless configured (Hermes' 1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The `platforms.webhook` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookPlatformConfig {
    /// `WEBHOOK_ENABLED`: serve the routes.
    pub enabled: bool,
    /// `WEBHOOK_SECRET`: the secret of every route without its own.
    pub secret: Option<Secret>,
    /// Requests per minute each route takes; more are answered 429.
    pub rate_limit: u32,
    /// The largest body a route takes; larger ones are answered 413.
    pub max_body_bytes: usize,
    /// Hermes' `extra.host`: the shared listener's address unless
    /// `WEBHOOK_HOST` is set.
    pub host: Option<String>,
    /// Hermes' `extra.port`: unless `WEBHOOK_PORT` is set.
    pub port: Option<u16>,
    /// The routes, served at `/webhooks/<name>`.
    pub routes: BTreeMap<String, RouteConfig>,
    /// `WEBHOOK_HOST` and `WEBHOOK_PORT`: the listener every webhook
    /// platform shares.
    #[serde(skip)]
    pub listener: WebhookConfig,
}

impl Default for WebhookPlatformConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            secret: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            host: None,
            port: None,
            routes: BTreeMap::new(),
            listener: WebhookConfig::default(),
        }
    }
}

/// One `routes.<name>` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Event types answered; empty: all. Others are answered `ignored`.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub events: Vec<String>,
    /// This route's secret (`INSECURE_NO_AUTH`: no check, loopback only).
    pub secret: Option<Secret>,
    /// The prompt template (see [`crate::template`]); empty: the payload.
    pub prompt: String,
    /// Where the answer goes: `log` or `local` (a file under
    /// `HERMOD_HOME/output`), `<platform>` (its home channel),
    /// `<platform>:<chat>[:<thread>]`; a list or comma-separated.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub deliver: Vec<String>,
    /// Send the rendered prompt itself to the targets, with no agent turn.
    pub deliver_only: bool,
    /// Hermes' `deliver_extra`: `chat_id` and `thread_id` (or
    /// `message_thread_id`) name the chat of a bare `<platform>` target;
    /// other keys belong to delivery kinds hermod does not have.
    pub deliver_extra: BTreeMap<String, Value>,
}

impl EnvSettings for WebhookPlatformConfig {
    // One line per variable: the declaration reads as a table.
    #[rustfmt::skip]
    fn env(&mut self, env: &mut Env<'_>) {
        env.flag("WEBHOOK_ENABLED", &mut self.enabled);
        env.secret("WEBHOOK_SECRET", &mut self.secret);
        env.nested(&mut self.listener);
    }
}

/// A route, checked.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub secret: RouteSecret,
    pub events: Vec<String>,
    pub prompt: String,
    pub targets: Vec<DeliveryTarget>,
    /// The targets as configured, for answers and logs.
    pub deliver: String,
    pub deliver_only: bool,
    /// Hermes settings of this route that hermod does not implement.
    pub unsupported: Vec<String>,
}

impl WebhookPlatformConfig {
    /// The listener's address and limit: `WEBHOOK_HOST`/`WEBHOOK_PORT`,
    /// else `host`/`port`, else the kit's defaults.
    pub fn listener(&self) -> WebhookConfig {
        WebhookConfig {
            host: self.listener.host.clone().or_else(|| self.host.clone()),
            port: self.listener.port.or(self.port),
            ..self.listener.clone()
        }
    }

    /// Every route in its checked form; what cannot be read is the error.
    /// A route without a secret is kept (it refuses every request, 403):
    /// [`WebhookPlatformConfig::validate`] is what refuses to start so.
    pub fn routes(&self) -> Result<Vec<Route>, String> {
        self.routes
            .iter()
            .map(|(name, route)| self.route(name, route))
            .collect()
    }

    fn route(&self, name: &str, raw: &RouteConfig) -> Result<Route, String> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(format!(
                "webhook route name {name:?} must be letters, digits, '_', '-' or '.' (it is the path /webhooks/<name>)"
            ));
        }
        let mut unsupported = Vec::new();
        let mut targets = Vec::new();
        let mut logged = false;
        for raw_target in &raw.deliver {
            let target = raw_target.trim();
            match target.to_ascii_lowercase().as_str() {
                "" => {}
                "log" => {
                    logged = true;
                    push_unique(&mut targets, DeliveryTarget::Local);
                }
                "origin" => {
                    return Err(format!(
                        "webhook route {name}: deliver `origin` has no meaning for a webhook (it has no chat to answer in); use local, a platform's home channel (telegram) or a chat (telegram:<chat>[:<thread>])"
                    ));
                }
                "github_comment" => unsupported.push(
                    "deliver: github_comment (hermod does not comment on GitHub; the answer goes to the route's other targets, else to a local file)".to_owned(),
                ),
                _ => {
                    let parsed = DeliveryTarget::parse(target, is_platform_name)
                        .map_err(|e| format!("webhook route {name}: {e}"))?;
                    if matches!(&parsed, DeliveryTarget::Home { platform } | DeliveryTarget::Chat { platform, .. } if platform.as_str() == crate::NAME)
                    {
                        return Err(format!(
                            "webhook route {name}: cannot deliver to the webhook platform itself"
                        ));
                    }
                    push_unique(&mut targets, parsed);
                }
            }
        }
        apply_deliver_extra(name, &raw.deliver_extra, &mut targets, &mut unsupported)?;
        let only_logged = targets.iter().all(|t| *t == DeliveryTarget::Local);
        if raw.deliver_only && (targets.is_empty() || (only_logged && logged)) {
            return Err(format!(
                "webhook route {name} has deliver_only but no target to deliver to; set deliver to a platform (telegram), a chat (telegram:<chat>) or local"
            ));
        }
        if targets.is_empty() {
            // Hermes' default, `log`: kept, not sent.
            targets.push(DeliveryTarget::Local);
        }
        let deliver = targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok(Route {
            name: name.to_owned(),
            secret: RouteSecret::of(raw.secret.as_ref(), self.secret.as_ref()),
            events: raw.events.iter().map(|e| e.trim().to_owned()).collect(),
            prompt: raw.prompt.clone(),
            targets,
            deliver,
            deliver_only: raw.deliver_only,
            unsupported,
        })
    }

    /// Checks an enabled configuration; the first problem is the error.
    pub fn validate(&self) -> Result<(), String> {
        self.listener().validate()?;
        if self.rate_limit == 0 {
            return Err(
                "platforms.webhook.rate_limit must be at least 1 request per minute".into(),
            );
        }
        if self.max_body_bytes == 0 {
            return Err("platforms.webhook.max_body_bytes must be at least 1".into());
        }
        let host = self.listener().host().to_owned();
        for route in self.routes()? {
            match route.secret {
                RouteSecret::Missing => {
                    return Err(format!(
                        "webhook route {} has no secret: set platforms.webhook.routes.{}.secret or WEBHOOK_SECRET ({INSECURE_NO_AUTH} turns the check off, for local tests only)",
                        route.name, route.name
                    ));
                }
                RouteSecret::Insecure if !is_loopback(&host) => {
                    return Err(format!(
                        "webhook route {} uses {INSECURE_NO_AUTH} but the listener is on {host}, which is not loopback; give the route a secret or set WEBHOOK_HOST=127.0.0.1",
                        route.name
                    ));
                }
                _ => {}
            }
        }
        check_limits(self)
    }

    /// How it listens, for `config check`.
    pub fn describe(&self) -> String {
        let listener = self.listener();
        let mut text = match self.routes.len() {
            0 => format!("no routes, on {}", listener.addr()),
            n => format!(
                "{n} route{} at http://{}/webhooks/<route> ({})",
                if n == 1 { "" } else { "s" },
                listener.addr(),
                self.routes.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        if let Ok(routes) = self.routes() {
            for route in routes {
                if route.secret == RouteSecret::Insecure {
                    text.push_str(&format!(
                        "; route {} is NOT authenticated ({INSECURE_NO_AUTH})",
                        route.name
                    ));
                }
                for what in &route.unsupported {
                    text.push_str(&format!("; route {}: not implemented: {what}", route.name));
                }
            }
        }
        text
    }
}

/// `deliver_extra`: fixed `chat_id`/`thread_id` make a bare platform
/// target that chat; a templated one cannot be (its chat would change
/// with each payload), so it is an error rather than a silent delivery
/// to the home channel; other keys are notices.
fn apply_deliver_extra(
    name: &str,
    extra: &BTreeMap<String, Value>,
    targets: &mut [DeliveryTarget],
    unsupported: &mut Vec<String>,
) -> Result<(), String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        let Some(value) = extra.get(key) else {
            return Ok(None);
        };
        let text = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Null => return Ok(None),
            _ => {
                return Err(format!(
                    "webhook route {name}: deliver_extra.{key} must be an id"
                ));
            }
        };
        if text.contains('{') {
            return Err(format!(
                "webhook route {name}: deliver_extra.{key} is a template; hermod delivers to fixed chats only — name the chat in deliver (platform:<chat>[:<thread>])"
            ));
        }
        Ok(Some(text).filter(|t| !t.is_empty()))
    };
    let chat = text("chat_id")?;
    let thread = match text("message_thread_id")? {
        Some(thread) => Some(thread),
        None => text("thread_id")?,
    };
    for key in extra.keys() {
        if !matches!(key.as_str(), "chat_id" | "thread_id" | "message_thread_id") {
            unsupported.push(format!("deliver_extra.{key}"));
        }
    }
    let Some(chat) = chat else {
        if thread.is_some() {
            return Err(format!(
                "webhook route {name}: deliver_extra has a thread but no chat_id"
            ));
        }
        return Ok(());
    };
    let mut applied = false;
    for target in targets.iter_mut() {
        if let DeliveryTarget::Home { platform } = target {
            *target = DeliveryTarget::Chat {
                platform: platform.clone(),
                chat_id: chat.clone(),
                thread_id: thread.clone(),
            };
            applied = true;
        }
    }
    if !applied {
        return Err(format!(
            "webhook route {name}: deliver_extra.chat_id needs a bare platform in deliver (deliver: telegram)"
        ));
    }
    Ok(())
}

fn push_unique(targets: &mut Vec<DeliveryTarget>, target: DeliveryTarget) {
    if !targets.contains(&target) {
        targets.push(target);
    }
}

/// A platform name as written in targets: lower-case letters, digits, `_`.
/// Whether that platform runs is known only when delivering (an adapter
/// does not know the registry), where it is an error naming it.
fn is_platform_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `host` only takes connections from this machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The platform's id.
pub fn platform_id() -> PlatformId {
    PlatformId::from_static(crate::NAME)
}

#[cfg(test)]
mod tests;
