//! Incoming webhooks: other services (GitHub, GitLab, Standard Webhooks
//! senders, your own scripts) POST signed events to
//! `/webhooks/<route>` on the shared webhook listener, and each becomes an
//! agent turn whose answer goes to the route's delivery targets, or is
//! delivered as it is (`deliver_only`). Hermes' webhook platform (its
//! §14), with its configuration keys, headers, signatures, templates and
//! answers; see the crate's README.
//!
//! - [`config`]: the `platforms.webhook` section and its checked routes;
//! - [`signature`]: the signature schemes, checked before the body is read;
//! - [`template`]: the prompt from the payload;
//! - `receive`: the order a request goes through after its signature;
//! - `rate`: the per-route rate limit;
//! - `adapter`: the routes on the listener, and the answers handed on to
//!   the targets;
//! - `platform`: the registry's side.

mod adapter;
pub mod config;
mod platform;
mod rate;
mod receive;
pub mod signature;
pub mod template;

pub use adapter::{HEALTH_PATH, ROUTE_PREFIX, WebhookAdapter};
pub use config::{RouteConfig, WebhookPlatformConfig};

/// The platform's name: its `platforms.<name>` key and sessions' platform.
pub const NAME: &str = "webhook";
